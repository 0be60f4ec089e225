//! Error types for option handling and config files.

use std::fmt;
use std::path::PathBuf;

/// An error raised while reading, setting, merging or validating [`Options`](super::Options).
///
/// Every variant names the full dotted key it concerns (see [`OptionsError::key`]).
///
/// ```
/// use tomodachi::options::{Options, OptionsError};
///
/// let mut options = Options::default();
/// let err = options.set("http.prot", 8080.into()).unwrap_err();
/// assert!(matches!(err, OptionsError::UnknownKey { .. }));
/// assert_eq!(err.key(), "http.prot");
/// assert!(err.to_string().starts_with("option 'http.prot' is not a known option (valid keys in 'http': port, host,"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    /// The key does not name an option, an option section or a legacy alias.
    UnknownKey {
        /// The full dotted key as given (e.g. `http.prot`).
        key: String,
        /// The deepest known section the key lives in (`""` for the top level).
        section: String,
        /// The valid keys of that section, in definition order.
        valid_keys: Vec<String>,
    },
    /// The value has a JSON type the option cannot take.
    InvalidType {
        /// The full dotted key as given.
        key: String,
        /// A description of what the option accepts.
        expected: &'static str,
        /// A description of the value that was given.
        got: String,
    },
    /// The value has an acceptable type but is out of range or otherwise invalid.
    ///
    /// The message uses the upstream wording where upstream has one (e.g.
    /// `Too low value for http option client_max_size: 12 (12)`) and always names the option.
    InvalidValue {
        /// The full dotted key as given.
        key: String,
        /// The complete, human readable message.
        message: String,
    },
}

impl OptionsError {
    /// The full dotted key the error concerns.
    pub fn key(&self) -> &str {
        match self {
            Self::UnknownKey { key, .. }
            | Self::InvalidType { key, .. }
            | Self::InvalidValue { key, .. } => key,
        }
    }

    /// Replaces the key (used when a legacy alias was given, so the error names the user's key).
    pub(super) fn with_key(mut self, new_key: &str) -> Self {
        match &mut self {
            Self::UnknownKey { key, .. }
            | Self::InvalidType { key, .. }
            | Self::InvalidValue { key, .. } => *key = new_key.to_string(),
        }
        self
    }
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey {
                key,
                section,
                valid_keys,
            } => {
                if section.is_empty() {
                    write!(
                        f,
                        "option '{key}' is not a known option (valid top-level keys: {})",
                        valid_keys.join(", ")
                    )
                } else {
                    write!(
                        f,
                        "option '{key}' is not a known option (valid keys in '{section}': {})",
                        valid_keys.join(", ")
                    )
                }
            }
            Self::InvalidType { key, expected, got } => {
                if key.is_empty() {
                    write!(f, "invalid options value: expected {expected}, got {got}")
                } else {
                    write!(
                        f,
                        "invalid type for option '{key}': expected {expected}, got {got}"
                    )
                }
            }
            Self::InvalidValue { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for OptionsError {}

/// An error raised while loading config files (`-c` / `--config`) or applying them to options.
///
/// Every variant that concerns a file names it.
///
/// ```
/// use tomodachi::options::{load_config_files, ConfigError};
///
/// let err = load_config_files(&["/nonexistent/tomodachi.json"]).unwrap_err();
/// assert!(matches!(err, ConfigError::Io { .. }));
/// assert!(err.to_string().starts_with("Invalid config file: /nonexistent/tomodachi.json: "));
/// ```
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be opened or read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    Json {
        /// The file.
        path: PathBuf,
        /// The parser error (carries line and column).
        source: serde_json::Error,
    },
    /// The top level of the file is valid JSON but not an object.
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// A description of what was found instead.
        got: String,
    },
    /// The `options` entry of the file is not an object.
    OptionsNotAnObject {
        /// The file.
        path: PathBuf,
        /// A description of what was found instead.
        got: String,
    },
    /// The `options` section has an unknown key or a bad value.
    InvalidOptions {
        /// The file, or `None` when the merged result of several files was applied.
        path: Option<PathBuf>,
        /// The underlying options error (names the dotted key).
        source: OptionsError,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "Invalid config file: {}: {source}", path.display())
            }
            Self::Json { path, source } => write!(
                f,
                "Invalid config file, invalid JSON format: {}: {source}",
                path.display()
            ),
            Self::NotAnObject { path, got } => write!(
                f,
                "Invalid config file {}: the top level must be a JSON object, got {got}",
                path.display()
            ),
            Self::OptionsNotAnObject { path, got } => write!(
                f,
                "Invalid config file {}: 'options' must be a JSON object, got {got}",
                path.display()
            ),
            Self::InvalidOptions {
                path: Some(path),
                source,
            } => write!(f, "Invalid config file {}: {source}", path.display()),
            Self::InvalidOptions { path: None, source } => {
                write!(f, "Invalid options in config files: {source}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Json { source, .. } => Some(source),
            Self::InvalidOptions { source, .. } => Some(source),
            Self::NotAnObject { .. } | Self::OptionsNotAnObject { .. } => None,
        }
    }
}
