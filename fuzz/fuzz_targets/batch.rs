//! Fuzzes the validation of a batch a guest returned; see `weir_fuzz::batch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_fuzz::batch(data));
