//! Fuzzes the CDC decoders natively; see `weir_fuzz::cdc`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_fuzz::cdc(data));
