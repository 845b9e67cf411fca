//! Weir: a WebAssembly-sandboxed connector runtime.
//!
//! Connectors and formats are WebAssembly components implementing the WIT
//! contract `weir:connector@0.1.0`; this crate instantiates them, feeds them
//! bytes and batches, and decides what each one may touch. It is organised
//! by concern, along three lifetimes kept apart in types:
//!
//! * **engine** ([`engine`]): once per process — wasmtime configuration,
//!   the linker, the compile cache.
//! * **job**: parse and validate a table's options ([`options`]) against
//!   the spec from the [`catalog`], decide capabilities ([`policy`]) —
//!   without running any component's data path.
//! * **instance** ([`instance`], [`store`], [`limits`]): one store per
//!   component instance, with exactly the granted capabilities and limits.
//!
//! The boundary batch converts to and from Arrow in [`batch`]; [`model`]
//! holds the library's own schema and type model (converted privately per
//! contract version); [`handles`] opens a component in each role (decoder,
//! encoder, scan source, lookup table, vector index, sink writer) speaking
//! Arrow; [`api`] is the embedding entry point.
//!
//! ```no_run
//! # async fn demo() -> weir::Result<()> {
//! let (runtime, _) = weir::Runtime::new(weir::RuntimeConfig::default()).await?;
//! for entry in runtime.catalog().entries() {
//!     println!("{} ({})", entry.spec.identifier, entry.kind);
//! }
//! # Ok(()) }
//! ```

pub mod api;
pub mod batch;
/// Generated bindings of each supported WIT version (internal: the model
/// an embedder uses is [`types`], [`spec`] and [`batch`]).
#[doc(hidden)]
pub mod bindings;
pub mod catalog;
pub mod checkpoint;
pub mod display;
pub mod engine;
pub mod error;
/// Random rows of any schema (for `weir verify` and the tests).
#[doc(hidden)]
pub mod generate;
pub mod handles;
pub mod instance;
/// Framing of byte streams (shared with guest connectors).
pub use weir_framing as framing;
pub(crate) mod lift;
pub mod limits;
pub mod model;
pub mod options;
pub mod policy;
pub mod spec;
/// What one instance's store holds (internal).
#[doc(hidden)]
pub mod store;
pub mod terminal;

pub use api::{Runtime, RuntimeConfig};
pub use batch::ChangelogBatch;
pub use error::{Error, GuestError, Result, TrapReason};
pub use handles::{Decoder, Encoder, Frames};
pub use model::{DataType, Field, Schema};

/// The contract's own data types, version 0.1.0 — for code that speaks the
/// contract itself (`weir verify`, the contract's tests); the library's API
/// uses [`model`], [`handles`] and Arrow.
#[doc(hidden)]
pub use bindings::v0_1_0::weir::connector::types;
