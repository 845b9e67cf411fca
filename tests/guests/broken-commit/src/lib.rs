//! Broken on purpose (for `weir verify`): a sink whose commit is not
//! idempotent — committing the same committable twice fails, as a sink that
//! renames staged files without checking would after a restart.

use weir_sdk::{
    Committable, ComponentSpec, Connector, Error, Options, Payload, Result, Schema, Sink, SinkInput, WriterContext,
    export_sink,
};

struct Once {
    staged: u64,
}

/// Commits made by this instance: a stand-in for the external state (a
/// staged file already renamed) that makes a naive commit fail when the
/// host repeats it.
static COMMITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Connector for Once {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("broken-commit", "Test guest: commit fails when repeated").payload(Payload::Rows)
    }
}

impl Sink for Once {
    fn open(_options: &Options, _schema: &Schema, _context: &WriterContext) -> Result<Self> {
        Ok(Once { staged: 0 })
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        if let SinkInput::Rows(batch) = input {
            self.staged += u64::from(batch.row_count);
        }
        Ok(())
    }

    fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Committable>> {
        Ok(vec![format!("staged-{checkpoint_id}-{}", self.staged).into_bytes()])
    }

    fn commit(_options: &Options, committables: Vec<Committable>) -> Result<()> {
        // A "rename" that fails when the source is already gone.
        if COMMITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 || committables.is_empty() {
            return Err(Error::connection("staged file already moved: cannot commit twice"));
        }
        Ok(())
    }

    fn abort(_options: &Options, _committables: Vec<Committable>) -> Result<()> {
        Ok(())
    }
}

export_sink!(Once);
