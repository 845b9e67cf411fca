//! Fuzzes the SQL front end (`weir_sql::parse`) on arbitrary text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = weir_sql::parse("fuzz.sql", text);
    }
});
