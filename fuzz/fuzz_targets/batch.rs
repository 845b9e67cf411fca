//! Fuzzes the validation of a batch a guest returned; see `weir::fuzz::batch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::batch(data));
