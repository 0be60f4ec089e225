//! Config files (`tomodachi run -c <file> …`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::ConfigError;
use super::value::describe;
use super::Options;

/// The merged contents of one or more JSON config files.
///
/// The top level is an object; `options` (a mapping of service options), `uuid` and any custom
/// attributes are read from it.
///
/// ```
/// use tomodachi::options::{ConfigFile, Options};
///
/// let config = ConfigFile::from_json_str(
///     "service.json",
///     r#"{"options": {"http": {"port": 4711}}, "uuid": "21a24416", "team": "core"}"#,
/// )?;
/// assert_eq!(config.uuid(), Some("21a24416"));
/// assert_eq!(config.get("team").and_then(|v| v.as_str()), Some("core"));
///
/// let mut options = Options::default();
/// config.apply_to(&mut options)?;
/// assert_eq!(options.http.port, 4711);
/// # Ok::<(), tomodachi::options::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigFile {
    values: Map<String, Value>,
    paths: Vec<PathBuf>,
}

/// Reads the JSON config files in order and merges them (see [`merge_json_values`]: later
/// scalars win, lists are concatenated, objects are merged recursively).
///
/// Each file's `options` section is validated on its own (merged into default [`Options`]), so
/// a bad key or value is reported with the file and the dotted key, e.g.
/// `Invalid config file app.json: option 'http.prot' is not a known option (valid keys in 'http': port, …)`.
/// An empty `paths` gives an empty [`ConfigFile`].
///
/// ```no_run
/// use tomodachi::options::{load_config_files, Options};
///
/// let config = load_config_files(&["base.json", "production.json"])?;
/// let mut options = Options::default();
/// config.apply_to(&mut options)?;
/// # Ok::<(), tomodachi::options::ConfigError>(())
/// ```
pub fn load_config_files<P: AsRef<Path>>(paths: &[P]) -> Result<ConfigFile, ConfigError> {
    let mut merged = ConfigFile::default();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file = ConfigFile::from_json_slice(path, &bytes)?;
        merged.merge(file);
    }
    Ok(merged)
}

/// Merges `other` into `base` with upstream's `merge_dicts` rule, used both between config files
/// and when applying config values to service attributes:
///
/// * objects are merged key by key; for each key of `other`, if the value in `base` is missing
///   or falsy (`null`, `false`, `0`, `""`, `[]`, `{}`) it is set;
/// * list + list → concatenation;
/// * object + object → recursive merge;
/// * otherwise the value from `other` replaces the one in `base`.
///
/// ```
/// use tomodachi::options::merge_json_values;
/// use serde_json::json;
///
/// let mut base = json!({"list": [1, 3, 5], "n": 100, "map": {"a": true}});
/// merge_json_values(&mut base, &json!({"list": [2, 10], "n": 200, "map": {"b": 1}}));
/// assert_eq!(base, json!({"list": [1, 3, 5, 2, 10], "n": 200, "map": {"a": true, "b": 1}}));
/// ```
pub fn merge_json_values(base: &mut Value, other: &Value) {
    if !is_truthy(base) {
        *base = other.clone();
        return;
    }
    match (base, other) {
        (Value::Array(a), Value::Array(b)) => a.extend(b.iter().cloned()),
        (Value::Object(a), Value::Object(b)) => merge_maps(a, b),
        (base, other) => *base = other.clone(),
    }
}

fn merge_maps(base: &mut Map<String, Value>, other: &Map<String, Value>) {
    for (key, value) in other {
        match base.get_mut(key) {
            Some(existing) => merge_json_values(existing, value),
            None => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Python truthiness of a JSON value.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

impl ConfigFile {
    /// Parses and validates one config file's text; `path` is used in error messages and
    /// recorded in [`ConfigFile::paths`].
    pub fn from_json_str(path: impl AsRef<Path>, text: &str) -> Result<Self, ConfigError> {
        Self::from_json_slice(path.as_ref(), text.as_bytes())
    }

    fn from_json_slice(path: &Path, bytes: &[u8]) -> Result<Self, ConfigError> {
        let parsed: Value = serde_json::from_slice(bytes).map_err(|source| ConfigError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let Value::Object(values) = parsed else {
            return Err(ConfigError::NotAnObject {
                path: path.to_path_buf(),
                got: describe(&parsed),
            });
        };
        if let Some(options) = values.get("options") {
            if !options.is_object() {
                return Err(ConfigError::OptionsNotAnObject {
                    path: path.to_path_buf(),
                    got: describe(options),
                });
            }
            Options::from_json(options).map_err(|source| ConfigError::InvalidOptions {
                path: Some(path.to_path_buf()),
                source,
            })?;
        }
        Ok(Self {
            values,
            paths: vec![path.to_path_buf()],
        })
    }

    /// Merges a later config file into this one (see [`merge_json_values`]).
    pub fn merge(&mut self, later: ConfigFile) {
        merge_maps(&mut self.values, &later.values);
        self.paths.extend(later.paths);
    }

    /// The merged top-level object.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// Consumes the config, returning the merged top-level object.
    pub fn into_values(self) -> Map<String, Value> {
        self.values
    }

    /// The files this config was read from, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Whether no top-level keys were read.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Merges the top-level keys other than `options` and `uuid` (a service's custom
    /// attributes) into `attributes` with upstream's rule ([`merge_json_values`]).
    ///
    /// ```
    /// use serde_json::{json, Map};
    /// let config = tomodachi::options::ConfigFile::from_json_str(
    ///     "c.json", r#"{"uuid": "u", "tags": ["b"], "limits": {"x": 2}, "name": "cfg"}"#).unwrap();
    /// let mut attributes: Map<String, serde_json::Value> =
    ///     serde_json::from_value(json!({"tags": ["a"], "limits": {"y": 1}, "name": ""})).unwrap();
    /// config.merge_attributes_into(&mut attributes);
    /// assert_eq!(serde_json::Value::Object(attributes),
    ///     json!({"tags": ["a", "b"], "limits": {"y": 1, "x": 2}, "name": "cfg"}));
    /// ```
    pub fn merge_attributes_into(&self, attributes: &mut Map<String, Value>) {
        for (key, value) in &self.values {
            if key == "options" || key == "uuid" {
                continue;
            }
            match attributes.get_mut(key) {
                Some(existing) => merge_json_values(existing, value),
                None => {
                    attributes.insert(key.clone(), value.clone());
                }
            }
        }
    }

    /// The merged `options` section, if any (always an object after loading).
    pub fn options(&self) -> Option<&Value> {
        self.values.get("options")
    }

    /// The `uuid` value, if present and a string.
    pub fn uuid(&self) -> Option<&str> {
        self.values.get("uuid").and_then(Value::as_str)
    }

    /// A top-level value (custom attribute) by name; if no top-level key has exactly that name
    /// and it contains dots, it is looked up as a path through nested objects
    /// (`"options.http.port"`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        if let Some(value) = self.values.get(key) {
            return Some(value);
        }
        let mut parts = key.split('.');
        let first = parts.next()?;
        let mut node = self.values.get(first)?;
        for part in parts {
            node = node.as_object()?.get(part)?;
        }
        Some(node)
    }

    /// Merges the `options` section into `options` key by key (keys the files do not name keep
    /// their current values – upstream replaces the whole options object instead).
    pub fn apply_to(&self, options: &mut Options) -> Result<(), ConfigError> {
        let Some(section) = self.options() else {
            return Ok(());
        };
        options
            .merge_merged_files(section)
            .map_err(|source| ConfigError::InvalidOptions {
                // Name the file when there is only one candidate.
                path: match self.paths.as_slice() {
                    [only] => Some(only.clone()),
                    _ => None,
                },
                source,
            })
    }

    /// Default [`Options`] with the `options` section applied.
    pub fn to_options(&self) -> Result<Options, ConfigError> {
        let mut options = Options::default();
        self.apply_to(&mut options)?;
        Ok(options)
    }
}
