//! `weir verify`: one contract-conformance suite for any component, whatever
//! language it was written in (in the spirit of Flink's connector testing
//! framework). Each check runs the component's own code in fresh instances
//! under the default limits and grants it nothing beyond what the operator
//! passes; the report is a list of named checks that pass, fail or are
//! skipped, with the reason.
//!
//! | check | what it asserts |
//! |---|---|
//! | `load` | the file is a component of the contract and its spec reads |
//! | `spec.identifier`, `spec.options`, `spec.capabilities` | keys unique, defaults pass their own validation, templates name declared options |
//! | `options.unknown-key`, `options.missing-required`, `options.defaults` | the host rejects unknown and missing keys; the component accepts its defaults |
//! | `format.types` | which scalar types the format opens on (config errors mean "unsupported") |
//! | `format.round-trip` | decode(encode(rows)) = rows on generated batches of every supported type |
//! | `format.empty-input`, `format.malformed-input` | no rows for no frames; garbage gives data errors, never a trap |
//! | `source.plan-stable`, `source.checkpoint-restore` | splits are the same twice; restoring a checkpoint resumes without loss or duplication |
//! | `sink.commit-idempotent`, `sink.abort` | committing twice succeeds; abort discards (and may repeat) |
//! | `capabilities.used` | the component tried nothing its grants refused |
//! | `limits` | no call hit a limit (memory, CPU, wall clock, result size, handles) |

use std::sync::Arc;

mod format;
mod sink;
mod source;
mod spec;
mod vector;

use serde::Serialize;

use weir::catalog::{Entry, Origin};
use weir::engine::Engine;
use weir::error::Error;
use weir::instance::Instance;
use weir::options::Target;
use weir::policy::{self, Grants};
use weir::spec::{Kind, Spec};
use weir::types::Options;

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The component meets the contract here.
    Pass,
    /// It does not; the detail says how.
    Fail,
    /// Not possible without more input (options, grants, a bounded
    /// configuration): the component was not verified on this point.
    Skip,
    /// Does not apply to this component (e.g. it has no required options,
    /// or its sink writes through and cannot abort).
    #[serde(rename = "n/a")]
    NotApplicable,
}

/// One named check and its result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Dotted name, e.g. `format.round-trip`.
    pub name: String,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// What was checked, or what went wrong and what to do.
    pub detail: String,
}

/// The report of one component.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The file verified.
    pub file: String,
    /// Its identifier, once its spec was read.
    pub identifier: Option<String>,
    /// `format`, `source`, `sink` or `connector`.
    pub kind: Option<String>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.outcome != Outcome::Fail)
    }

    /// The check called `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    fn push(&mut self, name: &str, outcome: Outcome, detail: impl Into<String>) {
        self.checks.push(Check { name: name.to_owned(), outcome, detail: detail.into() });
    }

    fn pass(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Outcome::Pass, detail);
    }

    fn fail(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Outcome::Fail, detail);
    }

    fn skip(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Outcome::Skip, detail);
    }

    fn not_applicable(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Outcome::NotApplicable, detail);
    }
}

/// What the operator gives the components under test.
#[derive(Debug, Clone, Default)]
pub struct VerifyConfig {
    /// Options for connectors (e.g. `path`, `hostname`), format options
    /// without prefix; required options the component declares must be
    /// here for the source and sink checks to run. A key written
    /// `component:key` (the identifier, or the file's name or stem) is for
    /// that component only; a plain key is for every component — when
    /// several are verified, for those whose spec has the key.
    pub options: Vec<(String, String)>,
    /// Several components are verified with these options (a plain key a
    /// component does not know is then not its concern).
    pub several: bool,
    /// Table schema for connectors (default `id BIGINT, name STRING`).
    pub schema: Option<weir::model::Schema>,
    /// Grants for connectors that need files or endpoints.
    pub grants: Grants,
}

/// Everything that can go wrong running a check; limits and traps are
/// told apart for the `limits` check.
struct Fault {
    message: String,
    limit: bool,
    /// The operator did not grant what the component declares.
    ungranted: bool,
}

impl From<&Error> for Fault {
    fn from(e: &Error) -> Fault {
        let limit = matches!(e, Error::Trap { reason, .. } if reason.is_limit());
        Fault { message: e.to_string(), limit, ungranted: false }
    }
}

impl From<Error> for Fault {
    fn from(e: Error) -> Fault {
        Fault::from(&e)
    }
}

/// Runs the whole suite on one component file.
pub async fn verify(engine: Arc<Engine>, file: &str, wasm: &[u8], config: &VerifyConfig) -> Report {
    let mut report = Report { file: file.to_owned(), identifier: None, kind: None, checks: Vec::new() };
    let entry = match Entry::load(engine, Origin::File(file.into()), wasm).await {
        Ok(entry) => entry,
        Err(e) => {
            report.fail("load", e.to_string());
            return report;
        }
    };
    report.identifier = Some(entry.spec.identifier.clone());
    report.kind = Some(kind_name(entry.kind).to_owned());
    report
        .pass("load", format!("{} '{}' version {}", kind_name(entry.kind), entry.spec.identifier, entry.spec.version));

    let mut suite =
        Suite { entry: &entry, report, limit_hit: None, denials: Vec::new(), config, vector_dimension: None };
    suite.spec_checks();
    let given = suite.option_checks().await;
    match entry.kind {
        Kind::Format => suite.format_checks(given.options).await,
        Kind::Source => {
            let options = given.ready();
            suite.source_checks(options.clone()).await;
            suite.vector_checks(options).await;
        }
        Kind::Sink => suite.sink_checks(given.ready()).await,
        Kind::Connector => {
            let options = given.ready();
            suite.source_checks(options.clone()).await;
            suite.vector_checks(options.clone()).await;
            suite.sink_checks(options).await;
        }
    }
    suite.finish()
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Format => "format",
        Kind::Source => "source",
        Kind::Sink => "sink",
        Kind::Connector => "connector",
    }
}

/// What the option checks leave for the data-path checks.
struct Given {
    /// The operator's options validated against the spec (defaults filled
    /// in), or why they are not valid.
    options: Result<Options, String>,
    /// Why the component cannot run with them, if it cannot (it refused
    /// them, or needs grants the operator did not give).
    refused: Option<String>,
}

impl Given {
    /// The options when the source and sink checks can use them, or the
    /// true reason they cannot run.
    fn ready(self) -> Result<Options, String> {
        match (self.options, self.refused) {
            (Ok(options), None) => Ok(options),
            (Ok(_), Some(why)) => Err(why),
            (Err(e), _) => Err(format!("its options are not valid: {e}")),
        }
    }
}

struct Suite<'a> {
    entry: &'a Entry,
    report: Report,
    /// The first limit a call hit.
    limit_hit: Option<String>,
    /// Accesses the policy refused, over every instance.
    denials: Vec<String>,
    config: &'a VerifyConfig,
    /// The query dimension the vector checks found answered: the sink
    /// checks write vectors of it.
    vector_dimension: Option<usize>,
}

impl Suite<'_> {
    fn spec(&self) -> &Spec {
        &self.entry.spec
    }

    /// The operator's options meant for this component, without their
    /// `component:` scope.
    fn given_options(&self) -> Vec<(String, String)> {
        let file = std::path::Path::new(&self.report.file);
        let names = [
            Some(self.spec().identifier.as_str()),
            file.file_name().and_then(|n| n.to_str()),
            file.file_stem().and_then(|n| n.to_str()),
        ];
        self.config
            .options
            .iter()
            .filter_map(|(k, v)| match k.split_once(':') {
                Some((scope, key)) => names.contains(&Some(scope)).then(|| (key.to_owned(), v.clone())),
                None if self.config.several && self.spec().option(k).is_none() => None,
                None => Some((k.clone(), v.clone())),
            })
            .collect()
    }

    fn target(&self) -> Target<'_> {
        let prefix = (self.entry.kind == Kind::Format).then_some(self.spec().identifier.as_str());
        Target { table: "verify", role: if prefix.is_some() { "format" } else { "connector" }, prefix }
    }

    /// A fresh instance with the operator's grants for the declared needs.
    async fn instance(&mut self, options: &Options) -> Result<Instance, Fault> {
        let base = std::env::current_dir().unwrap_or_default();
        let needs = policy::needs(&self.spec().capabilities, options, &base);
        let grants = policy::authorize(&needs, &self.config.grants).map_err(|missing| Fault {
            message: format!(
                "the component needs {}; grant it with {}",
                missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                missing.iter().map(policy::Need::flag).collect::<Vec<_>>().join(" ")
            ),
            limit: false,
            ungranted: true,
        })?;
        Ok(self.entry.loaded()?.instantiate(&self.spec().identifier, &grants).await?)
    }

    /// Runs `call` in a fresh instance, recording what the instance was
    /// refused and whether a limit ended the call.
    async fn in_fresh<T>(
        &mut self,
        options: &Options,
        call: impl AsyncFnOnce(&mut Instance) -> weir::Result<T>,
    ) -> Result<T, Fault> {
        let mut instance = self.instance(options).await?;
        let r = call(&mut instance).await.map_err(Fault::from);
        self.observe(&instance, r.as_ref().err());
        r
    }

    /// Records what an instance was refused and whether it hit a limit.
    fn observe(&mut self, instance: &Instance, fault: Option<&Fault>) {
        for d in instance.denials() {
            if !self.denials.contains(&d) {
                self.denials.push(d);
            }
        }
        if let Some(f) = fault.filter(|f| f.limit)
            && self.limit_hit.is_none()
        {
            self.limit_hit = Some(f.message.clone());
        }
    }

    fn finish(mut self) -> Report {
        if self.denials.is_empty() {
            self.report.pass("capabilities.used", "nothing beyond its grants was attempted");
        } else {
            self.report.fail(
                "capabilities.used",
                format!(
                    "the component tried what it was not granted: {} — declare it in the spec (and grant it), or stop doing it",
                    self.denials.join(", ")
                ),
            );
        }
        match self.limit_hit.take() {
            None => self.report.pass("limits", "every call stayed within the default limits"),
            Some(m) => self.report.fail("limits", m),
        }
        self.report
    }
}

/// The report as a table: one line per check.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "{}: {} {}\n",
        report.file,
        report.kind.as_deref().unwrap_or("?"),
        report.identifier.as_deref().map(|i| format!("'{i}'")).unwrap_or_default()
    );
    let width = report.checks.iter().map(|c| c.name.len()).max().unwrap_or(5);
    for c in &report.checks {
        let mark = match c.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
            Outcome::NotApplicable => "n/a ",
        };
        out.push_str(&format!("  {mark}  {:width$}  {}\n", c.name, c.detail));
    }
    out.push_str(&format!("  => {}\n", verdict(report)));
    out
}

/// One line: conforms, or how many checks failed — and, when checks were
/// skipped, that the component was not verified on those.
pub fn verdict(report: &Report) -> String {
    let count = |o: Outcome| report.checks.iter().filter(|c| c.outcome == o).count();
    let (passed, failed, skipped) = (count(Outcome::Pass), count(Outcome::Fail), count(Outcome::Skip));
    let skipped_names: Vec<&str> =
        report.checks.iter().filter(|c| c.outcome == Outcome::Skip).map(|c| c.name.as_str()).collect();
    let not_verified =
        if skipped == 0 { String::new() } else { format!(" — not verified: {}", skipped_names.join(", ")) };
    if failed > 0 {
        format!("{failed} of {} checks FAILED ({passed} passed, {skipped} skipped){not_verified}", report.checks.len())
    } else if skipped > 0 {
        format!("no check failed: {passed} passed, {skipped} skipped{not_verified}")
    } else {
        format!("conforms ({passed} checks passed)")
    }
}
