//! Fuzzes the SQL front end; see `weir::fuzz::sql`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir::fuzz::sql(data));
