//! The service binary's entry point: flags and `TOMODACHI_*` variables, logging, the tokio
//! runtime, signals and the exit code. `tomodachi::main!` calls [`launch`].

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::logging::{LogFormat, LogLevel, LoggingConfig};
use crate::options::{load_config_files, ConfigFile};
use crate::service::{exit, App, IntoService};

/// The flags every tomodachi service binary accepts (the same as `tomodachi run`).
#[derive(Debug, Clone, Parser, PartialEq)]
#[command(
    about = "A tomodachi service",
    long_about = None,
    disable_version_flag = true
)]
pub struct LaunchArgs {
    /// JSON config files, merged in order (later wins); their `options` section is merged into
    /// the service options key by key.
    #[arg(short = 'c', long = "config", num_args = 1.., value_name = "FILE")]
    pub config: Vec<std::path::PathBuf>,
    /// Production mode: no file watcher, no banner [env: TOMODACHI_PRODUCTION].
    #[arg(long)]
    pub production: bool,
    /// Minimum log level: debug, info, warning, error, critical [env: TOMODACHI_LOG_LEVEL].
    #[arg(
        short = 'l',
        long = "log-level",
        visible_alias = "log",
        value_name = "LEVEL"
    )]
    pub log_level: Option<String>,
    /// Log format: console, json, python or disabled [env: TOMODACHI_LOGGER].
    #[arg(long, value_name = "FORMAT")]
    pub logger: Option<String>,
    /// tokio runtime flavour: auto, multi-thread or current-thread (upstream's asyncio and
    /// uvloop mean auto) [env: TOMODACHI_LOOP].
    #[arg(long = "loop", value_name = "LOOP")]
    pub loop_: Option<String>,
    /// Instruments the services with OpenTelemetry: spans for HTTP requests and AMQP messages,
    /// exported as the standard OTEL_* variables say (a binary built with the `opentelemetry`
    /// feature of tomodachi) [env: TOMODACHI_OPENTELEMETRY_INSTRUMENT].
    #[arg(long = "opentelemetry-instrument")]
    pub opentelemetry_instrument: bool,
    /// Print the services' AsyncAPI 3.0 document (JSON) and exit; nothing is started.
    #[arg(long, conflicts_with = "openapi")]
    pub asyncapi: bool,
    /// Print the services' OpenAPI 3.1 document (JSON) and exit; nothing is started.
    #[arg(long)]
    pub openapi: bool,
}

/// Resolved launch settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LaunchSettings {
    pub(crate) logging: LoggingConfig,
    pub(crate) production: bool,
    pub(crate) current_thread: bool,
    pub(crate) config_files: Vec<std::path::PathBuf>,
    /// `--opentelemetry-instrument` / `TOMODACHI_OPENTELEMETRY_INSTRUMENT`.
    pub(crate) opentelemetry: bool,
}

fn env_flag_on(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "no" | "none" | "false"
    )
}

/// A flag value from the command line and/or its environment variable; both given and
/// different is an error, as upstream.
fn pick(
    cli: Option<String>,
    env_name: &str,
    option: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let from_env = env(env_name).filter(|v| !v.is_empty());
    match (cli, from_env) {
        (Some(c), Some(e)) if !c.eq_ignore_ascii_case(&e) => Err(format!(
            "Invalid value for {option} option: '{c}' differs from env {env_name}"
        )),
        (Some(c), _) => Ok(Some(c)),
        (None, e) => Ok(e),
    }
}

impl LaunchArgs {
    /// Resolves flags against the environment (`env` looks a variable up).
    pub(crate) fn resolve(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LaunchSettings, String> {
        let level = match pick(self.log_level, "TOMODACHI_LOG_LEVEL", "--log-level", env)? {
            Some(l) => l.parse::<LogLevel>().map_err(|e| e.to_string())?,
            None => LogLevel::default(),
        };
        let format = match pick(self.logger, "TOMODACHI_LOGGER", "--logger", env)? {
            Some(f) => f.parse::<LogFormat>().map_err(|e| e.to_string())?,
            None => LogFormat::default(),
        };
        let current_thread = match pick(self.loop_, "TOMODACHI_LOOP", "--loop", env)? {
            None => false,
            Some(l) => {
                match l.to_ascii_lowercase().as_str() {
                    "auto" | "default" | "multi-thread" | "multi_thread" => false,
                    "current-thread" | "current_thread" => true,
                    "asyncio" | "aio" | "async" | "uvloop" | "libuv" | "uv" => {
                        eprintln!("notice: --loop {l} is a Python event loop; using the tokio runtime (auto)");
                        false
                    }
                    _ => {
                        return Err(format!(
                            "Invalid value for --loop option: '{l}' not recognized"
                        ))
                    }
                }
            }
        };
        let production =
            self.production || env("TOMODACHI_PRODUCTION").is_some_and(|v| env_flag_on(&v));
        Ok(LaunchSettings {
            logging: LoggingConfig {
                format,
                level,
                ..LoggingConfig::default()
            },
            production,
            current_thread,
            config_files: self.config,
            opentelemetry: self.opentelemetry_instrument
                || env("TOMODACHI_OPENTELEMETRY_INSTRUMENT").is_some_and(|v| env_flag_on(&v)),
        })
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n---\n\nuse the '--help' option for cli usage help.");
    ExitCode::from(2)
}

/// Runs services as a process: parses the flags, sets up logging, runs until SIGINT, SIGTERM
/// or [`exit`](crate::exit), and returns the exit code (0 normal stop, 1 start failure, N from
/// `exit(N)`, 2 usage errors).
///
/// ```no_run
/// # struct Api;
/// fn main() -> std::process::ExitCode {
///     tomodachi::launch([tomodachi::Service::builder("api", Api).build()])
/// }
/// ```
pub fn launch<I>(services: I) -> ExitCode
where
    I: IntoIterator,
    I::Item: IntoService,
{
    launch_from(std::env::args_os(), services)
}

/// [`launch`] with explicit arguments (the first is the program name).
pub fn launch_from<A, I>(args: A, services: I) -> ExitCode
where
    A: IntoIterator,
    A::Item: Into<OsString> + Clone,
    I: IntoIterator,
    I::Item: IntoService,
{
    let args = match LaunchArgs::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let document = crate::apidoc::DocumentKind::from_flags(args.asyncapi, args.openapi);
    let settings = match args.resolve(&|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => return usage_error(&e),
    };
    // The services are defined before the config files are read: defining one registers the
    // option sections of the transports outside this crate that it uses, which the files may set.
    let services: Vec<crate::Service> = services
        .into_iter()
        .map(IntoService::into_service)
        .collect();
    let config = if settings.config_files.is_empty() {
        None
    } else {
        match load_config_files(&settings.config_files) {
            Ok(c) => Some(c),
            Err(e) => return usage_error(&e.to_string()),
        }
    };
    if settings.opentelemetry && !cfg!(feature = "opentelemetry") {
        // upstream's exit when its `opentelemetry` extras are missing
        eprintln!("The 'opentelemetry' feature of tomodachi needs to be enabled to use OpenTelemetry instrumentation");
        return ExitCode::from(2);
    }
    if let Some(kind) = document {
        return crate::apidoc::print_document(kind, services, config.as_ref());
    }
    // Logging failing to initialise (a subscriber already set) is not fatal.
    let _ = crate::logging::init(&settings.logging);

    let mut builder = if settings.current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: unable to start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    crate::service::context::init_launcher(
        if settings.current_thread {
            "current_thread"
        } else {
            "multi_thread"
        },
        false,
    );
    let mut app = App::new();
    for s in services {
        app = app.service(s);
    }
    if let Some(c) = config {
        app = app.config(c);
    }
    #[cfg(feature = "opentelemetry")]
    if settings.opentelemetry {
        app = app.opentelemetry(crate::telemetry::OpenTelemetry::from_env());
    }
    let code = runtime.block_on(async move {
        tokio::spawn(watch_signals());
        match app.start().await {
            Ok(running) => running.wait().await,
            Err(_) => 1,
        }
    });
    // Handlers still running after the grace period are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    // every record logged is on stderr before the process goes on to exit
    crate::logging::flush();
    ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
}

/// SIGINT / SIGTERM request a graceful stop (a repeated signal does not force an exit).
async fn watch_signals() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!(target: "tomodachi.signal", "unable to install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = int.recv() => tracing::warn!(target: "tomodachi.signal", signal = "SIGINT",
                    process_id = std::process::id(), "interrupt signal <ctrl+c>"),
                _ = term.recv() => tracing::warn!(target: "tomodachi.signal", signal = "SIGTERM",
                    process_id = std::process::id(), "received termination signal"),
            }
            exit::request_stop_all();
        }
    }
    #[cfg(not(unix))]
    {
        while tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!(target: "tomodachi.signal", signal = "SIGINT", "interrupt signal <ctrl+c>");
            exit::request_stop_all();
        }
    }
}

/// Loads and merges config files the way the service binary does (`-c a.json -c b.json`).
pub fn load_config(paths: &[std::path::PathBuf]) -> crate::Result<ConfigFile> {
    load_config_files(paths).map_err(crate::Error::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<LaunchSettings, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        LaunchArgs::try_parse_from(std::iter::once("svc").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?
            .resolve(&lookup)
    }

    #[test]
    fn flags_and_env() {
        let s = resolve(
            &["--production", "--log-level", "debug", "--logger", "json"],
            &[],
        )
        .unwrap();
        assert!(s.production);
        assert_eq!(s.logging.format, LogFormat::Json);
        let s = resolve(
            &[],
            &[("TOMODACHI_PRODUCTION", "1"), ("TOMODACHI_LOGGER", "json")],
        )
        .unwrap();
        assert!(s.production);
        assert_eq!(s.logging.format, LogFormat::Json);
        let s = resolve(&[], &[("TOMODACHI_PRODUCTION", "false")]).unwrap();
        assert!(!s.production);
        let s = resolve(&["-c", "a.json", "b.json"], &[]).unwrap();
        assert_eq!(s.config_files.len(), 2);
        assert!(
            resolve(&["--loop", "current-thread"], &[])
                .unwrap()
                .current_thread
        );
        assert!(!resolve(&["--loop", "uvloop"], &[]).unwrap().current_thread);
        assert!(!resolve(&[], &[]).unwrap().opentelemetry);
        assert!(
            resolve(&["--opentelemetry-instrument"], &[])
                .unwrap()
                .opentelemetry
        );
        let on = [("TOMODACHI_OPENTELEMETRY_INSTRUMENT", "1")];
        assert!(resolve(&[], &on).unwrap().opentelemetry);
        let off = [("TOMODACHI_OPENTELEMETRY_INSTRUMENT", "false")];
        assert!(!resolve(&[], &off).unwrap().opentelemetry);
    }

    #[test]
    fn bad_values_and_mismatches_are_errors() {
        let e = resolve(&["--log-level", "loud"], &[]).unwrap_err();
        assert!(e.contains("Invalid log level: 'loud'"), "{e}");
        let e = resolve(&["--logger", "xml"], &[]).unwrap_err();
        assert!(
            e.contains("Invalid value for --logger option: 'xml'"),
            "{e}"
        );
        let e = resolve(&["--logger", "json"], &[("TOMODACHI_LOGGER", "console")]).unwrap_err();
        assert_eq!(
            e,
            "Invalid value for --logger option: 'json' differs from env TOMODACHI_LOGGER"
        );
        let e = resolve(&["--loop", "fast"], &[]).unwrap_err();
        assert_eq!(e, "Invalid value for --loop option: 'fast' not recognized");
        assert!(resolve(&["--bogus"], &[]).is_err());
    }
}
