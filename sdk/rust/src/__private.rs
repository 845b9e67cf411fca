//! Adapters from the author-facing traits to the generated WIT traits.
//! Not part of the API: used by the export macros only.

use core::cell::RefCell;
use core::marker::PhantomData;

use crate::bindings::exports::weir::connector::{factory, format, sink, source};
use crate::{Batch, ComponentSpec, Error, Options, Result, Schema, VarData};

fn poisoned() -> Error {
    // A re-entrant call on the same resource: the host never does this.
    Error::transient("resource is busy (re-entrant call)")
}

macro_rules! factory_impl {
    ($adapter:ident, $trait:ident) => {
        impl<T: crate::$trait> factory::Guest for $adapter<T> {
            fn spec() -> ComponentSpec {
                T::spec()
            }
            fn validate(options: Options, schema: Schema) -> Result<()> {
                T::validate(&options, &schema)
            }
        }
    };
}

// --- formats ---------------------------------------------------------------

pub struct FormatAdapter<T>(PhantomData<T>);
pub struct DecoderRes<T>(RefCell<T>);
pub struct EncoderRes<T>(RefCell<T>);

factory_impl!(FormatAdapter, Format);

impl<T: crate::Format> format::Guest for FormatAdapter<T> {
    type Decoder = DecoderRes<T>;
    type Encoder = EncoderRes<T>;
}

impl<T: crate::Format> format::GuestDecoder for DecoderRes<T> {
    fn open(options: Options, schema: Schema) -> Result<format::Decoder> {
        Ok(format::Decoder::new(DecoderRes(RefCell::new(T::open(&options, &schema)?))))
    }
    fn decode(&self, frames: VarData) -> Result<Batch> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.decode(&frames)
    }
}

impl<T: crate::Format> format::GuestEncoder for EncoderRes<T> {
    fn open(options: Options, schema: Schema) -> Result<format::Encoder> {
        Ok(format::Encoder::new(EncoderRes(RefCell::new(T::open(&options, &schema)?))))
    }
    fn encode(&self, rows: Batch) -> Result<VarData> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.encode(&rows)
    }
}

// --- sources ---------------------------------------------------------------

pub struct SourceAdapter<T>(PhantomData<T>);
pub struct ReaderRes<T>(RefCell<T>);
pub struct LookupRes<T>(RefCell<Box<dyn crate::LookupTable>>, PhantomData<T>);
pub struct VectorRes<T>(RefCell<Box<dyn crate::VectorIndex>>, PhantomData<T>);

/// The factory of a connector (source, sink or both).
pub struct ConnectorAdapter<T>(PhantomData<T>);

factory_impl!(ConnectorAdapter, Connector);

impl<T: crate::Source> source::Guest for SourceAdapter<T> {
    type SplitReader = ReaderRes<T>;
    type LookupTable = LookupRes<T>;
    type VectorIndex = VectorRes<T>;

    fn plan(options: Options, schema: Schema, request: source::ScanRequest) -> Result<source::ScanPlan> {
        T::plan(&options, &schema, &request)
    }
}

impl<T: crate::Source> source::GuestSplitReader for ReaderRes<T> {
    fn open(
        options: Options,
        schema: Schema,
        request: source::ScanRequest,
        split: source::Split,
        state: Option<Vec<u8>>,
    ) -> Result<source::SplitReader> {
        let reader = T::open(&options, &schema, &request, &split, state.as_deref())?;
        Ok(source::SplitReader::new(ReaderRes(RefCell::new(reader))))
    }
    fn next(&self, max_records: u32) -> Result<source::ReadResult> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.next(max_records)
    }
    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.checkpoint()
    }
}

impl<T: crate::Source> source::GuestLookupTable for LookupRes<T> {
    fn open(options: Options, schema: Schema, key_columns: Vec<u32>) -> Result<source::LookupTable> {
        let table = T::open_lookup(&options, &schema, &key_columns)?;
        Ok(source::LookupTable::new(LookupRes::<T>(RefCell::new(table), PhantomData)))
    }
    fn lookup(&self, keys: Batch) -> Result<source::LookupResult> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.lookup(&keys)
    }
}

impl<T: crate::Source> source::GuestVectorIndex for VectorRes<T> {
    fn open(options: Options, schema: Schema, column: u32) -> Result<source::VectorIndex> {
        let index = T::open_vector_index(&options, &schema, column)?;
        Ok(source::VectorIndex::new(VectorRes::<T>(RefCell::new(index), PhantomData)))
    }
    fn search(&self, query: Vec<f32>, top_k: u32) -> Result<source::SearchResult> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.search(&query, top_k)
    }
}

// --- sinks -----------------------------------------------------------------

pub struct SinkAdapter<T>(PhantomData<T>);
pub struct WriterRes<T>(RefCell<T>);

impl<T: crate::Sink> sink::Guest for SinkAdapter<T> {
    type Writer = WriterRes<T>;

    fn commit(options: Options, committables: Vec<sink::Committable>) -> Result<()> {
        T::commit(&options, committables)
    }
    fn abort(options: Options, committables: Vec<sink::Committable>) -> Result<()> {
        T::abort(&options, committables)
    }
}

impl<T: crate::Sink> sink::GuestWriter for WriterRes<T> {
    fn open(options: Options, schema: Schema, context: sink::WriterContext) -> Result<sink::Writer> {
        Ok(sink::Writer::new(WriterRes(RefCell::new(T::open(&options, &schema, &context)?))))
    }
    fn write(&self, input: sink::SinkInput) -> Result<()> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.write(input)
    }
    fn prepare_commit(&self, checkpoint_id: u64) -> Result<Vec<sink::Committable>> {
        self.0.try_borrow_mut().map_err(|_| poisoned())?.prepare_commit(checkpoint_id)
    }
}
