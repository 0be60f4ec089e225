//! `options.http.*` – the HTTP transport options.

use std::path::PathBuf;

use serde_json::Value;

use super::error::OptionsError;
use super::value;

/// Default `client_max_size`: 100 MiB.
pub const DEFAULT_CLIENT_MAX_SIZE: u64 = 100 * 1024 * 1024;

/// Smallest accepted `client_max_size` (1 KiB).
const MIN_CLIENT_MAX_SIZE: u64 = 1024;

/// Largest accepted `client_max_size` (1 GiB).
const MAX_CLIENT_MAX_SIZE: u64 = 1024 * 1024 * 1024;

/// Where HTTP access log lines go (`options.http.access_log`).
///
/// In JSON: `true` → [`AccessLog::Enabled`], `false`/`null`/`""` → [`AccessLog::Disabled`],
/// any other string → [`AccessLog::File`].
///
/// ```
/// use tomodachi::options::{AccessLog, Options};
///
/// let mut options = Options::default();
/// assert_eq!(options.http.access_log, AccessLog::Enabled);
/// options.set("http.access_log", "/var/log/access.log".into()).unwrap();
/// assert_eq!(options.http.access_log, AccessLog::File("/var/log/access.log".into()));
/// assert_eq!(options.get("http.access_log").unwrap(), "/var/log/access.log");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AccessLog {
    /// No access log.
    Disabled,
    /// Access log through the regular logger (upstream default).
    #[default]
    Enabled,
    /// Access log lines are (also) appended to this file.
    File(PathBuf),
}

impl AccessLog {
    /// Whether access logging is on (`Enabled` or `File`).
    pub fn is_enabled(&self) -> bool {
        !matches!(self, Self::Disabled)
    }

    /// The JSON form: `true`, `false` or the path as a string.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Disabled => Value::Bool(false),
            Self::Enabled => Value::Bool(true),
            Self::File(path) => Value::String(path.to_string_lossy().into_owned()),
        }
    }

    fn from_json(key: &str, value: &Value) -> Result<Self, OptionsError> {
        match value {
            Value::Bool(true) => Ok(Self::Enabled),
            Value::Bool(false) | Value::Null => Ok(Self::Disabled),
            Value::String(s) if s.is_empty() => Ok(Self::Disabled),
            Value::String(s) => Ok(Self::File(PathBuf::from(s))),
            other => Err(value::type_error(
                key,
                "a boolean or a file path string",
                other,
            )),
        }
    }
}

/// `options.http.*` – settings of the HTTP server.
///
/// `Default` gives the upstream defaults.
///
/// ```
/// use tomodachi::options::{HttpOptions, Options};
///
/// let options = Options {
///     http: HttpOptions { port: 8080, keepalive_timeout: 5.0, ..Default::default() },
///     ..Default::default()
/// };
/// assert_eq!(options.http.port, 8080);
/// assert_eq!(options.http.server_header, "tomodachi");
/// assert_eq!(options.http.client_max_size, 104_857_600);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Port to listen on; `0` (JSON `null` or `0`) lets the OS assign one. Default `9700`.
    pub port: u16,
    /// Host / interface to bind. Default `"0.0.0.0"` (JSON `null` also means `"0.0.0.0"`).
    pub host: String,
    /// Set `SO_REUSEPORT`. Default `true` on Linux, `false` elsewhere (where it is ignored).
    pub reuse_port: bool,
    /// Default response content type. Default `"text/plain; charset=utf-8"`.
    pub content_type: String,
    /// Charset used when `content_type` has none. Default `"utf-8"`.
    pub charset: String,
    /// Largest accepted request body in bytes, 1024 ..= 1 GiB. Default `104857600` (100 MiB).
    ///
    /// In JSON an integer or a string such as `"10M"` (see [`parse_client_max_size`]); legacy
    /// input aliases `max_buffer_size` and `max_upload_size`.
    pub client_max_size: u64,
    /// Seconds to wait for active requests on shutdown. Default `30` (JSON `null` → `30`;
    /// upstream treats `0` like `30` as well).
    pub termination_grace_period_seconds: u64,
    /// Access log target. Default [`AccessLog::Enabled`].
    pub access_log: AccessLog,
    /// Trusted proxy networks (CIDR or address) whose `real_ip_header` is believed.
    /// Default empty. In JSON a string or a list of strings (`""`/`null` → empty).
    pub real_ip_from: Vec<String>,
    /// Header carrying the client address behind a trusted proxy. Default `"X-Forwarded-For"`.
    pub real_ip_header: String,
    /// Keep-alive idle timeout in seconds; `0` disables keep-alive (default).
    ///
    /// JSON `null`/`false` → `0`; `true` is an error. `keepalive_expiry` is an alias
    /// (input and output) of this field.
    pub keepalive_timeout: f64,
    /// Close a keep-alive connection once it is older than this many seconds
    /// (`None`/`0` = unlimited). Requires keep-alive (see [`Options::validate`](super::Options::validate)).
    pub max_keepalive_time: Option<f64>,
    /// Close a keep-alive connection after this many requests (`None`/`0` = unlimited).
    /// Requires keep-alive (see [`Options::validate`](super::Options::validate)).
    pub max_keepalive_requests: Option<u64>,
    /// Value of the `Server` response header (`""` = none). Default `"tomodachi"`.
    pub server_header: String,
    /// Seconds a client has to send a request head, and then its body (this port's addition;
    /// `0` = no limit). Default `30`. A head not complete in time closes the connection; a body
    /// not complete in time is answered `408 Request Timeout` and the connection is closed.
    pub read_timeout: f64,
    /// Most connections served at once (this port's addition; `0` = no limit). Default
    /// `10000`. At the limit new connections wait in the listen backlog until one closes, and
    /// a warning names the limit.
    pub max_connections: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            port: 9700,
            host: "0.0.0.0".to_string(),
            reuse_port: cfg!(target_os = "linux"),
            content_type: "text/plain; charset=utf-8".to_string(),
            charset: "utf-8".to_string(),
            client_max_size: DEFAULT_CLIENT_MAX_SIZE,
            termination_grace_period_seconds: 30,
            access_log: AccessLog::Enabled,
            real_ip_from: Vec::new(),
            real_ip_header: "X-Forwarded-For".to_string(),
            keepalive_timeout: 0.0,
            max_keepalive_time: None,
            max_keepalive_requests: None,
            server_header: "tomodachi".to_string(),
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Default of [`HttpOptions::read_timeout`]: 30 seconds.
pub const DEFAULT_READ_TIMEOUT: f64 = 30.0;
/// Default of [`HttpOptions::max_connections`]: 10 000.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;

impl HttpOptions {
    /// The keys of the section, in upstream `asdict()` order.
    pub const KEYS: &'static [&'static str] = &[
        "port",
        "host",
        "reuse_port",
        "content_type",
        "charset",
        "client_max_size",
        "termination_grace_period_seconds",
        "access_log",
        "real_ip_from",
        "real_ip_header",
        "keepalive_timeout",
        "keepalive_expiry",
        "max_keepalive_time",
        "max_keepalive_requests",
        "server_header",
        "read_timeout",
        "max_connections",
    ];

    /// Whether HTTP keep-alive is enabled (`keepalive_timeout > 0`).
    pub fn keepalive_enabled(&self) -> bool {
        self.keepalive_timeout > 0.0
    }

    /// The section's values in `asdict()` order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("port", Value::from(self.port)),
            ("host", Value::from(self.host.clone())),
            ("reuse_port", Value::from(self.reuse_port)),
            ("content_type", Value::from(self.content_type.clone())),
            ("charset", Value::from(self.charset.clone())),
            ("client_max_size", Value::from(self.client_max_size)),
            (
                "termination_grace_period_seconds",
                Value::from(self.termination_grace_period_seconds),
            ),
            ("access_log", self.access_log.to_json()),
            ("real_ip_from", Value::from(self.real_ip_from.clone())),
            ("real_ip_header", Value::from(self.real_ip_header.clone())),
            (
                "keepalive_timeout",
                value::number_value(self.keepalive_timeout),
            ),
            (
                "keepalive_expiry",
                value::number_value(self.keepalive_timeout),
            ),
            (
                "max_keepalive_time",
                value::opt_number_value(self.max_keepalive_time),
            ),
            (
                "max_keepalive_requests",
                self.max_keepalive_requests.map_or(Value::Null, Value::from),
            ),
            ("server_header", Value::from(self.server_header.clone())),
            ("read_timeout", value::number_value(self.read_timeout)),
            ("max_connections", Value::from(self.max_connections)),
        ]
    }

    /// Sets one canonical key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        match key {
            "port" => {
                self.port = match v {
                    Value::Null => 0,
                    Value::Bool(true) => return Err(value::bad_value(full, v)),
                    _ => value::u16_value(
                        full,
                        v,
                        "an integer between 0 and 65535 (0 or null = OS-assigned port)",
                    )?,
                }
            }
            "host" => self.host = value::string_or(full, v, "0.0.0.0")?,
            "reuse_port" => self.reuse_port = value::boolean(full, v)?,
            "content_type" => self.content_type = value::string(full, v)?,
            "charset" => self.charset = value::string(full, v)?,
            "client_max_size" => self.client_max_size = client_max_size(full, v)?,
            "termination_grace_period_seconds" => {
                self.termination_grace_period_seconds = match v {
                    Value::Null => 30,
                    _ => value::u64_value(full, v, "a non-negative integer number of seconds")?,
                }
            }
            "access_log" => self.access_log = AccessLog::from_json(full, v)?,
            "real_ip_from" => {
                self.real_ip_from = match v {
                    Value::String(s) if s.is_empty() => Vec::new(),
                    Value::String(s) => vec![s.clone()],
                    Value::Null => Vec::new(),
                    Value::Array(_) => value::string_list(full, v)?,
                    other => {
                        return Err(value::type_error(
                            full,
                            "a string or a list of strings",
                            other,
                        ))
                    }
                }
            }
            "real_ip_header" => self.real_ip_header = value::string_or(full, v, "")?,
            "keepalive_timeout" | "keepalive_expiry" => {
                // Upstream's error names `keepalive_timeout` for both spellings.
                let canonical = full
                    .strip_suffix("keepalive_expiry")
                    .map_or_else(|| full.to_string(), |p| format!("{p}keepalive_timeout"));
                self.keepalive_timeout = value::opt_seconds(&canonical, v)
                    .map_err(|e| e.with_key(full))?
                    .unwrap_or(0.0);
            }
            "max_keepalive_time" => self.max_keepalive_time = value::opt_seconds(full, v)?,
            "max_keepalive_requests" => self.max_keepalive_requests = value::opt_count(full, v)?,
            "server_header" => self.server_header = value::string_or(full, v, "")?,
            "read_timeout" => self.read_timeout = value::opt_seconds(full, v)?.unwrap_or(0.0),
            "max_connections" => {
                self.max_connections = match v {
                    Value::Null => 0,
                    _ => value::u64_value(full, v, "a non-negative integer (0 = no limit)")?,
                }
            }
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }

    /// Checks value ranges that struct-literal construction can violate.
    pub(super) fn validate(&self) -> Result<(), OptionsError> {
        check_client_max_size_range(
            "http.client_max_size",
            self.client_max_size,
            &self.client_max_size.to_string(),
        )?;
        if !self.keepalive_timeout.is_finite() || self.keepalive_timeout < 0.0 {
            return Err(OptionsError::InvalidValue {
                key: "http.keepalive_timeout".to_string(),
                message: format!(
                    "Bad value for http option keepalive_timeout: {}",
                    self.keepalive_timeout
                ),
            });
        }
        if !self.read_timeout.is_finite() || self.read_timeout < 0.0 {
            return Err(OptionsError::InvalidValue {
                key: "http.read_timeout".to_string(),
                message: format!(
                    "Bad value for http option read_timeout: {}",
                    self.read_timeout
                ),
            });
        }
        if !self.keepalive_enabled() {
            if self.max_keepalive_requests.is_some_and(|n| n > 0) {
                return Err(keepalive_required("max_keepalive_requests"));
            }
            if self.max_keepalive_time.is_some_and(|t| t > 0.0) {
                return Err(keepalive_required("max_keepalive_time"));
            }
        }
        if let Some(t) = self.max_keepalive_time {
            if !t.is_finite() || t < 0.0 {
                return Err(OptionsError::InvalidValue {
                    key: "http.max_keepalive_time".to_string(),
                    message: format!("Bad value for http option max_keepalive_time: {t}"),
                });
            }
        }
        Ok(())
    }
}

fn keepalive_required(option: &str) -> OptionsError {
    OptionsError::InvalidValue {
        key: format!("http.{option}"),
        message: format!(
            "HTTP keep-alive must be enabled to use http option {option} - a http.keepalive_timeout option value is required"
        ),
    }
}

/// Parses an `http.client_max_size` value the way upstream does.
///
/// * integer → bytes; `0`, `false`, `null` and `""` → the default 104857600 (100 MiB);
/// * string with suffix `B`, `K`/`KB`, `M`/`MB`, `G`/`GB` (case-insensitive, integer digits only,
///   binary multiples), or digits only;
/// * the result must be ≥ 1024 and ≤ 1 GiB.
///
/// Errors carry upstream's texts: `Bad value for http option client_max_size: <value>`,
/// `Too low value for http option client_max_size: <value> (<value>)` and
/// `Too high value for http option client_max_size: <value> (<value>)`.
///
/// ```
/// use tomodachi::options::parse_client_max_size;
/// use serde_json::json;
///
/// assert_eq!(parse_client_max_size(&json!("10M")).unwrap(), 10 * 1024 * 1024);
/// assert_eq!(parse_client_max_size(&json!(2048)).unwrap(), 2048);
/// assert_eq!(
///     parse_client_max_size(&json!("1000B")).unwrap_err().to_string(),
///     "Too low value for http option client_max_size: 1000B (1000B)"
/// );
/// ```
pub fn parse_client_max_size(value: &Value) -> Result<u64, OptionsError> {
    client_max_size("http.client_max_size", value)
}

fn client_max_size(key: &str, v: &Value) -> Result<u64, OptionsError> {
    let shown = value::py_str(v);
    let bad = || OptionsError::InvalidValue {
        key: key.to_string(),
        message: format!("Bad value for http option client_max_size: {shown}"),
    };
    let bytes: Option<u64> = match v {
        // Falsy values fall back to the default, as upstream.
        Value::Null | Value::Bool(false) => return Ok(DEFAULT_CLIENT_MAX_SIZE),
        // Python's `int(True)` is 1, which is then "too low".
        Value::Bool(true) => Some(1),
        Value::Number(n) => {
            if n.as_u64() == Some(0) || n.as_f64() == Some(0.0) {
                return Ok(DEFAULT_CLIENT_MAX_SIZE);
            }
            if let Some(u) = n.as_u64() {
                Some(u)
            } else {
                match n.as_f64() {
                    // Python's int() truncates floats.
                    Some(f) if f.is_finite() && f > 0.0 => {
                        if f >= u64::MAX as f64 {
                            None
                        } else {
                            Some(f.trunc() as u64)
                        }
                    }
                    _ => return Err(bad()),
                }
            }
        }
        Value::String(s) if s.is_empty() => return Ok(DEFAULT_CLIENT_MAX_SIZE),
        Value::String(s) => parse_size_string(s).map_err(|()| bad())?,
        other => {
            return Err(value::type_error(
                key,
                "an integer number of bytes or a size string such as \"100M\"",
                other,
            ))
        }
    };
    // `None` here means the value overflowed u64, which is certainly too high.
    let bytes = bytes.unwrap_or(u64::MAX);
    check_client_max_size_range(key, bytes, &shown)?;
    Ok(bytes)
}

fn check_client_max_size_range(key: &str, bytes: u64, shown: &str) -> Result<(), OptionsError> {
    if bytes < MIN_CLIENT_MAX_SIZE {
        return Err(OptionsError::InvalidValue {
            key: key.to_string(),
            message: format!("Too low value for http option client_max_size: {shown} ({shown})"),
        });
    }
    if bytes > MAX_CLIENT_MAX_SIZE {
        return Err(OptionsError::InvalidValue {
            key: key.to_string(),
            message: format!("Too high value for http option client_max_size: {shown} ({shown})"),
        });
    }
    Ok(())
}

/// Parses `"<digits>[B|K|KB|M|MB|G|GB]"` (case-insensitive).
///
/// Returns `Err(())` for malformed input and `Ok(None)` when the number overflows u64.
fn parse_size_string(s: &str) -> Result<Option<u64>, ()> {
    let upper = s.to_ascii_uppercase();
    let (digits, multiplier): (&str, u64) =
        if let Some(d) = upper.strip_suffix("GB").or_else(|| upper.strip_suffix('G')) {
            (d, 1024 * 1024 * 1024)
        } else if let Some(d) = upper.strip_suffix("MB").or_else(|| upper.strip_suffix('M')) {
            (d, 1024 * 1024)
        } else if let Some(d) = upper.strip_suffix("KB").or_else(|| upper.strip_suffix('K')) {
            (d, 1024)
        } else if let Some(d) = upper.strip_suffix('B') {
            (d, 1)
        } else {
            (upper.as_str(), 1)
        };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    // Digits only, so a parse failure can only be an overflow.
    Ok(digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier)))
}
