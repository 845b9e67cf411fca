//! The embedding API: the same engine and catalog the CLI uses, as a
//! library. Open a decoder or encoder by identifier, feed it frames or Arrow
//! batches.
//!
//! ```no_run
//! # async fn demo() -> weir::Result<()> {
//! use weir::{Runtime, RuntimeConfig};
//! let (runtime, _plugin_problems) = Runtime::new(RuntimeConfig::default()).await?;
//! let schema = weir::schema![("line", String)];
//! let options = vec![("charset".to_owned(), "UTF-8".to_owned())];
//! let mut decoder = runtime.decoder("my_table", "raw", &options, &schema).await?;
//! let rows = decoder.decode_arrow(&weir::frames(["hello", "world"])).await?;
//! assert_eq!(rows.rows.num_rows(), 2);
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::ResourceAny;

use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::weir::connector::types::{Batch, Options, Schema, VarData};
use crate::catalog::{Catalog, Entry, Role};
use crate::engine::{Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::options::{self, Target};
use crate::policy::Grants;

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Engine settings (compile cache, pooling, limits).
    pub engine: EngineConfig,
    /// Directory of third-party `*.wasm` components.
    pub plugin_dir: Option<PathBuf>,
}

/// An engine and its catalog.
pub struct Runtime {
    engine: Arc<Engine>,
    catalog: Catalog,
}

impl Runtime {
    /// Starts the engine and loads the catalog. Plugins that fail to load
    /// are returned beside the runtime, not fatal.
    pub async fn new(config: RuntimeConfig) -> Result<(Runtime, Vec<Error>)> {
        let engine = Arc::new(Engine::new(&config.engine)?);
        let (catalog, problems) = Catalog::load(engine.clone(), config.plugin_dir.as_deref()).await?;
        Ok((Runtime { engine, catalog }, problems))
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Mutable catalog, to add components loaded from elsewhere.
    pub fn catalog_mut(&mut self) -> &mut Catalog {
        &mut self.catalog
    }

    /// A decoder of format `format` for `table`. `options` are the format's
    /// options without prefix.
    pub async fn decoder(
        &self,
        table: &str,
        format: &str,
        options: &[(String, String)],
        schema: &Schema,
    ) -> Result<Decoder> {
        let entry = self.catalog.find(format, Role::Format)?;
        let options = format_options(entry, table, options)?;
        Decoder::open(entry, &options, schema, &Grants::none()).await
    }

    /// An encoder of format `format` for `table`.
    pub async fn encoder(
        &self,
        table: &str,
        format: &str,
        options: &[(String, String)],
        schema: &Schema,
    ) -> Result<Encoder> {
        let entry = self.catalog.find(format, Role::Format)?;
        let options = format_options(entry, table, options)?;
        Encoder::open(entry, &options, schema, &Grants::none()).await
    }
}

/// A format's options for `table`, validated the Flink way (defaults filled
/// in, unknown keys refused).
fn format_options(entry: &Entry, table: &str, options: &[(String, String)]) -> Result<Options> {
    let target = Target { table, role: "format", prefix: Some(&entry.spec.identifier) };
    Ok(options::validate(target, &entry.spec, options)?)
}

enum Direction {
    Decode,
    Encode,
}

/// The one way a format is opened, by the runner and by embedders: an
/// instance with `grants`, the component's own validation, then the
/// decoder or encoder resource.
async fn open_format(
    entry: &Entry,
    options: &Options,
    schema: &Schema,
    grants: &Grants,
    direction: Direction,
) -> Result<(Instance, ResourceAny)> {
    let mut instance = entry.loaded.instantiate(&entry.spec.identifier, grants).await?;
    instance.validate(options, schema).await?;
    let handle = match direction {
        Direction::Decode => instance.open_decoder(options, schema).await?,
        Direction::Encode => instance.open_encoder(options, schema).await?,
    };
    Ok((instance, handle))
}

/// An open decoder (one instance of a format component).
pub struct Decoder {
    instance: Instance,
    handle: ResourceAny,
    schema: Schema,
}

impl Decoder {
    /// Opens a decoder of the format `entry` with already validated
    /// `options`, granting its instance `grants`.
    pub async fn open(entry: &Entry, options: &Options, schema: &Schema, grants: &Grants) -> Result<Decoder> {
        let (instance, handle) = open_format(entry, options, schema, grants, Direction::Decode).await?;
        Ok(Decoder { instance, handle, schema: schema.clone() })
    }

    /// Decodes frames into a batch, exactly as the guest returned it.
    pub async fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        self.instance.decode(self.handle, frames).await
    }

    /// Decodes frames into validated Arrow rows.
    pub async fn decode_arrow(&mut self, frames: &VarData) -> Result<ChangelogBatch> {
        let batch = self.decode(frames).await?;
        batch::to_arrow(self.instance.name(), &self.schema, batch)
    }

    /// The instance (metrics, poisoned state).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}

/// An open encoder (one instance of a format component).
pub struct Encoder {
    instance: Instance,
    handle: ResourceAny,
}

impl Encoder {
    /// Opens an encoder of the format `entry` with already validated
    /// `options`, granting its instance `grants`.
    pub async fn open(entry: &Entry, options: &Options, schema: &Schema, grants: &Grants) -> Result<Encoder> {
        let (instance, handle) = open_format(entry, options, schema, grants, Direction::Encode).await?;
        Ok(Encoder { instance, handle })
    }

    /// Encodes a batch into frames.
    pub async fn encode(&mut self, rows: &Batch) -> Result<VarData> {
        self.instance.encode(self.handle, rows).await
    }

    /// Encodes Arrow rows into frames.
    pub async fn encode_arrow(&mut self, rows: &ChangelogBatch) -> Result<VarData> {
        let batch = batch::from_arrow(rows)
            .map_err(|message| Error::InvalidBatch { component: "(host)".to_owned(), message })?;
        self.encode(&batch).await
    }

    /// The instance (metrics, poisoned state).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}

/// Frames from byte strings (convenience for tests and embedders).
pub fn frames<I, B>(values: I) -> VarData
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut offsets = vec![0i32];
    let mut data = Vec::new();
    for v in values {
        data.extend_from_slice(v.as_ref());
        offsets.push(i32::try_from(data.len()).expect("frames over 2 GiB"));
    }
    VarData { offsets, data }
}

/// Builds a [`Schema`] from `(name, LogicalType variant)` pairs; columns
/// are nullable. `weir::schema![("id", Int), ("name", String)]`.
#[macro_export]
macro_rules! schema {
    ($(($name:expr, $ty:ident $(($($arg:expr),*))?)),* $(,)?) => {
        $crate::types::Schema {
            fields: vec![$($crate::types::Field {
                name: ($name).to_string(),
                data_type: $crate::types::LogicalType::$ty $(($($arg),*))?,
                nullable: true,
            }),*],
            nested: Vec::new(),
            primary_key: Vec::new(),
        }
    };
}
