//! What one instance's wasmtime `Store` holds: its WASI context with exactly
//! the granted capabilities, its resource table, its limiter, the gate of
//! its outgoing HTTP requests, and the implementation of the `host`
//! interface (logs and metrics).

use std::collections::BTreeMap;
use std::path::PathBuf;

use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{self, ResolveAddressStream};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynPollable, Network, SocketError};
use wasmtime_wasi::sockets::WasiSocketsCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::bindings::v0_1_0::weir::connector::host;
use crate::fsgate::FsGate;
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
/// Log messages one call may emit; the rest of that call's are dropped.
pub const MAX_LOG_MESSAGES_PER_CALL: u32 = 1000;
/// Log bytes one call may emit (after truncation to [`MAX_LOG_BYTES`]).
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
            http_gate: HttpGate {
                prefixes: grants.http.clone(),
                component: component.to_owned(),
                denials: denials.clone(),
            },
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

/// The request check of `wasi:http/outgoing-handler`: a request is sent only
/// when its URL lies under one of the instance's granted prefixes
/// ([`policy::may_request`]); any other fails with `HTTP-request-denied`
/// before a connection is opened. The host makes the connection itself (it
/// does not go through the guest's socket grants), so this is the only gate.
struct HttpGate {
    prefixes: Vec<String>,
    component: String,
    denials: policy::Denials,
}

/// What the send-request hook returns: the response and the future driving
/// its connection.
type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let url = request.uri().to_string();
        if !policy::may_request(&self.prefixes, &url) {
            tracing::warn!(target: "weir::policy", component = %self.component, "HTTP request to {url} refused: not under a granted URL prefix");
            self.denials.record(format!("HTTP request to {url}"));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        // The default sender, unchanged, for granted requests.
        struct DefaultSender;
        impl WasiHttpHooks for DefaultSender {}
        DefaultSender.send_request(request, options, fut)
    }
}

/// `wasi:sockets/ip-name-lookup` as the guest sees it: only the host names
/// of its granted endpoints resolve; every other name is refused before any
/// DNS query leaves the host (a lookup alone can leak data to a resolver).
/// The engine links this over wasmtime-wasi's own implementation.
pub struct NameLookup<'a> {
    inner: WasiSocketsCtxView<'a>,
    allowed: &'a [String],
    denials: &'a policy::Denials,
}

/// Marks [`NameLookup`] as the data of the shadowed interface.
pub struct HasNameLookup;

impl HasData for HasNameLookup {
    type Data<'a> = NameLookup<'a>;
}

impl InstanceState {
    /// The name-lookup view of this instance's sockets.
    pub fn name_lookup(&mut self) -> NameLookup<'_> {
        let inner = WasiSocketsCtxView { ctx: self.wasi.sockets(), table: &mut self.table };
        NameLookup { inner, allowed: &self.lookup_names, denials: &self.denials }
    }
}

impl ip_name_lookup::Host for NameLookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !policy::may_resolve(self.allowed, &name) {
            self.denials.record(format!("name lookup of '{name}'"));
            return Err(ErrorCode::AccessDenied.into());
        }
        ip_name_lookup::Host::resolve_addresses(&mut self.inner, network, name)
    }
}

// The shadowed interface uses `network`'s error code; its conversion is
// wasmtime-wasi's own.
impl network::Host for NameLookup<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.inner, error)
    }

    fn network_error_code(&mut self, err: Resource<network::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.inner, err)
    }
}

impl network::HostNetwork for NameLookup<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.inner, this)
    }
}

impl ip_name_lookup::HostResolveAddressStream for NameLookup<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        ip_name_lookup::HostResolveAddressStream::resolve_next_address(&mut self.inner, stream)
    }

    fn subscribe(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<Resource<DynPollable>> {
        ip_name_lookup::HostResolveAddressStream::subscribe(&mut self.inner, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        ip_name_lookup::HostResolveAddressStream::drop(&mut self.inner, stream)
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
