//! Turning a `<service>` argument into something to build and run: a single `.rs` file gets a
//! generated build project ([`crate::single_file`]); a Cargo package folder (or its
//! `Cargo.toml`) is built as it is: its only binary, `--bin NAME` or `--example NAME`.
//!
//! Builds run `cargo build` with cargo's own progress and compiler diagnostics on stderr, and
//! read the built executable's path from cargo's JSON messages on stdout.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::single_file::{self, SingleFile};

/// The cargo target to build.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `--bin NAME`
    Bin(String),
    /// `--example NAME`
    Example(String),
}

impl Target {
    fn args(&self) -> [&str; 2] {
        match self {
            Target::Bin(n) => ["--bin", n],
            Target::Example(n) => ["--example", n],
        }
    }

    fn name(&self) -> &str {
        match self {
            Target::Bin(n) | Target::Example(n) => n,
        }
    }
}

/// One service: how to build it and what to watch for it.
#[derive(Debug, Clone)]
pub struct Project {
    /// The argument as given on the command line.
    pub service: PathBuf,
    /// The manifest `cargo build` builds.
    pub manifest: PathBuf,
    /// The binary or example.
    pub target: Target,
    /// Folders the watcher looks at for this service.
    pub watch_roots: Vec<PathBuf>,
    /// Folders the watcher never looks into (build output).
    pub ignored_paths: Vec<PathBuf>,
    /// The generated project of a single-file service.
    single: Option<SingleFile>,
}

/// How a build ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Build {
    /// Built: the executable to run.
    Built(PathBuf),
    /// The build failed (cargo printed why).
    Failed,
    /// A signal arrived: cargo was stopped.
    Interrupted,
}

/// Resolves a `<service>` argument.
pub fn resolve(
    service: &Path,
    bin: Option<&str>,
    example: Option<&str>,
) -> Result<Project, String> {
    if service.is_file() && service.file_name().is_some_and(|n| n == "Cargo.toml") {
        let folder = service
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return resolve_package(service, folder, bin, example);
    }
    if service.is_file() {
        if bin.is_some() || example.is_some() {
            return Err(format!(
                "--bin and --example choose a binary of a Cargo package folder, not of a single file ({})",
                service.display()
            ));
        }
        let single = SingleFile::new(service)?;
        let watch_root = single
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        return Ok(Project {
            service: service.to_path_buf(),
            manifest: single.manifest_path(),
            target: Target::Bin(single.name.clone()),
            watch_roots: vec![watch_root],
            ignored_paths: vec![single_file::cache_dir(), single_file::shared_build_dir()],
            single: Some(single),
        });
    }
    if service.is_dir() {
        return resolve_package(service, service, bin, example);
    }
    Err(format!(
        "No such service file or folder: {}",
        service.display()
    ))
}

/// `cargo metadata --no-deps` of a manifest.
fn metadata(manifest: &Path) -> Result<serde_json::Value, String> {
    let out = Command::new(cargo())
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "Invalid service folder: {}: {}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected cargo metadata output: {e}"))
}

/// The cargo executable (`$CARGO` when set, as inside cargo-run tools).
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "cargo".into())
}

fn resolve_package(
    service: &Path,
    folder: &Path,
    bin: Option<&str>,
    example: Option<&str>,
) -> Result<Project, String> {
    let manifest = folder.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "Invalid service folder: {} has no Cargo.toml (a service is a .rs file or a Cargo package folder)",
            folder.display()
        ));
    }
    let manifest = manifest
        .canonicalize()
        .map_err(|e| format!("Invalid service folder: {}: {e}", folder.display()))?;
    let meta = metadata(&manifest)?;
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let Some(package) = packages.iter().find(|p| {
        p["manifest_path"].as_str().map(PathBuf::from).as_deref() == Some(manifest.as_path())
    }) else {
        let members: Vec<String> = packages
            .iter()
            .filter_map(|p| p["manifest_path"].as_str())
            .filter_map(|m| Path::new(m).parent().map(|p| p.display().to_string()))
            .collect();
        return Err(format!(
            "Invalid service folder: {} is a workspace, not a package; run one of its packages: {}",
            folder.display(),
            members.join(", ")
        ));
    };
    let name = package["name"].as_str().unwrap_or_default();
    let uses_tomodachi = name == "tomodachi"
        || package["dependencies"].as_array().is_some_and(|deps| {
            deps.iter()
                .any(|d| d["name"] == "tomodachi" && d["kind"].is_null())
        });
    if !uses_tomodachi {
        return Err(format!(
            "Invalid service folder: {} is not a tomodachi service (package `{name}` does not depend on tomodachi)",
            folder.display()
        ));
    }
    let targets = package["targets"].as_array().cloned().unwrap_or_default();
    let of_kind = |kind: &str| -> Vec<String> {
        targets
            .iter()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == kind))
            })
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect()
    };
    let target = match (bin, example) {
        (_, Some(ex)) => {
            let examples = of_kind("example");
            if !examples.iter().any(|n| n == ex) {
                return Err(format!(
                    "no example named {ex} in {} (examples: {})",
                    manifest.display(),
                    examples.join(", ")
                ));
            }
            Target::Example(ex.to_owned())
        }
        (Some(b), None) => {
            let bins = of_kind("bin");
            if !bins.iter().any(|n| n == b) {
                return Err(format!(
                    "no binary named {b} in {} (binaries: {})",
                    manifest.display(),
                    bins.join(", ")
                ));
            }
            Target::Bin(b.to_owned())
        }
        (None, None) => match of_kind("bin").as_slice() {
            [one] => Target::Bin(one.clone()),
            [] => {
                return Err(format!(
                    "{} has no binary: choose an example with --example NAME",
                    manifest.display()
                ))
            }
            many => {
                return Err(format!(
                    "{} has several binaries ({}): choose one with --bin NAME",
                    manifest.display(),
                    many.join(", ")
                ))
            }
        },
    };
    let root = meta["workspace_root"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_else(|| folder.to_path_buf());
    let mut ignored_paths = Vec::new();
    if let Some(t) = meta["target_directory"].as_str() {
        ignored_paths.push(PathBuf::from(t));
    }
    Ok(Project {
        service: service.to_path_buf(),
        manifest,
        target,
        watch_roots: vec![root],
        ignored_paths,
        single: None,
    })
}

impl Project {
    /// The service as the banner shows it.
    pub fn display(&self, cwd: &Path) -> String {
        let shown = crate::banner::display_path(&self.service, cwd);
        match (&self.single, &self.target) {
            (Some(_), _) => shown,
            (None, Target::Bin(n)) => format!("{shown} (bin: {n})"),
            (None, Target::Example(n)) => format!("{shown} (example: {n})"),
        }
    }

    /// The service as log records name it (`./svc.rs`).
    pub fn label(&self, cwd: &Path) -> String {
        crate::banner::display_path(&self.service, cwd)
    }

    /// Builds the service with cargo (progress and compiler output go to stderr); `stop` is
    /// asked every 50 ms whether to interrupt the build.
    pub fn build(&self, release: bool, stop: &mut dyn FnMut() -> bool) -> Result<Build, String> {
        if let Some(single) = &self.single {
            single.write_project()?;
        }
        let mut cmd = Command::new(cargo());
        cmd.arg("build")
            .arg("--manifest-path")
            .arg(&self.manifest)
            .args(self.target.args())
            .arg("--message-format=json-render-diagnostics")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if release {
            cmd.arg("--release");
        }
        if let Some(single) = &self.single {
            cmd.env("CARGO_TARGET_DIR", single.target_dir())
                .env("CARGO_BUILD_BUILD_DIR", single_file::shared_build_dir());
        }
        crate::process::die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| format!("cannot run cargo: {e}"))?;
        let stdout = child.stdout.take();
        let name = self.target.name().to_owned();
        let reader = std::thread::spawn(move || {
            let mut executable = None;
            if let Some(out) = stdout {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(path) = artifact_executable(&line, &name) {
                        executable = Some(path);
                    }
                }
            }
            executable
        });
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for cargo: {e}")),
            }
            if stop() {
                crate::process::send_signal(child.id(), libc::SIGINT);
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let executable = reader.join().ok().flatten();
        let Some(status) = status else {
            return Ok(Build::Interrupted);
        };
        if !status.success() {
            return Ok(Build::Failed);
        }
        executable.map(Build::Built).ok_or_else(|| {
            format!(
                "cargo built {} but reported no executable for {}",
                self.manifest.display(),
                self.target.name()
            )
        })
    }
}

/// The `executable` of a cargo `compiler-artifact` JSON message for target `name`.
fn artifact_executable(line: &str, name: &str) -> Option<PathBuf> {
    if !line.starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["reason"] != "compiler-artifact" || v["target"]["name"] != name {
        return None;
    }
    let kinds = v["target"]["kind"].as_array()?;
    if !kinds.iter().any(|k| k == "bin" || k == "example") {
        return None;
    }
    v["executable"].as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_come_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","package_id":"x","target":{"kind":["bin"],"crate_types":["bin"],"name":"svc","src_path":"/s.rs"},"executable":"/t/debug/svc","fresh":true}"#;
        assert_eq!(
            artifact_executable(line, "svc"),
            Some(PathBuf::from("/t/debug/svc"))
        );
        assert_eq!(artifact_executable(line, "other"), None);
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"svc"},"executable":null}"#;
        assert_eq!(artifact_executable(lib, "svc"), None);
        assert_eq!(artifact_executable("Compiling", "svc"), None);
        assert_eq!(
            artifact_executable(r#"{"reason":"build-finished","success":true}"#, "svc"),
            None
        );
    }

    #[test]
    fn bad_services_are_clear_errors() {
        let e = resolve(Path::new("/nonexistent/svc.rs"), None, None).unwrap_err();
        assert_eq!(e, "No such service file or folder: /nonexistent/svc.rs");
        let dir =
            std::env::temp_dir().join(format!("tomodachi-cli-project-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = resolve(&dir, None, None).unwrap_err();
        assert!(e.contains("has no Cargo.toml"), "{e}");
        std::fs::write(dir.join("svc.rs"), "tomodachi::main!(S);").unwrap();
        let e = resolve(&dir.join("svc.rs"), Some("x"), None).unwrap_err();
        assert!(e.contains("not of a single file"), "{e}");
        let p = resolve(&dir.join("svc.rs"), None, None).unwrap();
        assert_eq!(p.target, Target::Bin("svc".to_owned()));
        assert_eq!(p.watch_roots, [dir.canonicalize().unwrap()]);
        assert_eq!(p.display(&dir), "./svc.rs");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn package_folders() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .unwrap();
        let p = resolve(&workspace.join("crates/tomodachi"), None, Some("hello")).unwrap();
        assert_eq!(p.target, Target::Example("hello".to_owned()));
        assert_eq!(p.watch_roots, std::slice::from_ref(&workspace));
        assert_eq!(p.display(&workspace), "./crates/tomodachi (example: hello)");
        let e = resolve(&workspace.join("crates/tomodachi"), None, Some("nope")).unwrap_err();
        assert!(e.starts_with("no example named nope in "), "{e}");
        let e = resolve(&workspace.join("crates/tomodachi"), None, None).unwrap_err();
        assert!(e.contains("has no binary"), "{e}");
        // the CLI's own package has a binary but is no service
        let e = resolve(&workspace.join("crates/tomodachi-cli"), None, None).unwrap_err();
        assert!(e.contains("is not a tomodachi service"), "{e}");
        let e = resolve(&workspace, None, None).unwrap_err();
        assert!(e.contains("is a workspace, not a package"), "{e}");
    }
}
