//! The startup banner (development mode only), in upstream's layout: the logo, then labels
//! padded to 23 characters followed by `⇢ `. The Rust toolchain and the tokio runtime stand in
//! for upstream's Python runtime and event loop lines; local time and a UTC timestamp follow.

use std::path::Path;

use crate::args::Runtime;

const LOGO: &str = "\
▀█▀ █▀█ █▀▄▀█ █▀█ █▀▄ ▄▀█ █▀▀ █ █ █
 █  █▄█ █ ▀ █ █▄█ █▄▀ █▀█ █▄▄ █▀█ █  友達";

/// Everything the banner shows, gathered up front so rendering is a pure function.
#[derive(Debug, Clone, PartialEq)]
pub struct Banner {
    /// The CLI's process id.
    pub pid: u32,
    /// The command line as shown (see [`command_line`]).
    pub command: String,
    /// The services as shown (`./svc.rs`, `./crates/orders (bin: orders)`).
    pub services: Vec<String>,
    /// `Linux`, `macOS`, ...
    pub os: String,
    /// `x86_64`, `aarch64`, ...
    pub arch: String,
    /// The host name, if known.
    pub hostname: Option<String>,
    /// `rustc --version`, if found.
    pub rustc: Option<String>,
    /// The tomodachi version.
    pub version: String,
    /// The tokio version the services build against, if known.
    pub tokio: Option<String>,
    /// The services' runtime flavour.
    pub runtime: Runtime,
    /// Local time, e.g. `2026-11-22 13:40:12 (UTC+01:00)`.
    pub local_time: String,
    /// UTC timestamp, e.g. `2026-11-22T12:40:12.123456Z`.
    pub timestamp: String,
    /// Whether the file watcher line is shown.
    pub watcher: bool,
}

/// Quotes an argument like Python's `shlex.quote`.
fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\"'\"'"))
    }
}

/// The command line as upstream shows it: the service arguments removed and `<...>` appended
/// once, the JSON config file after `-c`/`--config` replaced by `<...>`, shell-quoted, and
/// arguments dropped from the end (ending in `...`) until it fits in 60 characters.
pub fn command_line(program: &str, args: &[String], services: &[&Path]) -> String {
    let mut cmd: Vec<String> = vec![program.to_owned()];
    let mut removed = false;
    for a in args {
        if services.iter().any(|s| Path::new(a) == *s) {
            removed = true;
        } else {
            cmd.push(a.clone());
        }
    }
    if removed {
        cmd.push("<...>".to_owned());
    }
    for flag in ["-c", "--config"] {
        if let Some(at) = cmd.iter().position(|a| a == flag) {
            if let Some(file) = cmd.get(at + 1).cloned() {
                if file.ends_with(".json") {
                    for a in cmd.iter_mut().filter(|a| **a == file) {
                        *a = "<...>".to_owned();
                    }
                }
            }
        }
    }
    cmd.retain(|a| !a.trim().is_empty());
    loop {
        let joined = cmd
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
            .replace("'<...>'", "<...>");
        if joined.chars().count() <= 60 || cmd.len() <= 1 {
            return joined;
        }
        cmd.retain(|a| a != "...");
        cmd.pop();
        cmd.push("...".to_owned());
    }
}

/// Shortens a path to at most 60 characters by replacing leading folders with `.../`.
pub fn shorten_path(path: &str) -> String {
    let mut p = path.to_owned();
    while p.chars().count() > 60 {
        let parts: Vec<&str> = p.trim_start_matches(".../").split('/').collect();
        if parts.len() <= 1 {
            break;
        }
        p = format!(".../{}", parts[1..].join("/"));
        if p.matches('/').count() == 1 {
            p = p[4..].to_owned();
            break;
        }
    }
    p
}

/// `path` relative to `cwd` as `./rel`, else as it is.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let abs = abs.canonicalize().unwrap_or(abs);
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    match abs.strip_prefix(&cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => format!("./{}", rel.display()),
        Err(_) => abs.display().to_string(),
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
}

fn os_name() -> String {
    match std::env::consts::OS {
        "linux" => "Linux".to_owned(),
        "macos" => "macOS".to_owned(),
        "windows" => "Windows".to_owned(),
        "freebsd" => "FreeBSD".to_owned(),
        other => other.to_owned(),
    }
}

impl Banner {
    /// Gathers the banner for this process.
    pub fn gather(
        args: &[String],
        services: &[&Path],
        shown: Vec<String>,
        rustc: Option<String>,
        runtime: Runtime,
        watcher: bool,
    ) -> Self {
        let local = chrono::Local::now();
        Self {
            pid: std::process::id(),
            command: command_line("tomodachi", args, services),
            services: shown,
            os: os_name(),
            arch: std::env::consts::ARCH.to_owned(),
            hostname: hostname(),
            rustc,
            version: crate::versions::VERSION.to_owned(),
            tokio: crate::versions::locked("tokio").map(str::to_owned),
            runtime,
            local_time: local.format("%Y-%m-%d %H:%M:%S (UTC%:z)").to_string(),
            timestamp: crate::log::timestamp(local.with_timezone(&chrono::Utc)),
            watcher,
        }
    }

    /// The banner text (ends with an empty line), with ANSI colours when `color`.
    pub fn render(&self, color: bool) -> String {
        let c = |code: &'static str| if color { code } else { "" };
        let label = format!("{}\x1b[37m\x1b[1m\x1b[2m", "\x1b[0m");
        let label = if color { label.as_str() } else { "" };
        let delimiter = if color {
            "\x1b[0m\x1b[2m⇢\x1b[0m"
        } else {
            "⇢"
        };
        let normal = c("\x1b[0m\x1b[37m\x1b[2m");
        let highlight = c("\x1b[0m\x1b[37m");
        let reset = c("\x1b[0m");
        let line = |name: &str, value: &str, rest: &str| {
            format!("{label}{name:<22} {delimiter} {highlight}{value}{normal}{rest}{reset}")
        };

        let mut out = vec![
            String::new(),
            format!("{reset}{}{LOGO}{reset}", c("\x1b[90m\x1b[1m\x1b[2m")),
            String::new(),
        ];
        let pid = format!("[pid: {}]", self.pid);
        out.push(format!(
            "{label}process [{}{}{label}]{} {delimiter} {highlight}$ {}{reset}",
            c("\x1b[0m\x1b[32m\x1b[1m\x1b[2m"),
            &pid[1..pid.len() - 1],
            " ".repeat(14usize.saturating_sub(pid.len())),
            self.command
        ));
        for (i, s) in self.services.iter().enumerate() {
            let name = if self.services.len() == 1 {
                "service file".to_owned()
            } else {
                format!("service file [{}]", i + 1)
            };
            out.push(line(&name, &shorten_path(s), ""));
        }
        out.push(String::new());
        let host = self
            .hostname
            .as_deref()
            .map(|h| format!(" (hostname: {h})"))
            .unwrap_or_default();
        out.push(line(
            "operating system",
            &format!("{} on {}", self.os, self.arch),
            &host,
        ));
        match self.rustc.as_deref() {
            Some(r) => match r.split_once(" (") {
                Some((v, build)) => {
                    out.push(line("rust toolchain", v, &format!(" (build: {}", build)))
                }
                None => out.push(line("rust toolchain", r, "")),
            },
            None => out.push(line("rust toolchain", "rustc not found", "")),
        }
        out.push(line(
            "tomodachi version",
            &self.version,
            " (local development version)",
        ));
        let flavour = match self.runtime {
            Runtime::CurrentThread => "current-thread",
            Runtime::Auto | Runtime::MultiThread => "multi-thread",
        };
        let mut rest = String::new();
        if let Some(v) = &self.tokio {
            rest.push_str(&format!(" (version: {v})"));
        }
        if self.runtime == Runtime::Auto {
            rest.push_str(" (auto)");
        }
        out.push(line("event loop", &format!("tokio {flavour}"), &rest));
        out.push(line("local time", &self.local_time, ""));
        out.push(line("timestamp", &self.timestamp, ""));
        out.push(String::new());
        if self.watcher {
            out.push(format!(
                "{}⌁ [watcher] file watcher enabled (code changes auto restart services){reset}",
                c("\x1b[0m\x1b[96m\x1b[2m\x1b[1m")
            ));
        }
        out.push(format!(
            "{}⌁ [notice ] stop running services with <ctrl+c> (graceful teardown){reset}",
            c("\x1b[0m\x1b[93m\x1b[2m\x1b[1m")
        ));
        out.push(String::new());
        out.join("\n")
    }
}

/// Whether the banner is coloured: the log colour rules for stdout, plus upstream's
/// `TOMODACHI_BANNER_NO_COLOR` / `TOMODACHI_BANNER_NOCOLOR`.
pub fn banner_color(env: &dyn Fn(&str) -> Option<String>, is_terminal: bool) -> bool {
    let banner_off = ["TOMODACHI_BANNER_NO_COLOR", "TOMODACHI_BANNER_NOCOLOR"]
        .iter()
        .any(|n| env(n).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")));
    !banner_off && crate::log::color_for(env, is_terminal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn sample() -> Banner {
        Banner {
            pid: 26639,
            command: command_line(
                "tomodachi",
                &strings(&["run", "svc.rs", "-c", "a.json", "--log-level", "debug"]),
                &[Path::new("svc.rs")],
            ),
            services: vec!["./svc.rs".to_owned()],
            os: "Linux".to_owned(),
            arch: "x86_64".to_owned(),
            hostname: Some("vm".to_owned()),
            rustc: Some("rustc 1.95.0 (59807616e 2026-04-14)".to_owned()),
            version: "0.1.0".to_owned(),
            tokio: Some("1.48.0".to_owned()),
            runtime: Runtime::Auto,
            local_time: "2026-11-22 13:40:12 (UTC+01:00)".to_owned(),
            timestamp: "2026-11-22T12:40:12.123456Z".to_owned(),
            watcher: true,
        }
    }

    #[test]
    fn layout_without_colours() {
        let b = sample().render(false);
        let expected = "
▀█▀ █▀█ █▀▄▀█ █▀█ █▀▄ ▄▀█ █▀▀ █ █ █
 █  █▄█ █ ▀ █ █▄█ █▄▀ █▀█ █▄▄ █▀█ █  友達

process [pid: 26639]   ⇢ $ tomodachi run -c <...> --log-level debug <...>
service file           ⇢ ./svc.rs

operating system       ⇢ Linux on x86_64 (hostname: vm)
rust toolchain         ⇢ rustc 1.95.0 (build: 59807616e 2026-04-14)
tomodachi version      ⇢ 0.1.0 (local development version)
event loop             ⇢ tokio multi-thread (version: 1.48.0) (auto)
local time             ⇢ 2026-11-22 13:40:12 (UTC+01:00)
timestamp              ⇢ 2026-11-22T12:40:12.123456Z

⌁ [watcher] file watcher enabled (code changes auto restart services)
⌁ [notice ] stop running services with <ctrl+c> (graceful teardown)
";
        assert_eq!(b, expected);
    }

    #[test]
    fn several_services_and_runtimes() {
        let b = Banner {
            services: vec![
                "./a.rs".to_owned(),
                "./crates/orders (bin: orders)".to_owned(),
            ],
            runtime: Runtime::CurrentThread,
            watcher: false,
            ..sample()
        }
        .render(false);
        assert!(b.contains("\nservice file [1]       ⇢ ./a.rs\n"), "{b}");
        assert!(
            b.contains("\nservice file [2]       ⇢ ./crates/orders (bin: orders)\n"),
            "{b}"
        );
        assert!(b.contains("event loop             ⇢ tokio current-thread (version: 1.48.0)\n"));
        assert!(!b.contains("[watcher]"));
        let coloured = sample().render(true);
        assert!(coloured.contains("\x1b["));
        assert!(coloured.contains("tomodachi version"));
    }

    #[test]
    fn command_lines_are_shortened_like_upstream() {
        let args = strings(&[
            "run",
            "svc.rs",
            "--loop",
            "current-thread",
            "--log-level",
            "warning",
            "--logger",
            "json",
            "--release",
        ]);
        let c = command_line("tomodachi", &args, &[Path::new("svc.rs")]);
        assert!(c.chars().count() <= 60, "{c}");
        assert!(c.starts_with("tomodachi run --loop current-thread"), "{c}");
        assert!(c.ends_with(" ..."), "{c}");
        assert_eq!(
            command_line("tomodachi", &strings(&["run", "my svc.rs"]), &[]),
            "tomodachi run 'my svc.rs'"
        );
    }

    #[test]
    fn long_paths_are_shortened_like_upstream() {
        let long = format!("./{}/svc.rs", ["abcdefghij"; 8].join("/"));
        let s = shorten_path(&long);
        assert!(s.starts_with(".../") && s.ends_with("/svc.rs"), "{s}");
        assert!(s.chars().count() <= 60, "{s}");
        assert_eq!(shorten_path("./svc.rs"), "./svc.rs");
        assert_eq!(shorten_path(&format!("/{}.rs", "x".repeat(70))).len(), 73);
    }

    #[test]
    fn banner_colour_switches() {
        let none = |_: &str| None;
        assert!(banner_color(&none, true));
        assert!(!banner_color(&none, false));
        let off = |k: &str| (k == "TOMODACHI_BANNER_NO_COLOR").then(|| "1".to_owned());
        assert!(!banner_color(&off, true));
    }

    #[test]
    fn display_paths_are_relative_to_the_working_directory() {
        let cwd = std::env::temp_dir();
        assert_eq!(display_path(Path::new("svc.rs"), &cwd), "./svc.rs");
        assert_eq!(display_path(&cwd, &cwd), ".");
        assert_eq!(
            display_path(Path::new("/nonexistent/x.rs"), &cwd),
            "/nonexistent/x.rs"
        );
    }
}
