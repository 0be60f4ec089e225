//! Records the versions of the main dependencies as locked in the workspace this CLI is built
//! in (`tomodachi --dependency-versions`), into `$OUT_DIR/dependency_versions.rs`.
//!
//! Outside the workspace (no `../../Cargo.lock`, e.g. a packaged build) the list is empty and
//! the CLI prints only what it can find out at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The crates `--dependency-versions` reports, in upstream's spirit (the transports' client
/// libraries and the runtime), then optional ones when they are in the lock file.
const REPORTED: &[&str] = &[
    "aws-config",
    "aws-sdk-sns",
    "aws-sdk-sqs",
    "hyper",
    "lapin",
    "tokio",
    "prost",
    "opentelemetry",
    "opentelemetry_sdk",
];

/// Crates the tomodachi crate depends on anyway, which a single-file service gets as
/// dependencies when its source names them (`uuid::Uuid`, `use chrono::Utc;`), at the locked
/// version: they cost no extra compilation.
const AUTOMATIC: &[&str] = &[
    "base64",
    "bytes",
    "chrono",
    "futures-util",
    "http",
    "http-body-util",
    "hyper",
    "hyper-util",
    "lapin",
    "regex",
    "tokio-util",
    "tower",
    "uuid",
];

/// `(name, version)` of every `[[package]]` in a `Cargo.lock` text.
fn locked_packages(lock: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                let rest = l.strip_prefix(key)?.trim_start().strip_prefix('=')?;
                Some(rest.trim().trim_matches('"').to_owned())
            })
        };
        if let (Some(name), Some(version)) = (field("name"), field("version")) {
            out.push((name, version));
        }
    }
    out
}

/// Compares dotted versions numerically (pre-release suffixes compare as text).
fn version_key(v: &str) -> Vec<(u64, String)> {
    v.split(['.', '-', '+'])
        .map(|p| (p.parse().unwrap_or(0), p.to_owned()))
        .collect()
}

/// Appends `pub const <name>: &[(&str, &str)]` with the newest locked version of each of
/// `names` that is in the lock file (several versions of one crate may be locked).
fn push_table(
    code: &mut String,
    doc: &str,
    name: &str,
    names: &[&str],
    packages: &[(String, String)],
) {
    let _ = writeln!(code, "{doc}\npub const {name}: &[(&str, &str)] = &[");
    for wanted in names {
        let newest = packages
            .iter()
            .filter(|(n, _)| n == wanted)
            .map(|(_, v)| v)
            .max_by_key(|v| version_key(v));
        if let Some(version) = newest {
            let _ = writeln!(code, "    ({wanted:?}, {version:?}),");
        }
    }
    code.push_str("];\n");
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let lock_path = manifest_dir.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let packages = std::fs::read_to_string(&lock_path)
        .map(|t| locked_packages(&t))
        .unwrap_or_default();

    let mut code = String::new();
    push_table(
        &mut code,
        "/// `(crate, version)` as locked when this CLI was built.",
        "LOCKED",
        REPORTED,
        &packages,
    );
    push_table(
        &mut code,
        "/// `(crate, version)` a single-file service gets when its source names the crate.",
        "AUTOMATIC",
        AUTOMATIC,
        &packages,
    );

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let target = Path::new(&out).join("dependency_versions.rs");
    if let Err(e) = std::fs::write(&target, code) {
        panic!("cannot write {}: {e}", target.display());
    }
}
