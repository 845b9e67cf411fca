//! The source checks: a stable plan, and checkpoint/restore without loss
//! or duplication.

use weir::batch::{self};
use weir::bindings::v0_1_0::exports::weir::connector::source as wsource;
use weir::display;
use weir::types::{Options, RawRecords, Schema};

use crate::{Fault, Suite};

impl Suite<'_> {
    pub(crate) async fn source_checks(&mut self, options: Option<Options>) {
        let Some(options) = options else {
            return self.skip_unready(["source.plan-stable", "source.checkpoint-restore"]);
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

    /// Reads the split whole; then half, checkpoints, restores into a new
    /// instance and reads the rest: the two must be the same records.
    pub(crate) async fn checkpoint_restore(
        &mut self,
        options: &Options,
        schema: &Schema,
        request: &wsource::ScanRequest,
        split: &wsource::Split,
    ) -> Result<String, Fault> {
        let fail = |message: String| Fault { message, limit: false, ungranted: false };
        let all = self.read_split(options, schema, request, split, None, usize::MAX).await?.0;
        if all.len() < 2 {
            return Ok(format!("split '{}' has {} records: nothing to resume", split.id, all.len()));
        }
        let half = all.len() / 2;
        let (first, state) = self.read_split(options, schema, request, split, None, half).await?;
        let (rest, _) = self.read_split(options, schema, request, split, Some(state), usize::MAX).await?;
        let mut resumed = first.clone();
        resumed.extend(rest.iter().cloned());
        if resumed == all {
            return Ok(format!(
                "split '{}': {} records read, checkpoint after {}, the restored reader returned the other {}",
                split.id,
                all.len(),
                first.len(),
                rest.len()
            ));
        }
        let lost = all.len() as i64 - resumed.len() as i64;
        Err(fail(format!(
            "restoring after {} of {} records gave {} more ({}); expected the other {}",
            first.len(),
            all.len(),
            rest.len(),
            if lost > 0 {
                format!("{lost} lost")
            } else if lost < 0 {
                format!("{} duplicated", -lost)
            } else {
                "different records".into()
            },
            all.len() - first.len()
        )))
    }

    /// Up to `stop` records of a split (raw payloads, or rows as printed),
    /// and the checkpoint taken after them.
    pub(crate) async fn read_split(
        &mut self,
        options: &Options,
        schema: &Schema,
        request: &wsource::ScanRequest,
        split: &wsource::Split,
        state: Option<Vec<u8>>,
        stop: usize,
    ) -> Result<(Vec<Vec<u8>>, Vec<u8>), Fault> {
        const MAX_RECORDS: usize = 100_000;
        const MAX_CALLS: usize = 10_000;
        let identifier = self.spec().identifier.clone();
        self.in_fresh(options, async |instance| {
            let reader = instance.open_reader(options, schema, request, split, state.as_deref()).await?;
            let mut out: Vec<Vec<u8>> = Vec::new();
            for _ in 0..MAX_CALLS {
                if out.len() >= stop || out.len() >= MAX_RECORDS {
                    break;
                }
                let want = u32::try_from((stop - out.len()).min(1024)).unwrap_or(1024);
                match instance.next(reader, want).await? {
                    wsource::ReadResult::Records(RawRecords { values, .. }) => out
                        .extend(values.offsets.windows(2).map(|w| values.data[w[0] as usize..w[1] as usize].to_vec())),
                    wsource::ReadResult::Rows(b) => {
                        let rows = batch::to_arrow(&identifier, schema, b)?;
                        out.extend(display::format_rows(&rows).into_iter().map(String::into_bytes));
                    }
                    wsource::ReadResult::WouldBlock => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                    wsource::ReadResult::EndOfSplit => break,
                }
            }
            // A reader may return more than asked: keep what the checkpoint covers.
            let state = instance.checkpoint_reader(reader).await?;
            Ok((out, state))
        })
        .await
    }

    // ---- sinks ----------------------------------------------------------------------
}
