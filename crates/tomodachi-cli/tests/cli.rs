//! The `tomodachi` binary end to end, against temporary single-file services: it builds and
//! serves one, serves the new behaviour after an edit (the new process starts beside the old
//! one, so no connection is refused), keeps the old one serving when an edit breaks the build
//! (printing the compiler's error), and exits gracefully on SIGTERM with the service gone;
//! `--production` prints no banner, forwards SIGTERM, exits with the service's exit code, and
//! exits 1 with the compiler's output when the build fails.
//!
//! The generated build projects share the workspace's target folder, so only the first build
//! compiles the tomodachi crate (a minute or two on a small machine); later ones take seconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The first build compiles tomodachi and its dependencies for the generated project.
const FIRST_BUILD: Duration = Duration::from_secs(1500);
/// Later builds only compile and link the service file.
const REBUILD: Duration = Duration::from_secs(600);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tomodachi"));
    for var in [
        "TOMODACHI_PRODUCTION",
        "TOMODACHI_LOGGER",
        "TOMODACHI_LOG_LEVEL",
        "TOMODACHI_LOOP",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", workspace().join("target"));
    cmd
}

/// The `cargo` block of the test services: the HTTP side of the tomodachi crate only, and no
/// dependency debuginfo, which keeps the generated project's build small (it is a second
/// build of the dependencies beside the workspace's own).
fn cargo_block() -> String {
    let crate_dir = workspace().join("crates/tomodachi");
    format!(
        "//! ```cargo\n\
         //! [dependencies]\n\
         //! tomodachi = {{ path = {path:?}, default-features = false, features = [\"http\", \"macros\"] }}\n\
         //!\n\
         //! [profile.dev]\n\
         //! debug = false\n\
         //! ```\n\n",
        path = crate_dir.display().to_string()
    )
}

fn http_service(reply: &str) -> String {
    cargo_block()
        + &format!(
            r#"#[derive(Default)]
struct CliTest;

#[tomodachi::service(name = "cli-test")]
impl CliTest {{
    #[http(GET, r"/")]
    async fn index(&self) -> &'static str {{
        "{reply}"
    }}
}}

tomodachi::main!(CliTest);
"#
        )
}

/// A service that ends itself with exit code `code` once started.
fn exiting_service(code: i32) -> String {
    cargo_block()
        + &format!(
            r#"#[derive(Default)]
struct Quitter;

#[tomodachi::service(name = "quitter")]
impl Quitter {{
    #[http(GET, r"/")]
    async fn index(&self) -> &'static str {{
        "bye"
    }}

    async fn started_service(&self) -> tomodachi::Result<()> {{
        tomodachi::exit(Some({code}));
        Ok(())
    }}
}}

tomodachi::main!(Quitter);
"#
        )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The body of `GET /`, or `None` when nothing answers.
fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split("\r\n\r\n").nth(1).map(str::to_owned)
}

fn send_signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

fn process_exists(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks for the process.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// A running `tomodachi` with its output collected; killed (with its services) on drop.
struct Cli {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    services: Vec<u32>,
}

fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let sink = buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut b) = sink.lock() {
                b.push_str(&line);
                b.push('\n');
            }
        }
    });
    buf
}

impl Cli {
    fn spawn(dir: &Path, cache: &Path, args: &[&str]) -> Cli {
        let mut child = cli()
            .current_dir(dir)
            .args(args)
            .env("TOMODACHI_CACHE_DIR", cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tomodachi");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        Cli {
            child,
            stdout,
            stderr,
            services: Vec::new(),
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn output(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        )
    }

    /// The CLI's child processes (Linux).
    fn children(&mut self) -> Vec<u32> {
        let pid = self.child.id();
        let found: Vec<u32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        for p in &found {
            if !self.services.contains(p) {
                self.services.push(*p);
            }
        }
        found
    }

    /// The pid of the last `service process started` record.
    fn last_service_pid(&mut self) -> u32 {
        let err = self.stderr();
        let pid = err
            .lines()
            .filter(|l| l.contains("service process started"))
            .filter_map(|l| l.split("pid=").nth(1))
            .filter_map(|p| p.split_whitespace().next()?.parse().ok())
            .next_back()
            .unwrap_or_else(|| panic!("no service process started\n{}", self.output()));
        self.services.push(pid);
        pid
    }

    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn terminate(&mut self) -> i32 {
        send_signal(self.child.id(), libc::SIGTERM);
        match self.wait(Duration::from_secs(60)) {
            Some(code) => code,
            None => panic!("tomodachi did not exit after SIGTERM\n{}", self.output()),
        }
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in &self.services {
            if process_exists(*pid) {
                send_signal(*pid, libc::SIGKILL);
            }
        }
    }
}

fn wait_for(limit: Duration, cli: &Cli, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < limit,
            "timed out waiting for {what}\n{}",
            cli.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A test folder below Cargo's `target/tmp`, emptied first. Its path is the same on every run,
/// so the generated project (a package per service file path) reuses its build artifacts in
/// the shared target folder instead of adding new ones each run.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("tomodachi-cli")
            .join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        TempDir(d)
    }
}

fn write_config(dir: &Path, port: u16) {
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"options": {{"http": {{"port": {port}, "host": "127.0.0.1"}}}}}}"#),
    )
    .expect("config");
}

#[test]
fn develop_edit_break_and_stop() {
    let dir = TempDir::new("dev");
    let cache = TempDir::new("dev-cache");
    let port = free_port();
    write_config(&dir.0, port);
    let file = dir.0.join("svc.rs");
    std::fs::write(&file, http_service("v1")).expect("write");

    let mut cli = Cli::spawn(&dir.0, &cache.0, &["run", "svc.rs", "-c", "config.json"]);
    // (a) it builds and serves
    wait_for(FIRST_BUILD, &cli, "the first version", || {
        get(port).as_deref() == Some("v1")
    });
    let out = cli.stdout();
    assert!(
        out.contains(&format!(
            "tomodachi version      ⇢ {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
    assert!(out.contains("service file           ⇢ ./svc.rs"), "{out}");
    assert!(out.contains("$ tomodachi run -c <...> <...>"), "{out}");
    assert!(
        out.contains("event loop             ⇢ tokio multi-thread"),
        "{out}"
    );
    assert!(
        out.contains("⌁ [watcher] file watcher enabled (code changes auto restart services)"),
        "{out}"
    );
    let first = cli.last_service_pid();

    // (b) an edit is served after a rebuild; a client polling meanwhile is never refused
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let poller = {
        let (stop, refused) = (stop.clone(), refused.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Err(e) = TcpStream::connect(("127.0.0.1", port)) {
                    if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::fs::write(&file, http_service("v2")).expect("write");
    wait_for(REBUILD, &cli, "the edited version", || {
        get(port).as_deref() == Some("v2")
    });
    wait_for(
        Duration::from_secs(60),
        &cli,
        "the old process to stop",
        || !process_exists(first),
    );
    stop.store(true, Ordering::SeqCst);
    let _ = poller.join();
    assert_eq!(
        refused.load(Ordering::SeqCst),
        0,
        "connections were refused during the restart\n{}",
        cli.output()
    );
    let err = cli.stderr();
    assert!(err.contains("updated files"), "{err}");
    assert!(err.contains("updated_files=['./svc.rs']"), "{err}");
    assert!(err.contains("restarting services"), "{err}");
    let second = cli.last_service_pid();
    assert_ne!(first, second);

    // (c) a broken edit keeps the running build and shows the compiler's error
    std::fs::write(&file, "this is not rust").expect("write");
    wait_for(REBUILD, &cli, "the failed build", || {
        cli.stderr().contains("restart failed due to error")
    });
    let err = cli.stderr();
    assert!(err.contains("error: expected one of"), "{}", cli.output());
    assert_eq!(
        get(port).as_deref(),
        Some("v2"),
        "the old build keeps serving"
    );
    assert!(process_exists(second));

    // (d) SIGTERM: graceful exit, the service is gone
    assert_eq!(cli.terminate(), 0, "{}", cli.output());
    assert!(!process_exists(second), "the service outlived the CLI");
    assert_eq!(get(port), None, "the service stopped with the CLI");
}

#[test]
fn production_signals_exit_codes_and_build_failures() {
    let dir = TempDir::new("prod");
    let cache = TempDir::new("prod-cache");
    let port = free_port();
    write_config(&dir.0, port);

    // a build failure is exit code 1 with the compiler's output
    std::fs::write(dir.0.join("broken.rs"), "fn main() { let }").expect("write");
    let out = cli()
        .current_dir(&dir.0)
        .env("TOMODACHI_CACHE_DIR", &cache.0)
        .args(["run", "--production", "broken.rs"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: expected"), "{err}");
    assert!(err.contains("unable to build service"), "{err}");

    // (e) no banner; SIGTERM is forwarded and the graceful exit code returned
    let file = dir.0.join("svc.rs");
    std::fs::write(&file, http_service("v3")).expect("write");
    let mut prod = Cli::spawn(
        &dir.0,
        &cache.0,
        &["run", "--production", "svc.rs", "-c", "config.json"],
    );
    wait_for(FIRST_BUILD, &prod, "the production run", || {
        get(port).as_deref() == Some("v3")
    });
    assert!(
        !prod.stdout().contains("tomodachi version"),
        "{}",
        prod.output()
    );
    assert!(!prod.stdout().contains("file watcher"), "{}", prod.output());
    let services = prod.children();
    assert_eq!(services.len(), 1, "{services:?}");
    assert_eq!(prod.terminate(), 0, "{}", prod.output());
    assert!(
        prod.stderr().contains("received termination signal"),
        "{}",
        prod.output()
    );
    assert!(!process_exists(services[0]));

    // the service's own exit code is the CLI's
    std::fs::write(&file, exiting_service(3)).expect("write");
    let mut quitter = Cli::spawn(
        &dir.0,
        &cache.0,
        &["run", "--production", "svc.rs", "-c", "config.json"],
    );
    assert_eq!(quitter.wait(REBUILD), Some(3), "{}", quitter.output());
    assert!(
        quitter.stderr().contains("tomodachi.exit [3] was called"),
        "{}",
        quitter.output()
    );
}

#[test]
fn versions_help_and_bad_input() {
    let out = cli().arg("--version").output().expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("tomodachi {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = cli().arg("-v").output().expect("run");
    assert!(out.status.success());
    let out = cli().arg("--dependency-versions").output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.lines().any(|l| l.starts_with("rustc/1.")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("tokio/1.")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("hyper/1.")), "{text}");
    let out = cli().output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: tomodachi"));

    let out = cli().arg("--bogus").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: option --bogus not recognized."));
    let out = cli().args(["run", "--production"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = cli()
        .args(["run", "svc.rs", "--loop", "fast"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Invalid value for --loop option: 'fast' not recognized"));
    let out = cli()
        .args(["run", "svc.rs", "--logger", "json"])
        .env("TOMODACHI_LOGGER", "console")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Invalid value for --logger option: 'json' differs from env TOMODACHI_LOGGER"));

    let out = cli()
        .args(["run", "--production", "/nonexistent/svc.rs"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such service file"));
    let dir = TempDir::new("bad");
    std::fs::write(dir.0.join("lib.rs"), "pub fn nothing() {}").expect("write");
    let out = cli()
        .current_dir(&dir.0)
        .args(["run", "lib.rs"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a tomodachi service"));
}

/// A Cargo package folder with a named example runs like a single file does.
#[test]
fn run_a_named_example_of_a_package_folder() {
    let port = free_port();
    let mut child = cli()
        .current_dir(workspace())
        .args([
            "run",
            "--production",
            "crates/tomodachi",
            "--example",
            "hello",
            "--loop",
            "uvloop",
        ])
        .env("HTTP_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tomodachi");
    let stdout = collect(child.stdout.take().expect("stdout"));
    let stderr = collect(child.stderr.take().expect("stderr"));
    let mut running = Cli {
        child,
        stdout,
        stderr,
        services: Vec::new(),
    };
    wait_for(FIRST_BUILD, &running, "the example", || {
        get(port).as_deref() == Some("hello")
    });
    running.children();
    assert!(running
        .stderr()
        .contains("notice: --loop uvloop is a Python event loop"));
    assert_eq!(running.terminate(), 0, "{}", running.output());

    let out = cli()
        .current_dir(workspace())
        .args([
            "run",
            "--production",
            "crates/tomodachi",
            "--example",
            "no_such_example",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no example named no_such_example"));
}

/// `tomodachi asyncapi|openapi <package> --example NAME` builds the example and prints its
/// documents; a missing example is exit code 1 with nothing on stdout.
#[test]
fn documents_of_a_package_example() {
    for (command, key, version) in [
        ("asyncapi", "asyncapi", "3.0.0"),
        ("openapi", "openapi", "3.1.0"),
    ] {
        let out = cli()
            .current_dir(workspace())
            .args([command, "crates/tomodachi", "--example", "sleepy_sheep"])
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON document");
        assert_eq!(doc[key], version);
        assert_eq!(doc["info"]["title"], "sleepy-sheep-counter");
    }
    let out = cli()
        .current_dir(workspace())
        .args([
            "openapi",
            "crates/tomodachi",
            "--example",
            "no_such_example",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}
