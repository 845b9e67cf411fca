//! Fuzzes option validation; see `weir::fuzz::options`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::options(data));
