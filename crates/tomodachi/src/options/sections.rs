//! Option sections of transports that live outside this crate (`nats.*` of `tomodachi-nats`):
//! a transport crate registers its section once per process with its keys and defaults
//! ([`register_section`]); from then on the section is set, merged from config files (`-c`),
//! read and listed like the built-in ones, and the transport reads it at start with
//! [`Options::section`](super::Options::section) or
//! [`Options::section_as`](super::Options::section_as).
//!
//! The registry is process-wide because config files are checked when they are loaded, before
//! the services are started: a transport crate registers its section when a service is
//! defined with it (its builder methods do), so that a config file naming the section is valid.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde_json::{Map, Value};

use super::error::OptionsError;
use super::value::describe;

/// The registered sections, in registration order: name and default values.
static REGISTRY: RwLock<Vec<(String, Map<String, Value>)>> = RwLock::new(Vec::new());

/// Registers (or re-registers with new defaults) the option section `name` with its keys and
/// default values: a JSON object whose every key is an option. An option given later must have
/// its default's JSON type (any type when the default is `null`). A built-in section's name,
/// a dotted name or a defaults value that is not an object is an error.
///
/// ```
/// use serde_json::json;
/// use tomodachi::options::{register_section, Options};
///
/// register_section("example_queue", json!({"servers": ["q://127.0.0.1"], "name_prefix": ""}))?;
/// let mut options = Options::default();
/// options.merge_json(&json!({"example_queue": {"name_prefix": "staging-"}}))?;
/// assert_eq!(options.get("example_queue.name_prefix")?, "staging-");
/// assert_eq!(options.section("example_queue").unwrap()["servers"], json!(["q://127.0.0.1"]));
/// assert!(options.set("example_queue.name_prefix", json!(1)).is_err());
/// assert!(options.set("example_queue.prot", json!(1)).is_err());
/// # Ok::<(), tomodachi::options::OptionsError>(())
/// ```
pub fn register_section(name: &str, defaults: Value) -> Result<(), OptionsError> {
    let invalid = |message: String| OptionsError::InvalidValue {
        key: name.to_owned(),
        message,
    };
    if name.is_empty() || name.contains('.') || super::SECTIONS.contains(&name) {
        return Err(invalid(format!(
            "'{name}' cannot be registered as an option section (built-in, empty or dotted)"
        )));
    }
    let Value::Object(defaults) = defaults else {
        return Err(invalid(format!(
            "the defaults of option section '{name}' must be a JSON object, not {}",
            describe(&defaults)
        )));
    };
    let mut registry = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    match registry.iter_mut().find(|(n, _)| n == name) {
        Some((_, existing)) => *existing = defaults,
        None => registry.push((name.to_owned(), defaults)),
    }
    Ok(())
}

/// The default values of the registered section `name`.
pub(super) fn defaults(name: &str) -> Option<Map<String, Value>> {
    let registry = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
    registry
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.clone())
}

/// The names of the registered sections, in registration order.
pub(super) fn names() -> Vec<String> {
    let registry = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
    registry.iter().map(|(n, _)| n.clone()).collect()
}

/// The values of registered sections that were set (by code, a mapping or a config file); the
/// other keys have their registered defaults. Part of [`Options`](super::Options) as its
/// `registered` field; read through [`Options::section`](super::Options::section).
///
/// ```
/// let options = tomodachi::options::Options::default();
/// assert!(options.registered.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegisteredSections {
    values: BTreeMap<String, Map<String, Value>>,
}

impl RegisteredSections {
    /// Whether no option of a registered section was set.
    pub fn is_empty(&self) -> bool {
        self.values.values().all(Map::is_empty)
    }

    /// Section `name`: its defaults with the set values over them (`None`: not registered).
    pub(super) fn section(&self, name: &str) -> Option<Map<String, Value>> {
        let mut section = defaults(name)?;
        if let Some(set) = self.values.get(name) {
            for (k, v) in set {
                section.insert(k.clone(), v.clone());
            }
        }
        Some(section)
    }

    /// Sets `section.key` (`full`) after checking the key and the value's JSON type.
    pub(super) fn set(
        &mut self,
        section: &str,
        key: &str,
        full: &str,
        value: &Value,
    ) -> Result<(), OptionsError> {
        let Some(defaults) = defaults(section) else {
            return Err(super::unknown_key(full));
        };
        let Some(default) = defaults.get(key) else {
            return Err(super::unknown_key(full));
        };
        let same_type = matches!(
            (default, value),
            (Value::Null, _)
                | (Value::Bool(_), Value::Bool(_))
                | (Value::Number(_), Value::Number(_))
                | (Value::String(_), Value::String(_))
                | (Value::Array(_), Value::Array(_))
                | (Value::Object(_), Value::Object(_))
        );
        if !same_type {
            return Err(OptionsError::InvalidValue {
                key: full.to_owned(),
                message: format!(
                    "option '{full}' takes a value like its default {}, not {}",
                    describe(default),
                    describe(value)
                ),
            });
        }
        self.values
            .entry(section.to_owned())
            .or_default()
            .insert(key.to_owned(), value.clone());
        Ok(())
    }
}
