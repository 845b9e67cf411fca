//! Checkpoints of a running `INSERT`: the reader state of every split and
//! the sink's committables, written atomically (write to a temporary file,
//! fsync, rename, fsync the directory) before the sink commits.
//!
//! On a restart with the same directory the runner loads the last
//! completed checkpoint, commits its committables again (commits are
//! idempotent), resumes every split from its state and skips finished ones;
//! a checkpoint marked `finished` means the statement already ran to the
//! end.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a split stands in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitState {
    /// Resume from this reader state (hex).
    Reading(String),
    /// The split was read to its end.
    Finished,
}

/// One completed checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The statement it belongs to ([`fingerprint`]); empty in checkpoints
    /// written before statements had one.
    #[serde(default)]
    pub job: String,
    /// Increasing id (1, 2, …).
    pub id: u64,
    /// State of each split, by split id.
    pub splits: BTreeMap<String, SplitState>,
    /// The sink's committables (hex) for this checkpoint.
    pub committables: Vec<String>,
    /// Rows written up to this checkpoint.
    pub rows: u64,
    /// The statement ran to its end.
    pub finished: bool,
}

/// A statement's identity: SHA-256 of the parts that define it (its tables'
/// names, columns and options — secrets left out by the caller — and its
/// query), as hex. A checkpoint restores only into the same statement.
pub fn fingerprint(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// Bytes as lowercase hex (checkpoint files stay readable JSON).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex back to bytes; `None` if damaged.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The checkpoint directory of one statement.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    job: String,
}

const FILE: &str = "checkpoint.json";

impl Store {
    /// A store in `dir` (created when the first checkpoint is written).
    pub fn new(dir: PathBuf) -> Store {
        Store { dir, job: String::new() }
    }

    /// The same store, for the statement `job` ([`fingerprint`]): what it
    /// saves carries that identity.
    pub fn for_job(self, job: String) -> Store {
        Store { job, ..self }
    }

    /// The identity of the statement this store saves for.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last completed checkpoint, if any.
    pub fn load(&self) -> anyhow::Result<Option<Checkpoint>> {
        let path = self.dir.join(FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                anyhow::anyhow!(
                    "checkpoint {} is damaged ({e}); move it away to start the statement afresh",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("cannot read checkpoint {}: {e}", path.display())),
        }
    }

    /// Writes `checkpoint` atomically: a crash leaves either the previous
    /// checkpoint or this one, never a mix.
    pub fn save(&self, checkpoint: &Checkpoint) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| anyhow::anyhow!("cannot create checkpoint directory {}: {e}", self.dir.display()))?;
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let target = self.dir.join(FILE);
        let io =
            |what: &str, e: std::io::Error| anyhow::anyhow!("cannot {what} checkpoint in {}: {e}", self.dir.display());
        let mut file = File::create(&tmp).map_err(|e| io("write", e))?;
        file.write_all(&serde_json::to_vec_pretty(checkpoint)?).map_err(|e| io("write", e))?;
        file.sync_all().map_err(|e| io("sync", e))?;
        fs::rename(&tmp, &target).map_err(|e| io("publish", e))?;
        // Make the rename itself durable.
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| io("sync", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_and_hex() {
        let dir = std::env::temp_dir().join(format!("weir-checkpoint-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = Store::new(dir.clone());
        assert_eq!(store.load().expect("empty"), None);
        let mut c = Checkpoint { id: 3, rows: 10, ..Checkpoint::default() };
        c.splits.insert("a".into(), SplitState::Reading(hex(&[0, 255, 16])));
        c.splits.insert("b".into(), SplitState::Finished);
        c.committables.push(hex(b"part"));
        store.save(&c).expect("save");
        assert_eq!(store.load().expect("load"), Some(c));
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0g"), None);
        fs::write(dir.join(FILE), b"{ not json").expect("damage");
        assert!(store.load().expect_err("damaged").to_string().contains("move it away"));
        let _ = fs::remove_dir_all(&dir);
    }
}
