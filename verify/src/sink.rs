//! The sink checks: commits are idempotent, abort discards.

use weir::batch::{self};
use weir::bindings::v0_1_0::exports::weir::connector::sink as wsink;
use weir::types::{Options, RawRecords, Schema};
use weir::{Frames, generate};

use crate::format::SAFE_TEXT;
use crate::{Fault, Suite};

impl Suite<'_> {
    pub(crate) async fn sink_checks(&mut self, options: Result<Options, String>) {
        let options = match options {
            Ok(options) => options,
            Err(why) => return self.skip_unready(["sink.commit-idempotent", "sink.abort"], &why),
        };
        let schema = self.schema_for_connector();
        let input = if self.spec().needs_format {
            wsink::SinkInput::Records(RawRecords {
                values: Frames::new([b"1,alice".as_slice(), b"2,bob"]).as_contract().clone(),
                keys: None,
                timestamps: None,
                metadata: Vec::new(),
            })
        } else {
            // Generated rows are scalar, and vectors of the dimension the
            // vector checks found; a schema with other ARRAY, MAP or ROW
            // columns cannot be written here.
            let nested = self.config.schema.as_ref().and_then(|s| s.fields.iter().find(|f| f.data_type.is_nested()));
            let vectors = match (nested, self.vector_dimension) {
                (None, _) => None,
                (Some(_), Some(dimension)) => weir::Schema::from_contract(&schema)
                    .ok()
                    .and_then(|s| generate::random_rows_with_vectors(&s, 20, 7, SAFE_TEXT, dimension)),
                (Some(_), None) => None,
            };
            if let (Some(f), None) = (nested, &vectors) {
                for name in ["sink.commit-idempotent", "sink.abort"] {
                    self.report.skip(
                        name,
                        format!(
                            "column '{}' is {}; the sink checks write generated scalar columns, and vectors of the \
                             dimension a vector search answered, only",
                            f.name, f.data_type
                        ),
                    );
                }
                return;
            }
            let rows = match vectors {
                Some(rows) => Ok(rows),
                None => weir::Schema::from_contract(&schema).map(|s| generate::random_rows(&s, 20, 7, SAFE_TEXT)),
            };
            match rows.and_then(|rows| batch::from_arrow(&rows)) {
                Ok(b) => wsink::SinkInput::Rows(b),
                Err(e) => {
                    self.report.skip("sink.commit-idempotent", format!("cannot generate rows for the schema: {e}"));
                    return;
                }
            }
        };
        // Stage, then commit twice.
        match self.stage(&options, &schema, &input, 1).await {
            Ok(committables) => {
                // Twice in one instance, then again in a fresh one (as after
                // a restart).
                let outcome = async {
                    let mut instance = self.instance(&options).await.map_err(|f| f.message)?;
                    for attempt in 1..=2 {
                        let r = instance.commit(&options, &committables).await.map_err(Fault::from);
                        self.observe(&instance, r.as_ref().err());
                        r.map_err(|f| format!("commit #{attempt} of the same committables failed: {}", f.message))?;
                    }
                    self.in_fresh(&options, async |i| i.commit(&options, &committables).await)
                        .await
                        .map_err(|f| format!("commit #3 (a fresh instance, as after a restart) failed: {}", f.message))
                }
                .await;
                match outcome {
                    Ok(()) => self.report.pass(
                        "sink.commit-idempotent",
                        format!("{} committables committed three times, in two instances", committables.len()),
                    ),
                    Err(m) => self.report.fail("sink.commit-idempotent", m),
                }
            }
            Err(f) => self.report.fail("sink.commit-idempotent", f.message),
        }
        // Stage, then abort (twice: a restarted job may abort again).
        match self.stage(&options, &schema, &input, 2).await {
            Ok(committables) => {
                let mut outcome = Ok(());
                for _ in 0..2 {
                    if let Err(f) = self.in_fresh(&options, async |i| i.abort(&options, &committables).await).await {
                        outcome = Err(f.message);
                        break;
                    }
                }
                match outcome {
                    Ok(()) => {
                        self.report.pass("sink.abort", format!("{} committables aborted twice", committables.len()))
                    }
                    // A sink that writes through (print: at-least-once) has
                    // nothing to discard and may say so.
                    Err(m) if m.contains("unsupported") => self
                        .report
                        .not_applicable("sink.abort", format!("abort not implemented (the sink writes through): {m}")),
                    Err(m) => self.report.fail("sink.abort", m),
                }
            }
            Err(f) => self.report.fail("sink.abort", f.message),
        }
    }

    pub(crate) async fn stage(
        &mut self,
        options: &Options,
        schema: &Schema,
        input: &wsink::SinkInput,
        checkpoint: u64,
    ) -> Result<Vec<Vec<u8>>, Fault> {
        let context = wsink::WriterContext {
            subtask: 0,
            parallelism: 1,
            overwrite: false,
            static_partition: Vec::new(),
            restored_checkpoint: 0,
        };
        self.in_fresh(options, async |instance| {
            instance.validate(options, schema).await?;
            let writer = instance.open_writer(options, schema, &context).await?;
            instance.write(writer, input).await?;
            instance.prepare_commit(writer, checkpoint).await
        })
        .await
    }

    // ---- the summary checks ------------------------------------------------------------
}
