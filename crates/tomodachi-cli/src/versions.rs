//! `tomodachi --version` and `tomodachi --dependency-versions`.

mod locked {
    include!(concat!(env!("OUT_DIR"), "/dependency_versions.rs"));
}

/// This CLI's (and the tomodachi crate's) version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `tomodachi <version>`.
pub fn version_line() -> String {
    format!("tomodachi {VERSION}")
}

/// The version of a dependency as locked when this CLI was built.
pub fn locked(name: &str) -> Option<&'static str> {
    locked::LOCKED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// `(crate, version)` a single-file service gets when its source names the crate (crates the
/// tomodachi crate depends on anyway, at their locked versions).
pub fn automatic_dependencies() -> &'static [(&'static str, &'static str)] {
    locked::AUTOMATIC
}

/// `rustc --version` of the toolchain that builds the services (the one on `PATH`, or
/// `$RUSTC`), e.g. `rustc 1.95.0 (59807616e 2026-04-14)`.
pub fn rustc_version() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// The `name/version` lines of `--dependency-versions`: the Rust toolchain, then the
/// transports' client crates and the runtime (as locked when this CLI was built).
pub fn dependency_lines(rustc: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(v) = rustc.and_then(|r| r.split_whitespace().nth(1)) {
        lines.push(format!("rustc/{v}"));
    }
    lines.extend(locked::LOCKED.iter().map(|(n, v)| format!("{n}/{v}")));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_lines_are_name_slash_version() {
        let lines = dependency_lines(Some("rustc 1.95.0 (59807616e 2026-04-14)"));
        assert_eq!(lines[0], "rustc/1.95.0");
        assert!(lines.iter().any(|l| l.starts_with("tokio/1.")), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("hyper/1.")), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("lapin/")), "{lines:?}");
        assert!(lines.iter().all(|l| l.split('/').count() == 2));
        assert_eq!(dependency_lines(None).len(), lines.len() - 1);
        assert_eq!(
            version_line(),
            format!("tomodachi {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
