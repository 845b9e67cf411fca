//! Constructors for the contract's typed [`Error`].

pub use crate::bindings::weir::connector::types::Error;
use crate::bindings::weir::connector::types::{ConfigError, DataError};

/// Result type of every SDK and component method.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Longest excerpt of bad input carried by a data error.
const EXCERPT_LEN: usize = 64;

impl Error {
    /// A bad option value or schema; `key` names the option to fix.
    pub fn config(key: Option<&str>, message: impl Into<String>) -> Self {
        Error::Config(ConfigError { key: key.map(str::to_owned), message: message.into() })
    }

    /// A malformed record at `position` in the call's input. The excerpt is
    /// cut to 64 bytes and made printable (lossy UTF-8).
    pub fn data(position: u64, input: &[u8], message: impl Into<String>) -> Self {
        let cut = &input[..input.len().min(EXCERPT_LEN)];
        Error::Data(DataError { position, excerpt: String::from_utf8_lossy(cut).into_owned(), message: message.into() })
    }

    /// The operation is not implemented by this component.
    pub fn unsupported(what: impl Into<String>) -> Self {
        Error::Unsupported(what.into())
    }

    /// The external system could not be reached.
    pub fn connection(message: impl Into<String>) -> Self {
        Error::Connection(message.into())
    }

    /// The error's message without its kind (for wrapping in another error).
    pub fn message(&self) -> String {
        match self {
            Error::Config(e) => e.message.clone(),
            Error::Data(e) => e.message.clone(),
            Error::Unsupported(m) | Error::Connection(m) | Error::Transient(m) => m.clone(),
        }
    }

    /// A temporary failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Error::Transient(message.into())
    }
}
