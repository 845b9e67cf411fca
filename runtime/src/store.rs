//! What one instance's wasmtime `Store` holds: its WASI context with exactly
//! the granted capabilities, its resource table, its limiter, the gate of
//! its outgoing HTTP requests, and the implementation of the `host`
//! interface (logs and metrics).

use std::collections::BTreeMap;
use std::path::PathBuf;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::WasiSocketsCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::v0_1_0::weir::connector::host;
use crate::limits::{Limiter, Limits};
use crate::policy::files::gate::{FsGate, GateView};
use crate::policy::http::HttpGate;
use crate::policy::sockets::NameLookup;
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
/// Log messages one call may emit; the rest of that call's are dropped.
pub const MAX_LOG_MESSAGES_PER_CALL: u32 = 1000;
/// Log bytes one call may emit (after truncation to 4 KiB).
pub const MAX_LOG_BYTES_PER_CALL: usize = 256 * 1024;
/// The counter (in [`Metrics`]) of log messages the host dropped.
pub const LOG_DROPPED_COUNTER: &str = "weir.log.dropped-messages";

/// What the current call has logged, and what was dropped.
#[derive(Debug, Default)]
struct LogBudget {
    messages: u32,
    bytes: usize,
    dropped: u64,
    dropped_bytes: u64,
}

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
    /// Host names the guest may resolve (those of its granted endpoints).
    lookup_names: Vec<String>,
    http: WasiHttpCtx,
    http_gate: HttpGate,
    /// Accesses the policy refused.
    pub denials: policy::Denials,
    /// What the filesystem gate lets through (file-only preopens).
    pub(crate) fs_gate: FsGate,
    log_budget: LogBudget,
}

impl InstanceState {
    /// State for a new instance of `component` with `grants` and `limits`;
    /// no grant may reach the `protected` directories.
    pub fn new(component: &str, grants: &Grants, limits: Limits, protected: &[PathBuf]) -> anyhow::Result<Self> {
        let denials = policy::Denials::default();
        let policy::Sandbox { wasi, stderr, only_files } = policy::wasi_context(grants, &denials, protected)?;
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.handles);
        Ok(InstanceState {
            component: component.to_owned(),
            wasi,
            table,
            limiter: Limiter::new(limits),
            stderr,
            metrics: Metrics::default(),
            ticks_used: 0,
            lookup_names: grants.connect.iter().map(|e| e.host.to_ascii_lowercase()).collect(),
            http: WasiHttpCtx::new(),
            http_gate: HttpGate::new(grants.http.clone(), component, denials.clone()),
            denials,
            fs_gate: FsGate::new(only_files),
            log_budget: LogBudget::default(),
        })
    }

    /// A new call into the guest begins: its log budget starts afresh, and
    /// what the last call had dropped is reported once.
    pub fn start_call(&mut self) {
        let budget = std::mem::take(&mut self.log_budget);
        if budget.dropped > 0 {
            tracing::warn!(
                target: "weir::guest",
                component = %self.component,
                "dropped {} log messages ({} bytes) of one call: the limit is {MAX_LOG_MESSAGES_PER_CALL} messages and {} KiB per call",
                budget.dropped,
                budget.dropped_bytes,
                MAX_LOG_BYTES_PER_CALL / 1024
            );
        }
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

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { hooks: &mut self.http_gate, table: &mut self.table, ctx: &mut self.http }
    }
}

impl InstanceState {
    /// The name-lookup view of this instance's sockets.
    pub fn name_lookup(&mut self) -> NameLookup<'_> {
        let inner = WasiSocketsCtxView { ctx: self.wasi.sockets(), table: &mut self.table };
        NameLookup::new(inner, &self.lookup_names, &self.denials)
    }
}

impl GateView for InstanceState {
    fn gate(&mut self) -> &mut FsGate {
        &mut self.fs_gate
    }

    fn refused(&mut self, what: String) {
        tracing::warn!(target: "weir::policy", component = %self.component, "refused: {what}");
        self.denials.record(what);
    }
}

fn truncate(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

impl host::Host for InstanceState {
    async fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        let message = truncate(&message, MAX_LOG_BYTES);
        let budget = &mut self.log_budget;
        if budget.messages >= MAX_LOG_MESSAGES_PER_CALL || budget.bytes + message.len() > MAX_LOG_BYTES_PER_CALL {
            budget.dropped += 1;
            budget.dropped_bytes += message.len() as u64;
            let dropped = self.metrics.counters.entry(LOG_DROPPED_COUNTER.to_owned()).or_default();
            *dropped = dropped.saturating_add(1);
            return Ok(());
        }
        budget.messages += 1;
        budget.bytes += message.len();
        // Logs reach terminals: no control characters from the guest.
        let message = crate::terminal::escape(message);
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
