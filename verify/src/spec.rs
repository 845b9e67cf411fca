//! The spec and option checks: identifier, unique keys, defaults that pass
//! their own validation, templates naming declared options; unknown and
//! missing keys refused by the host, defaults accepted by the component.

use weir::options::{self};
use weir::spec::Kind;
use weir::types::Schema;

use crate::{Given, Suite};

impl Suite<'_> {
    // ---- the spec ------------------------------------------------------------

    pub(crate) fn spec_checks(&mut self) {
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
    pub(crate) async fn option_checks(&mut self) -> Given {
        let spec = self.spec().clone();
        let given = self.given_options();
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
            None => self.report.not_applicable("options.missing-required", "no required options"),
        }
        let options = match options::validate(self.target(), &spec, &given) {
            Ok(o) => o,
            Err(e) => {
                let missing: Vec<String> = spec
                    .options
                    .iter()
                    .filter(|o| o.required && !given.iter().any(|(k, _)| *k == o.key))
                    .map(|o| format!("{}:{}=…", spec.identifier, o.key))
                    .collect();
                let hint = if missing.is_empty() {
                    String::new()
                } else {
                    format!(" (pass --option {})", missing.join(" --option "))
                };
                self.report.skip("options.defaults", format!("{e}{hint}"));
                return Given { options: Err(format!("{e}{hint}")), refused: None };
            }
        };
        let schema = self.schema_for_connector();
        let refused = match self.in_fresh(&options, async |i| i.validate(&options, &schema).await).await {
            Ok(()) => {
                self.report.pass("options.defaults", "the component's validate accepts the options");
                None
            }
            // A format may reject the probe schema; the type checks say more.
            Err(f) if self.entry.kind == Kind::Format && f.message.contains("config") => {
                self.report.skip("options.defaults", format!("the probe schema was refused: {}", f.message));
                None
            }
            Err(f) if f.ungranted => {
                self.report.skip("options.defaults", f.message.clone());
                Some(f.message)
            }
            Err(f) => {
                let why = if self.config.schema.is_some() {
                    format!("the component refused the options or the schema given (--schema): {}", f.message)
                } else {
                    format!("the component refused the options: {}", f.message)
                };
                self.report.fail("options.defaults", f.message);
                Some(why)
            }
        };
        Given { options: Ok(options), refused }
    }

    /// The table schema connectors are checked with, in the contract's form.
    pub(crate) fn schema_for_connector(&self) -> Schema {
        let default = || {
            weir::model::Schema::new(vec![
                weir::model::Field::new("id", weir::model::DataType::BigInt),
                weir::model::Field::new("name", weir::model::DataType::String),
            ])
        };
        self.config.schema.clone().unwrap_or_else(default).to_contract()
    }

    // ---- formats ------------------------------------------------------------------
}

/// `{name}` placeholders of a capability template.
pub(crate) fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        out.push(rest[start + 1..start + len].to_owned());
        rest = &rest[start + len + 1..];
    }
    out
}
