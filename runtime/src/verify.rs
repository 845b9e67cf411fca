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

use serde::Serialize;
use wasmtime::component::ResourceAny;

use crate::batch::{self, ChangelogBatch};
use crate::bindings::v0_1_0::exports::weir::connector::{sink as wsink, source as wsource};
use crate::catalog::{Entry, Origin};
use crate::engine::Engine;
use crate::error::{Error, GuestError};
use crate::instance::Instance;
use crate::options::{self, Target};
use crate::policy::{self, Grants};
use crate::spec::{Kind, Spec};
use crate::types::{Field, LogicalType, Options, RawRecords, Schema};
use crate::{display, frames, generate};

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The component meets the contract here.
    Pass,
    /// It does not; the detail says how.
    Fail,
    /// Not applicable, or not possible without more input.
    Skip,
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
}

/// What the operator gives the components under test.
#[derive(Debug, Clone, Default)]
pub struct VerifyConfig {
    /// Options for connectors (e.g. `path`, `hostname`), format options
    /// without prefix; required options the component declares must be
    /// here for the source and sink checks to run.
    pub options: Vec<(String, String)>,
    /// Table schema for connectors (default `id BIGINT, name STRING`).
    pub schema: Option<Schema>,
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

    let mut suite = Suite { entry: &entry, report, limit_hit: None, denials: Vec::new(), config };
    suite.spec_checks();
    let given = suite.option_checks().await;
    match entry.kind {
        Kind::Format => suite.format_checks(given.options).await,
        Kind::Source => suite.source_checks(given.ready()).await,
        Kind::Sink => suite.sink_checks(given.ready()).await,
        Kind::Connector => {
            let options = given.ready();
            suite.source_checks(options.clone()).await;
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
    /// Whether the component accepted them, so connectors can run.
    accepted: bool,
}

impl Given {
    /// The options, when the source and sink checks can use them.
    fn ready(self) -> Option<Options> {
        self.options.ok().filter(|_| self.accepted)
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
}

impl Suite<'_> {
    fn spec(&self) -> &Spec {
        &self.entry.spec
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
        Ok(self.entry.loaded.instantiate(&self.spec().identifier, &grants).await?)
    }

    /// Runs `call` in a fresh instance, recording what the instance was
    /// refused and whether a limit ended the call.
    async fn in_fresh<T>(
        &mut self,
        options: &Options,
        call: impl AsyncFnOnce(&mut Instance) -> crate::Result<T>,
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

    // ---- the spec ------------------------------------------------------------

    fn spec_checks(&mut self) {
        let spec = self.spec().clone();
        // The catalog already enforces the identifier's characters.
        self.report.pass("spec.identifier", format!("'{}'", spec.identifier));

        let mut problems = Vec::new();
        for (i, o) in spec.options.iter().enumerate() {
            if o.key.is_empty() || o.key.contains(char::is_whitespace) {
                problems.push(format!("option key {:?} is empty or has spaces", o.key));
            }
            if spec.options[..i].iter().any(|p| p.key == o.key) {
                problems.push(format!("option '{}' is declared twice", o.key));
            }
            if o.required && o.default_value.is_some() {
                problems.push(format!("option '{}' is required but has a default", o.key));
            }
            if let Some(default) = &o.default_value
                && let Err(e) = options::parse(o, default)
            {
                problems.push(format!("the default of '{}' fails its own validation: {e}", o.key));
            }
            if o.description.trim().is_empty() {
                problems.push(format!("option '{}' has no description (weir describe shows it)", o.key));
            }
        }
        if problems.is_empty() {
            self.report.pass("spec.options", format!("{} options, defaults valid", spec.options.len()));
        } else {
            self.report.fail("spec.options", problems.join("; "));
        }

        let mut problems = Vec::new();
        for c in &spec.capabilities {
            for name in placeholders(&c.target) {
                if spec.option(&name).is_none() {
                    problems
                        .push(format!("capability '{} {}' uses {{{name}}}, which is not an option", c.kind, c.target));
                }
            }
            if let Some(o) = &c.when_option
                && spec.option(o).is_none()
            {
                problems.push(format!(
                    "capability '{} {}' depends on option '{o}', which is not declared",
                    c.kind, c.target
                ));
            }
        }
        if problems.is_empty() {
            let list: Vec<String> =
                spec.capabilities.iter().map(|c| format!("{} {}", c.kind, c.target).trim_end().to_owned()).collect();
            let detail = if list.is_empty() { "none declared".to_owned() } else { list.join(", ") };
            self.report.pass("spec.capabilities", detail);
        } else {
            self.report.fail("spec.capabilities", problems.join("; "));
        }
    }

    // ---- options ---------------------------------------------------------------

    /// The option checks; what they leave for the data-path checks.
    async fn option_checks(&mut self) -> Given {
        let spec = self.spec().clone();
        let given = self.config.options.clone();
        let mut unknown = given.clone();
        unknown.push(("no-such-option-xyz".into(), "1".into()));
        match options::validate(self.target(), &spec, &unknown) {
            Err(e) if e.to_string().contains("no-such-option-xyz") => {
                self.report.pass("options.unknown-key", "an unknown key is rejected and named")
            }
            Err(e) => self.report.fail("options.unknown-key", format!("rejected for another reason: {e}")),
            Ok(_) => self.report.fail("options.unknown-key", "an unknown key was accepted"),
        }
        match spec.options.iter().find(|o| o.required) {
            Some(required) => {
                let without: Vec<_> = given.iter().filter(|(k, _)| k != &required.key).cloned().collect();
                match options::validate(self.target(), &spec, &without) {
                    Err(e) if e.to_string().contains(&required.key) => self
                        .report
                        .pass("options.missing-required", format!("leaving out '{}' is rejected", required.key)),
                    Err(e) => self.report.fail("options.missing-required", format!("rejected for another reason: {e}")),
                    Ok(_) => {
                        self.report.fail("options.missing-required", format!("'{}' was not required", required.key))
                    }
                }
            }
            None => self.report.skip("options.missing-required", "no required options"),
        }
        let options = match options::validate(self.target(), &spec, &given) {
            Ok(o) => o,
            Err(e) => {
                let missing: Vec<&str> = spec.options.iter().filter(|o| o.required).map(|o| o.key.as_str()).collect();
                self.report
                    .skip("options.defaults", format!("{e} (pass --option KEY=VALUE for: {})", missing.join(", ")));
                return Given { options: Err(e.to_string()), accepted: false };
            }
        };
        let schema = self.schema_for_connector();
        let accepted = match self.in_fresh(&options, async |i| i.validate(&options, &schema).await).await {
            Ok(()) => {
                self.report.pass("options.defaults", "the component's validate accepts the defaults");
                true
            }
            // A format may reject the probe schema; the type checks say more.
            Err(f) if self.entry.kind == Kind::Format && f.message.contains("config") => {
                self.report.skip("options.defaults", format!("the probe schema was refused: {}", f.message));
                true
            }
            Err(f) if f.ungranted => {
                self.report.skip("options.defaults", f.message);
                false
            }
            Err(f) => {
                self.report.fail("options.defaults", f.message);
                false
            }
        };
        Given { options: Ok(options), accepted }
    }

    fn schema_for_connector(&self) -> Schema {
        self.config.schema.clone().unwrap_or_else(|| Schema {
            fields: vec![
                Field { name: "id".into(), data_type: LogicalType::Bigint, nullable: true },
                Field { name: "name".into(), data_type: LogicalType::String, nullable: true },
            ],
            nested: Vec::new(),
            primary_key: Vec::new(),
        })
    }

    // ---- formats ------------------------------------------------------------------

    async fn format_checks(&mut self, options: Result<Options, String>) {
        let options = match options {
            Ok(o) => o,
            Err(e) => {
                self.report.skip("format.types", e);
                return;
            }
        };
        // Which scalar types the format opens on.
        let mut supported = Vec::new();
        let mut refused = Vec::new();
        for (name, ty) in scalar_types() {
            let schema = one_column(ty, true);
            match self.open_format(&options, &schema).await {
                Ok(_) => supported.push((name, ty)),
                Err(f) if f.message.contains("config") || f.message.contains("unsupported") => refused.push(name),
                Err(f) => {
                    self.report.fail(
                        "format.types",
                        format!("opening on {name} failed without a config error: {}", f.message),
                    );
                    return;
                }
            }
        }
        if supported.is_empty() {
            self.report.fail("format.types", "the format opens on no scalar type");
            return;
        }
        let names: Vec<&str> = supported.iter().map(|(n, _)| *n).collect();
        let detail = if refused.is_empty() {
            format!("all {} scalar types", names.len())
        } else {
            format!("{} (refuses {})", names.join(", "), refused.join(", "))
        };
        self.report.pass("format.types", detail);

        // Round trips: one column per supported type (formats such as `raw`
        // take exactly one); nullable first, NOT NULL when the format cannot
        // write nulls of that type.
        let kinds = self.changelog_kinds();
        let mut failures = Vec::new();
        let mut no_nulls = Vec::new();
        let mut rows_checked = 0;
        for (name, ty) in &supported {
            match self.round_trip(&options, ty, &kinds).await {
                Ok((n, note)) => {
                    rows_checked += n;
                    if note.is_some() {
                        no_nulls.push(*name);
                    }
                }
                Err(m) => failures.push(format!("{name}: {m}")),
            }
        }
        if failures.is_empty() {
            let mut detail =
                format!("{rows_checked} generated rows over {} types decode to what was encoded", supported.len());
            if !no_nulls.is_empty() {
                detail.push_str(&format!(" (null and empty not told apart for {})", no_nulls.join(", ")));
            }
            self.report.pass("format.round-trip", detail);
        } else {
            self.report.fail("format.round-trip", failures.join("; "));
        }

        // Empty and malformed input, on the first supported type.
        let schema = one_column(supported[0].1, true);
        match self.open_format(&options, &schema).await {
            Ok((mut instance, decoder, _)) => {
                let r = instance.decode(decoder, &frames(Vec::<&[u8]>::new())).await.map_err(Fault::from);
                self.observe(&instance, r.as_ref().err());
                match r {
                    Ok(b) if b.row_count == 0 => self.report.pass("format.empty-input", "no frames, no rows"),
                    Ok(b) => self.report.fail("format.empty-input", format!("{} rows from no input", b.row_count)),
                    Err(f) => self.report.fail("format.empty-input", f.message),
                }
            }
            Err(f) => self.report.fail("format.empty-input", f.message),
        }
        let garbage: [&[u8]; 6] =
            [b"\xff\xfe\x00garbage", b"{{{{\"", b"", b"|||||||||", b"\x00\x01\x02\x03", &[b'9'; 70_000]];
        let mut traps = Vec::new();
        let mut data_errors = 0;
        for (i, frame) in garbage.iter().enumerate() {
            let Ok((mut instance, decoder, _)) = self.open_format(&options, &schema).await else { continue };
            let r = instance.decode(decoder, &frames([*frame])).await;
            let fault = r.as_ref().err().map(Fault::from);
            self.observe(&instance, fault.as_ref());
            match r {
                Ok(_) => {}
                Err(Error::Guest { error: GuestError::Data { .. }, .. }) => data_errors += 1,
                Err(Error::Guest { .. }) | Err(Error::InvalidBatch { .. }) => {}
                Err(e) => traps.push(format!("input {i}: {e}")),
            }
        }
        if traps.is_empty() {
            self.report.pass(
                "format.malformed-input",
                format!("{} malformed inputs: {data_errors} data errors, no trap", garbage.len()),
            );
        } else {
            self.report.fail(
                "format.malformed-input",
                format!("malformed input must give a data error, not a trap: {}", traps.join("; ")),
            );
        }
    }

    fn changelog_kinds(&self) -> Vec<u8> {
        let mut kinds: Vec<u8> = self.spec().changelog_mode.iter().map(|k| *k as u8).collect();
        if kinds.is_empty() {
            kinds.push(0);
        }
        kinds
    }

    async fn open_format(
        &mut self,
        options: &Options,
        schema: &Schema,
    ) -> Result<(Instance, ResourceAny, ResourceAny), Fault> {
        let mut instance = self.instance(options).await?;
        let r = async {
            instance.validate(options, schema).await?;
            let decoder = instance.open_decoder(options, schema).await?;
            let encoder = instance.open_encoder(options, schema).await?;
            Ok::<_, Error>((decoder, encoder))
        }
        .await
        .map_err(Fault::from);
        self.observe(&instance, r.as_ref().err());
        let (decoder, encoder) = r?;
        Ok((instance, decoder, encoder))
    }

    /// Encode → decode → same rows, for one type; the number of rows and
    /// a note when the format does not keep nulls of this type.
    async fn round_trip(
        &mut self,
        options: &Options,
        ty: &LogicalType,
        kinds: &[u8],
    ) -> Result<(usize, Option<String>), String> {
        const ROWS: usize = 200;
        // The type next to a NOT NULL INT, so a null is never a whole empty
        // record; alone for formats that take one column (`raw`).
        let mut layouts = vec![true, false].into_iter().peekable();
        let mut null_note: Option<String> = None;
        while let Some(with_companion) = layouts.next() {
            for nullable in [true, false] {
                let mut schema = one_column(*ty, nullable);
                if with_companion {
                    schema.fields.push(Field { name: "k".into(), data_type: LogicalType::Int, nullable: false });
                }
                let mut rows = generate::random_rows(&schema, ROWS, 0x5eed, SAFE_TEXT);
                rows.row_kinds =
                    if kinds == [0] { Vec::new() } else { (0..ROWS).map(|i| kinds[i % kinds.len()]).collect() };
                let (mut instance, decoder, encoder) = match self.open_format(options, &schema).await {
                    Ok(open) => open,
                    // The format takes one column only: try the next layout.
                    Err(f) if with_companion && f.message.contains("config") && layouts.peek().is_some() => break,
                    Err(f) => return Err(f.message),
                };
                let outcome = async {
                    let batch = batch::from_arrow(&rows)
                        .map_err(|e| Error::InvalidBatch { component: String::new(), message: e })?;
                    let frames = instance.encode(encoder, &batch).await?;
                    let back = instance.decode(decoder, &frames).await?;
                    batch::to_arrow(&self.spec().identifier, &schema, back)
                }
                .await;
                let fault = outcome.as_ref().err().map(Fault::from);
                self.observe(&instance, fault.as_ref());
                match outcome {
                    Ok(back) => match compare(&rows, &back) {
                        Ok(()) => return Ok((ROWS, null_note)),
                        // Nulls that come back as values (raw writes a null
                        // string as an empty record): a documented loss, not
                        // a failure, if everything else round-trips.
                        Err(m) if nullable && m.contains("null") => null_note = Some(m),
                        Err(m) => return Err(m),
                    },
                    // A format that cannot write nulls of this type says so
                    // with a data error: try again without nulls.
                    Err(Error::Guest { error: GuestError::Data { message, .. }, .. }) if nullable => {
                        null_note = Some(message)
                    }
                    // Empty values read back as nulls (Flink's csv without a
                    // null literal): the same conflation, seen from the
                    // other side.
                    Err(Error::Guest { error: GuestError::Data { message, .. }, .. })
                        if message.contains("NOT NULL, but the value is null") && null_note.is_some() =>
                    {
                        return Ok((ROWS, Some(format!("empty values read back as null: {message}"))));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        Err(null_note.unwrap_or_else(|| "no layout of the type could be written".into()))
    }

    // ---- sources ------------------------------------------------------------------

    /// Marks data-path checks skipped for want of options or grants.
    fn skip_unready(&mut self, names: [&str; 2]) {
        for name in names {
            self.report.skip(name, "needs the connector's required options (--option KEY=VALUE) and grants");
        }
    }

    async fn source_checks(&mut self, options: Option<Options>) {
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
    async fn checkpoint_restore(
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
    async fn read_split(
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

    async fn sink_checks(&mut self, options: Option<Options>) {
        let Some(options) = options else {
            return self.skip_unready(["sink.commit-idempotent", "sink.abort"]);
        };
        let schema = self.schema_for_connector();
        let input = if self.spec().needs_format {
            wsink::SinkInput::Records(RawRecords {
                values: frames([b"1,alice".as_slice(), b"2,bob"]),
                keys: None,
                timestamps: None,
                metadata: Vec::new(),
            })
        } else {
            let rows = generate::random_rows(&schema, 20, 7, SAFE_TEXT);
            match batch::from_arrow(&rows) {
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
                    Err(m) if m.contains("unsupported") => {
                        self.report.skip("sink.abort", format!("abort not implemented (the sink writes through): {m}"))
                    }
                    Err(m) => self.report.fail("sink.abort", m),
                }
            }
            Err(f) => self.report.fail("sink.abort", f.message),
        }
    }

    async fn stage(
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

/// Characters generated strings are made of: no delimiters, quotes or line
/// breaks (which text formats may refuse to write), but multi-byte UTF-8.
const SAFE_TEXT: &[char] = &['a', 'Z', 'q', '0', '7', ' ', '-', '_', 'é', 'ß', '日', '🦀'];

fn scalar_types() -> Vec<(&'static str, LogicalType)> {
    use crate::types::DecimalType;
    vec![
        ("BOOLEAN", LogicalType::Boolean),
        ("TINYINT", LogicalType::Tinyint),
        ("SMALLINT", LogicalType::Smallint),
        ("INT", LogicalType::Int),
        ("BIGINT", LogicalType::Bigint),
        ("FLOAT", LogicalType::Float),
        ("DOUBLE", LogicalType::Double),
        ("DECIMAL(10, 2)", LogicalType::Decimal(DecimalType { precision: 10, scale: 2 })),
        ("STRING", LogicalType::String),
        ("BYTES", LogicalType::Bytes),
        ("DATE", LogicalType::Date),
        ("TIME(3)", LogicalType::Time(3)),
        ("TIMESTAMP(3)", LogicalType::Timestamp(3)),
        ("TIMESTAMP_LTZ(6)", LogicalType::TimestampLtz(6)),
    ]
}

fn one_column(data_type: LogicalType, nullable: bool) -> Schema {
    Schema {
        fields: vec![Field { name: "v".into(), data_type, nullable }],
        nested: Vec::new(),
        primary_key: Vec::new(),
    }
}

/// `{name}` placeholders of a capability template.
fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        out.push(rest[start + 1..start + len].to_owned());
        rest = &rest[start + len + 1..];
    }
    out
}

fn compare(expected: &ChangelogBatch, actual: &ChangelogBatch) -> Result<(), String> {
    let (e, a) = (display::format_rows(expected), display::format_rows(actual));
    if let Some((i, (x, y))) = e.iter().zip(&a).enumerate().find(|(_, (x, y))| x != y) {
        return Err(format!("row {i}: wrote {x}, read back {y}"));
    }
    if e.len() != a.len() {
        return Err(format!("wrote {} rows, read back {}", e.len(), a.len()));
    }
    Ok(())
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
        };
        out.push_str(&format!("  {mark}  {:width$}  {}\n", c.name, c.detail));
    }
    let failed = report.checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
    out.push_str(&if failed == 0 {
        format!("  => conforms ({} checks)\n", report.checks.len())
    } else {
        format!("  => {failed} of {} checks FAILED\n", report.checks.len())
    });
    out
}
