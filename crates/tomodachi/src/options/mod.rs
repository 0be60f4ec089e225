//! Service options (`options.http.*`, `options.aws_sns_sqs.*`, `options.aws_endpoint_urls.*`,
//! `options.amqp.*`, `options.amqp.qos.*`, `options.watcher.*`, and this port's
//! `options.logging.*`) and config files (`-c`).
//!
//! [`Options`] holds every upstream option as a typed field with the upstream default. Options
//! can be built with struct update syntax, read and written by dotted key ([`Options::get`],
//! [`Options::set`]), merged from JSON mappings ([`Options::merge_json`], including the legacy
//! aliases) and flattened to the upstream `asdict()` form ([`Options::to_flat_map`]).
//! Config files are loaded and merged with [`load_config_files`].
//!
//! Unlike upstream, merging a mapping never resets keys that the mapping does not name.
//!
//! ```
//! use tomodachi::options::{HttpOptions, Options};
//! use serde_json::json;
//!
//! let mut options = Options {
//!     http: HttpOptions { port: 8080, ..Default::default() },
//!     ..Default::default()
//! };
//! options.merge_json(&json!({"http.keepalive_timeout": 5, "amqp": {"qos.queue_prefetch_count": 10}}))?;
//! assert_eq!(options.get("http.port")?, 8080);
//! assert_eq!(options.amqp.qos.queue_prefetch_count, 10);
//! options.validate()?;
//! # Ok::<(), tomodachi::options::OptionsError>(())
//! ```

mod aliases;
mod amqp;
mod aws;
mod config_file;
mod envelope;
mod error;
mod http;
mod logging;
mod sections;
mod value;
mod watcher;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use self::amqp::{AmqpOptions, AmqpQosOptions};
pub use self::aws::{AwsEndpointUrls, AwsSnsSqsOptions};
pub use self::config_file::{load_config_files, merge_json_values, ConfigFile};
pub use self::envelope::EnvelopeOptions;
pub use self::error::{ConfigError, OptionsError};
pub use self::http::{
    parse_client_max_size, AccessLog, HttpOptions, DEFAULT_CLIENT_MAX_SIZE,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_TIMEOUT,
};
pub use self::logging::LoggingOptions;
pub use self::sections::{register_section, RegisteredSections};
pub use self::watcher::WatcherOptions;

/// All options of a service, grouped in sections; `Default` gives the upstream defaults
///.
///
/// Construction forms:
///
/// ```
/// use tomodachi::options::{AmqpOptions, HttpOptions, Options};
/// use serde_json::json;
///
/// // Typed, with struct update syntax.
/// let typed = Options {
///     http: HttpOptions { port: 8080, ..Default::default() },
///     amqp: AmqpOptions { login: "tron".into(), ..Default::default() },
///     ..Default::default()
/// };
///
/// // From a JSON mapping: nested sections, dotted keys and mixtures.
/// let from_json = Options::from_json(&json!({"http.port": 8080, "amqp": {"login": "tron"}}))?;
/// assert_eq!(typed, from_json);
///
/// // Chained dotted-key setters.
/// let chained = Options::default().with("http.port", 8080)?.with("amqp.login", "tron")?;
/// assert_eq!(typed, chained);
///
/// // Access forms.
/// assert_eq!(typed.http.port, 8080);
/// assert_eq!(typed.get("http.port")?, 8080);
/// assert_eq!(typed.get("http")?["port"], 8080);
/// assert_eq!(typed.to_flat_map()["http.port"], 8080);
/// # Ok::<(), tomodachi::options::OptionsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    /// `http.*` – HTTP server.
    pub http: HttpOptions,
    /// `aws_sns_sqs.*` – AWS SNS+SQS credentials, prefixes, KMS and policies.
    pub aws_sns_sqs: AwsSnsSqsOptions,
    /// `aws_endpoint_urls.*` – AWS endpoint overrides.
    pub aws_endpoint_urls: AwsEndpointUrls,
    /// `amqp.*` – AMQP broker (with `amqp.qos.*`).
    pub amqp: AmqpOptions,
    /// `watcher.*` – development file watcher.
    pub watcher: WatcherOptions,
    /// `logging.*` – caps on log record sizes (not in upstream; listed after its sections).
    pub logging: LoggingOptions,
    /// `envelope.*` – limits of message decoding (not in upstream; listed after its sections).
    pub envelope: EnvelopeOptions,
    /// The sections transports outside this crate registered ([`register_section`], e.g.
    /// `nats.*`): the values set; read them with [`Options::section`]. Listed last.
    pub registered: RegisteredSections,
}

/// The top-level section names, in `asdict()` order.
const SECTIONS: &[&str] = &[
    "http",
    "aws_sns_sqs",
    "aws_endpoint_urls",
    "amqp",
    "watcher",
    "logging",
    "envelope",
];

/// The keys of a section (`""` is the top level), or `None` if `path` is not a section.
fn section_keys(path: &str) -> Option<&'static [&'static str]> {
    match path {
        "" => Some(SECTIONS),
        "http" => Some(HttpOptions::KEYS),
        "aws_sns_sqs" => Some(AwsSnsSqsOptions::KEYS),
        "aws_endpoint_urls" => Some(AwsEndpointUrls::KEYS),
        "amqp" => Some(AmqpOptions::KEYS),
        "amqp.qos" => Some(AmqpQosOptions::KEYS),
        "watcher" => Some(WatcherOptions::KEYS),
        "logging" => Some(LoggingOptions::KEYS),
        "envelope" => Some(EnvelopeOptions::KEYS),
        _ => None,
    }
}

/// The options one mapping has written so far: a mapping that gives one option twice with
/// different values (`{"http.port": 1, "http": {"port": 2}}`, or an option and its legacy alias)
/// is an error instead of the last one silently winning.
#[derive(Default)]
struct Written {
    seen: Vec<(String, Value)>,
    lenient: bool,
}

impl Written {
    fn lenient() -> Self {
        Self {
            seen: Vec::new(),
            lenient: true,
        }
    }

    fn check(&mut self, full: &str, value: &Value) -> Result<(), OptionsError> {
        if self.lenient {
            return Ok(());
        }
        // `keepalive_expiry` is another name of `keepalive_timeout`.
        let canonical = match full.strip_suffix(".keepalive_expiry") {
            Some(section) => format!("{section}.keepalive_timeout"),
            None => full.to_owned(),
        };
        match self.seen.iter().find(|(k, _)| *k == canonical) {
            Some((_, first)) if first != value => Err(OptionsError::InvalidValue {
                key: canonical.clone(),
                message: format!(
                    "option '{canonical}' is given twice with different values ({} and {}); \
                     give it once",
                    value::describe(first),
                    value::describe(value)
                ),
            }),
            Some(_) => Ok(()),
            None => {
                self.seen.push((canonical, value.clone()));
                Ok(())
            }
        }
    }
}

/// Whether `full` names a single option (not a section).
fn is_leaf(full: &str) -> bool {
    match full.rsplit_once('.') {
        Some((parent, last)) => {
            section_keys(full).is_none()
                && section_keys(parent).is_some_and(|keys| keys.contains(&last))
        }
        None => false,
    }
}

/// Joins a section path and a (possibly dotted) key.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The "not a known option" error for `full`, listing the valid keys of the deepest known
/// section (or legacy alias group) that contains it.
fn unknown_key(full: &str) -> OptionsError {
    let segments: Vec<&str> = full.split('.').collect();
    for len in (0..segments.len()).rev() {
        let prefix = segments[..len].join(".");
        if let Some(keys) = section_keys(&prefix) {
            let mut valid_keys: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
            if prefix.is_empty() {
                valid_keys.extend(sections::names());
            }
            return OptionsError::UnknownKey {
                key: full.to_string(),
                section: prefix,
                valid_keys,
            };
        }
        if let Some(defaults) = sections::defaults(&prefix) {
            return OptionsError::UnknownKey {
                key: full.to_string(),
                section: prefix,
                valid_keys: defaults.keys().cloned().collect(),
            };
        }
        let alias_keys = aliases::children(&prefix);
        if !alias_keys.is_empty() {
            return OptionsError::UnknownKey {
                key: full.to_string(),
                section: prefix,
                valid_keys: alias_keys.iter().map(|k| (*k).to_string()).collect(),
            };
        }
    }
    OptionsError::UnknownKey {
        key: full.to_string(),
        section: String::new(),
        valid_keys: SECTIONS.iter().map(|k| (*k).to_string()).collect(),
    }
}

/// Turns ordered `(dotted key, value)` pairs into nested JSON objects.
fn nest<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Map<String, Value> {
    let mut root = Map::new();
    for (key, value) in entries {
        let mut node = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_string(), value);
                break;
            }
            let child = node
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            node = match child {
                Value::Object(map) => map,
                // Unreachable: `child` was made an object just above.
                _ => break,
            };
        }
    }
    root
}

impl Options {
    /// Options with upstream defaults, then `value` (a JSON object) merged in with
    /// [`Options::merge_json`].
    ///
    /// ```
    /// use tomodachi::options::Options;
    /// use serde_json::json;
    ///
    /// let options = Options::from_json(&json!({"http": {"port": 404}}))?;
    /// assert_eq!(options.http.port, 404);
    /// assert_eq!(options.http.termination_grace_period_seconds, 30);
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn from_json(value: &Value) -> Result<Self, OptionsError> {
        let mut options = Self::default();
        options.merge_json(value)?;
        Ok(options)
    }

    /// All canonical dotted option keys, in `asdict()` order.
    pub fn known_keys() -> Vec<String> {
        Self::default()
            .flat_entries()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// Reads an option or a whole section by dotted key.
    ///
    /// A leaf key (`"http.port"`, `"amqp.qos.queue_prefetch_count"`) gives its JSON value as in
    /// [`Options::to_flat_map`]; a section key (`"http"`, `"amqp"`, `"amqp.qos"`) gives the section
    /// as a nested JSON object; `""` gives all options nested. Legacy aliases are not resolved
    /// (except `http.keepalive_expiry`, which mirrors `http.keepalive_timeout` as upstream lists it).
    ///
    /// ```
    /// use tomodachi::options::Options;
    /// use serde_json::json;
    ///
    /// let options = Options::default();
    /// assert_eq!(options.get("http.port")?, 9700);
    /// assert_eq!(options.get("amqp.qos")?, json!({"queue_prefetch_count": 100, "global_prefetch_count": 400}));
    /// assert!(options.get("http.missing").is_err());
    /// assert_eq!(options.get("http.missing").unwrap_or(json!(0)), 0);
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn get(&self, key: &str) -> Result<Value, OptionsError> {
        let entries = self.flat_entries();
        if key.is_empty() {
            return Ok(Value::Object(nest(
                entries.iter().map(|(k, v)| (k.as_str(), v.clone())),
            )));
        }
        if let Some((_, value)) = entries.iter().find(|(k, _)| k == key) {
            return Ok(value.clone());
        }
        if section_keys(key).is_some() || sections::defaults(key).is_some() {
            let prefix = format!("{key}.");
            return Ok(Value::Object(nest(entries.iter().filter_map(|(k, v)| {
                k.strip_prefix(&prefix).map(|rest| (rest, v.clone()))
            }))));
        }
        Err(unknown_key(key))
    }

    /// Sets an option by dotted key, with the same key resolution and validation as
    /// [`Options::merge_json`]. A section key with an object value merges that object into the
    /// section. On error the options are left unchanged.
    ///
    /// ```
    /// use tomodachi::options::Options;
    /// use serde_json::json;
    ///
    /// let mut options = Options::default();
    /// options.set("http.port", json!(9999))?;
    /// options.set("http.client_max_size", json!("10M"))?;
    /// options.set("amqp", json!({"qos": {"global_prefetch_count": 0}}))?;
    /// assert_eq!(options.http.port, 9999);
    /// assert_eq!(options.http.client_max_size, 10 * 1024 * 1024);
    /// assert_eq!(options.amqp.qos.global_prefetch_count, 0);
    /// assert!(options.set("http.port", json!(true)).is_err());
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), OptionsError> {
        let mut next = self.clone();
        next.merge_key(key, &value, &mut Written::default())?;
        *self = next;
        Ok(())
    }

    /// Chainable [`Options::set`].
    ///
    /// ```
    /// use tomodachi::options::Options;
    ///
    /// let options = Options::default().with("http.port", 0)?.with("http.access_log", false)?;
    /// assert_eq!(options.http.port, 0);
    /// assert!(!options.http.access_log.is_enabled());
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Result<Self, OptionsError> {
        self.set(key, value.into())?;
        Ok(self)
    }

    /// Merges a JSON object into the options, key by key; keys it does not name keep their
    /// current values. On error the options are left unchanged.
    ///
    /// Accepted forms: nested sections (`{"http": {"port": 1}}`), dotted keys at any level
    /// (`{"http.port": 1}`, `{"amqp": {"qos.queue_prefetch_count": 4711}}`), mixtures (applied in
    /// the object's order), and the legacy aliases: top-level `aws.*` keys, aliases inside
    /// `aws_sns_sqs` (e.g. `endpoint_url` sets `aws_endpoint_urls.sns|sqs|sts`),
    /// `http.keepalive_expiry` and `http.max_buffer_size` / `http.max_upload_size`.
    ///
    /// Unknown keys, wrong JSON types and invalid values are errors naming the dotted key.
    /// Cross-option rules (keep-alive) are checked separately by [`Options::validate`].
    ///
    /// ```
    /// use tomodachi::options::Options;
    /// use serde_json::json;
    ///
    /// let mut options = Options::default();
    /// options.merge_json(&json!({"http.port": 555, "http": {"keepalive_timeout": 5}}))?;
    /// options.merge_json(&json!({"aws": {"region_name": "eu-west-1"}}))?;
    /// assert_eq!((options.http.port, options.http.keepalive_timeout), (555, 5.0));
    /// assert_eq!(options.aws_sns_sqs.region_name.as_deref(), Some("eu-west-1"));
    ///
    /// let err = options.merge_json(&json!({"http": {"prot": 1}})).unwrap_err();
    /// assert!(err.to_string().starts_with("option 'http.prot' is not a known option"));
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn merge_json(&mut self, value: &Value) -> Result<(), OptionsError> {
        self.merge_mapping(value, Written::default())
    }

    /// [`Options::merge_json`] of several config files merged together: an option given by
    /// two files (once dotted, once nested) is no conflict there, the later file's value wins
    /// (each file was checked on its own when it was loaded).
    pub(crate) fn merge_merged_files(&mut self, value: &Value) -> Result<(), OptionsError> {
        self.merge_mapping(value, Written::lenient())
    }

    fn merge_mapping(&mut self, value: &Value, mut written: Written) -> Result<(), OptionsError> {
        let mut next = self.clone();
        next.merge_key("", value, &mut written)?;
        *self = next;
        Ok(())
    }

    /// Checks rules that involve several options or that struct literals can break; the runtime
    /// calls this at start-up, after all merging is done.
    ///
    /// * `http.client_max_size` must be within 1024 ..= 1 GiB (upstream `Too low value …` /
    ///   `Too high value …` texts);
    /// * `http.keepalive_timeout` and `http.max_keepalive_time` must be finite and ≥ 0;
    /// * a non-zero `http.max_keepalive_requests` or `http.max_keepalive_time` requires
    ///   `http.keepalive_timeout > 0` (`HTTP keep-alive must be enabled to use http option
    ///   max_keepalive_requests - a http.keepalive_timeout option value is required`).
    ///
    /// ```
    /// use tomodachi::options::Options;
    ///
    /// let options = Options::default().with("http.max_keepalive_requests", 3)?;
    /// assert!(options.validate().is_err());
    /// assert!(options.with("http.keepalive_timeout", 5)?.validate().is_ok());
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn validate(&self) -> Result<(), OptionsError> {
        self.http.validate()
    }

    /// Every option as `(dotted key, JSON value)` in upstream `asdict()` order.
    pub fn flat_entries(&self) -> Vec<(String, Value)> {
        let mut out = Vec::with_capacity(48);
        let mut push = |section: &str, entries: Vec<(&'static str, Value)>| {
            out.extend(
                entries
                    .into_iter()
                    .map(|(k, v)| (format!("{section}.{k}"), v)),
            );
        };
        push("http", self.http.entries());
        push("aws_sns_sqs", self.aws_sns_sqs.entries());
        push("aws_endpoint_urls", self.aws_endpoint_urls.entries());
        push("amqp", self.amqp.entries());
        push("amqp.qos", self.amqp.qos.entries());
        push("watcher", self.watcher.entries());
        push("logging", self.logging.entries());
        push("envelope", self.envelope.entries());
        for name in sections::names() {
            if let Some(section) = self.registered.section(&name) {
                out.extend(section.into_iter().map(|(k, v)| (format!("{name}.{k}"), v)));
            }
        }
        out
    }

    /// A section registered by a transport outside this crate ([`register_section`]): its
    /// defaults with the values set over them; `None` when no section `name` is registered.
    ///
    /// ```
    /// use serde_json::json;
    /// use tomodachi::options::{register_section, Options};
    ///
    /// register_section("example_bus", json!({"url": "bus://localhost", "retries": 3}))?;
    /// let options = Options::default().with("example_bus.retries", 5)?;
    /// let section = options.section("example_bus").unwrap();
    /// assert_eq!((section["url"].as_str(), section["retries"].as_u64()), (Some("bus://localhost"), Some(5)));
    /// assert!(options.section("not_registered").is_none());
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn section(&self, name: &str) -> Option<Map<String, Value>> {
        self.registered.section(name)
    }

    /// [`Options::section`] deserialized into the transport's own type; an unregistered section
    /// or a value the type does not accept is an error naming the section.
    ///
    /// ```
    /// use serde_json::json;
    /// use tomodachi::options::{register_section, Options};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct BusOptions { url: String, retries: u32 }
    ///
    /// register_section("example_typed_bus", json!({"url": "bus://localhost", "retries": 3}))?;
    /// let bus: BusOptions = Options::default().section_as("example_typed_bus")?;
    /// assert_eq!((bus.url.as_str(), bus.retries), ("bus://localhost", 3));
    /// # Ok::<(), tomodachi::options::OptionsError>(())
    /// ```
    pub fn section_as<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<T, OptionsError> {
        let section = self.section(name).ok_or_else(|| unknown_key(name))?;
        serde_json::from_value(Value::Object(section)).map_err(|e| OptionsError::InvalidValue {
            key: name.to_owned(),
            message: format!("invalid options in section '{name}': {e}"),
        })
    }

    /// The flattened dotted mapping, like upstream `asdict()` (same keys, order and values, e.g.
    /// `"http.access_log": true`, `"http.max_keepalive_time": null`). The order is preserved when
    /// `serde_json`'s `preserve_order` feature is on; [`Options::flat_entries`] is ordered always.
    ///
    /// ```
    /// use tomodachi::options::Options;
    /// use serde_json::Value;
    ///
    /// let flat = Options::default().to_flat_map();
    /// assert_eq!(flat.len(), 48); // upstream's 43 and this port's 5
    /// assert_eq!(flat["http.access_log"], true);
    /// assert_eq!(flat["http.max_keepalive_time"], Value::Null);
    /// ```
    pub fn to_flat_map(&self) -> Map<String, Value> {
        self.flat_entries().into_iter().collect()
    }

    /// All options as nested JSON (`{"http": {"port": 9700, …}, …, "amqp": {…, "qos": {…}}, …}`);
    /// [`Options::merge_json`] of this value into any options reproduces `self`.
    pub fn to_json(&self) -> Value {
        Value::Object(nest(
            self.flat_entries()
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone())),
        ))
    }

    /// Writes `value` at the (possibly dotted, possibly aliased) key `full`.
    fn merge_key(
        &mut self,
        full: &str,
        value: &Value,
        written: &mut Written,
    ) -> Result<(), OptionsError> {
        if let Some((section, key)) = full.split_once('.') {
            if sections::defaults(section).is_some() {
                written.check(full, value)?;
                return self.registered.set(section, key, full, value);
            }
        }
        if section_keys(full).is_some() || sections::defaults(full).is_some() {
            let Value::Object(map) = value else {
                return Err(value::type_error(
                    full,
                    "a JSON object (option section)",
                    value,
                ));
            };
            return self.merge_children(full, map, written);
        }
        if is_leaf(full) {
            written.check(full, value)?;
            return self.set_leaf(full, value);
        }
        if let Some(targets) = aliases::targets(full) {
            for target in targets {
                self.merge_key(target, value, written)
                    .map_err(|e| e.with_key(full))?;
            }
            return Ok(());
        }
        if let Value::Object(map) = value {
            if !aliases::children(full).is_empty() {
                return self.merge_children(full, map, written);
            }
        }
        Err(unknown_key(full))
    }

    fn merge_children(
        &mut self,
        prefix: &str,
        map: &Map<String, Value>,
        written: &mut Written,
    ) -> Result<(), OptionsError> {
        for (key, value) in map {
            if key.is_empty() {
                return Err(unknown_key(&join(prefix, key)));
            }
            self.merge_key(&join(prefix, key), value, written)?;
        }
        Ok(())
    }

    /// Writes a canonical leaf key.
    fn set_leaf(&mut self, full: &str, value: &Value) -> Result<(), OptionsError> {
        let Some((section, key)) = full.rsplit_once('.') else {
            return Err(unknown_key(full));
        };
        match section {
            "http" => self.http.set_key(key, full, value),
            "aws_sns_sqs" => self.aws_sns_sqs.set_key(key, full, value),
            "aws_endpoint_urls" => self.aws_endpoint_urls.set_key(key, full, value),
            "amqp" => self.amqp.set_key(key, full, value),
            "amqp.qos" => self.amqp.qos.set_key(key, full, value),
            "watcher" => self.watcher.set_key(key, full, value),
            "logging" => self.logging.set_key(key, full, value),
            "envelope" => self.envelope.set_key(key, full, value),
            _ => Err(unknown_key(full)),
        }
    }
}
