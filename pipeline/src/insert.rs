//! `INSERT INTO … SELECT`: reading tasks and the writing side joined by
//! bounded channels, aligned checkpoint barriers, the commit protocol
//! (prepare, save the checkpoint atomically, commit).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::RunConfig;
use super::model;
use super::progress::Progress;
use super::resolve::Resolved;
use super::scan::{Scan, Step};
use super::sink::Writers;
use weir::batch::ChangelogBatch;
use weir::checkpoint;
use weir::error::{Error, Result};
use weir::policy::Grants;

/// What the reading task hands the writing side, in order.
pub(super) enum Msg {
    /// Rows, and the raw bytes read for them.
    Rows(ChangelogBatch, u64),
    /// Checkpoint barrier: every row before it is in the channel; the
    /// split states are those right after those rows.
    Barrier(u64, BTreeMap<String, checkpoint::SplitState>),
    /// The scan ended; final split states.
    End(BTreeMap<String, checkpoint::SplitState>),
    /// The scan failed.
    Failed(Error),
}

/// Batches in flight between the reading and the writing side: enough to
/// keep both busy, few enough to bound memory (backpressure).
pub(super) const IN_FLIGHT: usize = 4;

/// `INSERT INTO sink SELECT … FROM source`: the source and its decoder run
/// on their own task, the encoder and sink on this one, joined by a bounded
/// channel. Checkpoints are barriers (as in Flink): the writer asks, the
/// reader puts its split states into the stream after the rows they cover,
/// and the writer — having written exactly those rows — prepares the sink's
/// commit, saves the checkpoint atomically and commits. A restart restores
/// the last completed checkpoint.
pub(super) async fn insert(
    source: Arc<Resolved>,
    dim: Option<Arc<Resolved>>,
    sink: Arc<Resolved>,
    query: &model::Query,
    operator: &Grants,
    config: &RunConfig,
    store: Option<checkpoint::Store>,
) -> Result<()> {
    // The statement's identity: a checkpoint of any other statement (another
    // job in the same directory, or this one edited) is never restored.
    let identity = checkpoint::fingerprint(&[
        &source.identity(),
        &sink.identity(),
        &format!("{:?}|{:?}|{:?}|{:?}|{:?}", query.columns, query.filters, query.limit, query.lookup, query.search),
    ]);
    let store = store.map(|s| s.for_job(identity.clone()));
    let restored = match &store {
        Some(store) => store.load().map_err(Error::Host)?,
        None => None,
    };
    let dir = || store.as_ref().map_or_else(String::new, |s| s.dir().display().to_string());
    if let Some(c) = &restored {
        if !c.job.is_empty() && c.job != identity {
            return Err(Error::Checkpoint(format!(
                "INSERT INTO {}: the checkpoint in {} belongs to another statement (a different job using the same \
                 checkpoint directory, or this job after an edit); run with --fresh to discard it and start from the \
                 beginning, or give this job its own directory with SET 'execution.checkpointing.dir' = '…'",
                sink.table.name,
                dir()
            )));
        }
        // Like a job resubmitted to Flink without a savepoint this would
        // start over, sending the sink every row again: never silently.
        if c.finished {
            return Err(Error::Checkpoint(format!(
                "INSERT INTO {} already ran to the end ({} rows committed; checkpoint {} in {}); run with --fresh to \
                 run it again from the start (the sink then receives every row again)",
                sink.table.name,
                c.rows,
                c.id,
                dir()
            )));
        }
    }
    // Commit again what the last checkpoint staged — a crash may have come
    // between writing the checkpoint and committing (commits are
    // idempotent) — before a writer opens and discards uncommitted data.
    let recommit = match &restored {
        Some(c) => c
            .committables
            .iter()
            .map(|h| {
                checkpoint::unhex(h)
                    .ok_or_else(|| Error::Host(anyhow::anyhow!("a committable in checkpoint {} is damaged", c.id)))
            })
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let mut writer = Writers::open(sink.clone(), operator, restored.as_ref().map_or(0, |c| c.id), &recommit)
        .await
        .map_err(|e| e.in_table(&sink.table.name))?;
    // `scan.parallelism` readers, each its own source and decoder instance,
    // each reading every n-th split of one plan (one reader with a LIMIT,
    // which spans all splits).
    let first = Scan::open(source.clone(), query.clone(), operator, restored.as_ref(), None, dim.as_ref())
        .await
        .map_err(|e| e.in_table(&source.table.name))?;
    let readers = if query.limit.is_some() { 1 } else { source.scan_parallelism().min(first.plan.splits.len().max(1)) };
    let plan = first.plan.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel(IN_FLIGHT * readers);
    let (done, _) = tokio::sync::watch::channel(0u64);
    let mut asks = Vec::new();
    let mut tasks = Vec::new();
    let mut scans = vec![first];
    for part in 1..readers {
        let scan =
            Scan::open(source.clone(), query.clone(), operator, restored.as_ref(), Some(plan.clone()), dim.as_ref())
                .await
                .map_err(|e| e.in_table(&source.table.name))?;
        scans.push(scan);
        let _ = part;
    }
    let lookups = scans.iter().filter_map(|s| s.lookup.as_ref().map(|l| l.counters.clone())).collect();
    let decoders = super::worker::per_task(readers);
    for (part, mut scan) in scans.into_iter().enumerate() {
        scan.keep_part(part, readers);
        scan.pipeline(operator, decoders).await.map_err(|e| e.in_table(&source.table.name))?;
        let (ask, asked) = tokio::sync::mpsc::unbounded_channel();
        asks.push(ask);
        tasks.push(tokio::spawn(read_into(scan, tx.clone(), asked, done.subscribe())));
    }
    drop(tx);
    let result = write_from(
        &mut rx,
        &mut writer,
        &asks,
        &done,
        source.table.name.clone(),
        &sink,
        config,
        store,
        restored,
        lookups,
    )
    .await;
    // Reading failures arrive named already; the rest is the sink's.
    let result = result.map_err(|e| e.in_table(&sink.table.name));
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    result?;
    writer.close().await.map_err(|e| e.in_table(&sink.table.name))
}

/// A reading task: rows into `tx`, a barrier whenever one is asked for —
/// after which it waits until the checkpoint is complete, so that no row
/// it reads later can slip in front of another reader's barrier (aligned
/// checkpoints).
pub(super) async fn read_into(
    mut scan: Scan,
    tx: tokio::sync::mpsc::Sender<Msg>,
    mut asked: tokio::sync::mpsc::UnboundedReceiver<u64>,
    mut done: tokio::sync::watch::Receiver<u64>,
) {
    loop {
        while let Ok(id) = asked.try_recv() {
            // The batches still decoding go before the barrier: the
            // source's state covers them.
            loop {
                match scan.flush().await {
                    Ok(Some(rows)) => {
                        if tx.send(Msg::Rows(rows, scan.take_bytes())).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Msg::Failed(e.in_table(&scan.source.table.name))).await;
                        return;
                    }
                }
            }
            let msg = match scan.checkpoint().await {
                Ok(splits) => Msg::Barrier(id, splits),
                Err(e) => Msg::Failed(e),
            };
            if tx.send(msg).await.is_err() || done.wait_for(|&completed| completed >= id).await.is_err() {
                return;
            }
        }
        let table = scan.source.table.name.clone();
        let msg = match scan.next().await.map_err(|e| e.in_table(&table)) {
            Ok(Step::Rows(rows)) => Msg::Rows(rows, scan.take_bytes()),
            Ok(Step::Idle) => continue,
            Ok(Step::End) => match scan.checkpoint().await {
                Ok(splits) => Msg::End(splits),
                Err(e) => Msg::Failed(e),
            },
            Err(e) => Msg::Failed(e),
        };
        let last = !matches!(msg, Msg::Rows(..));
        if tx.send(msg).await.is_err() || last {
            return;
        }
    }
}

/// The writing side: rows to the sink; a checkpoint once every reader
/// still running has delivered its barrier (readers that ended contribute
/// their final states).
#[allow(clippy::too_many_arguments)]
pub(super) async fn write_from(
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    writer: &mut Writers,
    asks: &[tokio::sync::mpsc::UnboundedSender<u64>],
    done: &tokio::sync::watch::Sender<u64>,
    source_name: String,
    sink: &Resolved,
    config: &RunConfig,
    store: Option<checkpoint::Store>,
    restored: Option<checkpoint::Checkpoint>,
    lookups: Vec<Arc<super::lookup::LookupCounters>>,
) -> Result<()> {
    let mut next_id = restored.as_ref().map_or(1, |c| c.id + 1);
    let mut rows_written = restored.as_ref().map_or(0, |c| c.rows);
    let mut last = Instant::now();
    // The checkpoint being collected: its id, barriers so far, their states.
    let mut pending: Option<(u64, usize, BTreeMap<String, checkpoint::SplitState>)> = None;
    let mut ended: BTreeMap<String, checkpoint::SplitState> = BTreeMap::new();
    let mut live = asks.len();
    let mut stop_at: Option<u64> = None;
    let label = format!("{source_name} → {}", sink.table.name);
    let mut progress =
        Progress::new(&label, config.progress.clone(), restored.as_ref().map(|c| (c.id, c.rows))).with_lookups(lookups);
    loop {
        // Wake up now and then even when no rows come (a quiet stream), so
        // checkpoints and a stop still happen.
        let msg = tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => Some(msg),
                None => {
                    return Err(Error::Host(anyhow::anyhow!("the reading tasks of '{source_name}' ended unexpectedly")));
                }
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => None,
        };
        let stopping = config.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
        let due = config.checkpoint_interval.is_some_and(|i| last.elapsed() >= i);
        if pending.is_none() && (due || (stopping && stop_at.is_none())) {
            if stopping {
                stop_at = Some(next_id);
            }
            for ask in asks {
                let _ = ask.send(next_id);
            }
            pending = Some((next_id, 0, BTreeMap::new()));
            next_id += 1;
        }
        let Some(msg) = msg else { continue };
        match msg {
            Msg::Rows(rows, bytes) => {
                rows_written += rows.rows.num_rows() as u64;
                progress.add(rows.rows.num_rows() as u64, bytes);
                writer.write(rows).await?;
            }
            Msg::Barrier(id, splits) => {
                if let Some((_, barriers, states)) = pending.as_mut().filter(|(p, ..)| *p == id) {
                    *barriers += 1;
                    states.extend(splits);
                }
            }
            Msg::End(splits) => {
                ended.extend(splits);
                live -= 1;
                if live == 0 {
                    take_checkpoint(writer, store.as_ref(), next_id, ended, rows_written, true).await?;
                    progress.checkpointed();
                    progress.finish();
                    return Ok(());
                }
            }
            Msg::Failed(e) => return Err(e),
        }
        // Complete the pending checkpoint once every live reader answered.
        if let Some((id, barriers, _)) = &pending
            && *barriers >= live
        {
            let id = *id;
            let (_, _, mut states) = pending.take().expect("checked above");
            states.extend(ended.clone());
            take_checkpoint(writer, store.as_ref(), id, states, rows_written, false).await?;
            progress.checkpointed();
            done.send_replace(id);
            last = Instant::now();
            if stop_at == Some(id) {
                progress.finish();
                return Err(Error::Stopped {
                    checkpoint: id,
                    resume: store.map_or_else(
                        || "no checkpoint directory: the next run starts over".to_owned(),
                        |s| format!("run the job again to resume from {}", s.dir().display()),
                    ),
                });
            }
        }
    }
}

/// Prepares the sink's commit, saves the checkpoint atomically, commits.
pub(super) async fn take_checkpoint(
    writer: &mut Writers,
    store: Option<&checkpoint::Store>,
    id: u64,
    splits: BTreeMap<String, checkpoint::SplitState>,
    rows: u64,
    finished: bool,
) -> Result<()> {
    let committables = writer.prepare(id).await?;
    if let Some(store) = store {
        let c = checkpoint::Checkpoint {
            job: store.job().to_owned(),
            id,
            splits,
            committables: committables.iter().map(|c| checkpoint::hex(c)).collect(),
            rows,
            finished,
        };
        store.save(&c).map_err(Error::Host)?;
    }
    writer.commit(&committables).await?;
    tracing::debug!("checkpoint {id} complete ({rows} rows)");
    Ok(())
}
