//! Bounded lifting of what a guest returns.
//!
//! wasmtime lifts a returned `list<T>` by copying it out of the guest's
//! memory. Lists inside lists may all point at the *same* region, so a
//! guest with 64 MiB of memory could return a million columns that each
//! alias 60 MiB and make the host allocate terabytes. Every list and string
//! in what `decode`, `next`, `plan`, `prepare-commit`, `lookup` and `search`
//! return is therefore
//! lifted as a [`List`] or [`Text`] (see [`types`]), which charges its size
//! against the budget of the current call before anything is copied
//! (strings right after their one copy, which the guest's memory limit
//! bounds). A call that exceeds the budget fails with [`TooLarge`]: the cap
//! on one returned batch.
//!
//! The budget lives in a thread-local that [`Budgeted`] installs around
//! every poll of a guest call, so it follows the call across tokio's worker
//! threads; outside a budgeted call lifting is unlimited (values the host
//! built itself).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift, WasmList};

/// What the call being lifted on this thread may still lift.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Bytes left.
    left: usize,
    /// The budget of the whole call, for the error.
    limit: usize,
}

thread_local! {
    /// The current call's budget; `None` outside a budgeted call.
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// The error a lift fails with once a call's results exceed the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The budget of one call, in bytes.
    pub limit: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "returned more than the {} MiB allowed for one call's results", self.limit >> 20)
    }
}

impl std::error::Error for TooLarge {}

fn charge(bytes: usize) -> wasmtime::Result<()> {
    BUDGET.with(|b| match b.get() {
        None => Ok(()),
        Some(Budget { left, limit }) if bytes <= left => {
            b.set(Some(Budget { left: left - bytes, limit }));
            Ok(())
        }
        Some(Budget { limit, .. }) => {
            b.set(Some(Budget { left: 0, limit }));
            Err(wasmtime::Error::new(TooLarge { limit }))
        }
    })
}

/// A guest call's future with a lifting budget of `limit` bytes.
pub struct Budgeted<F> {
    inner: F,
    budget: Option<Budget>,
}

impl<F> Budgeted<F> {
    /// Wraps `inner`; its results may lift at most `limit` bytes.
    pub fn new(inner: F, limit: usize) -> Self {
        Budgeted { inner, budget: Some(Budget { left: limit, limit }) }
    }
}

impl<F: Future + Unpin> Future for Budgeted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let outer = BUDGET.with(|b| b.replace(this.budget));
        let result = Pin::new(&mut this.inner).poll(cx);
        this.budget = BUDGET.with(|b| b.replace(outer));
        result
    }
}

/// A `list<T>` lifted within the call's budget.
pub struct List<T>(pub Vec<T>);

// SAFETY: `List<T>` has exactly the canonical ABI of `Vec<T>` (it forwards
// every item), and `Vec<T>` is what performs the lifting and lowering.
unsafe impl<T: ComponentType> ComponentType for List<T> {
    type Lower = <Vec<T> as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <Vec<T> as ComponentType>::ABI;
    const MAY_REQUIRE_REALLOC: bool = <Vec<T> as ComponentType>::MAY_REQUIRE_REALLOC;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <Vec<T> as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: forwards to `Vec<T>` after a bounds-checked, copy-free look at
// the list's length.
unsafe impl<T: Lift> Lift for List<T> {
    fn linear_lift_from_flat(cx: &mut LiftContext<'_>, ty: InterfaceType, src: &Self::Lower) -> wasmtime::Result<Self> {
        let list = WasmList::<T>::linear_lift_from_flat(cx, ty, src)?;
        charge(list.len().saturating_mul(size_of::<T>().max(1)))?;
        Vec::<T>::linear_lift_from_flat(cx, ty, src).map(List)
    }

    fn linear_lift_from_memory(cx: &mut LiftContext<'_>, ty: InterfaceType, bytes: &[u8]) -> wasmtime::Result<Self> {
        let list = WasmList::<T>::linear_lift_from_memory(cx, ty, bytes)?;
        charge(list.len().saturating_mul(size_of::<T>().max(1)))?;
        Vec::<T>::linear_lift_from_memory(cx, ty, bytes).map(List)
    }
}

/// A `string` lifted within the call's budget (charged after its one copy,
/// which the guest's memory limit bounds).
pub struct Text(pub String);

// SAFETY: forwards to `String`.
unsafe impl ComponentType for Text {
    type Lower = <String as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <String as ComponentType>::ABI;
    const MAY_REQUIRE_REALLOC: bool = <String as ComponentType>::MAY_REQUIRE_REALLOC;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: forwards to `String`.
unsafe impl Lift for Text {
    fn linear_lift_from_flat(cx: &mut LiftContext<'_>, ty: InterfaceType, src: &Self::Lower) -> wasmtime::Result<Self> {
        let s = String::linear_lift_from_flat(cx, ty, src)?;
        charge(s.len())?;
        Ok(Text(s))
    }

    fn linear_lift_from_memory(cx: &mut LiftContext<'_>, ty: InterfaceType, bytes: &[u8]) -> wasmtime::Result<Self> {
        let s = String::linear_lift_from_memory(cx, ty, bytes)?;
        charge(s.len())?;
        Ok(Text(s))
    }
}

/// What guests return, mirrored with bounded lists and strings. The host
/// calls the functions that return these through [`crate::instance`] with
/// these result types (wasmtime checks they match the WIT), then moves the
/// values into the bindings' own types without copying.
pub mod types {
    use wasmtime::component::{ComponentType, Lift};

    use super::{List, Text};
    use crate::bindings::v0_1_0::exports::weir::connector::source as wsource;
    use crate::bindings::v0_1_0::weir::connector::types as wit;

    /// `var-data`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct VarData {
        offsets: List<i32>,
        data: List<u8>,
    }

    /// `list-data`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct ListData {
        offsets: List<i32>,
        child: u32,
    }

    /// `column-data`.
    #[derive(ComponentType, Lift)]
    #[component(variant)]
    pub enum ColumnData {
        #[component(name = "boolean")]
        Boolean(List<u8>),
        #[component(name = "int8")]
        Int8(List<i8>),
        #[component(name = "int16")]
        Int16(List<i16>),
        #[component(name = "int32")]
        Int32(List<i32>),
        #[component(name = "int64")]
        Int64(List<i64>),
        #[component(name = "float32")]
        Float32(List<f32>),
        #[component(name = "float64")]
        Float64(List<f64>),
        #[component(name = "decimal128")]
        Decimal128(List<u64>),
        #[component(name = "utf8")]
        Utf8(VarData),
        #[component(name = "binary")]
        Binary(VarData),
        #[component(name = "list")]
        List(ListData),
        #[component(name = "struct")]
        Struct(List<u32>),
    }

    /// `column`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct Column {
        validity: Option<List<u8>>,
        data: ColumnData,
    }

    /// `batch`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct Batch {
        #[component(name = "row-count")]
        row_count: u32,
        #[component(name = "row-kinds")]
        row_kinds: List<u8>,
        columns: List<Column>,
        children: List<Column>,
    }

    /// `raw-records`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct RawRecords {
        values: VarData,
        keys: Option<Column>,
        timestamps: Option<List<i64>>,
        metadata: List<(Text, Column)>,
    }

    /// `read-result`.
    #[derive(ComponentType, Lift)]
    #[component(variant)]
    pub enum ReadResult {
        #[component(name = "records")]
        Records(RawRecords),
        #[component(name = "rows")]
        Rows(Batch),
        #[component(name = "would-block")]
        WouldBlock,
        #[component(name = "end-of-split")]
        EndOfSplit,
    }

    /// `split`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct Split {
        id: Text,
        payload: List<u8>,
    }

    /// `accepted`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct Accepted {
        projection: bool,
        filters: List<u32>,
        limit: bool,
        partitions: bool,
    }

    /// `scan-plan`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct ScanPlan {
        splits: List<Split>,
        bounded: bool,
        accepted: Accepted,
    }

    /// `lookup-result`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct LookupResult {
        rows: Batch,
        matches: List<u32>,
    }

    /// `search-result`.
    #[derive(ComponentType, Lift)]
    #[component(record)]
    pub struct SearchResult {
        rows: Batch,
        scores: List<f32>,
    }

    impl From<LookupResult> for wsource::LookupResult {
        fn from(r: LookupResult) -> Self {
            wsource::LookupResult { rows: r.rows.into(), matches: r.matches.0 }
        }
    }

    impl From<SearchResult> for wsource::SearchResult {
        fn from(r: SearchResult) -> Self {
            wsource::SearchResult { rows: r.rows.into(), scores: r.scores.0 }
        }
    }

    /// A list of committables (`list<list<u8>>`).
    pub type Committables = List<List<u8>>;

    impl From<VarData> for wit::VarData {
        fn from(v: VarData) -> Self {
            wit::VarData { offsets: v.offsets.0, data: v.data.0 }
        }
    }

    impl From<ColumnData> for wit::ColumnData {
        fn from(d: ColumnData) -> Self {
            use wit::ColumnData as W;
            match d {
                ColumnData::Boolean(v) => W::Boolean(v.0),
                ColumnData::Int8(v) => W::Int8(v.0),
                ColumnData::Int16(v) => W::Int16(v.0),
                ColumnData::Int32(v) => W::Int32(v.0),
                ColumnData::Int64(v) => W::Int64(v.0),
                ColumnData::Float32(v) => W::Float32(v.0),
                ColumnData::Float64(v) => W::Float64(v.0),
                ColumnData::Decimal128(v) => W::Decimal128(v.0),
                ColumnData::Utf8(v) => W::Utf8(v.into()),
                ColumnData::Binary(v) => W::Binary(v.into()),
                ColumnData::List(l) => W::List(wit::ListData { offsets: l.offsets.0, child: l.child }),
                ColumnData::Struct(v) => W::Struct(v.0),
            }
        }
    }

    impl From<Column> for wit::Column {
        fn from(c: Column) -> Self {
            wit::Column { validity: c.validity.map(|v| v.0), data: c.data.into() }
        }
    }

    fn columns(c: List<Column>) -> Vec<wit::Column> {
        c.0.into_iter().map(Into::into).collect()
    }

    impl From<Batch> for wit::Batch {
        fn from(b: Batch) -> Self {
            wit::Batch {
                row_count: b.row_count,
                row_kinds: b.row_kinds.0,
                columns: columns(b.columns),
                children: columns(b.children),
            }
        }
    }

    impl From<RawRecords> for wit::RawRecords {
        fn from(r: RawRecords) -> Self {
            wit::RawRecords {
                values: r.values.into(),
                keys: r.keys.map(Into::into),
                timestamps: r.timestamps.map(|t| t.0),
                metadata: r.metadata.0.into_iter().map(|(k, c)| (k.0, c.into())).collect(),
            }
        }
    }

    impl From<ReadResult> for wsource::ReadResult {
        fn from(r: ReadResult) -> Self {
            match r {
                ReadResult::Records(r) => wsource::ReadResult::Records(r.into()),
                ReadResult::Rows(b) => wsource::ReadResult::Rows(b.into()),
                ReadResult::WouldBlock => wsource::ReadResult::WouldBlock,
                ReadResult::EndOfSplit => wsource::ReadResult::EndOfSplit,
            }
        }
    }

    impl From<ScanPlan> for wsource::ScanPlan {
        fn from(p: ScanPlan) -> Self {
            wsource::ScanPlan {
                splits: p.splits.0.into_iter().map(|s| wsource::Split { id: s.id.0, payload: s.payload.0 }).collect(),
                bounded: p.bounded,
                accepted: wsource::Accepted {
                    projection: p.accepted.projection,
                    filters: p.accepted.filters.0,
                    limit: p.accepted.limit,
                    partitions: p.accepted.partitions,
                },
            }
        }
    }

    /// Moves committables into plain vectors.
    pub fn committables(c: Committables) -> Vec<Vec<u8>> {
        c.0.into_iter().map(|c| c.0).collect()
    }
}
