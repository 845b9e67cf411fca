//! Typed handles on component instances: one handle per component role,
//! each opened the one way — instantiate with exactly the given grants, run
//! the component's own option validation (the factory's `validate`), open
//! the role's resource — and speaking Arrow (with Flink row kinds) and the
//! library's [`model`](crate::model), never the contract's types.
//!
//! | handle | role | in → out |
//! |---|---|---|
//! | [`Decoder`] / [`Encoder`] | format | [`Frames`] ↔ [`ChangelogBatch`] |
//! | [`ScanSource`] / [`SplitReader`] | scan source | plan → splits → [`Read`] (records or rows), checkpoint / restore |
//! | [`LookupTable`] | lookup source | key rows → matching rows |
//! | [`VectorIndex`] | vector-search source | query vector → top-k rows with scores |
//! | [`SinkWriter`] | sink | rows or records → committables → commit / abort |
//!
//! Options given to a handle are already validated against the component's
//! spec (see [`crate::options::validate`]); grants are what the operator
//! allows *and* the component declared ([`crate::policy::authorize`]). The
//! pipeline (`weir-pipeline`), `weir verify` and embedders all open
//! components through these handles.

mod format;
mod lookup;
mod sink;
mod source;

pub use format::{Decoder, Encoder};
pub use lookup::{LookupRows, LookupTable, SearchRows, VectorIndex};
pub use sink::{SinkCommitter, SinkWriter, WriterContext};
pub use source::{Accepted, Plan, Read, Records, ScanRequest, ScanSource, Split, SplitReader};

use arrow_array::ArrayRef;

use crate::batch::ChangelogBatch;
use crate::bindings::convert;
use crate::bindings::v0_1_0::weir::connector::types as wit;
use crate::catalog::Entry;
use crate::error::Result;
use crate::instance::Instance;
use crate::model::Schema;
use crate::policy::Grants;

/// An instance of `entry` with `grants`, its options checked by the
/// component itself: the first step of every handle.
async fn open_instance(
    entry: &Entry,
    options: &[(String, String)],
    schema: &Schema,
    grants: &Grants,
) -> Result<(Instance, wit::Schema)> {
    let schema = convert::schema(schema);
    let mut instance = entry.loaded()?.instantiate(&entry.spec.identifier, grants).await?;
    instance.validate(&options.to_vec(), &schema).await?;
    Ok((instance, schema))
}

/// Runs the component's own check of `options` for a table of `schema`
/// (the factory's `validate`) in an instance granted nothing, and opens
/// nothing: what `weir check` asks of every table before a run would.
pub async fn validate(entry: &Entry, options: &[(String, String)], schema: &Schema) -> Result<()> {
    open_instance(entry, options, schema, &Grants::none()).await.map(|_| ())
}

/// Record payloads (frames) as one data buffer and `len + 1` offsets, the
/// layout in which they cross into a component.
#[derive(Debug, Clone)]
pub struct Frames(pub(crate) wit::VarData);

impl Default for Frames {
    fn default() -> Frames {
        Frames(wit::VarData { offsets: vec![0], data: Vec::new() })
    }
}

impl PartialEq for Frames {
    fn eq(&self, other: &Frames) -> bool {
        self.0.offsets == other.0.offsets && self.0.data == other.0.data
    }
}

impl Eq for Frames {}

impl Frames {
    /// Frames from byte strings.
    pub fn new<I, B>(values: I) -> Frames
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
        Frames(wit::VarData { offsets, data })
    }

    /// Frames from a data buffer and its offsets (`offsets[0] = 0`,
    /// monotone, the last one `data.len()`); `None` if they do not fit.
    pub fn from_parts(offsets: Vec<i32>, data: Vec<u8>) -> Option<Frames> {
        let fits = offsets.first() == Some(&0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last().is_some_and(|&l| l as usize == data.len());
        fits.then_some(Frames(wit::VarData { offsets, data }))
    }

    /// The offsets and the data buffer.
    pub fn into_parts(self) -> (Vec<i32>, Vec<u8>) {
        (self.0.offsets, self.0.data)
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        self.0.offsets.len().saturating_sub(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of payload.
    pub fn byte_len(&self) -> usize {
        self.0.data.len()
    }

    /// Frame `i` (`None` past the end or where a component's offsets are
    /// out of bounds).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (start, end) = (*self.0.offsets.get(i)?, *self.0.offsets.get(i + 1)?);
        self.0.data.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
    }

    /// The contract's form (for code driving an instance directly).
    #[doc(hidden)]
    pub fn as_contract(&self) -> &wit::VarData {
        &self.0
    }

    /// Frames from the contract's form (offsets unchecked: a component
    /// checks what it receives).
    #[doc(hidden)]
    pub fn from_contract(frames: wit::VarData) -> Frames {
        Frames(frames)
    }

    /// Every frame in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map_while(|i| self.get(i))
    }
}

/// Metadata columns as Arrow arrays keyed by metadata key (`partition`,
/// `offset`, a partition directory name…).
pub type Metadata = Vec<(String, ArrayRef)>;

/// The rows of a [`ChangelogBatch`] checked against what a handle asked:
/// shared by lookups and searches, whose results tag each row.
fn expect_tags(component: &str, rows: &ChangelogBatch, tags: usize, what: &str) -> Result<()> {
    if rows.rows.num_rows() != tags {
        return Err(crate::Error::InvalidBatch {
            component: component.to_owned(),
            message: format!("{} rows but {tags} {what}", rows.rows.num_rows()),
        });
    }
    Ok(())
}
