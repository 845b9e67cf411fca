//! Format handles: a decoder turns frames into rows, an encoder rows into
//! frames; one component instance each.

use wasmtime::component::ResourceAny;

use super::{Frames, open_instance};
use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::weir::connector::types as wit;
use crate::catalog::Entry;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::model::Schema;
use crate::policy::Grants;

/// An open decoder (one instance of a format component).
pub struct Decoder {
    instance: Instance,
    handle: ResourceAny,
    schema: wit::Schema,
}

impl Decoder {
    /// Opens a decoder of the format `entry` with already validated
    /// `options` (without prefix) for rows of `schema`, granting its
    /// instance `grants`.
    pub async fn open(
        entry: &Entry,
        options: &[(String, String)],
        schema: &Schema,
        grants: &Grants,
    ) -> Result<Decoder> {
        let (mut instance, schema) = open_instance(entry, options, schema, grants).await?;
        let handle = instance.open_decoder(&options.to_vec(), &schema).await?;
        Ok(Decoder { instance, handle, schema })
    }

    /// Decodes frames into validated Arrow rows.
    pub async fn decode(&mut self, frames: &Frames) -> Result<ChangelogBatch> {
        let batch = self.instance.decode(self.handle, &frames.0).await?;
        batch::to_arrow(self.instance.name(), &self.schema, batch)
    }

    /// Decodes frames into the batch exactly as the component returned it,
    /// unchecked (for code that checks the contract itself: `weir verify`,
    /// the boundary benchmark).
    #[doc(hidden)]
    pub async fn decode_contract(&mut self, frames: &Frames) -> Result<wit::Batch> {
        self.instance.decode(self.handle, &frames.0).await
    }

    /// The instance (metrics, denials, poisoned state).
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
    /// `options` (without prefix) for rows of `schema`, granting its
    /// instance `grants`.
    pub async fn open(
        entry: &Entry,
        options: &[(String, String)],
        schema: &Schema,
        grants: &Grants,
    ) -> Result<Encoder> {
        let (mut instance, schema) = open_instance(entry, options, schema, grants).await?;
        let handle = instance.open_encoder(&options.to_vec(), &schema).await?;
        Ok(Encoder { instance, handle })
    }

    /// Encodes Arrow rows into frames.
    pub async fn encode(&mut self, rows: &ChangelogBatch) -> Result<Frames> {
        let batch = batch::from_arrow(rows)
            .map_err(|message| Error::InvalidBatch { component: "(host)".to_owned(), message })?;
        Ok(Frames(self.instance.encode(self.handle, &batch).await?))
    }

    /// Encodes a batch in the contract's form (for code that checks the
    /// contract itself: `weir verify`, the boundary benchmark).
    #[doc(hidden)]
    pub async fn encode_contract(&mut self, batch: &wit::Batch) -> Result<Frames> {
        Ok(Frames(self.instance.encode(self.handle, batch).await?))
    }

    /// The instance (metrics, denials, poisoned state).
    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}
