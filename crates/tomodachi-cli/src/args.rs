//! The command line, parsed as upstream's: top-level `-h`/`-v`/`--dependency-versions`, then
//! `run` (aliases `start`, `go`) with its options anywhere after it and the services. Errors
//! carry upstream's texts and exit code 2.
//!
//! [`parse`] only splits the arguments; [`RunArgs::resolve`] then combines them with the
//! `TOMODACHI_*` environment variables and validates the values, so a bad value stops the CLI
//! before anything is built.

use std::fmt;
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Usage text, exit 0.
    Help,
    /// `tomodachi <version>`.
    Version,
    /// `name/version` lines.
    DependencyVersions,
    /// Run services.
    Run(RunArgs),
    /// Build one service and print its AsyncAPI or OpenAPI document (`tomodachi asyncapi
    /// <service>`); the options are `run`'s (`-c`, `--release`, `--bin`, `--example`).
    Document(Document, RunArgs),
}

/// Which document `tomodachi asyncapi|openapi` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// `asyncapi`: AsyncAPI 3.0.
    AsyncApi,
    /// `openapi`: OpenAPI 3.1.
    OpenApi,
}

impl Document {
    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::AsyncApi => "asyncapi",
            Self::OpenApi => "openapi",
        }
    }

    /// The service binary's flag that prints the document.
    pub fn flag(self) -> &'static str {
        match self {
            Self::AsyncApi => "--asyncapi",
            Self::OpenApi => "--openapi",
        }
    }
}

/// `tomodachi run` arguments as given (before the environment is consulted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunArgs {
    /// Service files (`.rs`) or Cargo package folders, de-duplicated, in order.
    pub services: Vec<PathBuf>,
    /// `-c` JSON config files, passed to the services.
    pub config: Vec<PathBuf>,
    /// `--production`: no watcher, no banner.
    pub production: bool,
    /// `-l` / `--log` / `--log-level`.
    pub log_level: Option<String>,
    /// `--logger`.
    pub logger: Option<String>,
    /// `--loop`.
    pub loop_: Option<String>,
    /// `--release`: build with the release profile.
    pub release: bool,
    /// `--bin NAME` in a package folder.
    pub bin: Option<String>,
    /// `--example NAME` in a package folder.
    pub example: Option<String>,
    /// `--opentelemetry-instrument`.
    pub opentelemetry_instrument: bool,
}

/// A command-line error: the text to print and exit code 2.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lines every usage error ends with.
const FOOTER: [&str; 5] = [
    "",
    "---",
    "",
    "use the '--help' option for cli usage help.",
    "$ tomodachi --help",
];

/// `error: invalid command or combination of command options.` + `first` + `extra` + footer.
fn command_error(first: &str, extra: &[String]) -> UsageError {
    let mut lines = vec![
        "error: invalid command or combination of command options.".to_owned(),
        first.to_owned(),
    ];
    lines.extend(extra.iter().cloned());
    lines.extend(FOOTER.iter().map(|s| s.to_string()));
    UsageError(lines.join("\n"))
}

/// `error: <message>` + footer (a bad option value).
fn option_error(message: impl fmt::Display) -> UsageError {
    let mut lines = vec![format!("error: {message}")];
    lines.extend(FOOTER.iter().map(|s| s.to_string()));
    UsageError(lines.join("\n"))
}

const RUN_WORDS: &[&str] = &["run", "start", "go"];

/// Options of `run` (anything else starting with `-` is not recognized).
const RUN_OPTIONS: &[&str] = &[
    "-c",
    "--config",
    "--production",
    "-l",
    "--log",
    "--log-level",
    "--logger",
    "--loop",
    "--release",
    "--bin",
    "--example",
    "--opentelemetry-instrument",
];

/// Whether an environment flag value means "on" (upstream: `0`, `no`, `none`, `false` and
/// empty are off).
pub fn env_flag_on(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "no" | "none" | "false"
    )
}

/// Splits `args` (without the program name) into a [`Command`].
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some(first) = args.first() else {
        return Ok(Command::Help);
    };
    match first.as_str() {
        "-h" | "--help" => return Ok(Command::Help),
        "-v" | "-V" | "--version" => return Ok(Command::Version),
        "--dependency-versions" | "--dependencies" | "--deps" => {
            return Ok(Command::DependencyVersions)
        }
        w if RUN_WORDS.contains(&w) => {}
        "asyncapi" | "openapi" => {}
        w if w.starts_with('-') => {
            if RUN_OPTIONS.contains(&w) {
                let mut extra = Vec::new();
                if args.iter().any(|a| a.ends_with(".rs")) {
                    let rest: Vec<&str> = args
                        .iter()
                        .map(String::as_str)
                        .filter(|a| !RUN_WORDS.contains(a))
                        .collect();
                    extra.push(String::new());
                    extra.push("maybe you intended to run something like this?".to_owned());
                    extra.push(format!("$ tomodachi run {}", rest.join(" ")));
                }
                return Err(command_error(
                    "error: the command 'run' must be specified before any options.",
                    &extra,
                ));
            }
            return Err(command_error(
                &format!("error: option {w} not recognized."),
                &[],
            ));
        }
        _ => {
            return Err(command_error(
                "error: the command 'run' must be specified before any service files or options.",
                &[
                    String::new(),
                    "maybe you intended to run something like this?".to_owned(),
                    format!("$ tomodachi run {}", args.join(" ")),
                ],
            ))
        }
    }
    let rest = &args[1..];
    if rest.is_empty() {
        return Ok(Command::Help);
    }
    let document = match first.as_str() {
        "asyncapi" => Some(Document::AsyncApi),
        "openapi" => Some(Document::OpenApi),
        _ => None,
    };
    let mut run = RunArgs::default();
    let mut i = 0;
    let value = |i: &mut usize, name: &str| -> Result<String, UsageError> {
        *i += 1;
        rest.get(*i)
            .filter(|v| !v.starts_with('-'))
            .cloned()
            .ok_or_else(|| option_error(format!("Missing value for {name} option")))
    };
    while i < rest.len() {
        match rest[i].as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-c" | "--config" => {
                let start = i + 1;
                while i + 1 < rest.len() && !rest[i + 1].starts_with('-') {
                    i += 1;
                }
                if start > i {
                    return Err(option_error("Missing config file on command line"));
                }
                for f in &rest[start..=i] {
                    let f = PathBuf::from(f);
                    if !run.config.contains(&f) {
                        run.config.push(f);
                    }
                }
            }
            "--production" => run.production = true,
            "-l" | "--log" | "--log-level" => {
                // upstream silently ignores a trailing `-l` without a value
                if i + 1 < rest.len() {
                    run.log_level = Some(value(&mut i, "--log-level")?);
                }
            }
            "--logger" => run.logger = Some(value(&mut i, "--logger")?),
            "--loop" => run.loop_ = Some(value(&mut i, "--loop")?),
            "--release" => run.release = true,
            "--bin" => run.bin = Some(value(&mut i, "--bin")?),
            "--example" => run.example = Some(value(&mut i, "--example")?),
            "--opentelemetry-instrument" => run.opentelemetry_instrument = true,
            a if a.starts_with('-') => {
                return Err(command_error(
                    &format!("error: option {a} not recognized."),
                    &[],
                ))
            }
            service => {
                let p = PathBuf::from(service);
                if !run.services.contains(&p) {
                    run.services.push(p);
                }
            }
        }
        i += 1;
    }
    if run.services.is_empty() {
        let mut lines = vec!["error: no service file has been provided as argument.".to_owned()];
        lines.extend(FOOTER.iter().map(|s| s.to_string()));
        return Err(UsageError(lines.join("\n")));
    }
    if let Some(document) = document {
        if run.services.len() > 1 {
            return Err(command_error(
                &format!(
                    "error: tomodachi {} prints the document of one service at a time.",
                    document.name()
                ),
                &[],
            ));
        }
        return Ok(Command::Document(document, run));
    }
    Ok(Command::Run(run))
}

/// The minimum log level (`--log-level`, `TOMODACHI_LOG_LEVEL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info` (the default)
    #[default]
    Info,
    /// `warning` (also `warn`)
    Warning,
    /// `error`
    Error,
    /// `critical` (also `fatal`)
    Critical,
}

impl LogLevel {
    /// Parses a level name as the service binaries do (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Self::Debug,
            "info" => Self::Info,
            "warning" | "warn" => Self::Warning,
            "error" => Self::Error,
            "critical" | "fatal" => Self::Critical,
            _ => return None,
        })
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// The log format (`--logger`, `TOMODACHI_LOGGER`), used by the services and by the CLI's own
/// messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `console` (the default)
    #[default]
    Console,
    /// `json`: one JSON object per line
    Json,
    /// `python`: the stdlib format, no key/values
    Python,
    /// `disabled`: no log output
    Disabled,
}

impl LogFormat {
    /// Parses a format name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "console" => Self::Console,
            "json" => Self::Json,
            "python" => Self::Python,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Json => "json",
            Self::Python => "python",
            Self::Disabled => "disabled",
        }
    }
}

/// The tokio runtime flavour of the services (`--loop`, `TOMODACHI_LOOP`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Runtime {
    /// `auto` / `default` (multi-thread); upstream's `asyncio` and `uvloop` mean this too.
    #[default]
    Auto,
    /// `multi-thread`
    MultiThread,
    /// `current-thread`
    CurrentThread,
}

impl Runtime {
    /// Parses a `--loop` value; the second value is true for upstream's Python event loop names
    /// (accepted as `auto`, with a notice).
    pub fn parse(s: &str) -> Option<(Self, bool)> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "default" => (Self::Auto, false),
            "multi-thread" | "multi_thread" | "multithread" => (Self::MultiThread, false),
            "current-thread" | "current_thread" | "currentthread" => (Self::CurrentThread, false),
            "asyncio" | "aio" | "async" | "uvloop" | "libuv" | "uv" => (Self::Auto, true),
            _ => return None,
        })
    }

    /// The value the service binaries take.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::MultiThread => "multi-thread",
            Self::CurrentThread => "current-thread",
        }
    }
}

/// `tomodachi run`, resolved against the environment and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Service files or package folders.
    pub services: Vec<PathBuf>,
    /// `-c` JSON config files (checked to be JSON objects).
    pub config: Vec<PathBuf>,
    /// Production mode: no watcher, no banner.
    pub production: bool,
    /// The services' (and the CLI's) minimum log level.
    pub log_level: LogLevel,
    /// The services' (and the CLI's) log format.
    pub logger: LogFormat,
    /// The services' runtime flavour.
    pub runtime: Runtime,
    /// One-line notices to print before starting (e.g. `--loop uvloop` means `auto`).
    pub notices: Vec<String>,
    /// Build with the release profile.
    pub release: bool,
    /// `--bin NAME`.
    pub bin: Option<String>,
    /// `--example NAME`.
    pub example: Option<String>,
    /// Instrument the services with OpenTelemetry (`--opentelemetry-instrument`,
    /// `TOMODACHI_OPENTELEMETRY_INSTRUMENT`).
    pub opentelemetry: bool,
}

impl RunSettings {
    /// The environment of a service process: the resolved values as `TOMODACHI_*` variables
    /// (they override inherited ones, so a service never sees a flag that differs from its
    /// environment).
    pub fn service_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TOMODACHI_LOG_LEVEL", self.log_level.as_str().to_owned()),
            ("TOMODACHI_LOGGER", self.logger.as_str().to_owned()),
            ("TOMODACHI_LOOP", self.runtime.as_str().to_owned()),
            (
                "TOMODACHI_PRODUCTION",
                if self.production { "1" } else { "0" }.to_owned(),
            ),
            (
                "TOMODACHI_OPENTELEMETRY_INSTRUMENT",
                if self.opentelemetry { "1" } else { "0" }.to_owned(),
            ),
        ]
    }

    /// The flags of a service process (`-c FILE..` as given; everything else travels in
    /// [`service_env`](Self::service_env)).
    pub fn service_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if !self.config.is_empty() {
            flags.push("-c".to_owned());
            flags.extend(self.config.iter().map(|p| p.display().to_string()));
        }
        flags
    }
}

const LEVELS_EXPECTED: &str = "(expected 'debug', 'info', 'warning', 'error' or 'critical')";
const LOGGERS_EXPECTED: &str = "(expected 'json', 'console', 'python' or 'disabled')";

/// A value from the command line and/or its environment variable, parsed with `parse`; errors
/// as upstream (`invalid_cli`, `invalid_env` and a mismatch between both).
fn pick<T: PartialEq>(
    cli: Option<&str>,
    env_value: Option<String>,
    env_name: &str,
    option: &str,
    parse: impl Fn(&str) -> Option<T>,
    invalid_cli: impl Fn(&str) -> String,
    invalid_env: impl Fn(&str) -> String,
) -> Result<Option<T>, UsageError> {
    let env_value = env_value.filter(|v| !v.trim().is_empty());
    let from_env = match &env_value {
        Some(v) => Some(parse(v).ok_or_else(|| option_error(invalid_env(v)))?),
        None => None,
    };
    let Some(c) = cli else {
        return Ok(from_env);
    };
    let from_cli = parse(c).ok_or_else(|| option_error(invalid_cli(c)))?;
    match from_env {
        Some(e) if e != from_cli => Err(option_error(format!(
            "Invalid value for {option} option: '{c}' differs from env {env_name}"
        ))),
        _ => Ok(Some(from_cli)),
    }
}

impl RunArgs {
    /// Combines the arguments with the `TOMODACHI_*` environment variables (`env` looks one
    /// up) and validates everything, including that the `-c` files are JSON objects.
    pub fn resolve(self, env: &dyn Fn(&str) -> Option<String>) -> Result<RunSettings, UsageError> {
        let log_level = pick(
            self.log_level.as_deref(),
            env("TOMODACHI_LOG_LEVEL"),
            "TOMODACHI_LOG_LEVEL",
            "--log-level",
            LogLevel::parse,
            |v| format!("Invalid log level: '{v}' {LEVELS_EXPECTED}"),
            |_| format!("Invalid TOMODACHI_LOG_LEVEL environment value {LEVELS_EXPECTED}"),
        )?
        .unwrap_or_default();
        let logger = pick(
            self.logger.as_deref(),
            env("TOMODACHI_LOGGER"),
            "TOMODACHI_LOGGER",
            "--logger",
            LogFormat::parse,
            |v| {
                format!(
                    "Invalid value for --logger option: '{}' {LOGGERS_EXPECTED}",
                    v.to_lowercase()
                )
            },
            |_| format!("Invalid TOMODACHI_LOGGER environment value {LOGGERS_EXPECTED}"),
        )?
        .unwrap_or_default();
        let loop_value = self
            .loop_
            .clone()
            .or_else(|| env("TOMODACHI_LOOP").filter(|v| !v.trim().is_empty()));
        let runtime = pick(
            self.loop_.as_deref(),
            env("TOMODACHI_LOOP"),
            "TOMODACHI_LOOP",
            "--loop",
            |v| Runtime::parse(v).map(|(r, _)| r),
            |v| format!("Invalid value for --loop option: '{v}' not recognized"),
            |v| format!("Invalid TOMODACHI_LOOP environment value: '{v}' not recognized"),
        )?
        .unwrap_or_default();
        let mut notices = Vec::new();
        if let Some(v) = loop_value {
            if let Some((_, true)) = Runtime::parse(&v) {
                notices.push(format!(
                    "notice: --loop {} is a Python event loop; the services run on the tokio runtime (auto)",
                    v.trim()
                ));
            }
        }
        let production =
            self.production || env("TOMODACHI_PRODUCTION").is_some_and(|v| env_flag_on(&v));
        for file in &self.config {
            check_config_file(file)?;
        }
        if self.bin.is_some() && self.example.is_some() {
            return Err(option_error(
                "Invalid combination of --bin and --example options",
            ));
        }
        Ok(RunSettings {
            services: self.services,
            config: self.config,
            production,
            log_level,
            logger,
            runtime,
            notices,
            release: self.release,
            bin: self.bin,
            example: self.example,
            opentelemetry: self.opentelemetry_instrument
                || env("TOMODACHI_OPENTELEMETRY_INSTRUMENT").is_some_and(|v| env_flag_on(&v)),
        })
    }
}

/// A `-c` file must exist and hold a JSON object (upstream's texts).
fn check_config_file(path: &std::path::Path) -> Result<(), UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| option_error(format!("Invalid config file: {}: {e}", path.display())))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(option_error(format!(
            "Invalid config file: {}: expected a JSON object",
            path.display()
        ))),
        Err(e) => Err(option_error(format!(
            "Invalid config file, invalid JSON format: {}: {e}",
            path.display()
        ))),
    }
}

/// The usage text.
pub fn usage() -> String {
    format!(
        "usage: tomodachi <command> [options] [arguments]

description:
  tomodachi runs services: Rust programs built with the tomodachi crate, from a single .rs
  file or a Cargo package folder. Without --production it prints a banner, watches the
  files, and on changes rebuilds and restarts the services (a failed build keeps the
  running ones). Every service runs as its own process. A single file gets a generated
  build project; more dependencies come from a `//! ```cargo` block in the file.

options:
  -h, --help                                  show this help message and exit
  -v, --version                               print tomodachi version
  --dependency-versions                       print versions of dependencies

  command: run
  $ tomodachi run <service ...> [-c <config-file ...>] [--production]
  | <service>                                 a .rs file with tomodachi::main!(...) or a Cargo
  |                                           package folder
  | --loop [auto|multi-thread|current-thread] the tokio runtime flavour; asyncio and uvloop
  |                                           mean auto [env: TOMODACHI_LOOP]
  | --production                              no file watcher, no banner; signals are forwarded
  |                                           and the exit code is the service's
  |                                           [env: TOMODACHI_PRODUCTION]
  | -l, --log-level <level>                   debug, info, warning, error or critical
  |                                           [env: TOMODACHI_LOG_LEVEL]
  | --logger [console|json|python|disabled]   the log format [env: TOMODACHI_LOGGER]
  | -c, --config <files>                      JSON config files, merged in order
  | --release                                 build with the release profile
  | --bin <name>, --example <name>            which binary of a Cargo package folder to run
  | --opentelemetry-instrument                instruments the services with OpenTelemetry
  |                                           (built with tomodachi's `opentelemetry`
  |                                           feature; OTEL_* variables pick the exporter)
  |                                           [env: TOMODACHI_OPENTELEMETRY_INSTRUMENT]

  command: asyncapi, openapi
  $ tomodachi asyncapi|openapi <service> [-c <config-file ...>]
  | <service>                                 as for run; the service is built (--release,
  |                                           --bin, --example as for run), not started, and
  |                                           its AsyncAPI 3.0 / OpenAPI 3.1 document (JSON)
  |                                           is printed

usage examples:
  $ tomodachi run service.rs
  $ tomodachi run service.rs --log-level debug
  $ tomodachi run service.rs -c config.json --logger json
  $ tomodachi run path/to/package --bin orders
  $ tomodachi run --production service.rs
  $ tomodachi asyncapi service.rs > asyncapi.json

ver {} (local development version)
git https://github.com/tomodachi-rs/tomodachi
",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn p(args: &[&str]) -> Result<Command, UsageError> {
        parse(&strings(args))
    }

    fn run(args: &[&str]) -> RunArgs {
        match p(args) {
            Ok(Command::Run(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<RunSettings, UsageError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        run(args).resolve(&move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn document_commands() {
        let Command::Document(kind, args) =
            p(&["asyncapi", "pkg", "--example", "orders", "-c", "a.json"]).unwrap()
        else {
            panic!("not a document command");
        };
        assert_eq!(kind, Document::AsyncApi);
        assert_eq!(kind.flag(), "--asyncapi");
        assert_eq!(args.services, [PathBuf::from("pkg")]);
        assert_eq!(args.example.as_deref(), Some("orders"));
        assert_eq!(args.config, [PathBuf::from("a.json")]);
        assert!(matches!(
            p(&["openapi", "s.rs"]).unwrap(),
            Command::Document(Document::OpenApi, _)
        ));
        assert_eq!(p(&["openapi"]).unwrap(), Command::Help);
        let e = p(&["openapi", "a.rs", "b.rs"]).unwrap_err();
        assert!(e.0.contains("one service at a time"), "{e}");
        assert!(p(&["openapi", "--bogus", "a.rs"]).is_err());
        assert!(usage().contains("tomodachi asyncapi|openapi <service>"));
    }

    #[test]
    fn top_level() {
        assert_eq!(p(&[]).unwrap(), Command::Help);
        assert_eq!(p(&["-h"]).unwrap(), Command::Help);
        assert_eq!(p(&["--help"]).unwrap(), Command::Help);
        assert_eq!(p(&["-v"]).unwrap(), Command::Version);
        assert_eq!(p(&["-V"]).unwrap(), Command::Version);
        assert_eq!(p(&["--version"]).unwrap(), Command::Version);
        for deps in ["--dependency-versions", "--dependencies", "--deps"] {
            assert_eq!(p(&[deps]).unwrap(), Command::DependencyVersions);
        }
        assert_eq!(p(&["run"]).unwrap(), Command::Help);
        assert_eq!(p(&["go", "-h"]).unwrap(), Command::Help);
    }

    #[test]
    fn usage_errors_have_upstreams_texts() {
        let e = p(&["--invalid"]).unwrap_err().0;
        assert_eq!(
            e,
            "error: invalid command or combination of command options.\n\
             error: option --invalid not recognized.\n\n---\n\n\
             use the '--help' option for cli usage help.\n$ tomodachi --help"
        );
        let e = p(&["--production", "svc.rs", "run"]).unwrap_err().0;
        assert!(e.contains("error: the command 'run' must be specified before any options."));
        assert!(e.contains("maybe you intended to run something like this?\n$ tomodachi run --production svc.rs\n"), "{e}");
        let e = p(&["svc.rs"]).unwrap_err().0;
        assert!(e.contains(
            "error: the command 'run' must be specified before any service files or options."
        ));
        assert!(e.contains("$ tomodachi run svc.rs"));
        let e = p(&["run", "svc.rs", "--bogus"]).unwrap_err().0;
        assert!(e.contains("error: option --bogus not recognized."), "{e}");
        let e = p(&["run", "--production"]).unwrap_err().0;
        assert!(e.starts_with("error: no service file has been provided as argument.\n\n---"));
        assert!(p(&["run", "-c"])
            .unwrap_err()
            .0
            .starts_with("error: Missing config file on command line\n"));
        assert!(p(&["run", "a.rs", "--logger"])
            .unwrap_err()
            .0
            .starts_with("error: Missing value for --logger option\n"));
    }

    #[test]
    fn run_options_anywhere_after_run() {
        let r = run(&[
            "start",
            "a.rs",
            "-c",
            "x.json",
            "y.json",
            "--production",
            "a.rs",
            "-l",
            "debug",
            "--logger",
            "json",
            "--loop",
            "uvloop",
            "b",
            "--release",
            "--bin",
            "orders",
        ]);
        assert_eq!(r.services, [PathBuf::from("a.rs"), PathBuf::from("b")]);
        assert_eq!(r.config, [PathBuf::from("x.json"), PathBuf::from("y.json")]);
        assert!(r.production && r.release);
        assert_eq!(r.log_level.as_deref(), Some("debug"));
        assert_eq!(r.logger.as_deref(), Some("json"));
        assert_eq!(r.loop_.as_deref(), Some("uvloop"));
        assert_eq!(r.bin.as_deref(), Some("orders"));
        // a trailing -l without value is ignored
        assert_eq!(run(&["run", "a.rs", "-l"]).log_level, None);
    }

    #[test]
    fn values_come_from_flags_or_the_environment() {
        let s = resolve(&["run", "a.rs"], &[]).unwrap();
        assert_eq!(
            (s.production, s.log_level, s.logger, s.runtime),
            (false, LogLevel::Info, LogFormat::Console, Runtime::Auto)
        );
        assert!(s.notices.is_empty());
        let s = resolve(
            &["run", "a.rs"],
            &[
                ("TOMODACHI_PRODUCTION", "1"),
                ("TOMODACHI_LOG_LEVEL", "WARNING"),
                ("TOMODACHI_LOGGER", "json"),
                ("TOMODACHI_LOOP", "current-thread"),
            ],
        )
        .unwrap();
        assert!(s.production);
        assert_eq!(s.log_level, LogLevel::Warning);
        assert_eq!(s.logger, LogFormat::Json);
        assert_eq!(s.runtime, Runtime::CurrentThread);
        for off in ["0", "no", "none", "false", "FALSE", ""] {
            let s = resolve(&["run", "a.rs"], &[("TOMODACHI_PRODUCTION", off)]).unwrap();
            assert!(!s.production, "{off}");
        }
        let s = resolve(
            &[
                "run",
                "a.rs",
                "-l",
                "error",
                "--logger",
                "python",
                "--loop",
                "multi-thread",
            ],
            &[("TOMODACHI_LOG_LEVEL", "error")],
        )
        .unwrap();
        assert_eq!(
            (s.log_level, s.logger, s.runtime),
            (LogLevel::Error, LogFormat::Python, Runtime::MultiThread)
        );
        assert_eq!(
            s.service_env(),
            [
                ("TOMODACHI_LOG_LEVEL", "error".to_owned()),
                ("TOMODACHI_LOGGER", "python".to_owned()),
                ("TOMODACHI_LOOP", "multi-thread".to_owned()),
                ("TOMODACHI_PRODUCTION", "0".to_owned()),
                ("TOMODACHI_OPENTELEMETRY_INSTRUMENT", "0".to_owned()),
            ]
        );
        for (args, env) in [
            (&["run", "a.rs", "--opentelemetry-instrument"][..], &[][..]),
            (
                &["run", "a.rs"][..],
                &[("TOMODACHI_OPENTELEMETRY_INSTRUMENT", "1")][..],
            ),
        ] {
            let s = resolve(args, env).unwrap();
            assert!(s.opentelemetry);
            assert!(s
                .service_env()
                .contains(&("TOMODACHI_OPENTELEMETRY_INSTRUMENT", "1".to_owned())));
        }
    }

    #[test]
    fn python_event_loops_mean_auto_with_a_notice() {
        for v in ["asyncio", "uvloop", "UVLOOP", "aio", "libuv"] {
            let s = resolve(&["run", "a.rs", "--loop", v], &[]).unwrap();
            assert_eq!(s.runtime, Runtime::Auto);
            assert_eq!(s.notices.len(), 1, "{v}");
            assert!(s.notices[0].contains(&format!("--loop {v} is a Python event loop")));
        }
        let s = resolve(&["run", "a.rs"], &[("TOMODACHI_LOOP", "uvloop")]).unwrap();
        assert_eq!((s.runtime, s.notices.len()), (Runtime::Auto, 1));
        // the same meaning on both sides is no mismatch
        assert!(resolve(
            &["run", "a.rs", "--loop", "asyncio"],
            &[("TOMODACHI_LOOP", "auto")]
        )
        .is_ok());
    }

    #[test]
    fn bad_values_and_mismatches() {
        let err = |args: &[&str], env: &[(&str, &str)]| resolve(args, env).unwrap_err().0;
        assert!(err(&["run", "a.rs", "--loop", "fast"], &[])
            .starts_with("error: Invalid value for --loop option: 'fast' not recognized\n"));
        assert!(err(
            &["run", "a.rs", "--loop", "auto"],
            &[("TOMODACHI_LOOP", "current-thread")]
        )
        .starts_with(
            "error: Invalid value for --loop option: 'auto' differs from env TOMODACHI_LOOP\n"
        ));
        assert!(err(&["run", "a.rs", "-l", "loud"], &[]).starts_with(
            "error: Invalid log level: 'loud' (expected 'debug', 'info', 'warning', 'error' or 'critical')\n"
        ));
        assert!(err(&["run", "a.rs"], &[("TOMODACHI_LOG_LEVEL", "notset")])
            .starts_with("error: Invalid TOMODACHI_LOG_LEVEL environment value (expected 'debug'"));
        assert!(err(&["run", "a.rs", "-l", "debug"], &[("TOMODACHI_LOG_LEVEL", "info")])
            .starts_with("error: Invalid value for --log-level option: 'debug' differs from env TOMODACHI_LOG_LEVEL\n"));
        assert!(err(&["run", "a.rs", "--logger", "XML"], &[]).starts_with(
            "error: Invalid value for --logger option: 'xml' (expected 'json', 'console', 'python' or 'disabled')\n"
        ));
        assert!(err(
            &["run", "a.rs", "--logger", "json"],
            &[("TOMODACHI_LOGGER", "console")]
        )
        .starts_with(
            "error: Invalid value for --logger option: 'json' differs from env TOMODACHI_LOGGER\n"
        ));
        assert!(err(&["run", "a", "--bin", "x", "--example", "y"], &[])
            .starts_with("error: Invalid combination of --bin and --example options"));
        assert!(err(&["run", "a.rs", "-c", "/nonexistent/config.json"], &[])
            .starts_with("error: Invalid config file: /nonexistent/config.json"));
    }

    #[test]
    fn config_files_must_be_json_objects() {
        let dir = std::env::temp_dir().join(format!("tomodachi-cli-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p.display().to_string()
        };
        let good = write("good.json", r#"{"options": {"http": {"port": 1}}}"#);
        let bad = write("bad.json", "{nope");
        let list = write("list.json", "[1]");
        assert_eq!(
            resolve(&["run", "a.rs", "-c", &good], &[])
                .unwrap()
                .config
                .len(),
            1
        );
        let e = resolve(&["run", "a.rs", "-c", &good, &bad], &[])
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("error: Invalid config file, invalid JSON format: "),
            "{e}"
        );
        let e = resolve(&["run", "a.rs", "-c", &list], &[]).unwrap_err().0;
        assert!(e.contains("expected a JSON object"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn service_flags_pass_the_config_files() {
        let s = resolve(&["run", "a.rs"], &[]).unwrap();
        assert!(s.service_flags().is_empty());
        let s = RunSettings {
            config: vec!["x.json".into(), "y.json".into()],
            ..s
        };
        assert_eq!(s.service_flags(), ["-c", "x.json", "y.json"]);
    }
}
