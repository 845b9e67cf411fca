//! What one instance's wasmtime `Store` holds: its WASI context with exactly
//! the granted capabilities, its resource table, its limiter, and the
//! implementation of the `host` interface (logs and metrics).

use std::collections::BTreeMap;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::v0_1_0::weir::connector::host;
use crate::limits::{Limiter, Limits};
use crate::policy::{self, Grants};

/// Counters and gauges a component reported through the `host` interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Monotonic counters by name.
    pub counters: BTreeMap<String, u64>,
    /// Last value of each gauge.
    pub gauges: BTreeMap<String, f64>,
}

/// Most distinct metric names one instance may create: a guest must not be
/// able to grow host memory without bound through metric names.
const MAX_METRICS: usize = 256;
/// Longest log message kept from a guest.
const MAX_LOG_BYTES: usize = 4096;

/// The data of one instance's store.
pub struct InstanceState {
    /// The component's identifier (or file name before its spec is known),
    /// used in every log line and error.
    pub component: String,
    wasi: WasiCtx,
    table: ResourceTable,
    /// Enforces memory and table limits.
    pub limiter: Limiter,
    /// The guest's captured stderr.
    pub stderr: MemoryOutputPipe,
    /// What the guest reported.
    pub metrics: Metrics,
    /// Epoch ticks the current call has used (CPU budget accounting).
    pub ticks_used: u64,
}

impl InstanceState {
    /// State for a new instance of `component` with `grants` and `limits`.
    pub fn new(component: &str, grants: &Grants, limits: Limits) -> anyhow::Result<Self> {
        let (wasi, stderr) = policy::wasi_context(grants)?;
        Ok(InstanceState {
            component: component.to_owned(),
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            stderr,
            metrics: Metrics::default(),
            ticks_used: 0,
        })
    }

    /// The guest's stderr so far, as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl host::Host for InstanceState {
    async fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        let message = truncate(&message, MAX_LOG_BYTES);
        let component = self.component.as_str();
        match level {
            host::Level::Trace => tracing::trace!(target: "weir::guest", component, "{message}"),
            host::Level::Debug => tracing::debug!(target: "weir::guest", component, "{message}"),
            host::Level::Info => tracing::info!(target: "weir::guest", component, "{message}"),
            host::Level::Warn => tracing::warn!(target: "weir::guest", component, "{message}"),
            host::Level::Error => tracing::error!(target: "weir::guest", component, "{message}"),
        }
        Ok(())
    }

    async fn counter_add(&mut self, name: String, delta: u64) -> wasmtime::Result<()> {
        let counters = &mut self.metrics.counters;
        if let Some(v) = counters.get_mut(&name) {
            *v = v.saturating_add(delta);
        } else if counters.len() < MAX_METRICS {
            counters.insert(truncate(&name, 128).to_owned(), delta);
        }
        Ok(())
    }

    async fn gauge_set(&mut self, name: String, value: f64) -> wasmtime::Result<()> {
        let gauges = &mut self.metrics.gauges;
        if gauges.contains_key(&name) || gauges.len() < MAX_METRICS {
            gauges.insert(truncate(&name, 128).to_owned(), value);
        }
        Ok(())
    }
}
