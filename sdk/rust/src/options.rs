//! Typed access to validated options.
//!
//! The host has already rejected unknown keys, checked that required keys
//! are present and that every value parses as its declared type, and filled
//! in defaults; these accessors parse the text once more into Rust values.

use crate::error::{Error, Result};

/// Reading options by key, as passed to `open` / `validate`.
pub trait OptionsExt {
    /// The raw value, if set (or defaulted).
    fn get(&self, key: &str) -> Option<&str>;

    /// The value, or a config error naming the key.
    fn string(&self, key: &str) -> Result<&str> {
        self.get(key).ok_or_else(|| Error::config(Some(key), "is required but not set"))
    }

    /// A boolean option (`true` / `false`, any case).
    fn boolean(&self, key: &str) -> Result<bool> {
        let v = self.string(key)?;
        match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Error::config(Some(key), format!("expected true or false, got '{v}'"))),
        }
    }

    /// An integer option.
    fn long(&self, key: &str) -> Result<i64> {
        let v = self.string(key)?;
        v.trim().parse().map_err(|_| Error::config(Some(key), format!("expected an integer, got '{v}'")))
    }

    /// A duration option (`10s`, `500 ms`, `1 min`; a bare number is ms).
    fn duration(&self, key: &str) -> Result<core::time::Duration> {
        let v = self.string(key)?;
        weir_text::parse_duration(v)
            .ok_or_else(|| Error::config(Some(key), format!("expected a duration such as '10 s', got '{v}'")))
    }

    /// A memory size option (`128mb`, `1 gb`; a bare number is bytes).
    fn memory_size(&self, key: &str) -> Result<u64> {
        let v = self.string(key)?;
        weir_text::parse_memory_size(v)
            .ok_or_else(|| Error::config(Some(key), format!("expected a memory size such as '128 mb', got '{v}'")))
    }

    /// A floating-point option.
    fn double(&self, key: &str) -> Result<f64> {
        let v = self.string(key)?;
        v.trim().parse().map_err(|_| Error::config(Some(key), format!("expected a number, got '{v}'")))
    }

    /// A single-character option; `\t`, `\n`, `\\` and `\u0001`-style escapes
    /// are understood, as in Flink's csv options.
    fn character(&self, key: &str) -> Result<char> {
        let v = self.string(key)?;
        unescape_char(v).ok_or_else(|| Error::config(Some(key), format!("expected a single character, got '{v}'")))
    }
}

impl OptionsExt for [(String, String)] {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl OptionsExt for Vec<(String, String)> {
    fn get(&self, key: &str) -> Option<&str> {
        OptionsExt::get(self.as_slice(), key)
    }
}

pub use weir_text::unescape_char;
