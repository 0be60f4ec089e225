//! Records the compiler version (`rust_version`) and the versions of the libraries the
//! transports run on (`hyper_version`, `lapin_version`, ...) for the execution context.
use std::path::{Path, PathBuf};
use std::process::Command;

/// (crate, major version we depend on, env var the code reads).
const LIBRARIES: &[(&str, &str, &str)] = &[
    ("hyper", "1.", "TOMODACHI_HYPER_VERSION"),
    ("lapin", "4.", "TOMODACHI_LAPIN_VERSION"),
    ("aws-sdk-sns", "1.", "TOMODACHI_AWS_SDK_SNS_VERSION"),
    ("aws-sdk-sqs", "1.", "TOMODACHI_AWS_SDK_SQS_VERSION"),
    ("tokio", "1.", "TOMODACHI_TOKIO_VERSION"),
];

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TOMODACHI_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");

    // The versions Cargo resolved are in the lockfile of the workspace being built: above the
    // target directory (OUT_DIR) in the usual layout, else above this crate (a workspace member).
    let lockfile = ["OUT_DIR", "CARGO_MANIFEST_DIR"]
        .iter()
        .filter_map(|var| std::env::var_os(var).map(PathBuf::from))
        .find_map(|dir| find_lockfile(&dir));
    let text = lockfile
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    if let Some(path) = &lockfile {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    for (name, major, var) in LIBRARIES {
        // without a lockfile, the major version this crate requires
        let found = locked_version(&text, name, major)
            .unwrap_or_else(|| major.trim_end_matches('.').to_owned());
        println!("cargo:rustc-env={var}={found}");
    }
}

fn find_lockfile(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|path| path.is_file())
}

/// The version of `name` in a `Cargo.lock` (`[[package]]` / `name = ".."` / `version = ".."`),
/// the first one starting with `major` (a lockfile can hold several major versions).
fn locked_version(lockfile: &str, name: &str, major: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lockfile.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != wanted {
            continue;
        }
        let version = lines
            .next()
            .and_then(|l| l.strip_prefix("version = \""))
            .and_then(|l| l.strip_suffix('"'));
        if let Some(v) = version.filter(|v| v.starts_with(major)) {
            return Some(v.to_owned());
        }
    }
    None
}
