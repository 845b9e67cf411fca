//! The embedding entry point: the same engine and catalog the CLI uses, as
//! a library. Open a decoder or encoder by identifier and feed it frames or
//! Arrow batches; every other role has its handle in [`crate::handles`].
//!
//! ```no_run
//! # async fn demo() -> weir::Result<()> {
//! use weir::{Runtime, RuntimeConfig};
//! let (runtime, _plugin_problems) = Runtime::new(RuntimeConfig::default()).await?;
//! let schema = weir::schema![("line", String)];
//! let options = vec![("charset".to_owned(), "UTF-8".to_owned())];
//! let mut decoder = runtime.decoder("my_table", "raw", &options, &schema).await?;
//! let rows = decoder.decode(&weir::Frames::new(["hello", "world"])).await?;
//! assert_eq!(rows.rows.num_rows(), 2);
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use crate::catalog::{Catalog, Entry, Role};
use crate::engine::{Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::handles::{Decoder, Encoder};
use crate::model::Schema;
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
        Decoder::open(entry, &options, schema, &Grants::none()).await.map_err(|e| e.with_option_prefix(format))
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
        Encoder::open(entry, &options, schema, &Grants::none()).await.map_err(|e| e.with_option_prefix(format))
    }
}

/// A format's options for `table`, validated the Flink way (defaults filled
/// in, unknown keys refused).
fn format_options(entry: &Entry, table: &str, options: &[(String, String)]) -> Result<Vec<(String, String)>> {
    let target = Target { table, role: "format", prefix: Some(&entry.spec.identifier) };
    Ok(options::validate(target, &entry.spec, options)?)
}

/// Builds a [`Schema`] from `(name, DataType variant)` pairs; columns
/// are nullable. `weir::schema![("id", Int), ("name", String)]`.
#[macro_export]
macro_rules! schema {
    ($(($name:expr, $($ty:tt)+)),* $(,)?) => {
        $crate::model::Schema::new(vec![$($crate::model::Field::new($name, $crate::model::DataType::$($ty)+)),*])
    };
}
