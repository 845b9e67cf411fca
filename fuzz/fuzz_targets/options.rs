//! Fuzzes option validation; see `weir_fuzz::options`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_fuzz::options(data));
