//! The CLI's own log records (watcher and process messages), written to stderr in the same
//! format the services use (`--logger console|json|python|disabled`), so they interleave
//! cleanly with the services' own lines.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};

use crate::args::{LogFormat, LogLevel};

/// A field value: printed bare (strings) or Python-repr'd (lists, numbers), as the console
/// logger of the services does.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, printed bare.
    Str(String),
    /// A list of strings, `['a', 'b']`.
    List(Vec<String>),
    /// An integer.
    Int(i64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::List(v)
    }
}

const RESET: &str = "\x1b[0m";
const BRIGHT: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

/// Whether upstream's environment switches allow colours: off when any of `NO_COLOR`,
/// `NOCOLOR`, `TOMODACHI_NO_COLOR`, `TOMODACHI_NOCOLOR` is `1`/`true`, or any of `CLICOLOR`,
/// `CLI_COLOR`, `CLICOLOR_FORCE` is `0`/`false`.
pub fn color_allowed_by(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let is = |name: &str, a: &str, b: &str| {
        env(name).is_some_and(|v| v.eq_ignore_ascii_case(a) || v.eq_ignore_ascii_case(b))
    };
    let off = [
        "NO_COLOR",
        "NOCOLOR",
        "TOMODACHI_NO_COLOR",
        "TOMODACHI_NOCOLOR",
    ]
    .iter()
    .any(|n| is(n, "1", "true"))
        || ["CLICOLOR", "CLI_COLOR", "CLICOLOR_FORCE"]
            .iter()
            .any(|n| is(n, "0", "false"));
    !off
}

/// Colours for a stream: allowed by the environment, and a terminal or `CLICOLOR_FORCE` set
/// (the rule the services' console logger follows).
pub fn color_for(env: &dyn Fn(&str) -> Option<String>, is_terminal: bool) -> bool {
    color_allowed_by(env) && (is_terminal || env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty()))
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds).
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Writes the CLI's records.
#[derive(Debug, Clone)]
pub struct Logger {
    format: LogFormat,
    min: LogLevel,
    color: bool,
}

impl Logger {
    /// A logger with the services' format and level; colours per environment and terminal.
    pub fn new(format: LogFormat, min: LogLevel) -> Self {
        let env = |k: &str| std::env::var(k).ok();
        Self {
            format,
            min,
            color: color_for(&env, std::io::stderr().is_terminal()),
        }
    }

    /// Writes one record to stderr (unless below the level or the format is `disabled`).
    pub fn log(&self, level: LogLevel, logger: &str, message: &str, fields: &[(&str, Value)]) {
        if let Some(line) = self.render(chrono::Utc::now(), level, logger, message, fields) {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(line.as_bytes());
            let _ = err.flush();
        }
    }

    /// `info` record.
    pub fn info(&self, logger: &str, message: &str, fields: &[(&str, Value)]) {
        self.log(LogLevel::Info, logger, message, fields);
    }

    /// `warning` record.
    pub fn warning(&self, logger: &str, message: &str, fields: &[(&str, Value)]) {
        self.log(LogLevel::Warning, logger, message, fields);
    }

    /// `error` record.
    pub fn error(&self, logger: &str, message: &str, fields: &[(&str, Value)]) {
        self.log(LogLevel::Error, logger, message, fields);
    }

    /// The text of one record (with its trailing newline), or `None` when it is filtered out.
    pub fn render(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        level: LogLevel,
        logger: &str,
        message: &str,
        fields: &[(&str, Value)],
    ) -> Option<String> {
        if level < self.min {
            return None;
        }
        let ts = timestamp(now);
        let name = level.as_str();
        let mut out = String::new();
        match self.format {
            LogFormat::Disabled => return None,
            LogFormat::Json => {
                out.push('{');
                let _ = write!(
                    out,
                    "\"timestamp\": {}, \"logger\": {}, \"level\": {}, \"message\": {}",
                    json(&ts),
                    json(logger),
                    json(name),
                    json(message)
                );
                for (k, v) in fields {
                    let value = match v {
                        Value::Str(s) => json(s),
                        Value::Int(i) => i.to_string(),
                        Value::List(l) => format!(
                            "[{}]",
                            l.iter().map(|s| json(s)).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    let _ = write!(out, ", {}: {value}", json(k));
                }
                out.push_str("}\n");
            }
            LogFormat::Python => {
                let _ = writeln!(out, "{ts} [{name:<9}] {message:<30} [{logger}]");
            }
            LogFormat::Console => {
                let c = |code: &'static str| if self.color { code } else { "" };
                let level_color = match level {
                    LogLevel::Error | LogLevel::Critical => RED,
                    LogLevel::Warning => YELLOW,
                    _ => GREEN,
                };
                let _ = write!(
                    out,
                    "{}{ts}{} [{}{}{name:<9}{}] {}{}{}",
                    c(DIM),
                    c(RESET),
                    c(level_color),
                    c(BRIGHT),
                    c(RESET),
                    c(BRIGHT),
                    if fields.is_empty() {
                        message.to_owned()
                    } else {
                        format!("{message:<30}")
                    },
                    c(RESET),
                );
                let _ = write!(out, " [{}{}{logger}{}]", c(BRIGHT), c(BLUE), c(RESET));
                for (k, v) in fields {
                    let value = match v {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::List(l) => format!(
                            "[{}]",
                            l.iter()
                                .map(|s| format!(
                                    "'{}'",
                                    s.replace('\\', "\\\\").replace('\'', "\\'")
                                ))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    let _ = write!(
                        out,
                        " {}{k}{}={}{value}{}",
                        c(CYAN),
                        c(RESET),
                        c(MAGENTA),
                        c(RESET)
                    );
                }
                out.push('\n');
            }
        }
        Some(out)
    }
}

/// A JSON string literal, ASCII-escaped like Python's `json.dumps`.
fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_795_000_000, 123_456_000).unwrap()
    }

    fn logger(format: LogFormat) -> Logger {
        Logger {
            format,
            min: LogLevel::Info,
            color: false,
        }
    }

    #[test]
    fn console_layout() {
        let line = logger(LogFormat::Console)
            .render(
                at(),
                LogLevel::Warning,
                "tomodachi.watcher",
                "updated files",
                &[("updated_files", vec!["./svc.rs".to_owned()].into())],
            )
            .unwrap();
        assert_eq!(
            line,
            "2026-11-18T11:06:40.123456Z [warning  ] updated files                  [tomodachi.watcher] updated_files=['./svc.rs']\n"
        );
        let line = logger(LogFormat::Console)
            .render(
                at(),
                LogLevel::Info,
                "tomodachi.cli",
                "restarting services",
                &[],
            )
            .unwrap();
        assert!(
            line.ends_with("[info     ] restarting services [tomodachi.cli]\n"),
            "{line}"
        );
    }

    #[test]
    fn json_python_disabled_and_levels() {
        let line = logger(LogFormat::Json)
            .render(
                at(),
                LogLevel::Error,
                "tomodachi.watcher",
                "restart failed due to error",
                &[
                    ("exit_code", 1.into()),
                    ("files", vec!["./ä.rs".to_owned()].into()),
                ],
            )
            .unwrap();
        assert_eq!(
            line,
            "{\"timestamp\": \"2026-11-18T11:06:40.123456Z\", \"logger\": \"tomodachi.watcher\", \"level\": \"error\", \"message\": \"restart failed due to error\", \"exit_code\": 1, \"files\": [\"./\\u00e4.rs\"]}\n"
        );
        let line = logger(LogFormat::Python)
            .render(
                at(),
                LogLevel::Info,
                "tomodachi.cli",
                "x",
                &[("a", "b".into())],
            )
            .unwrap();
        assert_eq!(
            line,
            format!(
                "2026-11-18T11:06:40.123456Z [info     ] {:<30} [tomodachi.cli]\n",
                "x"
            )
        );
        assert!(logger(LogFormat::Disabled)
            .render(at(), LogLevel::Error, "x", "y", &[])
            .is_none());
        assert!(logger(LogFormat::Console)
            .render(at(), LogLevel::Debug, "x", "y", &[])
            .is_none());
    }

    #[test]
    fn colour_switches() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(color_for(&env(&[]), true));
        assert!(!color_for(&env(&[]), false));
        assert!(!color_for(&env(&[("NO_COLOR", "1")]), true));
        assert!(!color_for(&env(&[("TOMODACHI_NOCOLOR", "TRUE")]), true));
        assert!(!color_for(&env(&[("CLICOLOR", "0")]), true));
        assert!(color_for(&env(&[("CLICOLOR_FORCE", "1")]), false));
    }
}
