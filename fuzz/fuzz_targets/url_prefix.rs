//! Fuzzes the URL-prefix check of `http` grants; see `weir_fuzz::url_prefix`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_fuzz::url_prefix(data));
