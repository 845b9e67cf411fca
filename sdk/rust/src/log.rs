//! Structured logs and metrics, attributed by the host to the component and
//! table. Prefer these to printing: a component's stdout and stderr are not
//! connected unless the operator grants them.

//!
//! Compiled natively (benchmarks and unit tests of a component's logic),
//! every call is a no-op: there is no host to attribute it to.

use crate::bindings::weir::connector::host::Level;

#[cfg(target_arch = "wasm32")]
use crate::bindings::weir::connector::host;

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::Level;
    pub fn log(_: Level, _: &str) {}
    pub fn counter_add(_: &str, _: u64) {}
    pub fn gauge_set(_: &str, _: f64) {}
}

/// Logs at info level.
pub fn info(message: &str) {
    host::log(Level::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    host::log(Level::Warn, message);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    host::log(Level::Debug, message);
}

/// Adds `delta` to the counter `name` (e.g. `records-skipped`).
pub fn counter_add(name: &str, delta: u64) {
    host::counter_add(name, delta);
}

/// Sets the gauge `name`.
pub fn gauge_set(name: &str, value: f64) {
    host::gauge_set(name, value);
}
