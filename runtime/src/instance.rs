//! The instance lifetime: one wasmtime `Store` per component instance,
//! created from a pre-linked [`Loaded`] component.
//!
//! Every guest call goes through `Instance::finish`, which turns the
//! contract's typed error into [`Error::Guest`] and a trap into
//! [`Error::Trap`] with the reason (panic, memory, CPU) and the guest's
//! stderr. A trap poisons the whole store, so after one the instance
//! refuses further calls: drop it and create a new one.

use std::sync::Arc;

use wasmtime::component::{
    Component, ComponentExportIndex, Func, InstancePre, ResourceAny, ResourceTableError, TypedFunc,
};
use wasmtime::{Store, UpdateDeadline};

use crate::bindings::v0_1_0::exports::weir::connector::{factory, format, sink, source};
use crate::bindings::v0_1_0::weir::connector::types::{Batch, Options, Schema, VarData};
use crate::bindings::v0_1_0::{self, weir::connector::types as wit};
use crate::engine::{EPOCH_TICK, Engine};
use crate::error::{Error, GuestError, Result, TrapReason};
use crate::lift::{self, Budgeted, TooLarge};
use crate::limits::LimitHit;
use crate::policy::Grants;
use crate::spec::{Kind, Spec};
use crate::store::{InstanceState, Metrics};

/// A compiled, linked component: what the catalog keeps per component. It
/// knows its kind from the interfaces it exports.
pub struct Loaded {
    /// Where it came from (`built-in raw`, a file path).
    pub origin: String,
    /// What it can do.
    pub kind: Kind,
    /// The contract version it implements.
    pub wit_version: String,
    engine: Arc<Engine>,
    pre: InstancePre<InstanceState>,
    factory: factory::GuestIndices,
    format: Option<format::GuestIndices>,
    source: Option<source::GuestIndices>,
    sink: Option<sink::GuestIndices>,
    bounded: Bounded<ComponentExportIndex>,
}

/// The exports whose results are lifted within the result budget (see
/// [`crate::lift`]) instead of through the generated bindings: their
/// indices in a component, or their functions in an instance (signatures
/// checked).
#[derive(Clone, Copy)]
struct Bounded<T> {
    decode: Option<T>,
    next: Option<T>,
    plan: Option<T>,
    prepare_commit: Option<T>,
    lookup: Option<T>,
    search: Option<T>,
}

impl<T> Bounded<T> {
    fn map<U>(&self, mut f: impl FnMut(&T) -> Option<U>) -> Bounded<U> {
        Bounded {
            decode: self.decode.as_ref().and_then(&mut f),
            next: self.next.as_ref().and_then(&mut f),
            plan: self.plan.as_ref().and_then(&mut f),
            prepare_commit: self.prepare_commit.as_ref().and_then(&mut f),
            lookup: self.lookup.as_ref().and_then(&mut f),
            search: self.search.as_ref().and_then(&mut f),
        }
    }
}

const PACKAGE: &str = "weir:connector";

impl Loaded {
    /// Compiles (or loads from cache) and links a component.
    pub fn new(engine: Arc<Engine>, origin: &str, wasm: &[u8]) -> Result<Loaded> {
        let component = engine.compile(origin, wasm)?;
        let (kind, wit_version) = kind_of(&engine, origin, &component)?;
        let pre = engine.instantiate_pre(origin, &component)?;
        let load = |e: wasmtime::Error| Error::Load { origin: origin.to_owned(), message: format!("{e:#}") };
        let export = |iface: &str, func: &str| {
            let iface = component.get_export_index(None, format!("{PACKAGE}/{iface}@{wit_version}").as_str())?;
            component.get_export_index(Some(&iface), func)
        };
        let bounded = Bounded {
            decode: export("format", "[method]decoder.decode"),
            next: export("source", "[method]split-reader.next"),
            plan: export("source", "plan"),
            prepare_commit: export("sink", "[method]writer.prepare-commit"),
            lookup: export("source", "[method]lookup-table.lookup"),
            search: export("source", "[method]vector-index.search"),
        };
        Ok(Loaded {
            bounded,
            origin: origin.to_owned(),
            kind,
            wit_version,
            factory: factory::GuestIndices::new(&pre).map_err(load)?,
            format: (kind == Kind::Format).then(|| format::GuestIndices::new(&pre)).transpose().map_err(load)?,
            source: kind.is_source().then(|| source::GuestIndices::new(&pre)).transpose().map_err(load)?,
            sink: kind.is_sink().then(|| sink::GuestIndices::new(&pre)).transpose().map_err(load)?,
            engine,
            pre,
        })
    }

    /// Only wasmtime's part of [`Loaded::instantiate`]: a store with an
    /// empty state and `InstancePre::instantiate_async` (the pooling
    /// allocator's fast path), without the WASI context, limits or export
    /// lookups Weir adds. For measuring what each part costs.
    #[doc(hidden)]
    pub async fn instantiate_bare(&self) -> Result<()> {
        let state = InstanceState::new("bare", &Grants::none(), self.engine.limits(), &[]).map_err(Error::Host)?;
        let mut store = Store::new(self.engine.wasmtime(), state);
        store.set_epoch_deadline(u64::MAX / 2);
        let r = self.pre.instantiate_async(&mut store).await;
        r.map(drop).map_err(|e| Error::Load { origin: self.origin.clone(), message: format!("{e:#}") })
    }

    /// A new instance with `grants`, named `component` in logs and errors.
    pub async fn instantiate(&self, component: &str, grants: &Grants) -> Result<Instance> {
        let limits = self.engine.limits();
        let state = InstanceState::new(component, grants, limits, self.engine.protected_dirs())
            .map_err(|e| Error::Grant { component: component.to_owned(), message: format!("{e:#}") })?;
        let mut store = Store::new(self.engine.wasmtime(), state);
        store.limiter(|s| &mut s.limiter);
        let budget_ticks = (limits.cpu_per_call.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        // Each epoch tick spent inside the guest counts against the call's
        // budget; in between, the guest yields to tokio so one busy guest
        // cannot starve the runtime's other tasks.
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data_mut();
            state.ticks_used += 1;
            if state.ticks_used > budget_ticks {
                state.limiter.hit = Some(LimitHit::Cpu);
                return Err(wasmtime::format_err!("CPU budget exhausted"));
            }
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
        });
        store.set_epoch_deadline(1);

        let mut instance = Instance {
            name: component.to_owned(),
            wall_clock: limits.wall_clock_per_call,
            result_bytes: limits.result_bytes,
            store,
            bounded: None,
            factory: None,
            format: None,
            source: None,
            sink: None,
            poisoned: None,
        };
        instance.begin_call()?;
        let wasm_instance = self.pre.instantiate_async(&mut instance.store).await;
        let wasm_instance = instance.finish(wasm_instance.map(Ok))?;
        let store = &mut instance.store;
        let load = |e: wasmtime::Error| Error::Load { origin: self.origin.clone(), message: format!("{e:#}") };
        instance.factory = Some(self.factory.load(&mut *store, &wasm_instance).map_err(load)?);
        if let Some(ix) = &self.format {
            instance.format = Some(ix.load(&mut *store, &wasm_instance).map_err(load)?);
        }
        if let Some(ix) = &self.source {
            instance.source = Some(ix.load(&mut *store, &wasm_instance).map_err(load)?);
        }
        if let Some(ix) = &self.sink {
            instance.sink = Some(ix.load(&mut *store, &wasm_instance).map_err(load)?);
        }
        let b = self.bounded.map(|ix| wasm_instance.get_func(&mut *store, ix));
        // The bounded result types must match the contract exactly.
        if let Some(f) = b.decode {
            f.typed::<(ResourceAny, &VarData), (Result<lift::types::Batch, wit::Error>,)>(&*store).map_err(load)?;
        }
        if let Some(f) = b.next {
            f.typed::<(ResourceAny, u32), (Result<lift::types::ReadResult, wit::Error>,)>(&*store).map_err(load)?;
        }
        if let Some(f) = b.plan {
            f.typed::<(&Options, &Schema, &source::ScanRequest), (Result<lift::types::ScanPlan, wit::Error>,)>(&*store)
                .map_err(load)?;
        }
        if let Some(f) = b.prepare_commit {
            f.typed::<(ResourceAny, u64), (Result<lift::types::Committables, wit::Error>,)>(&*store).map_err(load)?;
        }
        if let Some(f) = b.lookup {
            f.typed::<(ResourceAny, &Batch), (Result<lift::types::LookupResult, wit::Error>,)>(&*store)
                .map_err(load)?;
        }
        if let Some(f) = b.search {
            f.typed::<(ResourceAny, &[f32], u32), (Result<lift::types::SearchResult, wit::Error>,)>(&*store)
                .map_err(load)?;
        }
        instance.bounded = Some(b);
        Ok(instance)
    }
}

/// Derives kind and contract version from the component's exports.
fn kind_of(engine: &Engine, origin: &str, component: &Component) -> Result<(Kind, String)> {
    let ty = component.component_type();
    let mut version = None;
    let (mut factory, mut format, mut source, mut sink) = (false, false, false, false);
    for (name, _) in ty.exports(engine.wasmtime()) {
        let Some(rest) = name.strip_prefix(PACKAGE).and_then(|r| r.strip_prefix('/')) else { continue };
        let (iface, ver) = rest.split_once('@').unwrap_or((rest, ""));
        version = Some(ver.to_owned());
        match iface {
            "factory" => factory = true,
            "format" => format = true,
            "source" => source = true,
            "sink" => sink = true,
            _ => {}
        }
    }
    let not_weir = |why: &str| Error::Load {
        origin: origin.to_owned(),
        message: format!(
            "{why}; build it against one of the worlds of {PACKAGE}@{} (format-component, source-component, sink-component, connector-component)",
            v0_1_0::VERSION
        ),
    };
    let version = version.ok_or_else(|| not_weir("it exports no weir:connector interface"))?;
    if version != v0_1_0::VERSION {
        return Err(not_weir(&format!("it implements {PACKAGE}@{version}, which this runtime does not serve")));
    }
    if !factory {
        return Err(not_weir("it does not export the factory interface"));
    }
    let kind = match (format, source, sink) {
        (true, false, false) => Kind::Format,
        (false, true, false) => Kind::Source,
        (false, false, true) => Kind::Sink,
        (false, true, true) => Kind::Connector,
        _ => return Err(not_weir("its exports match no Weir world")),
    };
    Ok((kind, version))
}

/// One live component instance (one store).
pub struct Instance {
    name: String,
    /// Wall-clock limit of one call.
    wall_clock: std::time::Duration,
    /// Most bytes one call's results may lift.
    result_bytes: usize,
    store: Store<InstanceState>,
    bounded: Option<Bounded<Func>>,
    factory: Option<factory::Guest>,
    format: Option<format::Guest>,
    source: Option<source::Guest>,
    sink: Option<sink::Guest>,
    poisoned: Option<TrapReason>,
}

/// Calls a guest function under every per-call limit: resets the CPU and
/// fuel budgets, bounds the wall-clock time and the size of the results,
/// and maps the outcome through [`Instance::finish`].
macro_rules! guest_call {
    ($self:ident, $iface:ident, $what:literal, |$g:ident, $store:ident| $call:expr) => {{
        $self.begin_call()?;
        let $g = $self.$iface.clone().ok_or_else(|| $self.missing($what))?;
        let (wall_clock, result_bytes) = ($self.wall_clock, $self.result_bytes);
        let $store = &mut $self.store;
        let r = match tokio::time::timeout(wall_clock, Budgeted::new(Box::pin($call), result_bytes)).await {
            Ok(r) => r,
            Err(_) => Err($self.wall_clock_hit()),
        };
        $self.finish(r)
    }};
}

impl Instance {
    /// The name used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the instance (once its spec's identifier is known).
    pub fn set_name(&mut self, name: &str) {
        name.clone_into(&mut self.name);
        name.clone_into(&mut self.store.data_mut().component);
    }

    /// Metrics the guest reported so far.
    pub fn metrics(&self) -> &Metrics {
        &self.store.data().metrics
    }

    /// Accesses the policy refused this instance so far (`TCP connect to
    /// 127.0.0.1:9`), whether or not the component reported them.
    pub fn denials(&self) -> Vec<String> {
        self.store.data().denials.list()
    }

    /// Whether a trap ended this instance.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    fn begin_call(&mut self) -> Result<()> {
        if let Some(reason) = &self.poisoned {
            return Err(Error::Trap {
                component: self.name.clone(),
                reason: TrapReason::Other(format!(
                    "instance already stopped earlier ({reason}); create a new instance"
                )),
                stderr: String::new(),
            });
        }
        let state = self.store.data_mut();
        state.ticks_used = 0;
        state.start_call();
        state.limiter.hit = None;
        let fuel = state.limiter.limits().fuel_per_call;
        self.store.set_epoch_deadline(1);
        if let Some(fuel) = fuel {
            self.store.set_fuel(fuel).map_err(|e| Error::Host(anyhow::anyhow!("cannot set fuel: {e}")))?;
        }
        Ok(())
    }

    /// Records that a call was cut off by the wall-clock limit (its future
    /// is dropped; the store is poisoned by [`Instance::finish`]).
    fn wall_clock_hit(&mut self) -> wasmtime::Error {
        self.store.data_mut().limiter.hit = Some(LimitHit::WallClock);
        wasmtime::format_err!("wall-clock limit exceeded")
    }

    /// Maps a call's outcome to the runtime's errors; the single place that
    /// recognises traps and limits.
    fn finish<T>(&mut self, outcome: wasmtime::Result<Result<T, wit::Error>>) -> Result<T> {
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Error::Guest { component: self.name.clone(), error: GuestError::from(e) }),
            Err(trap) => {
                let state = self.store.data();
                let hit = state.limiter.hit.or_else(|| limit_in(&trap));
                let reason = match hit {
                    Some(hit) => state.limiter.reason(hit),
                    None if let Some(exit) = trap.downcast_ref::<wasmtime_wasi::I32Exit>() => TrapReason::Exit(exit.0),
                    None => match trap.downcast_ref::<wasmtime::Trap>() {
                        Some(wasmtime::Trap::UnreachableCodeReached) => TrapReason::Panic,
                        Some(wasmtime::Trap::StackOverflow) => TrapReason::StackOverflow,
                        Some(t) => TrapReason::Other(format!("trap: {t}")),
                        None => TrapReason::Other(format!("{trap:#}")),
                    },
                };
                let stderr = crate::terminal::escape_lines(&tail(&state.stderr_text(), 2000)).into_owned();
                self.poisoned = Some(reason.clone());
                Err(Error::Trap { component: self.name.clone(), reason, stderr })
            }
        }
    }

    fn missing(&self, what: &str) -> Error {
        Error::Guest {
            component: self.name.clone(),
            error: GuestError::Unsupported(format!("this component does not export the {what} interface")),
        }
    }

    /// Calls `factory.spec`.
    pub async fn spec(&mut self) -> Result<Spec> {
        guest_call!(self, factory, "factory", |f, store| async move { f.call_spec(store).await.map(Ok) })
            .map(Spec::from)
    }

    /// Calls `factory.validate`.
    pub async fn validate(&mut self, options: &Options, schema: &Schema) -> Result<()> {
        guest_call!(self, factory, "factory", |f, store| f.call_validate(store, options, schema))
    }

    /// Opens a decoder resource.
    pub async fn open_decoder(&mut self, options: &Options, schema: &Schema) -> Result<ResourceAny> {
        guest_call!(self, format, "format", |f, store| f.decoder().call_open(store, options, schema))
    }

    /// Decodes frames with an open decoder.
    pub async fn decode(&mut self, decoder: ResourceAny, frames: &VarData) -> Result<Batch> {
        guest_call!(self, bounded, "format", |b, store| async move {
            let func = b.decode.ok_or_else(|| wasmtime::format_err!("no decoder.decode export"))?;
            // SAFETY: the signature was checked in `Loaded::instantiate`.
            let func = unsafe {
                TypedFunc::<(ResourceAny, &VarData), (Result<lift::types::Batch, wit::Error>,)>::new_unchecked(func)
            };
            func.call_async(store, (decoder, frames)).await.map(|(r,)| r.map(Into::into))
        })
    }

    /// Opens an encoder resource.
    pub async fn open_encoder(&mut self, options: &Options, schema: &Schema) -> Result<ResourceAny> {
        guest_call!(self, format, "format", |f, store| f.encoder().call_open(store, options, schema))
    }

    /// Encodes rows with an open encoder.
    pub async fn encode(&mut self, encoder: ResourceAny, rows: &Batch) -> Result<VarData> {
        guest_call!(self, format, "format", |f, store| f.encoder().call_encode(store, encoder, rows))
    }

    /// Opens a sink writer resource.
    pub async fn open_writer(
        &mut self,
        options: &Options,
        schema: &Schema,
        context: &sink::WriterContext,
    ) -> Result<ResourceAny> {
        guest_call!(self, sink, "sink", |s, store| s.writer().call_open(store, options, schema, context))
    }

    /// Writes to an open sink writer.
    pub async fn write(&mut self, writer: ResourceAny, input: &sink::SinkInput) -> Result<()> {
        guest_call!(self, sink, "sink", |s, store| s.writer().call_write(store, writer, input))
    }

    /// Prepares the commit of checkpoint `id` on a writer.
    pub async fn prepare_commit(&mut self, writer: ResourceAny, id: u64) -> Result<Vec<Vec<u8>>> {
        guest_call!(self, bounded, "sink", |b, store| async move {
            let func = b.prepare_commit.ok_or_else(|| wasmtime::format_err!("no writer.prepare-commit export"))?;
            // SAFETY: the signature was checked in `Loaded::instantiate`.
            let func = unsafe {
                TypedFunc::<(ResourceAny, u64), (Result<lift::types::Committables, wit::Error>,)>::new_unchecked(func)
            };
            func.call_async(store, (writer, id)).await.map(|(r,)| r.map(lift::types::committables))
        })
    }

    /// Commits committables (idempotent).
    pub async fn commit(&mut self, options: &Options, committables: &[Vec<u8>]) -> Result<()> {
        guest_call!(self, sink, "sink", |s, store| s.call_commit(store, options, committables))
    }

    /// Plans a scan.
    pub async fn plan(
        &mut self,
        options: &Options,
        schema: &Schema,
        request: &source::ScanRequest,
    ) -> Result<source::ScanPlan> {
        guest_call!(self, bounded, "source", |b, store| async move {
            let func = b.plan.ok_or_else(|| wasmtime::format_err!("no source.plan export"))?;
            // SAFETY: the signature was checked in `Loaded::instantiate`.
            let func = unsafe {
                TypedFunc::<
                    (&Options, &Schema, &source::ScanRequest),
                    (Result<lift::types::ScanPlan, wit::Error>,),
                >::new_unchecked(func)
            };
            func.call_async(store, (options, schema, request)).await.map(|(r,)| r.map(Into::into))
        })
    }

    /// Aborts committables that will never be committed.
    pub async fn abort(&mut self, options: &Options, committables: &[Vec<u8>]) -> Result<()> {
        guest_call!(self, sink, "sink", |s, store| s.call_abort(store, options, committables))
    }

    /// Opens a reader of `split`, resuming from `state` when given.
    pub async fn open_reader(
        &mut self,
        options: &Options,
        schema: &Schema,
        request: &source::ScanRequest,
        split: &source::Split,
        state: Option<&[u8]>,
    ) -> Result<ResourceAny> {
        guest_call!(self, source, "source", |s, store| s
            .split_reader()
            .call_open(store, options, schema, request, split, state))
    }

    /// Reads up to about `max_records` from an open split reader.
    pub async fn next(&mut self, reader: ResourceAny, max_records: u32) -> Result<source::ReadResult> {
        guest_call!(self, bounded, "source", |b, store| async move {
            let func = b.next.ok_or_else(|| wasmtime::format_err!("no split-reader.next export"))?;
            // SAFETY: the signature was checked in `Loaded::instantiate`.
            let func = unsafe {
                TypedFunc::<(ResourceAny, u32), (Result<lift::types::ReadResult, wit::Error>,)>::new_unchecked(func)
            };
            func.call_async(store, (reader, max_records)).await.map(|(r,)| r.map(Into::into))
        })
    }

    /// The reader's state after the records returned so far.
    pub async fn checkpoint_reader(&mut self, reader: ResourceAny) -> Result<Vec<u8>> {
        guest_call!(self, source, "source", |s, store| s.split_reader().call_checkpoint(store, reader))
    }

    /// Opens a lookup table answering lookups on `key_columns`.
    pub async fn open_lookup(
        &mut self,
        options: &Options,
        schema: &Schema,
        key_columns: &[u32],
    ) -> Result<ResourceAny> {
        guest_call!(self, source, "source", |s, store| s.lookup_table().call_open(store, options, schema, key_columns))
    }

    /// Looks up a batch of keys in an open lookup table.
    pub async fn lookup(&mut self, table: ResourceAny, keys: &Batch) -> Result<source::LookupResult> {
        guest_call!(self, bounded, "source", |b, store| async move {
            let func = b.lookup.ok_or_else(|| wasmtime::format_err!("no lookup-table.lookup export"))?;
            // SAFETY: the signature was checked in `Loaded::instantiate`.
            let func = unsafe {
                TypedFunc::<(ResourceAny, &Batch), (Result<lift::types::LookupResult, wit::Error>,)>::new_unchecked(
                    func,
                )
            };
            func.call_async(store, (table, keys)).await.map(|(r,)| r.map(Into::into))
        })
    }

    /// Opens a vector index on `vector_column`.
    pub async fn open_vector_index(
        &mut self,
        options: &Options,
        schema: &Schema,
        vector_column: u32,
    ) -> Result<ResourceAny> {
        guest_call!(self, source, "source", |s, store| s.vector_index().call_open(
            store,
            options,
            schema,
            vector_column
        ))
    }

    /// The `top_k` rows nearest to `query` in an open vector index.
    pub async fn search(&mut self, index: ResourceAny, query: &[f32], top_k: u32) -> Result<source::SearchResult> {
        guest_call!(self, bounded, "source", |b, store| async move {
            let func = b.search.ok_or_else(|| wasmtime::format_err!("no vector-index.search export"))?;
            // SAFETY: the signature was checked in `Loaded::instantiate`.
            let func = unsafe {
                TypedFunc::<(ResourceAny, &[f32], u32), (Result<lift::types::SearchResult, wit::Error>,)>::new_unchecked(
                    func,
                )
            };
            func.call_async(store, (index, query, top_k)).await.map(|(r,)| r.map(Into::into))
        })
    }

    /// Drops a guest resource (decoder, encoder, writer…).
    pub async fn drop_resource(&mut self, resource: ResourceAny) -> Result<()> {
        guest_call!(
            self,
            bounded,
            "factory",
            |_b, store| async move { resource.resource_drop_async(store).await.map(Ok) }
        )
    }
}

/// The limit a trap's error names, when no callback recorded one: a full
/// resource table or an oversized result.
fn limit_in(trap: &wasmtime::Error) -> Option<LimitHit> {
    if trap.downcast_ref::<TooLarge>().is_some() {
        return Some(LimitHit::ResultSize);
    }
    if let Some(wasmtime::Trap::OutOfFuel) = trap.downcast_ref::<wasmtime::Trap>() {
        return Some(LimitHit::Fuel);
    }
    let full = |e: &ResourceTableError| matches!(e, ResourceTableError::Full);
    trap.downcast_ref::<ResourceTableError>().filter(|e| full(e)).map(|_| LimitHit::Handles)
}

fn tail(s: &str, max: usize) -> String {
    let s = s.trim_end();
    s[s.ceil_char_boundary(s.len().saturating_sub(max))..].to_owned()
}
