//! Encoded records into files under `path`, visible only once committed.
use std::fs;
use std::path::{Path, PathBuf};

use weir_sdk::{
    CapabilityKind, Committable, ComponentSpec, Connector, Error, OptionSpec, Options, OptionsExt, Payload, Result,
    Schema, Sink, SinkInput, WriterContext, export_sink,
};

/// One writer (one of `sink.parallelism`): its lines since the last checkpoint.
pub struct Files {
    dir: PathBuf,
    subtask: u32,
    staged: Vec<u8>,
}

impl Connector for Files {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("files", "Lines into files, made visible at each checkpoint")
            .payload(Payload::RawRecords) // the table's 'format' encodes the rows
            .option(OptionSpec::string("path", "Directory to write").required())
            .capability(CapabilityKind::Write, "{path}")
    }
}

/// `.part-<subtask>-<checkpoint>` until committed, `part-…` after.
fn names(dir: &Path, committable: &[u8]) -> Result<(PathBuf, PathBuf)> {
    let name = std::str::from_utf8(committable).map_err(|_| Error::config(None, "bad committable"))?;
    Ok((dir.join(format!(".{name}")), dir.join(name)))
}

impl Sink for Files {
    fn open(options: &Options, _: &Schema, context: &WriterContext) -> Result<Self> {
        let dir = PathBuf::from(options.string("path")?);
        fs::create_dir_all(&dir).map_err(|e| Error::connection(format!("{}: {e}", dir.display())))?;
        Ok(Files { dir, subtask: context.subtask, staged: Vec::new() })
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        let SinkInput::Records(records) = input else {
            return Err(Error::unsupported("give the table a 'format'"));
        };
        for w in records.values.offsets.windows(2) {
            self.staged.extend_from_slice(&records.values.data[w[0] as usize..w[1] as usize]);
            self.staged.push(b'\n');
        }
        Ok(())
    }

    /// At a checkpoint: write what came since the last one to a hidden
    /// file, and hand the host its name. Nothing is visible yet.
    fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Committable>> {
        if self.staged.is_empty() {
            return Ok(Vec::new());
        }
        let name = format!("part-{}-{checkpoint_id}", self.subtask);
        let (hidden, _) = names(&self.dir, name.as_bytes())?;
        fs::write(&hidden, std::mem::take(&mut self.staged)).map_err(|e| Error::connection(e.to_string()))?;
        Ok(vec![name.into_bytes()])
    }

    /// Once the checkpoint is safe: make the files visible. The host may
    /// call this again after a crash, so a file already renamed is fine.
    fn commit(options: &Options, committables: Vec<Committable>) -> Result<()> {
        let dir = PathBuf::from(options.string("path")?);
        for c in committables {
            let (hidden, visible) = names(&dir, &c)?;
            if hidden.exists() || !visible.exists() {
                fs::rename(&hidden, &visible).map_err(|e| Error::connection(format!("{}: {e}", hidden.display())))?;
            }
        }
        Ok(())
    }

    /// Staged files that will never be committed.
    fn abort(options: &Options, committables: Vec<Committable>) -> Result<()> {
        let dir = PathBuf::from(options.string("path")?);
        for c in committables {
            let _ = fs::remove_file(names(&dir, &c)?.0);
        }
        Ok(())
    }
}

export_sink!(Files);
