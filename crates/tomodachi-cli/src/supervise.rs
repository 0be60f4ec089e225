//! Running the built services as child processes.
//!
//! * `--production`: build everything (a failed build is exit code 1), start every service,
//!   forward SIGINT/SIGTERM, and exit with the services' exit code once they have stopped; a
//!   service that stops by itself stops the others (as `tomodachi.exit()` stops every service
//!   of an upstream process).
//! * Development: the same, plus the watcher. On a change every service is rebuilt; a service
//!   whose build succeeded is replaced (the old process stops gracefully), one whose build
//!   failed keeps running and the compiler's errors are on the screen. When the old process
//!   listens with `SO_REUSEPORT` (the default on Linux), the new one starts first and the old
//!   one is stopped once the new one listens on the same addresses, so no request is refused.
//!   A service that exits with an error waits for the next change.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::args::RunSettings;
use crate::banner::Banner;
use crate::log::{Logger, Value};
use crate::process::{self, ServiceProcess};
use crate::project::{Build, Project};
use crate::watch::{Changes, Watcher};

/// Longest wait for a new process to listen where the old one does before the old one is
/// stopped anyway (a changed port never matches).
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Main loop tick.
const TICK: Duration = Duration::from_millis(100);

/// The CLI's logger names.
const CLI: &str = "tomodachi.cli";
const WATCHER: &str = "tomodachi.watcher";

/// One service and its running process.
struct Slot {
    project: Project,
    label: String,
    running: Option<ServiceProcess>,
}

/// The services of one `tomodachi run`.
pub struct Supervisor<'a> {
    settings: &'a RunSettings,
    log: Logger,
    cwd: PathBuf,
    slots: Vec<Slot>,
    /// Old processes replaced by a new build, stopping in the background.
    retiring: Vec<ServiceProcess>,
    /// The signal that stops the run (already forwarded to the services).
    stopping: Option<i32>,
}

impl<'a> Supervisor<'a> {
    /// A supervisor for `projects`.
    pub fn new(
        projects: Vec<Project>,
        settings: &'a RunSettings,
        log: Logger,
        cwd: PathBuf,
    ) -> Self {
        let slots = projects
            .into_iter()
            .map(|project| Slot {
                label: project.label(&cwd),
                project,
                running: None,
            })
            .collect();
        Self {
            settings,
            log,
            cwd,
            slots,
            retiring: Vec::new(),
            stopping: None,
        }
    }

    /// Records a signal (no more builds or restarts) and forwards it to every service process.
    fn on_signal(&mut self, sig: i32) {
        if sig == libc::SIGINT && !self.settings.production {
            erase_ctrl_c();
        }
        self.stopping = Some(sig);
        self.forward(sig);
    }

    /// Takes a pending signal (see [`on_signal`](Self::on_signal)); whether the run is
    /// stopping.
    fn check_signal(&mut self) -> bool {
        if let Some(sig) = process::take_signal() {
            self.on_signal(sig);
        }
        self.stopping.is_some()
    }

    fn forward(&mut self, sig: i32) {
        for s in &mut self.slots {
            if let Some(p) = s.running.as_mut() {
                p.signal(sig);
            }
        }
        for p in &mut self.retiring {
            p.signal(sig);
        }
    }

    /// Builds one service; `None` when a signal interrupted the build.
    fn build(&mut self, i: usize) -> Option<Result<PathBuf, ()>> {
        if self.stopping.is_some() {
            return None;
        }
        let mut caught = None;
        let mut stop = || {
            if caught.is_none() {
                caught = process::take_signal();
            }
            caught.is_some()
        };
        let outcome = self.slots[i]
            .project
            .build(self.settings.release, &mut stop);
        if let Some(sig) = caught {
            self.on_signal(sig);
        }
        match outcome {
            Ok(Build::Built(path)) => Some(Ok(path)),
            Ok(Build::Failed) => Some(Err(())),
            Ok(Build::Interrupted) => None,
            Err(e) => {
                self.log.error(
                    CLI,
                    &e,
                    &[("service_file", self.slots[i].label.clone().into())],
                );
                Some(Err(()))
            }
        }
    }

    fn spawn(&self, binary: &Path) -> std::io::Result<ServiceProcess> {
        ServiceProcess::spawn(
            binary,
            &self.settings.service_flags(),
            self.settings.service_env(),
        )
    }

    /// Starts slot `i` from `binary`; logs failures.
    fn start(&mut self, i: usize, binary: &Path) {
        match self.spawn(binary) {
            Ok(p) => {
                self.log_started(i, &p);
                self.slots[i].running = Some(p);
            }
            Err(e) => self.log.error(
                CLI,
                "unable to start service",
                &[
                    ("service_file", self.slots[i].label.clone().into()),
                    ("error", format!("{}: {e}", binary.display()).into()),
                ],
            ),
        }
    }

    fn log_started(&self, i: usize, p: &ServiceProcess) {
        let fields = [
            ("service_file", Value::from(self.slots[i].label.clone())),
            ("pid", Value::from(p.pid())),
        ];
        if self.settings.production {
            self.log.log(
                crate::args::LogLevel::Debug,
                CLI,
                "service process started",
                &fields,
            );
        } else {
            self.log.info(CLI, "service process started", &fields);
        }
    }

    /// Sends SIGTERM to every service and waits for all of them (forwarding further
    /// signals); the first non-zero exit code, else 0.
    fn stop_all(&mut self) -> i32 {
        if self.stopping.is_none() {
            self.forward(libc::SIGTERM);
        }
        let mut code = 0;
        let mut all: Vec<ServiceProcess> = self
            .slots
            .iter_mut()
            .filter_map(|s| s.running.take())
            .chain(self.retiring.drain(..))
            .collect();
        for p in &mut all {
            let c = p.wait(|p| {
                if let Some(sig) = process::take_signal() {
                    p.signal(sig);
                }
            });
            if code == 0 {
                code = c;
            }
        }
        code
    }

    /// `--production`.
    pub fn run_production(mut self) -> i32 {
        let mut binaries = Vec::new();
        for i in 0..self.slots.len() {
            match self.build(i) {
                Some(Ok(b)) => binaries.push(b),
                Some(Err(())) => {
                    self.log.error(
                        CLI,
                        "unable to build service",
                        &[("service_file", self.slots[i].label.clone().into())],
                    );
                    return 1;
                }
                None => return 128 + self.stopping.unwrap_or(libc::SIGTERM),
            }
        }
        for (i, b) in binaries.iter().enumerate() {
            self.start(i, b);
            if self.slots[i].running.is_none() {
                self.stop_all();
                return 1;
            }
        }
        loop {
            if self.check_signal() {
                return self.stop_all();
            }
            for i in 0..self.slots.len() {
                let exited = self.slots[i]
                    .running
                    .as_mut()
                    .and_then(ServiceProcess::try_exit);
                if let Some(code) = exited {
                    self.slots[i].running = None;
                    let others = self.stop_all();
                    return if code != 0 { code } else { others };
                }
            }
            std::thread::sleep(TICK);
        }
    }

    /// Development mode: banner, watcher, rebuild and replace on changes, until a signal.
    pub fn run_development(mut self, mut watcher: Watcher, args: &[String]) -> i32 {
        for notice in watcher.take_notices() {
            self.log.warning(WATCHER, &notice, &[]);
        }
        self.log.log(
            crate::args::LogLevel::Debug,
            WATCHER,
            "watching files",
            &[
                ("file_count", Value::Int(watcher.file_count() as i64)),
                ("mode", watcher.mode().into()),
            ],
        );
        for i in 0..self.slots.len() {
            match self.build(i) {
                Some(Ok(binary)) => self.start(i, &binary),
                Some(Err(())) => self.log.error(
                    WATCHER,
                    "cannot start due to errors",
                    &[
                        ("service_file", self.slots[i].label.clone().into()),
                        ("restart", "on the next file change".into()),
                    ],
                ),
                None => break,
            }
        }
        loop {
            if self.check_signal() {
                return self.stop_all();
            }
            self.reap_retiring();
            if let Some(code) = self.reap_exited() {
                return code;
            }
            if let Some(changes) = watcher.poll(TICK) {
                for notice in watcher.take_notices() {
                    self.log.warning(WATCHER, &notice, &[]);
                }
                self.log_changes(&changes);
                if !self.check_signal() {
                    self.rebuild_and_replace(args);
                }
            }
        }
    }

    /// Reaps replaced processes that have stopped.
    fn reap_retiring(&mut self) {
        self.retiring.retain_mut(|p| p.try_exit().is_none());
    }

    /// Handles services that exited by themselves: exit code 0 ends the run (as
    /// `tomodachi.exit()` does upstream); an error waits for the next change.
    fn reap_exited(&mut self) -> Option<i32> {
        for i in 0..self.slots.len() {
            let exited = self.slots[i]
                .running
                .as_mut()
                .and_then(ServiceProcess::try_exit);
            let Some(code) = exited else {
                continue;
            };
            self.slots[i].running = None;
            if code == 0 {
                return Some(self.stop_all());
            }
            self.log.error(
                WATCHER,
                "service exited due to errors",
                &[
                    ("service_file", self.slots[i].label.clone().into()),
                    ("exit_code", code.into()),
                    ("restart", "on the next file change".into()),
                ],
            );
        }
        None
    }

    fn log_changes(&self, changes: &Changes) {
        let list = |v: &[PathBuf]| -> Value {
            Value::List(
                v.iter()
                    .map(|p| crate::banner::display_path(p, &self.cwd))
                    .collect(),
            )
        };
        let mut fields = Vec::new();
        if !changes.updated.is_empty() {
            fields.push(("updated_files", list(&changes.updated)));
        }
        if !changes.added.is_empty() {
            fields.push(("added_files", list(&changes.added)));
        }
        if !changes.removed.is_empty() {
            fields.push(("removed_files", list(&changes.removed)));
        }
        self.log.warning(WATCHER, changes.message(), &fields);
    }

    /// Rebuilds every service and replaces those that built.
    fn rebuild_and_replace(&mut self, args: &[String]) {
        let mut built = Vec::new();
        for i in 0..self.slots.len() {
            match self.build(i) {
                Some(Ok(binary)) => built.push((i, binary)),
                Some(Err(())) => self.log.error(
                    WATCHER,
                    "restart failed due to error",
                    &[
                        ("service_file", self.slots[i].label.clone().into()),
                        (
                            "error",
                            "the build failed (compiler output above); the running service is kept"
                                .into(),
                        ),
                    ],
                ),
                None => return,
            }
        }
        if built.is_empty() {
            return;
        }
        self.log.warning(WATCHER, "restarting services", &[]);
        print_banner(
            self.settings,
            &self.slots.iter().map(|s| &s.project).collect::<Vec<_>>(),
            &self.cwd,
            args,
        );
        for (i, binary) in built {
            if self.check_signal() {
                return;
            }
            self.replace(i, &binary);
        }
    }

    /// Replaces slot `i`'s process with one of `binary`.
    fn replace(&mut self, i: usize, binary: &Path) {
        let Some(mut old) = self.slots[i].running.take() else {
            self.start(i, binary);
            return;
        };
        if old.try_exit().is_some() {
            self.start(i, binary);
            return;
        }
        let addrs = crate::sockets::listening_addrs(old.pid());
        let overlap = !addrs.is_empty() && addrs.iter().all(|a| crate::sockets::can_share(*a));
        if !overlap {
            old.signal(libc::SIGTERM);
            while old.try_exit().is_none() {
                if let Some(sig) = process::take_signal() {
                    self.on_signal(sig);
                    old.signal(sig);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.stopping.is_none() {
                self.start(i, binary);
            }
            return;
        }
        // SO_REUSEPORT: the new process listens beside the old one before the old one stops
        let mut new = match self.spawn(binary) {
            Ok(p) => p,
            Err(e) => {
                self.log.error(
                    CLI,
                    "unable to start service",
                    &[
                        ("service_file", self.slots[i].label.clone().into()),
                        ("error", format!("{}: {e}", binary.display()).into()),
                    ],
                );
                self.slots[i].running = Some(old);
                return;
            }
        };
        self.log_started(i, &new);
        let started = Instant::now();
        loop {
            if let Some(code) = new.try_exit() {
                self.log.error(
                    WATCHER,
                    "service exited due to errors",
                    &[
                        ("service_file", self.slots[i].label.clone().into()),
                        ("exit_code", code.into()),
                        ("restart", "the previous build keeps running".into()),
                    ],
                );
                self.slots[i].running = Some(old);
                return;
            }
            let listening = crate::sockets::listening_addrs(new.pid());
            if addrs.iter().all(|a| listening.contains(a)) || started.elapsed() >= READY_TIMEOUT {
                break;
            }
            if let Some(sig) = process::take_signal() {
                // the shutdown path waits for both
                self.on_signal(sig);
                old.signal(sig);
                new.signal(sig);
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        if self.stopping.is_none() {
            old.signal(libc::SIGTERM);
        }
        self.retiring.push(old);
        self.slots[i].running = Some(new);
    }
}

/// Upstream writes `\b\b\r` to erase the `^C` the terminal echoed.
fn erase_ctrl_c() {
    use std::io::{IsTerminal, Write};
    let mut out = std::io::stdout();
    if out.is_terminal() {
        let _ = out.write_all(b"\x08\x08\r");
        let _ = out.flush();
    }
}

/// Prints the banner to stdout.
pub fn print_banner(settings: &RunSettings, projects: &[&Project], cwd: &Path, args: &[String]) {
    use std::io::{IsTerminal, Write};
    let services: Vec<&Path> = projects.iter().map(|p| p.service.as_path()).collect();
    let shown = projects.iter().map(|p| p.display(cwd)).collect();
    let banner = Banner::gather(
        args,
        &services,
        shown,
        crate::versions::rustc_version(),
        settings.runtime,
        true,
    );
    let env = |k: &str| std::env::var(k).ok();
    let color = crate::banner::banner_color(&env, std::io::stdout().is_terminal());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", banner.render(color));
    let _ = out.flush();
}
