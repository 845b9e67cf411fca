//! The runtime's own model of a component's spec: what it is, its options,
//! and what it needs. Converted from each supported WIT version, so the
//! catalog, option validation and the CLI never depend on generated types.

use serde::{Deserialize, Serialize};

use crate::bindings::v0_1_0::weir::connector::types as wit;

/// What a component can do, derived from the interfaces it exports (its
/// WIT world), not from anything it claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Exports `format`: decoder and encoder.
    Format,
    /// Exports `source` only.
    Source,
    /// Exports `sink` only.
    Sink,
    /// Exports both `source` and `sink`.
    Connector,
}

impl Kind {
    /// The DDL key that selects components of this kind.
    pub fn ddl_key(self) -> &'static str {
        match self {
            Kind::Format => "format",
            _ => "connector",
        }
    }

    /// Whether a component of this kind can be used as a source.
    pub fn is_source(self) -> bool {
        matches!(self, Kind::Source | Kind::Connector)
    }

    /// Whether a component of this kind can be used as a sink.
    pub fn is_sink(self) -> bool {
        matches!(self, Kind::Sink | Kind::Connector)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Format => "format",
            Kind::Source => "source",
            Kind::Sink => "sink",
            Kind::Connector => "connector",
        })
    }
}

/// How an option's text is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptionType {
    /// Any text.
    String,
    /// i32.
    Int,
    /// i64.
    Long,
    /// f64.
    Double,
    /// true / false.
    Boolean,
    /// Flink duration (`10s`, `500 ms`).
    Duration,
    /// Flink memory size (`64mb`).
    MemorySize,
    /// One of the allowed values.
    Enum,
    /// One character (escapes allowed).
    Char,
}

impl std::fmt::Display for OptionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OptionType::String => "String",
            OptionType::Int => "Integer",
            OptionType::Long => "Long",
            OptionType::Double => "Double",
            OptionType::Boolean => "Boolean",
            OptionType::Duration => "Duration",
            OptionType::MemorySize => "MemorySize",
            OptionType::Enum => "Enum",
            OptionType::Char => "Character",
        })
    }
}

/// One option a component accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionSpec {
    /// Key without format prefix; `#` matches any field name.
    pub key: String,
    /// Parsing rule.
    pub option_type: OptionType,
    /// Default, as text.
    pub default_value: Option<String>,
    /// Must be set.
    pub required: bool,
    /// Masked in output.
    pub secret: bool,
    /// One-line description.
    pub description: String,
    /// Accepted values of an enum option.
    pub allowed_values: Vec<String>,
}

/// The kind of access a declared capability asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapabilityKind {
    /// Read files.
    Read,
    /// Write files.
    Write,
    /// Outgoing TCP.
    TcpConnect,
    /// Listening TCP.
    TcpListen,
    /// UDP.
    Udp,
    /// Outgoing HTTP.
    Http,
    /// An environment variable.
    Env,
    /// The terminal's standard output.
    Stdout,
    /// The terminal's standard error.
    Stderr,
}

impl std::fmt::Display for CapabilityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CapabilityKind::Read => "read",
            CapabilityKind::Write => "write",
            CapabilityKind::TcpConnect => "tcp-connect",
            CapabilityKind::TcpListen => "tcp-listen",
            CapabilityKind::Udp => "udp",
            CapabilityKind::Http => "http",
            CapabilityKind::Env => "env",
            CapabilityKind::Stdout => "stdout",
            CapabilityKind::Stderr => "stderr",
        })
    }
}

/// A declared capability; `target` is a template over option values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capability {
    /// Kind of access.
    pub kind: CapabilityKind,
    /// Target template, e.g. `{hostname}:{port}`.
    pub target: String,
    /// Only needed when this option is set.
    pub when_option: Option<String>,
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.target)?;
        if let Some(o) = &self.when_option {
            write!(f, " (when '{o}' is set)")?;
        }
        Ok(())
    }
}

/// Row kinds, Flink's `RowKind`, with its byte values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowKind {
    /// +I
    Insert = 0,
    /// -U
    UpdateBefore = 1,
    /// +U
    UpdateAfter = 2,
    /// -D
    Delete = 3,
}

impl RowKind {
    /// Flink's short string: `+I`, `-U`, `+U`, `-D`.
    pub fn short(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// From the byte stored in a batch.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => RowKind::Insert,
            1 => RowKind::UpdateBefore,
            2 => RowKind::UpdateAfter,
            3 => RowKind::Delete,
            _ => return None,
        })
    }
}

/// Everything known about a component without running its data path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// `'connector' = '…'` / `'format' = '…'`.
    pub identifier: String,
    /// One line for the catalog.
    pub description: String,
    /// The component's own version.
    pub version: String,
    /// Options.
    pub options: Vec<OptionSpec>,
    /// Row kinds produced or accepted.
    pub changelog_mode: Vec<RowKind>,
    /// Names of the source abilities declared.
    #[serde(deserialize_with = "ability_names")]
    pub source_abilities: Vec<&'static str>,
    /// Names of the sink abilities declared.
    #[serde(deserialize_with = "ability_names")]
    pub sink_abilities: Vec<&'static str>,
    /// Whether a connector exchanges raw records (needs a `format`) or rows.
    pub needs_format: bool,
    /// Declared capabilities.
    pub capabilities: Vec<Capability>,
}

impl Spec {
    /// The option with this key (exact, or matching a `#` pattern).
    pub fn option(&self, key: &str) -> Option<&OptionSpec> {
        self.options.iter().find(|o| key_matches(&o.key, key))
    }
}

/// Whether `key` matches the spec key `pattern`, where a `#` segment in the
/// pattern stands for one field name (`fields.#.kind` ~ `fields.id.kind`).
pub fn key_matches(pattern: &str, key: &str) -> bool {
    if !pattern.contains('#') {
        return pattern == key;
    }
    let (p, k): (Vec<_>, Vec<_>) = (pattern.split('.').collect(), key.split('.').collect());
    p.len() == k.len() && p.iter().zip(&k).all(|(p, k)| *p == "#" && !k.is_empty() || p == k)
}

/// Every ability name, source and sink.
const ABILITIES: [&str; 12] = [
    "projection-push-down",
    "filter-push-down",
    "limit-push-down",
    "partition-push-down",
    "reading-metadata",
    "watermark-push-down",
    "lookup",
    "vector-search",
    "overwrite",
    "partitioning",
    "upsert",
    "writing-metadata",
];

/// Ability names read back (the catalog's stored specs); an unknown name
/// is an error, so the record is not used.
fn ability_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<&'static str>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            ABILITIES.iter().copied().find(|a| a == n).ok_or_else(|| serde::de::Error::custom(format!("ability {n}")))
        })
        .collect()
}

impl From<wit::ComponentSpec> for Spec {
    fn from(s: wit::ComponentSpec) -> Self {
        use wit::{SinkAbilities as K, SourceAbilities as S};
        let source_flags = [
            (S::PROJECTION_PUSH_DOWN, ABILITIES[0]),
            (S::FILTER_PUSH_DOWN, ABILITIES[1]),
            (S::LIMIT_PUSH_DOWN, ABILITIES[2]),
            (S::PARTITION_PUSH_DOWN, ABILITIES[3]),
            (S::READING_METADATA, ABILITIES[4]),
            (S::WATERMARK_PUSH_DOWN, ABILITIES[5]),
            (S::LOOKUP, ABILITIES[6]),
            (S::VECTOR_SEARCH, ABILITIES[7]),
        ];
        let sink_flags = [
            (K::OVERWRITE, ABILITIES[8]),
            (K::PARTITIONING, ABILITIES[9]),
            (K::UPSERT, ABILITIES[10]),
            (K::WRITING_METADATA, ABILITIES[11]),
        ];
        Spec {
            identifier: s.identifier,
            description: s.description,
            version: s.version,
            options: s.options.into_iter().map(Into::into).collect(),
            changelog_mode: s.changelog_mode.into_iter().map(Into::into).collect(),
            source_abilities: source_flags
                .iter()
                .filter(|(f, _)| s.source_abilities.contains(*f))
                .map(|(_, n)| *n)
                .collect(),
            sink_abilities: sink_flags.iter().filter(|(f, _)| s.sink_abilities.contains(*f)).map(|(_, n)| *n).collect(),
            needs_format: matches!(s.payload, wit::Payload::RawRecords),
            capabilities: s.capabilities.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<wit::OptionSpec> for OptionSpec {
    fn from(o: wit::OptionSpec) -> Self {
        use wit::OptionType as T;
        OptionSpec {
            key: o.key,
            option_type: match o.option_type {
                T::String => OptionType::String,
                T::Int => OptionType::Int,
                T::Long => OptionType::Long,
                T::Double => OptionType::Double,
                T::Boolean => OptionType::Boolean,
                T::Duration => OptionType::Duration,
                T::MemorySize => OptionType::MemorySize,
                T::Enum => OptionType::Enum,
                T::Char => OptionType::Char,
            },
            default_value: o.default_value,
            required: o.required,
            secret: o.secret,
            description: o.description,
            allowed_values: o.allowed_values,
        }
    }
}

impl From<wit::RowKind> for RowKind {
    fn from(k: wit::RowKind) -> Self {
        match k {
            wit::RowKind::Insert => RowKind::Insert,
            wit::RowKind::UpdateBefore => RowKind::UpdateBefore,
            wit::RowKind::UpdateAfter => RowKind::UpdateAfter,
            wit::RowKind::Delete => RowKind::Delete,
        }
    }
}

impl From<wit::Capability> for Capability {
    fn from(c: wit::Capability) -> Self {
        use wit::CapabilityKind as C;
        Capability {
            kind: match c.kind {
                C::Read => CapabilityKind::Read,
                C::Write => CapabilityKind::Write,
                C::TcpConnect => CapabilityKind::TcpConnect,
                C::TcpListen => CapabilityKind::TcpListen,
                C::Udp => CapabilityKind::Udp,
                C::Http => CapabilityKind::Http,
                C::Env => CapabilityKind::Env,
                C::Stdout => CapabilityKind::Stdout,
                C::Stderr => CapabilityKind::Stderr,
            },
            target: c.target,
            when_option: c.when_option,
        }
    }
}
