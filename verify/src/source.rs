//! The source checks: a stable plan, and checkpoint/restore without loss
//! or duplication.

use weir::batch::{self};
use weir::bindings::v0_1_0::exports::weir::connector::source as wsource;
use weir::display;
use weir::types::{Options, RawRecords, Schema};

use crate::{Fault, Suite};

impl Suite<'_> {
    pub(crate) async fn source_checks(&mut self, options: Result<Options, String>) {
        let options = match options {
            Ok(options) => options,
            Err(why) => return self.skip_unready(["source.plan-stable", "source.checkpoint-restore"], &why),
        };
        let schema = self.schema_for_connector();
        let request = wsource::ScanRequest {
            projection: None,
            filters: Vec::new(),
            limit: None,
            partitions: None,
            metadata_keys: Vec::new(),
        };
        let mut plans = Vec::new();
        for _ in 0..2 {
            match self.in_fresh(&options, async |i| i.plan(&options, &schema, &request).await).await {
                Ok(plan) => plans.push(plan),
                Err(f) => {
                    self.report.fail("source.plan-stable", f.message);
                    self.report.skip("source.checkpoint-restore", "planning failed");
                    return;
                }
            }
        }
        // Split ids are what checkpoints and progress refer to: they must be
        // the same. (The host keeps the plan in its checkpoints, so a payload
        // may carry plan-time facts such as a start time.)
        let ids = |p: &wsource::ScanPlan| p.splits.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        if ids(&plans[0]) == ids(&plans[1]) {
            let same_payloads = plans[0].splits.iter().zip(&plans[1].splits).all(|(a, b)| a.payload == b.payload);
            let note = if same_payloads { "and payloads" } else { "(payloads carry plan-time state)" };
            self.report
                .pass("source.plan-stable", format!("{} splits, the same ids {note} twice", plans[0].splits.len()));
        } else {
            self.report.fail(
                "source.plan-stable",
                format!("planning twice gave different split ids: {:?} then {:?}", ids(&plans[0]), ids(&plans[1])),
            );
        }
        let plan = plans.swap_remove(0);
        let Some(split) = plan.splits.first().cloned() else {
            self.report.skip("source.checkpoint-restore", "the plan has no splits");
            return;
        };
        if !plan.bounded {
            self.report
                .skip("source.checkpoint-restore", "unbounded source: give a bounded configuration to check restore");
            return;
        }
        match self.checkpoint_restore(&options, &schema, &request, &split).await {
            Ok(detail) => self.report.pass("source.checkpoint-restore", detail),
            Err(f) => self.report.fail("source.checkpoint-restore", f.message),
        }
    }

    /// Reads the split (to its end, or a bounded prefix of a long or slow
    /// one); then half of that, checkpoints, restores into a new instance
    /// and reads on to the same length: the two must be the same records.
    pub(crate) async fn checkpoint_restore(
        &mut self,
        options: &Options,
        schema: &Schema,
        request: &wsource::ScanRequest,
        split: &wsource::Split,
    ) -> Result<String, Fault> {
        let fail = |message: String| Fault { message, limit: false, ungranted: false };
        let whole = self.read_split(options, schema, request, split, None, usize::MAX).await?;
        let all = whole.records;
        let prefix = if whole.ended { String::new() } else { format!(" (the first {} of a longer split)", all.len()) };
        if all.len() < 2 {
            return Ok(format!("split '{}' has {} records: nothing to resume", split.id, all.len()));
        }
        let half = all.len() / 2;
        let first = self.read_split(options, schema, request, split, None, half).await?;
        let state = first.state;
        let first = first.records;
        if first.len() >= all.len() {
            return Ok(format!(
                "split '{}': the reader returned all {} records in its first calls: nothing to resume",
                split.id,
                all.len()
            ));
        }
        // Compare the same records: as many as the first read saw.
        let want = all.len() - first.len();
        let rest = self.read_split(options, schema, request, split, Some(state), want).await?.records;
        let mut resumed = first.clone();
        resumed.extend(rest.iter().take(want).cloned());
        if resumed == all {
            return Ok(format!(
                "split '{}': {} records read{prefix}, checkpoint after {}, the restored reader returned the other {}",
                split.id,
                all.len(),
                first.len(),
                want
            ));
        }
        let (got, expected) = (resumed.len() - first.len(), want);
        let again = rest.iter().take(want).filter(|r| first.contains(r)).count();
        let what = if got < expected {
            format!("{} lost", expected - got)
        } else if again > 0 {
            format!("{again} duplicated (records read before the checkpoint came again)")
        } else {
            // Same count, different records: where they part.
            let at = resumed.iter().zip(&all).position(|(a, b)| a != b).unwrap_or(0);
            let show = |r: &Vec<u8>| String::from_utf8_lossy(&r[..r.len().min(80)]).into_owned();
            format!("record {} differs: expected {:?}, got {:?}", at + 1, show(&all[at]), show(&resumed[at]))
        };
        Err(fail(format!(
            "restoring after {} of {} records{prefix}: {what}; expected the restored reader to continue with record {}",
            first.len(),
            all.len(),
            first.len() + 1
        )))
    }

    /// Up to `stop` records of a split (raw payloads, or rows as printed),
    /// bounded in records, calls and time, and the checkpoint taken after
    /// them.
    pub(crate) async fn read_split(
        &mut self,
        options: &Options,
        schema: &Schema,
        request: &wsource::ScanRequest,
        split: &wsource::Split,
        state: Option<Vec<u8>>,
        stop: usize,
    ) -> Result<SplitRead, Fault> {
        let identifier = self.spec().identifier.clone();
        self.in_fresh(options, async |instance| {
            let reader = instance.open_reader(options, schema, request, split, state.as_deref()).await?;
            let mut records: Vec<Vec<u8>> = Vec::new();
            let mut ended = false;
            let started = std::time::Instant::now();
            for _ in 0..MAX_CALLS {
                if records.len() >= stop.min(MAX_RECORDS) || started.elapsed() > MAX_TIME {
                    break;
                }
                let want = u32::try_from((stop - records.len()).min(1024)).unwrap_or(1024);
                match instance.next(reader, want).await? {
                    wsource::ReadResult::Records(RawRecords { values, .. }) => records
                        .extend(values.offsets.windows(2).map(|w| values.data[w[0] as usize..w[1] as usize].to_vec())),
                    wsource::ReadResult::Rows(b) => {
                        let rows = batch::to_arrow(&identifier, schema, b)?;
                        records.extend(display::format_rows(&rows).into_iter().map(String::into_bytes));
                    }
                    wsource::ReadResult::WouldBlock => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                    wsource::ReadResult::EndOfSplit => {
                        ended = true;
                        break;
                    }
                }
            }
            // A reader may return more than asked: the checkpoint covers
            // everything it returned.
            let state = instance.checkpoint_reader(reader).await?;
            Ok(SplitRead { records, ended, state })
        })
        .await
    }

    // ---- sinks ----------------------------------------------------------------------
}

/// Most records, reader calls and time one read of a split takes: a long or
/// rate-limited split is checked on a prefix.
const MAX_RECORDS: usize = 100_000;
const MAX_CALLS: usize = 10_000;
const MAX_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// What one read of a split returned.
pub(crate) struct SplitRead {
    /// The records (raw payloads, or rows as printed).
    pub(crate) records: Vec<Vec<u8>>,
    /// Whether the split ended (otherwise a bound stopped the read).
    pub(crate) ended: bool,
    /// The reader's checkpoint after these records.
    pub(crate) state: Vec<u8>,
}
