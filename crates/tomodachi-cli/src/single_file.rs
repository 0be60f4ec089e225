//! The generated build project of a single-file service (`tomodachi run service.rs`).
//!
//! The project lives in the cache (`$TOMODACHI_CACHE_DIR`, else `$XDG_CACHE_HOME/tomodachi`,
//! else `~/.cache/tomodachi`), one folder per service file (named after the file and a hash of
//! its canonical path). Its `Cargo.toml` builds the file itself (`[[bin]] path = ...`) and
//! depends on:
//!
//! * `tomodachi`: the crate this CLI was built with when its sources are still there (or
//!   `$TOMODACHI_CRATE_PATH`), else the crates.io release of the CLI's version;
//! * `serde` (with `derive`), `serde_json`, `tokio` and `tracing`, which service files use;
//! * whatever the file's own `cargo` block adds, in the rust-script style:
//!
//! ```text
//! //! ```cargo
//! //! [dependencies]
//! //! rand = "0.9"
//! //! tomodachi = { path = "../tomodachi", default-features = false, features = ["http", "macros"] }
//! //!
//! //! [package]
//! //! edition = "2024"
//! //! ```
//! ```
//!
//! Keys under `[dependencies]` and `[package]` override the generated ones; other sections
//! (`[features]`, `[profile.dev]`, ...) are added as they are.
//!
//! A new project starts from the lock file of the workspace the CLI was built in (the same
//! dependency versions it was tested with). All projects share one Cargo build folder for the
//! intermediate artifacts (`$CARGO_BUILD_BUILD_DIR`, else `$CARGO_TARGET_DIR`, else `target/`
//! in the cache), so dependencies compile once, while each project's binary lands in its own
//! `target/` (services whose files share a name never run each other's binary).

use std::path::{Path, PathBuf};

/// Dependencies every generated project has (name, TOML value); `tomodachi` comes first.
const BASE_DEPENDENCIES: &[(&str, &str)] = &[
    ("serde", "{ version = \"1\", features = [\"derive\"] }"),
    ("serde_json", "\"1\""),
    ("tokio", "\"1\""),
    ("tracing", "\"0.1\""),
];

/// Names a package cannot have (Rust keywords, built-in crates, Cargo's own folder names).
const RESERVED: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "build",
    "const",
    "continue",
    "core",
    "crate",
    "deps",
    "do",
    "dyn",
    "else",
    "enum",
    "examples",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "incremental",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// The cache folder: `$TOMODACHI_CACHE_DIR`, `$XDG_CACHE_HOME/tomodachi` or
/// `~/.cache/tomodachi`.
pub fn cache_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("TOMODACHI_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("tomodachi");
    }
    var("HOME")
        .map(|h| PathBuf::from(h).join(".cache/tomodachi"))
        .unwrap_or_else(|| std::env::temp_dir().join("tomodachi-cache"))
}

/// The Cargo build folder (intermediate artifacts) all generated projects share:
/// `$CARGO_BUILD_BUILD_DIR`, else `$CARGO_TARGET_DIR`, else `target/` in the cache.
pub fn shared_build_dir() -> PathBuf {
    ["CARGO_BUILD_BUILD_DIR", "CARGO_TARGET_DIR"]
        .iter()
        .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("target"))
}

/// The tomodachi crate next to this CLI's sources (`$TOMODACHI_CRATE_PATH` overrides), if it
/// is there.
pub fn local_tomodachi_crate() -> Option<PathBuf> {
    let path = std::env::var_os("TOMODACHI_CRATE_PATH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tomodachi"));
    let path = path.canonicalize().ok()?;
    path.join("Cargo.toml").is_file().then_some(path)
}

/// A TOML basic string (JSON string escapes are valid TOML).
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The `tomodachi` dependency value.
fn tomodachi_dependency(local: Option<&Path>) -> String {
    match local {
        Some(p) => format!("{{ path = {} }}", toml_string(&p.display().to_string())),
        None => toml_string(crate::versions::VERSION),
    }
}

/// A package (and binary) name for a file stem.
pub fn crate_name(stem: &str, taken: &[&str]) -> String {
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty()
        || name.starts_with(|c: char| c.is_ascii_digit())
        || RESERVED.contains(&name.as_str())
        || taken.contains(&name.as_str())
    {
        name.insert_str(0, "svc_");
    }
    name
}

fn short_hash(s: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The lines of the file's `//! ```cargo` block (without the `//!` prefix), if it has one.
pub fn cargo_block(source: &str) -> Option<Vec<String>> {
    let mut lines = source.lines().map(str::trim_start);
    lines.find(|l| {
        l.strip_prefix("//!")
            .is_some_and(|rest| rest.trim() == "```cargo")
    })?;
    let mut block = Vec::new();
    for l in lines {
        let Some(rest) = l.strip_prefix("//!") else {
            break;
        };
        if rest.trim() == "```" {
            return Some(block);
        }
        block.push(rest.strip_prefix(' ').unwrap_or(rest).to_owned());
    }
    None
}

/// A manifest section: its header (`package`, `dependencies`, ...) and lines.
#[derive(Debug, Default)]
struct Section {
    header: String,
    lines: Vec<String>,
}

fn split_sections(lines: &[String]) -> Vec<Section> {
    let mut sections = vec![Section {
        header: "dependencies".to_owned(),
        lines: Vec::new(),
    }];
    for l in lines {
        let t = l.trim();
        if t.starts_with('[') && t.ends_with(']') && !t.starts_with("[[") {
            sections.push(Section {
                header: t.trim_matches(['[', ']']).trim().to_owned(),
                lines: Vec::new(),
            });
        } else if t.starts_with("[[") {
            sections.push(Section {
                header: t.to_owned(),
                lines: Vec::new(),
            });
        } else if let Some(s) = sections.last_mut() {
            s.lines.push(l.clone());
        }
    }
    sections
}

/// The key of a `key = value` line.
fn line_key(line: &str) -> Option<&str> {
    let (k, _) = line.split_once('=')?;
    let k = k.trim().trim_matches('"');
    (!k.is_empty() && !k.starts_with('#')).then_some(k)
}

/// `(key, value)` lines of a section, generated ones overridden by the file's.
fn merge(generated: &[(&str, String)], extra: &[&Section], header: &str) -> Vec<String> {
    let extra_lines: Vec<&String> = extra
        .iter()
        .filter(|s| s.header == header)
        .flat_map(|s| s.lines.iter())
        .collect();
    let overridden: Vec<&str> = extra_lines.iter().filter_map(|l| line_key(l)).collect();
    let mut out: Vec<String> = generated
        .iter()
        .filter(|(k, _)| !overridden.contains(k))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    out.extend(
        extra_lines
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .cloned(),
    );
    out
}

/// Whether `source` names the crate `ident` at the start of a path (`uuid::Uuid`,
/// `use uuid::Uuid;`) or in `extern crate`.
pub fn names_crate(source: &str, ident: &str) -> bool {
    let needle = format!("{ident}::");
    source.match_indices(&needle).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    }) || source.contains(&format!("extern crate {ident}"))
}

/// The dependencies the source gets without asking: `automatic` crates `(name, version)` it
/// names, and `tomodachi-cron` (next to the local tomodachi crate, else the CLI's version).
fn automatic_dependencies(
    source: &str,
    automatic: &[(&str, &str)],
    local_tomodachi: Option<&Path>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = automatic
        .iter()
        .filter(|(n, _)| names_crate(source, &n.replace('-', "_")))
        .map(|(n, v)| (n.to_string(), toml_string(v)))
        .collect();
    if names_crate(source, "tomodachi_cron") {
        let cron = local_tomodachi
            .and_then(|p| p.parent())
            .map(|p| p.join("tomodachi-cron"))
            .filter(|p| p.join("Cargo.toml").is_file());
        let value = match cron {
            Some(p) => format!("{{ path = {} }}", toml_string(&p.display().to_string())),
            None => toml_string(crate::versions::VERSION),
        };
        out.push(("tomodachi-cron".to_owned(), value));
    }
    out
}

/// The generated `Cargo.toml` of `file` (its source given), building binary `name`;
/// `automatic` lists the crates the source gets when it names them.
pub fn manifest(
    name: &str,
    file: &Path,
    source: &str,
    local_tomodachi: Option<&Path>,
    automatic: &[(&str, &str)],
) -> String {
    let block = cargo_block(source).unwrap_or_default();
    let sections = split_sections(&block);
    let extra: Vec<&Section> = sections.iter().collect();
    let package = merge(
        &[
            ("name", toml_string(name)),
            ("version", toml_string("0.0.0")),
            ("edition", toml_string("2021")),
            ("publish", "false".to_owned()),
        ],
        &extra,
        "package",
    );
    let mut deps: Vec<(&str, String)> = vec![("tomodachi", tomodachi_dependency(local_tomodachi))];
    deps.extend(BASE_DEPENDENCIES.iter().map(|(k, v)| (*k, v.to_string())));
    let auto = automatic_dependencies(source, automatic, local_tomodachi);
    for (k, v) in &auto {
        if !deps.iter().any(|(d, _)| d == k) {
            deps.push((k.as_str(), v.clone()));
        }
    }
    let dependencies = merge(&deps, &extra, "dependencies");
    let mut out = format!(
        "# Generated by `tomodachi run` for {file}.\n\
         # Edit the service file (its `//! ```cargo` block for dependencies), not this one.\n\
         [package]\n{package}\n\n[[bin]]\nname = {bin}\npath = {path}\n\n[dependencies]\n{dependencies}\n",
        file = file.display(),
        package = package.join("\n"),
        bin = toml_string(name),
        path = toml_string(&file.display().to_string()),
        dependencies = dependencies.join("\n"),
    );
    for s in sections
        .iter()
        .filter(|s| s.header != "package" && s.header != "dependencies" && s.header != "workspace")
    {
        let header = if s.header.starts_with("[[") {
            s.header.clone()
        } else {
            format!("[{}]", s.header)
        };
        out.push_str(&format!("\n{header}\n{}\n", s.lines.join("\n")));
    }
    out.push_str("\n[workspace]\n");
    out
}

/// Whether a source looks like a runnable service (`tomodachi::main!(...)`, `main!(...)` or a
/// `fn main`).
pub fn looks_like_a_service(source: &str) -> bool {
    source.contains("main!") || source.contains("fn main")
}

/// One single-file service's generated project.
#[derive(Debug, Clone)]
pub struct SingleFile {
    /// The service file (canonical).
    pub file: PathBuf,
    /// The generated project folder.
    pub dir: PathBuf,
    /// The package and binary name.
    pub name: String,
}

impl SingleFile {
    /// Checks the file and places its project in the cache (nothing is written yet).
    pub fn new(file: &Path) -> Result<Self, String> {
        if file.extension().and_then(|e| e.to_str()) != Some("rs") {
            return Err(format!(
                "Invalid service file: {} (expected a .rs file or a Cargo package folder)",
                file.display()
            ));
        }
        let canonical = file
            .canonicalize()
            .map_err(|e| format!("Invalid service file: {}: {e}", file.display()))?;
        let source = std::fs::read_to_string(&canonical)
            .map_err(|e| format!("Invalid service file: {}: {e}", file.display()))?;
        if !looks_like_a_service(&source) {
            return Err(format!(
                "Invalid service file: {} is not a tomodachi service (no `tomodachi::main!(...)` or `fn main` in it)",
                file.display()
            ));
        }
        let stem = canonical
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("service");
        let mut taken = vec!["tomodachi"];
        taken.extend(BASE_DEPENDENCIES.iter().map(|(k, _)| *k));
        let name = crate_name(stem, &taken);
        let dir = cache_dir().join("projects").join(format!(
            "{name}-{}",
            short_hash(&canonical.display().to_string())
        ));
        Ok(Self {
            file: canonical,
            dir,
            name,
        })
    }

    /// The generated manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("Cargo.toml")
    }

    /// Writes (or refreshes, from the file's current `cargo` block) the project; a new project
    /// starts from the workspace's lock file.
    pub fn write_project(&self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create the build folder {}: {e}", self.dir.display()))?;
        let source = std::fs::read_to_string(&self.file)
            .map_err(|e| format!("cannot read {}: {e}", self.file.display()))?;
        let local = local_tomodachi_crate();
        let text = manifest(
            &self.name,
            &self.file,
            &source,
            local.as_deref(),
            crate::versions::automatic_dependencies(),
        );
        let path = self.manifest_path();
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        let lock = self.dir.join("Cargo.lock");
        if !lock.exists() {
            if let Some(workspace) = local.as_deref().map(|p| p.join("../../Cargo.lock")) {
                // a missing or unreadable lock only means cargo resolves afresh
                let _ = std::fs::copy(workspace, &lock);
            }
        }
        Ok(())
    }

    /// The project's own target folder (its binary; the rest goes to
    /// [`shared_build_dir`]).
    pub fn target_dir(&self) -> PathBuf {
        self.dir.join("target")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_are_valid_and_free() {
        assert_eq!(crate_name("my-service", &[]), "my_service");
        assert_eq!(crate_name("1st", &[]), "svc_1st");
        assert_eq!(crate_name("test", &[]), "svc_test");
        assert_eq!(crate_name("tokio", &["tokio"]), "svc_tokio");
        assert_eq!(crate_name("Orders", &["tokio"]), "orders");
    }

    #[test]
    fn the_generated_manifest_builds_the_file_against_tomodachi() {
        let m = manifest(
            "svc",
            Path::new("/srv/svc.rs"),
            "tomodachi::main!(S);",
            Some(Path::new("/w/crates/tomodachi")),
            &[],
        );
        assert!(
            m.contains("\n[[bin]]\nname = \"svc\"\npath = \"/srv/svc.rs\"\n"),
            "{m}"
        );
        assert!(
            m.contains("\ntomodachi = { path = \"/w/crates/tomodachi\" }\n"),
            "{m}"
        );
        assert!(
            m.contains("\nserde = { version = \"1\", features = [\"derive\"] }\n"),
            "{m}"
        );
        assert!(m.contains("\nedition = \"2021\"\n"), "{m}");
        assert!(m.ends_with("\n[workspace]\n"), "{m}");
        let released = manifest("svc", Path::new("/srv/svc.rs"), "", None, &[]);
        assert!(released.contains(&format!("\ntomodachi = \"{}\"\n", crate::versions::VERSION)));
    }

    #[test]
    fn the_cargo_block_adds_and_overrides() {
        let source = r#"//! A service.
//!
//! ```cargo
//! [dependencies]
//! rand = "0.9"
//! tokio = { version = "1", features = ["full"] }
//!
//! [package]
//! edition = "2024"
//!
//! [profile.dev]
//! debug = 0
//! ```

tomodachi::main!(S);
"#;
        assert_eq!(
            cargo_block(source).unwrap(),
            [
                "[dependencies]",
                "rand = \"0.9\"",
                "tokio = { version = \"1\", features = [\"full\"] }",
                "",
                "[package]",
                "edition = \"2024\"",
                "",
                "[profile.dev]",
                "debug = 0"
            ]
        );
        let m = manifest("svc", Path::new("/srv/svc.rs"), source, None, &[]);
        assert!(m.contains("\nrand = \"0.9\"\n"), "{m}");
        assert!(
            m.contains("\ntokio = { version = \"1\", features = [\"full\"] }\n"),
            "{m}"
        );
        assert!(!m.contains("tokio = \"1\""), "{m}");
        assert!(
            m.contains("\nedition = \"2024\"\n") && !m.contains("edition = \"2021\""),
            "{m}"
        );
        assert!(m.contains("\n[profile.dev]\ndebug = 0\n"), "{m}");
        // without a header, lines are dependencies; an unterminated block is no block
        assert_eq!(
            cargo_block("//! ```cargo\n//! a = \"1\"\nfn main() {}"),
            None
        );
        let m = manifest(
            "svc",
            Path::new("/a.rs"),
            "//! ```cargo\n//! itoa = \"1\"\n//! ```\n",
            None,
            &[],
        );
        assert!(m.contains("tracing = \"0.1\"\nitoa = \"1\"\n"), "{m}");
    }

    #[test]
    fn crates_tomodachi_uses_come_automatically_when_named() {
        let automatic = [
            ("uuid", "1.18.1"),
            ("futures-util", "0.3.31"),
            ("chrono", "0.4.42"),
        ];
        let source = "use futures_util::StreamExt;\nfn x() { let _ = uuid::Uuid::new_v4(); my::chrono::x(); }\nuse tomodachi_cron::jiff;";
        let m = manifest("svc", Path::new("/a.rs"), source, None, &automatic);
        assert!(m.contains("\nuuid = \"1.18.1\"\n"), "{m}");
        assert!(m.contains("\nfutures-util = \"0.3.31\"\n"), "{m}");
        assert!(!m.contains("chrono"), "{m}");
        assert!(m.contains("\ntomodachi-cron = \""), "{m}");
        assert!(names_crate("uuid::Uuid", "uuid"));
        assert!(names_crate("extern crate uuid;", "uuid"));
        assert!(!names_crate("my_uuid::x", "uuid"));
        // the file's own entry wins
        let own = "//! ```cargo\n//! uuid = { version = \"1\", features = [\"v7\"] }\n//! ```\nuuid::Uuid::now_v7();";
        let m = manifest("svc", Path::new("/a.rs"), own, None, &automatic);
        assert!(
            m.contains("uuid = { version = \"1\", features = [\"v7\"] }") && !m.contains("1.18.1"),
            "{m}"
        );
    }

    #[test]
    fn files_must_be_rust_services() {
        let dir = std::env::temp_dir().join(format!("tomodachi-cli-sf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("svc.py"), "").unwrap();
        std::fs::write(dir.join("lib.rs"), "pub fn x() {}").unwrap();
        std::fs::write(dir.join("my-svc.rs"), "tomodachi::main!(S);").unwrap();
        assert!(SingleFile::new(&dir.join("svc.py"))
            .unwrap_err()
            .contains("expected a .rs file"));
        assert!(SingleFile::new(&dir.join("nope.rs"))
            .unwrap_err()
            .contains("Invalid service file"));
        assert!(SingleFile::new(&dir.join("lib.rs"))
            .unwrap_err()
            .contains("is not a tomodachi service"));
        let s = SingleFile::new(&dir.join("my-svc.rs")).unwrap();
        assert_eq!(s.name, "my_svc");
        assert!(s.dir.starts_with(cache_dir().join("projects")));
        assert!(s
            .dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("my_svc-"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
