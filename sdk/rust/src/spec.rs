//! Builders for the component spec: identifier, options, capabilities.

use crate::bindings::weir::connector::types::{
    Capability, CapabilityKind, ComponentSpec, OptionSpec, OptionType, Payload, RowKind, SinkAbilities, SourceAbilities,
};

impl ComponentSpec {
    /// A spec with an identifier and a description; no options, insert-only,
    /// no abilities, no capabilities.
    pub fn new(identifier: &str, description: &str) -> Self {
        ComponentSpec {
            identifier: identifier.to_owned(),
            description: description.to_owned(),
            version: "0.1.0".to_owned(),
            options: Vec::new(),
            changelog_mode: Vec::new(),
            source_abilities: SourceAbilities::empty(),
            sink_abilities: SinkAbilities::empty(),
            payload: Payload::RawRecords,
            capabilities: Vec::new(),
        }
    }

    /// Sets the component's own version.
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_owned();
        self
    }

    /// Adds an option.
    pub fn option(mut self, option: OptionSpec) -> Self {
        self.options.push(option);
        self
    }

    /// Declares the row kinds produced or accepted.
    pub fn changelog(mut self, kinds: &[RowKind]) -> Self {
        self.changelog_mode = kinds.to_vec();
        self
    }

    /// Declares source abilities.
    pub fn source_abilities(mut self, abilities: SourceAbilities) -> Self {
        self.source_abilities = abilities;
        self
    }

    /// Declares sink abilities.
    pub fn sink_abilities(mut self, abilities: SinkAbilities) -> Self {
        self.sink_abilities = abilities;
        self
    }

    /// Declares what a connector exchanges with the host.
    pub fn payload(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }

    /// Declares a capability, e.g. `(CapabilityKind::TcpConnect, "{hostname}:{port}")`.
    pub fn capability(mut self, kind: CapabilityKind, target: &str) -> Self {
        self.capabilities.push(Capability { kind, target: target.to_owned(), when_option: None });
        self
    }

    /// Declares a capability needed only when `option` is set (and not
    /// `false`), e.g. a file written only when `log-path` is given.
    pub fn capability_when(mut self, kind: CapabilityKind, target: &str, option: &str) -> Self {
        self.capabilities.push(Capability { kind, target: target.to_owned(), when_option: Some(option.to_owned()) });
        self
    }
}

impl OptionSpec {
    /// An optional option of `ty` without default.
    pub fn new(key: &str, ty: OptionType, description: &str) -> Self {
        OptionSpec {
            key: key.to_owned(),
            option_type: ty,
            default_value: None,
            required: false,
            secret: false,
            description: description.to_owned(),
            allowed_values: Vec::new(),
        }
    }

    /// A string option.
    pub fn string(key: &str, description: &str) -> Self {
        Self::new(key, OptionType::String, description)
    }

    /// A boolean option.
    pub fn boolean(key: &str, description: &str) -> Self {
        Self::new(key, OptionType::Boolean, description)
    }

    /// A 32-bit integer option.
    pub fn int(key: &str, description: &str) -> Self {
        Self::new(key, OptionType::Int, description)
    }

    /// A 64-bit integer option.
    pub fn long(key: &str, description: &str) -> Self {
        Self::new(key, OptionType::Long, description)
    }

    /// A single-character option.
    pub fn character(key: &str, description: &str) -> Self {
        Self::new(key, OptionType::Char, description)
    }

    /// An enumeration option with its accepted values.
    pub fn one_of(key: &str, values: &[&str], description: &str) -> Self {
        let mut o = Self::new(key, OptionType::Enum, description);
        o.allowed_values = values.iter().map(|v| (*v).to_owned()).collect();
        o
    }

    /// Sets the default value (text as a user would write it).
    pub fn default_value(mut self, value: &str) -> Self {
        self.default_value = Some(value.to_owned());
        self
    }

    /// Makes the option required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Marks the value as secret (masked in logs and `weir describe`).
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}
