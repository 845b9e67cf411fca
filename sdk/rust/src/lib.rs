//! Write Weir connectors and formats in Rust.
//!
//! Implement [`Format`] — or [`Connector`] with [`Source`] and/or [`Sink`] —
//! and call the export macro; the SDK does the WIT plumbing. Build the crate as a
//! `cdylib` for `wasm32-wasip2` (`crate-type = ["cdylib"]`, or
//! `cargo rustc --target wasm32-wasip2 --crate-type cdylib`) and the output
//! is a component the `weir` runtime loads.
//!
//! # A complete format
//!
//! A format named `lines` that decodes each frame into one STRING column and
//! encodes it back:
//!
//! ```
//! use weir_sdk::{export_format, Format, ComponentSpec, OptionSpec, Options, OptionsExt,
//!                Schema, Batch, BatchBuilder, BatchReader, ValueRef, VarData,
//!                VarDataBuilder, Error, Result, RowKind};
//!
//! struct Lines { trim: bool, schema: Schema }
//!
//! impl Format for Lines {
//!     fn spec() -> ComponentSpec {
//!         ComponentSpec::new("lines", "One STRING column per frame")
//!             .option(OptionSpec::boolean("trim", "Strip surrounding whitespace").default_value("false"))
//!     }
//!     fn open(options: &Options, schema: &Schema) -> Result<Self> {
//!         Ok(Lines { trim: options.boolean("trim")?, schema: schema.clone() })
//!     }
//!     fn decode(&mut self, frames: &VarData) -> Result<Batch> {
//!         let mut out = BatchBuilder::new(&self.schema);
//!         for (i, frame) in frames.iter().enumerate() {
//!             let text = std::str::from_utf8(frame)
//!                 .map_err(|_| Error::data(i as u64, frame, "invalid UTF-8"))?;
//!             out.column(0).push_str(if self.trim { text.trim() } else { text })?;
//!             out.end_row(RowKind::Insert)?;
//!         }
//!         out.finish()
//!     }
//!     fn encode(&mut self, rows: &Batch) -> Result<VarData> {
//!         let (rows, mut out) = (BatchReader::new(rows), VarDataBuilder::new());
//!         for row in 0..rows.rows() {
//!             if let ValueRef::Str(s) = rows.value(0, row)? { out.push(s.as_bytes())? }
//!         }
//!         Ok(out.finish())
//!     }
//! }
//!
//! export_format!(Lines);
//! # fn main() {}
//! ```
//!
//! Optional methods (a decoder-only format's `encode`, a source's lookups)
//! default to an [`Error::Unsupported`] that names what is missing.

#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings;

mod batch;
mod error;
pub mod log;
mod options;
mod spec;
pub mod text;

pub use batch::{BatchBuilder, BatchReader, ColumnBuilder, ColumnRef, Typed, ValueRef, VarDataBuilder, bool_at};
pub use bindings::exports::weir::connector::sink::{Committable, SinkInput, WriterContext};
pub use bindings::exports::weir::connector::source::{
    Accepted, CompareOp, LookupResult, Predicate, ReadResult, Scalar, ScanPlan, ScanRequest, SearchResult, Split,
};
pub use bindings::weir::connector::types::{
    Batch, Capability, CapabilityKind, Column, ColumnData, ComponentSpec, ConfigError, DataError, DecimalType,
    ElementRef, Field, ListData, LogicalType, MapType, NestedType, OptionSpec, OptionType, Options, Payload,
    RawRecords, RowKind, Schema, SinkAbilities, SourceAbilities, VarData,
};
pub use error::{Error, Result};
pub use options::{OptionsExt, unescape_char};

/// A format: decodes frames into rows and encodes rows into frames.
///
/// The runtime opens one value per decoder or encoder instance.
pub trait Format: Sized + 'static {
    /// The spec: identifier (`'format' = '…'`), options, changelog mode.
    fn spec() -> ComponentSpec;

    /// Checks beyond what the spec expresses (e.g. the schema's shape).
    fn validate(_options: &Options, _schema: &Schema) -> Result<()> {
        Ok(())
    }

    /// Creates the state of one decoder or encoder.
    fn open(options: &Options, schema: &Schema) -> Result<Self>;

    /// Decodes whole frames into rows.
    fn decode(&mut self, _frames: &VarData) -> Result<Batch> {
        Err(Error::unsupported(format!("format '{}' does not decode", Self::spec().identifier)))
    }

    /// Encodes rows into one frame each.
    fn encode(&mut self, _rows: &Batch) -> Result<VarData> {
        Err(Error::unsupported(format!("format '{}' does not encode", Self::spec().identifier)))
    }
}

/// What every connector declares once, whether it is a source, a sink or
/// both: its spec and the validation beyond what the spec expresses (the
/// contract's `factory`). A standalone source or sink implements it on its
/// reader or writer type; a connector that is both implements it once, on
/// a type of its own, and names it in [`export_connector!`].
pub trait Connector: 'static {
    /// The spec: identifier (`'connector' = '…'`), options, abilities,
    /// capabilities.
    fn spec() -> ComponentSpec;

    /// Checks beyond what the spec expresses.
    fn validate(_options: &Options, _schema: &Schema) -> Result<()> {
        Ok(())
    }
}

/// A scan source: plans splits, reads each with a checkpointable reader.
/// Its spec is its [`Connector`]'s.
///
/// `Self` is the state of one split reader.
pub trait Source: Sized + 'static {
    /// Plans the splits of a scan and says which push-downs it applies.
    fn plan(options: &Options, schema: &Schema, request: &ScanRequest) -> Result<ScanPlan>;

    /// Opens a reader on `split`, resuming from `state` if given.
    fn open(
        options: &Options,
        schema: &Schema,
        request: &ScanRequest,
        split: &Split,
        state: Option<&[u8]>,
    ) -> Result<Self>;

    /// Reads the next records or rows.
    fn next(&mut self, max_records: u32) -> Result<ReadResult>;

    /// The state to resume from after the last record returned.
    fn checkpoint(&mut self) -> Result<Vec<u8>>;

    /// Opens a lookup table (sources with the `lookup` ability).
    fn open_lookup(_options: &Options, _schema: &Schema, _key_columns: &[u32]) -> Result<Box<dyn LookupTable>> {
        Err(Error::unsupported("this connector does not support lookups"))
    }

    /// Opens a vector index (sources with the `vector-search` ability).
    fn open_vector_index(_options: &Options, _schema: &Schema, _column: u32) -> Result<Box<dyn VectorIndex>> {
        Err(Error::unsupported("this connector does not support vector search"))
    }
}

/// Answers lookups by key; see [`Source::open_lookup`].
pub trait LookupTable {
    /// Rows matching each key row of `keys`.
    fn lookup(&mut self, keys: &Batch) -> Result<LookupResult>;
}

/// Answers top-k searches; see [`Source::open_vector_index`].
pub trait VectorIndex {
    /// The `top_k` rows nearest to `query`, best first.
    fn search(&mut self, query: &[f32], top_k: u32) -> Result<SearchResult>;
}

/// A two-phase-commit sink. Its spec is its [`Connector`]'s. `Self` is the
/// state of one writer.
pub trait Sink: Sized + 'static {
    /// Opens a writer.
    fn open(options: &Options, schema: &Schema, context: &WriterContext) -> Result<Self>;

    /// Stages a batch; it becomes visible at commit.
    fn write(&mut self, input: SinkInput) -> Result<()>;

    /// Flushes and returns the committables of checkpoint `checkpoint_id`.
    fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Committable>>;

    /// Makes committables visible; must be idempotent.
    fn commit(options: &Options, committables: Vec<Committable>) -> Result<()>;

    /// Discards committables that will never be committed.
    fn abort(_options: &Options, _committables: Vec<Committable>) -> Result<()> {
        Err(Error::unsupported("this connector cannot abort staged data"))
    }
}

#[doc(hidden)]
pub mod __private;

/// The one export macro the four public ones expand to: nothing natively
/// (benchmarks and unit tests link several components into one binary; the
/// types still count as used), and in a component the canonical-ABI exports
/// of each interface with its adapter, plus the world's type section.
#[doc(hidden)]
#[macro_export]
macro_rules! __weir_export {
    (
        uses: $used:ty;
        world: $world:ident, $section:literal;
        $($alias:ident = $adapter:ty => $($cabi:ident($iface:ident)),+);+ $(;)?
    ) => {
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = ::core::marker::PhantomData::<$used>;
        };
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $(
                type $alias = $adapter;
                $($crate::$cabi!($alias with_types_in $crate::bindings::exports::weir::connector::$iface);)+
            )+
            #[unsafe(link_section = $section)]
            #[used]
            static __WEIR_COMPONENT_TYPE: [u8; $crate::bindings::$world.len()] = $crate::bindings::$world;
        };
    };
}

/// Exports a [`Format`] implementation as a `format-component`.
#[macro_export]
macro_rules! export_format {
    ($ty:ty) => {
        $crate::__weir_export! {
            uses: $ty;
            world: FORMAT_WORLD_TYPE, "component-type:weir-sdk:0.1.0:format-component";
            __WeirExport = $crate::__private::FormatAdapter<$ty> =>
                __export_weir_connector_factory_0_1_0_cabi(factory),
                __export_weir_connector_format_0_1_0_cabi(format);
        }
    };
}

/// Exports a type that is a [`Connector`] and a [`Source`] as a
/// `source-component`.
#[macro_export]
macro_rules! export_source {
    ($ty:ty) => {
        $crate::__weir_export! {
            uses: $ty;
            world: SOURCE_WORLD_TYPE, "component-type:weir-sdk:0.1.0:source-component";
            __WeirFactory = $crate::__private::ConnectorAdapter<$ty> =>
                __export_weir_connector_factory_0_1_0_cabi(factory);
            __WeirExport = $crate::__private::SourceAdapter<$ty> =>
                __export_weir_connector_source_0_1_0_cabi(source);
        }
    };
}

/// Exports a type that is a [`Connector`] and a [`Sink`] as a
/// `sink-component`.
#[macro_export]
macro_rules! export_sink {
    ($ty:ty) => {
        $crate::__weir_export! {
            uses: $ty;
            world: SINK_WORLD_TYPE, "component-type:weir-sdk:0.1.0:sink-component";
            __WeirFactory = $crate::__private::ConnectorAdapter<$ty> =>
                __export_weir_connector_factory_0_1_0_cabi(factory);
            __WeirExport = $crate::__private::SinkAdapter<$ty> =>
                __export_weir_connector_sink_0_1_0_cabi(sink);
        }
    };
}

/// Exports a connector that is both a source and a sink as a
/// `connector-component`: one [`Connector`] (the spec and validation of
/// both sides), its [`Source`] (reader) and its [`Sink`] (writer) types.
/// `export_connector!(Files, FileReader, FileWriter)`.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty, $source:ty, $sink:ty) => {
        $crate::__weir_export! {
            uses: ($connector, $source, $sink);
            world: CONNECTOR_WORLD_TYPE, "component-type:weir-sdk:0.1.0:connector-component";
            __WeirFactory = $crate::__private::ConnectorAdapter<$connector> =>
                __export_weir_connector_factory_0_1_0_cabi(factory);
            __WeirSource = $crate::__private::SourceAdapter<$source> =>
                __export_weir_connector_source_0_1_0_cabi(source);
            __WeirSink = $crate::__private::SinkAdapter<$sink> =>
                __export_weir_connector_sink_0_1_0_cabi(sink);
        }
    };
}
