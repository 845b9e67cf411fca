//! How a job runs: checkpoint directory and interval, restart strategy,
//! progress and stop flags, from the job's `SET` statements.

use std::sync::Arc;
use std::time::Duration;

use super::model;
use weir::error::{Error, Result};
use weir::options;

/// How a job runs: where checkpoints go and how often they are taken
/// (Flink's `execution.checkpointing.dir` / `.interval`).
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Checkpoint directory; `None` keeps no checkpoints (a restart starts
    /// over).
    pub checkpoint_dir: Option<std::path::PathBuf>,
    /// Time between checkpoints; `None`: only the final one.
    pub checkpoint_interval: Option<Duration>,
    /// Where progress events of `INSERT`s go (`None`: nowhere).
    pub progress: Option<super::progress::ProgressSink>,
    /// Set (by Ctrl-C) to stop: an `INSERT` takes a last checkpoint and
    /// returns [`Stopped`](weir::Error) so that the next run resumes.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Flink's `restart-strategy`: after a component fails (a trap, a limit,
    /// a connection error), run the `INSERT` again from its last checkpoint
    /// up to `attempts` times, `delay` apart. `None`: fail at once.
    pub restart: Option<Restart>,
}

/// `restart-strategy = fixed-delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    /// `restart-strategy.fixed-delay.attempts`.
    pub attempts: u32,
    /// `restart-strategy.fixed-delay.delay`.
    pub delay: Duration,
}

impl RunConfig {
    /// The job's `SET` settings over `defaults` (the CLI derives the default
    /// directory from the job file).
    pub fn from_settings(job: &model::Job, defaults: RunConfig) -> Result<RunConfig> {
        let mut config = defaults;
        if let Some(dir) = job.setting("execution.checkpointing.dir") {
            config.checkpoint_dir = Some(dir.trim_start_matches("file://").into());
        }
        if let Some(interval) = job.setting("execution.checkpointing.interval") {
            let d = options::parse_duration(interval).ok_or_else(|| {
                Error::Config(format!(
                    "SET 'execution.checkpointing.interval' = '{interval}': expected a duration such as '10 s'"
                ))
            })?;
            config.checkpoint_interval = (!d.is_zero()).then_some(d);
        }
        let bad = |key: &str, value: &str, expected: &str| {
            Error::Config(format!("SET '{key}' = '{value}': expected {expected}"))
        };
        let strategy = job.setting("restart-strategy.type").or_else(|| job.setting("restart-strategy"));
        match strategy.map(str::to_ascii_lowercase).as_deref() {
            None => {}
            Some("none" | "disable" | "off") => config.restart = None,
            Some("fixed-delay" | "fixeddelay") => {
                let attempts = match job.setting("restart-strategy.fixed-delay.attempts") {
                    Some(v) => {
                        v.trim().parse().map_err(|_| bad("restart-strategy.fixed-delay.attempts", v, "a number"))?
                    }
                    None => 1,
                };
                let delay = match job.setting("restart-strategy.fixed-delay.delay") {
                    Some(v) => options::parse_duration(v)
                        .ok_or_else(|| bad("restart-strategy.fixed-delay.delay", v, "a duration such as '1 s'"))?,
                    None => Duration::from_secs(1),
                };
                config.restart = Some(Restart { attempts, delay });
            }
            Some(other) => return Err(bad("restart-strategy", other, "'none' or 'fixed-delay'")),
        }
        Ok(config)
    }
}
