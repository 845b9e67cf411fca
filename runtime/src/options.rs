//! Option validation with Flink's semantics, driven only by the spec:
//! unknown keys are rejected with the list of valid ones, required keys
//! must be present, every value must parse as its declared type, and
//! defaults are filled in. Format options are written with the format's
//! identifier as prefix (`csv.field-delimiter`) and reach the format
//! without it.

use crate::spec::{OptionSpec, OptionType, Spec, key_matches};

/// What is wrong with a table's options. Each message names the table, the
/// component, the key and what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// A required option is missing.
    #[error(
        "table '{table}': {role} '{identifier}' requires option '{key}' ({description}); add '{key}' = '…' to the WITH clause"
    )]
    Missing {
        /// Table name.
        table: String,
        /// `connector` or `format`.
        role: &'static str,
        /// Component identifier.
        identifier: String,
        /// The missing key, as the user writes it.
        key: String,
        /// The option's description.
        description: String,
    },
    /// An option the component does not know.
    #[error(
        "table '{table}': unsupported option '{key}' for {role} '{identifier}'{suggestion}; supported options: {valid}"
    )]
    Unknown {
        /// Table name.
        table: String,
        /// `connector` or `format`.
        role: &'static str,
        /// Component identifier.
        identifier: String,
        /// The key as written.
        key: String,
        /// ", did you mean '…'?" or empty.
        suggestion: String,
        /// Every valid key, comma separated.
        valid: String,
    },
    /// A value that does not parse as the option's type.
    #[error("table '{table}': option '{key}' of {role} '{identifier}' expects {expected}, but got '{value}'")]
    Invalid {
        /// Table name.
        table: String,
        /// `connector` or `format`.
        role: &'static str,
        /// Component identifier.
        identifier: String,
        /// The key as written.
        key: String,
        /// The value as written (masked for secrets).
        value: String,
        /// What would be accepted.
        expected: String,
    },
}

/// Who the options are validated for, for messages and prefixes.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Table name from the DDL.
    pub table: &'a str,
    /// `connector` or `format`.
    pub role: &'static str,
    /// Prefix users write before this component's keys (`csv.`), if any.
    pub prefix: Option<&'a str>,
}

/// Splits a table's options for a format: keys starting with
/// `<format>.` are returned without that prefix; the rest stay.
pub fn take_prefixed(options: &mut Vec<(String, String)>, format: &str) -> Vec<(String, String)> {
    let prefix = format!("{format}.");
    let (mine, rest): (Vec<_>, Vec<_>) = options.drain(..).partition(|(k, _)| k.starts_with(&prefix));
    *options = rest;
    mine.into_iter().map(|(k, v)| (k[prefix.len()..].to_owned(), v)).collect()
}

/// Validates `given` (keys without prefix) against `spec` and returns the
/// options the component receives: the given values plus defaults for
/// every option not set, in spec order.
// The error is the cold path and carries the list of valid keys by value;
// `Error` boxes it.
#[allow(clippy::result_large_err)]
pub fn validate(
    target: Target<'_>,
    spec: &Spec,
    given: &[(String, String)],
) -> Result<Vec<(String, String)>, OptionsError> {
    let shown = |key: &str| match target.prefix {
        Some(p) => format!("{p}.{key}"),
        None => key.to_owned(),
    };
    for (key, value) in given {
        let Some(option) = spec.option(key) else {
            let valid: Vec<String> = spec.options.iter().map(|o| shown(&o.key)).collect();
            let suggestion = closest(key, spec.options.iter().map(|o| o.key.as_str()))
                .map(|k| format!(", did you mean '{}'?", shown(k)))
                .unwrap_or_default();
            return Err(OptionsError::Unknown {
                table: target.table.to_owned(),
                role: target.role,
                identifier: spec.identifier.clone(),
                key: shown(key),
                suggestion,
                valid: if valid.is_empty() { "none".to_owned() } else { valid.join(", ") },
            });
        };
        if let Err(expected) = parse(option, value) {
            return Err(OptionsError::Invalid {
                table: target.table.to_owned(),
                role: target.role,
                identifier: spec.identifier.clone(),
                key: shown(key),
                value: if option.secret { "******".to_owned() } else { value.clone() },
                expected,
            });
        }
    }

    let mut out = Vec::with_capacity(spec.options.len());
    for option in &spec.options {
        let set: Vec<_> = given.iter().filter(|(k, _)| key_matches(&option.key, k)).cloned().collect();
        if !set.is_empty() {
            out.extend(set);
        } else if let Some(default) = &option.default_value {
            if !option.key.contains('#') {
                out.push((option.key.clone(), default.clone()));
            }
        } else if option.required {
            return Err(OptionsError::Missing {
                table: target.table.to_owned(),
                role: target.role,
                identifier: spec.identifier.clone(),
                key: shown(&option.key),
                description: option.description.clone(),
            });
        }
    }
    Ok(out)
}

/// Checks that a value parses as the option's type; on failure returns a
/// description of what is expected.
pub fn parse(option: &OptionSpec, value: &str) -> Result<(), String> {
    let v = value.trim();
    let ok = match option.option_type {
        OptionType::String => true,
        OptionType::Int => v.parse::<i32>().is_ok(),
        OptionType::Long => v.parse::<i64>().is_ok(),
        OptionType::Double => v.parse::<f64>().is_ok(),
        OptionType::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        OptionType::Duration => parse_duration(v).is_some(),
        OptionType::MemorySize => parse_memory_size(v).is_some(),
        OptionType::Enum => option.allowed_values.iter().any(|a| a.eq_ignore_ascii_case(v)),
        OptionType::Char => unescape_char(value).is_some(),
    };
    if ok {
        return Ok(());
    }
    Err(match option.option_type {
        OptionType::String => unreachable!("strings always parse"),
        OptionType::Int => "a 32-bit integer".to_owned(),
        OptionType::Long => "a 64-bit integer".to_owned(),
        OptionType::Double => "a number".to_owned(),
        OptionType::Boolean => "true or false".to_owned(),
        OptionType::Duration => "a duration such as '10 s', '500ms', '1 min' or '2h'".to_owned(),
        OptionType::MemorySize => "a memory size such as '64mb', '1 gb' or '4096' (bytes)".to_owned(),
        OptionType::Enum => format!("one of {}", option.allowed_values.join(", ")),
        OptionType::Char => "a single character (or an escape such as \\t or \\u0001)".to_owned(),
    })
}

pub use weir_text::{parse_duration, parse_memory_size, unescape_char};

/// The valid name closest to a misspelt one, if close enough to suggest.
pub fn closest<'a>(key: &str, valid: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    valid
        .map(|v| (edit_distance(key, v), v))
        .filter(|(d, v)| *d <= 2.max(v.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;
    use std::time::Duration;

    fn spec() -> Spec {
        let opt = |key: &str, t, default: Option<&str>, required| OptionSpec {
            key: key.into(),
            option_type: t,
            default_value: default.map(Into::into),
            required,
            secret: false,
            description: format!("the {key}"),
            allowed_values: vec!["big-endian".into(), "little-endian".into()],
        };
        Spec {
            identifier: "socket".into(),
            description: String::new(),
            version: "0.1.0".into(),
            options: vec![
                opt("hostname", OptionType::String, None, true),
                opt("port", OptionType::Int, None, true),
                opt("byte-delimiter", OptionType::Int, Some("10"), false),
                opt("order", OptionType::Enum, Some("big-endian"), false),
                opt("interval", OptionType::Duration, None, false),
                opt("fields.#.kind", OptionType::String, None, false),
            ],
            changelog_mode: vec![],
            source_abilities: vec![],
            sink_abilities: vec![],
            needs_format: true,
            capabilities: vec![],
        }
    }

    const T: Target<'static> = Target { table: "UserScores", role: "connector", prefix: None };

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn fills_defaults_and_keeps_given() {
        let out =
            validate(T, &spec(), &kv(&[("hostname", "localhost"), ("port", "9999"), ("fields.id.kind", "sequence")]))
                .unwrap();
        assert_eq!(
            out,
            kv(&[
                ("hostname", "localhost"),
                ("port", "9999"),
                ("byte-delimiter", "10"),
                ("order", "big-endian"),
                ("fields.id.kind", "sequence")
            ])
        );
    }

    #[test]
    fn missing_required_names_the_key() {
        let err = validate(T, &spec(), &kv(&[("hostname", "h")])).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, OptionsError::Missing { ref key, .. } if key == "port"), "{msg}");
        assert!(msg.contains("table 'UserScores'") && msg.contains("'port'"), "{msg}");
    }

    #[test]
    fn unknown_key_lists_valid_ones_and_suggests() {
        let err = validate(T, &spec(), &kv(&[("hostname", "h"), ("port", "1"), ("prot", "2")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unsupported option 'prot'"), "{msg}");
        assert!(msg.contains("did you mean 'port'"), "{msg}");
        assert!(msg.contains("hostname, port, byte-delimiter, order, interval, fields.#.kind"), "{msg}");
    }

    #[test]
    fn types_are_parsed() {
        let bad = |k: &str, v: &str| {
            validate(T, &spec(), &kv(&[("hostname", "h"), ("port", "1"), (k, v)])).unwrap_err().to_string()
        };
        assert!(bad("port", "99999999999").contains("expects a 32-bit integer"));
        assert!(bad("order", "middle").contains("one of big-endian, little-endian"));
        assert!(bad("interval", "5 parsecs").contains("a duration"));
        assert!(
            validate(
                T,
                &spec(),
                &kv(&[("hostname", "h"), ("port", "1"), ("order", "LITTLE-ENDIAN"), ("interval", "10 s")])
            )
            .is_ok()
        );
    }

    #[test]
    fn format_prefix_is_split_and_shown() {
        let mut all = kv(&[("connector", "socket"), ("csv.field-delimiter", ";"), ("csv.bogus", "x")]);
        let csv = take_prefixed(&mut all, "csv");
        assert_eq!(all, kv(&[("connector", "socket")]));
        assert_eq!(csv, kv(&[("field-delimiter", ";"), ("bogus", "x")]));
        let mut s = spec();
        s.identifier = "csv".into();
        s.options = vec![OptionSpec {
            key: "field-delimiter".into(),
            option_type: OptionType::Char,
            default_value: Some(",".into()),
            required: false,
            secret: false,
            description: String::new(),
            allowed_values: vec![],
        }];
        let target = Target { table: "t", role: "format", prefix: Some("csv") };
        let msg = validate(target, &s, &csv).unwrap_err().to_string();
        assert!(
            msg.contains("unsupported option 'csv.bogus' for format 'csv'; supported options: csv.field-delimiter"),
            "{msg}"
        );
    }

    #[test]
    fn flink_units() {
        assert_eq!(parse_duration("500"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1 min"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_memory_size("64mb"), Some(64 << 20));
        assert_eq!(parse_memory_size("1 gb"), Some(1 << 30));
        assert_eq!(parse_memory_size("12 parsecs"), None);
        assert_eq!(unescape_char("\\t"), Some('\t'));
        assert_eq!(unescape_char("\\u0001"), Some('\u{1}'));
        assert_eq!(unescape_char("ab"), None);
    }
}
