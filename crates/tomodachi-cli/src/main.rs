//! `tomodachi`: the command line of tomodachi for Rust.
//!
//! ```sh
//! tomodachi run service.rs                 # build, banner, run; rebuild and restart on changes
//! tomodachi run --production service.rs    # no watcher, no banner; the service's exit code
//! tomodachi run path/to/package --bin orders -c config.json
//! tomodachi asyncapi service.rs           # the service's AsyncAPI 3.0 document (JSON)
//! tomodachi openapi path/to/package --bin orders
//! tomodachi --version
//! tomodachi --dependency-versions
//! ```
//!
//! A `<service>` is a single `.rs` file (built in a generated project in the cache, depending
//! on the tomodachi crate) or a Cargo package folder. Every service runs as its own process.
//! The services get `-c` as given and the resolved `--production`, `--log-level`, `--logger`
//! and `--loop` as `TOMODACHI_*` variables: a service binary takes the same flags and variables
//! itself, so a container runs it directly.

mod args;
mod banner;
mod log;
mod process;
mod project;
mod single_file;
mod sockets;
mod supervise;
mod versions;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use args::Command;

/// `tomodachi run`.
fn run(args: args::RunArgs, raw: &[String]) -> i32 {
    let env = |k: &str| std::env::var(k).ok();
    let settings = match args.resolve(&env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let log = log::Logger::new(settings.logger, settings.log_level);
    for notice in &settings.notices {
        eprintln!("{notice}");
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut projects = Vec::new();
    for s in &settings.services {
        match project::resolve(s, settings.bin.as_deref(), settings.example.as_deref()) {
            Ok(p) => projects.push(p),
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
    }
    process::install_signal_handlers();
    if settings.production {
        return supervise::Supervisor::new(projects, &settings, log, cwd).run_production();
    }

    supervise::print_banner(&settings, &projects.iter().collect::<Vec<_>>(), &cwd, raw);
    let mut roots = vec![cwd.clone()];
    let mut ignored = vec![single_file::cache_dir()];
    for p in &projects {
        roots.extend(p.watch_roots.iter().cloned());
        ignored.extend(p.ignored_paths.iter().cloned());
    }
    let rules = watch::Rules::from_config_files(&settings.config, &ignored);
    let watcher = watch::Watcher::new(&roots, rules);
    supervise::Supervisor::new(projects, &settings, log, cwd).run_development(watcher, raw)
}

/// `tomodachi asyncapi|openapi <service>`: builds the service and runs its binary with
/// `--asyncapi` / `--openapi` (and `-c`), which prints the document; the binary's exit code.
fn document(kind: args::Document, args: args::RunArgs) -> i32 {
    let Some(service) = args.services.first() else {
        return 2;
    };
    let project = match project::resolve(service, args.bin.as_deref(), args.example.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let executable = match project.build(args.release, &mut || false) {
        Ok(project::Build::Built(executable)) => executable,
        Ok(_) => {
            eprintln!("error: unable to build {}", service.display());
            return 1;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let mut cmd = std::process::Command::new(&executable);
    cmd.arg(kind.flag());
    if !args.config.is_empty() {
        cmd.arg("-c").args(&args.config);
    }
    match cmd.status() {
        Ok(status) => status.code().unwrap_or(1),
        Err(e) => {
            eprintln!("error: cannot run {}: {e}", executable.display());
            1
        }
    }
}

/// Writes `text` to stdout (a closed pipe is not an error worth a panic).
fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let code = match args::parse(&raw) {
        Ok(Command::Help) => {
            print_out(&args::usage());
            0
        }
        Ok(Command::Version) => {
            print_out(&format!("{}\n", versions::version_line()));
            0
        }
        Ok(Command::DependencyVersions) => {
            let lines = versions::dependency_lines(versions::rustc_version().as_deref());
            print_out(&lines.iter().map(|l| format!("{l}\n")).collect::<String>());
            0
        }
        Ok(Command::Run(args)) => run(args, &raw),
        Ok(Command::Document(kind, args)) => document(kind, args),
        Err(e) => {
            eprintln!("{e}");
            2
        }
    };
    ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1))
}
