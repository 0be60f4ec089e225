//! The development-mode file watcher, with upstream's rules.
//!
//! * Roots: the current directory and each service's folder (for a Cargo package, its
//!   workspace root).
//! * Watched: files ending in `.rs`, `.toml`, `.json`, `.yml`, `.yaml`, `.html`, `.phtml`, plus
//!   the config files' `options.watcher.watched_file_endings`.
//! * Ignored: any path with a hidden component (`/.`), the folders `target`, `__pycache__`,
//!   `.git`, `.svn`, `__ignored__`, `__temporary__`, `__tmp__`, `.mypy_cache`, `.pytest_cache`
//!   and the config files' `options.watcher.ignored_dirs` (by name, at any depth), and the
//!   CLI's own cache and target folders.
//! * A file counts as changed only when its contents changed (a touch is not a change).
//!
//! Changes are noticed through the operating system's file events (`notify`: inotify, FSEvents,
//! kqueue), each watched folder on its own so ignored trees such as `target/` cost nothing,
//! and debounced (a burst of writes from an editor or `git checkout` is one change). Where
//! file events are not available the watcher polls like upstream: every 0.5 s for modified
//! files, every 20th poll (~10 s) for added and removed ones.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher as _};

/// Endings watched by default (upstream's minus the Python ones, plus `.rs` and `.toml`).
pub const WATCHED_ENDINGS: &[&str] = &[".rs", ".toml", ".json", ".yml", ".yaml", ".html", ".phtml"];

/// Folder names never watched (upstream's, plus Cargo's `target`).
pub const IGNORED_DIRS: &[&str] = &[
    "target",
    "__pycache__",
    ".git",
    ".svn",
    "__ignored__",
    "__temporary__",
    "__tmp__",
    ".mypy_cache",
    ".pytest_cache",
];

/// Quiet time after the last file event before the files are compared.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// Longest a stream of events can postpone the comparison.
const MAX_DELAY: Duration = Duration::from_secs(2);
/// Poll interval without file events (upstream's).
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Every this many polls, look for added and removed files too (upstream's).
const FULL_SCAN_EVERY: u32 = 20;

/// Which files the watcher looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    endings: Vec<String>,
    ignored_dirs: Vec<String>,
    ignored_paths: Vec<PathBuf>,
}

impl Rules {
    /// Upstream's defaults plus extra endings (`"txt"` or `".txt"`), extra ignored folder
    /// names, and absolute paths never to look into.
    pub fn new(
        extra_endings: &[String],
        extra_ignored_dirs: &[String],
        ignored_paths: &[PathBuf],
    ) -> Self {
        let mut endings: Vec<String> = WATCHED_ENDINGS.iter().map(|s| s.to_string()).collect();
        for e in extra_endings {
            let e = e.trim();
            if e.is_empty() {
                continue;
            }
            let e = if e.starts_with('.') {
                e.to_owned()
            } else {
                format!(".{e}")
            };
            if !endings.contains(&e) {
                endings.push(e);
            }
        }
        let mut ignored_dirs: Vec<String> = IGNORED_DIRS.iter().map(|s| s.to_string()).collect();
        for d in extra_ignored_dirs {
            let d = d.trim().trim_matches('/').to_owned();
            if !d.is_empty() && !ignored_dirs.contains(&d) {
                ignored_dirs.push(d);
            }
        }
        let ignored_paths = ignored_paths
            .iter()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
            .collect();
        Self {
            endings,
            ignored_dirs,
            ignored_paths,
        }
    }

    /// The config files' `options.watcher` lists (`watched_file_endings`, `ignored_dirs`),
    /// nested or as dotted keys.
    pub fn from_config_files(files: &[PathBuf], ignored_paths: &[PathBuf]) -> Self {
        let mut endings = Vec::new();
        let mut ignored = Vec::new();
        for f in files {
            let Some(v) = std::fs::read_to_string(f)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            else {
                continue;
            };
            let strings = |v: &serde_json::Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let o = &v["options"];
            for (key, out) in [
                ("watched_file_endings", &mut endings),
                ("ignored_dirs", &mut ignored),
            ] {
                out.extend(strings(&o["watcher"][key]));
                out.extend(strings(&o[format!("watcher.{key}").as_str()]));
            }
        }
        Self::new(&endings, &ignored, ignored_paths)
    }

    fn ignored_name(&self, name: &str) -> bool {
        name.starts_with('.') || self.ignored_dirs.iter().any(|d| d == name)
    }

    /// Whether `path` lies in one of the ignored paths (one that holds `root` itself does not
    /// count: a service inside the cache is still watched).
    fn ignored_path(&self, root: &Path, path: &Path) -> bool {
        self.ignored_paths
            .iter()
            .any(|p| path.starts_with(p) && !root.starts_with(p))
    }

    /// Whether the folder `dir` below `root` is looked into.
    pub fn walks_dir(&self, root: &Path, dir: &Path) -> bool {
        let Ok(rel) = dir.strip_prefix(root) else {
            return false;
        };
        !self.ignored_path(root, dir)
            && rel.components().all(|c| match c {
                Component::Normal(n) => !self.ignored_name(&n.to_string_lossy()),
                _ => true,
            })
    }

    /// Whether the file `path` below `root` is watched.
    pub fn watches_file(&self, root: &Path, path: &Path) -> bool {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        let name = name.to_string_lossy();
        !name.starts_with('.')
            && self.endings.iter().any(|e| name.ends_with(e.as_str()))
            && self.walks_dir(root, parent)
    }
}

/// What is known about one file.
#[derive(Debug, Clone, PartialEq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    digest: u64,
}

fn digest(path: &Path) -> Option<u64> {
    let contents = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    contents.hash(&mut h);
    Some(h.finish())
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        digest: digest(path)?,
    })
}

/// What changed between two looks.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    /// New files.
    pub added: Vec<PathBuf>,
    /// Files that are gone.
    pub removed: Vec<PathBuf>,
    /// Files whose contents changed.
    pub updated: Vec<PathBuf>,
}

impl Changes {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.updated.is_empty()
    }

    /// Upstream's message: `updated files`, `added files`, `removed files`, or `modified files
    /// or filepaths` for a mix.
    pub fn message(&self) -> &'static str {
        let kinds = [&self.added, &self.removed, &self.updated]
            .iter()
            .filter(|v| !v.is_empty())
            .count();
        if kinds > 1 {
            "modified files or filepaths"
        } else if !self.updated.is_empty() {
            "updated files"
        } else if !self.added.is_empty() {
            "added files"
        } else {
            "removed files"
        }
    }
}

/// The watched files below the roots, with their stamps.
#[derive(Debug)]
pub struct Index {
    roots: Vec<PathBuf>,
    rules: Rules,
    files: BTreeMap<PathBuf, Stamp>,
    dirs: BTreeSet<PathBuf>,
}

impl Index {
    /// Indexes the files below `roots` now.
    pub fn new(roots: &[PathBuf], rules: Rules) -> Self {
        let mut unique: Vec<PathBuf> = Vec::new();
        for r in roots {
            let r = r.canonicalize().unwrap_or_else(|_| r.clone());
            if !unique.contains(&r) {
                unique.push(r);
            }
        }
        let mut index = Self {
            roots: unique,
            rules,
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
        };
        let (files, dirs) = index.walk();
        index.files = files
            .into_iter()
            .filter_map(|p| stamp(&p).map(|s| (p, s)))
            .collect();
        index.dirs = dirs;
        index
    }

    /// How many files are watched.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The watched files.
    #[cfg(test)]
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// Every watched file and every folder looked into (the roots included).
    fn walk(&self) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
        let mut files = BTreeSet::new();
        let mut dirs = BTreeSet::new();
        for root in &self.roots {
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                dirs.insert(dir.clone());
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(kind) = entry.file_type() else {
                        continue;
                    };
                    if kind.is_dir() {
                        if self.rules.walks_dir(root, &path) {
                            stack.push(path);
                        }
                    } else if self.rules.watches_file(root, &path) && path.is_file() {
                        files.insert(path);
                    }
                }
            }
        }
        (files, dirs)
    }

    /// Whether `path` (from a file event) can matter: a watched file, a folder looked into,
    /// or a folder that may be new.
    fn relevant(&self, path: &Path) -> bool {
        if self.files.contains_key(path) || self.dirs.contains(path) {
            return true;
        }
        self.roots.iter().any(|root| {
            path.starts_with(root)
                && (self.rules.watches_file(root, path)
                    || (path.is_dir() && self.rules.walks_dir(root, path)))
        })
    }

    /// Compares one known file with its stamp; true when its contents changed.
    fn recheck_file(path: &Path, old: &mut Stamp) -> bool {
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        if meta.modified().ok() == old.modified && meta.len() == old.len {
            return false;
        }
        match stamp(path) {
            Some(new) if new.digest != old.digest => {
                *old = new;
                true
            }
            Some(new) => {
                *old = new;
                false
            }
            None => false,
        }
    }

    /// Looks for added, removed and changed files.
    pub fn rescan(&mut self) -> Changes {
        let (now, dirs) = self.walk();
        self.dirs = dirs;
        let mut changes = Changes::default();
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !now.contains(*p))
            .cloned()
            .collect();
        for p in gone {
            self.files.remove(&p);
            changes.removed.push(p);
        }
        for p in now {
            match self.files.get_mut(&p) {
                Some(old) => {
                    if Self::recheck_file(&p, old) {
                        changes.updated.push(p);
                    }
                }
                None => {
                    if let Some(s) = stamp(&p) {
                        self.files.insert(p.clone(), s);
                        changes.added.push(p);
                    }
                }
            }
        }
        changes
    }

    /// Looks at the known files only (removed ones are noticed by the next [`rescan`]).
    ///
    /// [`rescan`]: Index::rescan
    pub fn recheck(&mut self) -> Changes {
        let mut changes = Changes::default();
        for (path, old) in self.files.iter_mut() {
            if Self::recheck_file(path, old) {
                changes.updated.push(path.clone());
            }
        }
        changes
    }
}

/// How changes are noticed.
enum Backend {
    /// File events, one non-recursive watch per folder looked into.
    Events {
        watcher: notify::RecommendedWatcher,
        events: Receiver<notify::Result<notify::Event>>,
        watched: BTreeSet<PathBuf>,
        /// First and last event of the burst being debounced.
        pending: Option<(Instant, Instant)>,
    },
    /// Upstream's polling.
    Polling { polls: u32, next: Instant },
}

/// The watcher: an [`Index`] kept up to date by file events or polling.
pub struct Watcher {
    index: Index,
    backend: Backend,
    notices: Vec<String>,
}

impl Watcher {
    /// Indexes the files and starts watching (file events where possible, else polling).
    pub fn new(roots: &[PathBuf], rules: Rules) -> Self {
        let index = Index::new(roots, rules);
        let mut w = Self {
            index,
            backend: Backend::Polling {
                polls: 0,
                next: Instant::now() + POLL_INTERVAL,
            },
            notices: Vec::new(),
        };
        let force_polling =
            std::env::var("TOMODACHI_WATCHER_POLL").is_ok_and(|v| crate::args::env_flag_on(&v));
        if !force_polling {
            let (tx, rx) = std::sync::mpsc::channel();
            match notify::recommended_watcher(tx) {
                Ok(watcher) => {
                    w.backend = Backend::Events {
                        watcher,
                        events: rx,
                        watched: BTreeSet::new(),
                        pending: None,
                    };
                    w.sync_watches();
                }
                Err(e) => w.fall_back(&e.to_string()),
            }
        }
        w
    }

    /// How many files are watched.
    pub fn file_count(&self) -> usize {
        self.index.file_count()
    }

    /// `"file events"` or `"polling"`.
    pub fn mode(&self) -> &'static str {
        match self.backend {
            Backend::Events { .. } => "file events",
            Backend::Polling { .. } => "polling",
        }
    }

    /// Messages for the user (e.g. a fall back to polling), once.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    fn fall_back(&mut self, why: &str) {
        self.notices.push(format!(
            "file events unavailable ({why}); polling for changes every 0.5 s"
        ));
        self.backend = Backend::Polling {
            polls: 0,
            next: Instant::now() + POLL_INTERVAL,
        };
    }

    /// Adds watches for new folders and drops those of vanished ones.
    fn sync_watches(&mut self) {
        let Backend::Events {
            watcher, watched, ..
        } = &mut self.backend
        else {
            return;
        };
        let gone: Vec<PathBuf> = watched.difference(&self.index.dirs).cloned().collect();
        for d in gone {
            let _ = watcher.unwatch(&d);
            watched.remove(&d);
        }
        let mut failure = None;
        for d in self.index.dirs.iter() {
            if watched.contains(d) {
                continue;
            }
            match watcher.watch(d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    watched.insert(d.clone());
                }
                // a folder removed since the scan: the next event rescans
                Err(_) if !d.exists() => {}
                Err(e) => {
                    failure = Some(format!("{}: {e}", d.display()));
                    break;
                }
            }
        }
        if let Some(why) = failure {
            self.fall_back(&why);
        }
    }

    /// Waits up to `timeout` for changes; `Some` only with something changed.
    pub fn poll(&mut self, timeout: Duration) -> Option<Changes> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let changes = match &mut self.backend {
                Backend::Polling { polls, next } => {
                    if now < *next {
                        std::thread::sleep((*next).min(deadline) - now);
                        if Instant::now() < *next {
                            return None;
                        }
                    }
                    *polls += 1;
                    *next = Instant::now() + POLL_INTERVAL;
                    if polls.is_multiple_of(FULL_SCAN_EVERY) {
                        self.index.rescan()
                    } else {
                        self.index.recheck()
                    }
                }
                Backend::Events {
                    events, pending, ..
                } => {
                    let wait_until = match pending {
                        Some((first, last)) => {
                            (*last + DEBOUNCE).min(*first + MAX_DELAY).min(deadline)
                        }
                        None => deadline,
                    };
                    let received = events.recv_timeout(wait_until.saturating_duration_since(now));
                    let mut disconnected = false;
                    let mut relevant = false;
                    match received {
                        Ok(Ok(event)) => relevant = self.index_relevant(&event),
                        // an overflowed queue and the like: compare everything
                        Ok(Err(_)) => relevant = true,
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => disconnected = true,
                    }
                    let Backend::Events { pending, .. } = &mut self.backend else {
                        continue;
                    };
                    let now = Instant::now();
                    if relevant {
                        *pending = Some(pending.map_or((now, now), |(first, _)| (first, now)));
                    }
                    if disconnected {
                        self.fall_back("the event channel closed");
                        continue;
                    }
                    match *pending {
                        Some((first, last))
                            if now >= last + DEBOUNCE || now >= first + MAX_DELAY =>
                        {
                            *pending = None;
                            let changes = self.index.rescan();
                            self.sync_watches();
                            changes
                        }
                        _ => {
                            if now >= deadline {
                                return None;
                            }
                            continue;
                        }
                    }
                }
            };
            if !changes.is_empty() {
                return Some(changes);
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }

    fn index_relevant(&self, event: &notify::Event) -> bool {
        if matches!(event.kind, EventKind::Access(_)) {
            return false;
        }
        // no paths: something happened that the backend cannot attribute
        event.paths.is_empty() || event.paths.iter().any(|p| self.index.relevant(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tomodachi-watch-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }

    fn files(d: &Path, rules: Rules) -> Vec<String> {
        Index::new(&[d.to_path_buf()], rules)
            .files()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn ignore_rules_and_endings() {
        let d = tmp("rules");
        assert!(files(&d, Rules::new(&[], &[], &[])).is_empty());
        for dir in [
            "__tmp__",
            "target",
            ".git",
            "__pycache__",
            "configurable_ignored",
            "src",
            "src/deep/target",
            "src/.hidden",
            "cache",
        ] {
            std::fs::create_dir_all(d.join(dir)).unwrap();
            std::fs::write(d.join(dir).join("x.rs"), "fn main() {}").unwrap();
        }
        for f in [
            ".hidden.rs",
            "notes.txt",
            "config.json",
            "Cargo.toml",
            "a.yml",
            "b.yaml",
            "c.html",
            "d.phtml",
            "e.rs~",
            "f.py",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let all = files(&d, Rules::new(&[], &[], &[]));
        assert_eq!(
            all,
            [
                "Cargo.toml",
                "a.yml",
                "b.yaml",
                "c.html",
                "cache/x.rs",
                "config.json",
                "configurable_ignored/x.rs",
                "d.phtml",
                "src/x.rs"
            ],
        );
        let some = files(
            &d,
            Rules::new(&[], &["configurable_ignored".into()], &[d.join("cache")]),
        );
        assert!(
            !some
                .iter()
                .any(|f| f.starts_with("configurable_ignored") || f.starts_with("cache")),
            "{some:?}"
        );
        assert_eq!(some.len(), all.len() - 2);
        let more = files(&d, Rules::new(&["txt".into(), ".py".into()], &[], &[]));
        assert_eq!(more.len(), all.len() + 2, "{more:?}");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn rules_from_config_files() {
        let d = tmp("config");
        let cfg = d.join("c.json");
        std::fs::write(
            &cfg,
            r#"{"options": {"watcher": {"ignored_dirs": ["generated"]}, "watcher.watched_file_endings": [".txt"]}}"#,
        )
        .unwrap();
        let rules = Rules::from_config_files(&[cfg, d.join("missing.json")], &[]);
        assert!(rules.ignored_dirs.contains(&"generated".to_owned()));
        assert!(rules.endings.contains(&".txt".to_owned()));
        assert!(rules.watches_file(&d, &d.join("a/notes.txt")));
        assert!(!rules.watches_file(&d, &d.join("generated/a.rs")));
        assert!(!rules.watches_file(&d, &d.join("a/.b/c.rs")));
        // the root itself may be hidden or ignored: only what is below it counts
        assert!(rules.watches_file(&d.join(".cache"), &d.join(".cache/svc.rs")));
        let rules = Rules::new(&[], &[], &[d.join("cache")]);
        assert!(!rules.watches_file(&d, &d.join("cache/svc.rs")));
        assert!(rules.watches_file(&d.join("cache/x"), &d.join("cache/x/svc.rs")));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn rescans_report_content_changes_only() {
        let d = tmp("scan");
        std::fs::write(d.join("a.rs"), "1").unwrap();
        let mut index = Index::new(std::slice::from_ref(&d), Rules::new(&[], &[], &[]));
        assert_eq!(index.file_count(), 1);
        assert!(index.rescan().is_empty());
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(d.join("a.rs"), "2").unwrap();
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/b.rs"), "new").unwrap();
        let c = index.rescan();
        assert_eq!(c.updated, [d.join("a.rs")]);
        assert_eq!(c.added, [d.join("sub/b.rs")]);
        assert_eq!(c.message(), "modified files or filepaths");
        // same contents, new modification time: not a change
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(d.join("a.rs"), "2").unwrap();
        assert!(index.recheck().is_empty());
        std::fs::remove_file(d.join("sub/b.rs")).unwrap();
        let c = index.rescan();
        assert_eq!((c.removed.len(), c.message()), (1, "removed files"));
        let _ = std::fs::remove_dir_all(d);
    }

    fn wait_for_changes(w: &mut Watcher) -> Changes {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Some(c) = w.poll(Duration::from_millis(200)) {
                return c;
            }
        }
        panic!("no change noticed ({})", w.mode());
    }

    #[test]
    fn the_watcher_notices_edits_new_folders_and_ignores_touches() {
        let d = tmp("events");
        std::fs::write(d.join("svc.rs"), "1").unwrap();
        let mut w = Watcher::new(std::slice::from_ref(&d), Rules::new(&[], &[], &[]));
        assert_eq!(w.mode(), "file events", "{:?}", w.take_notices());
        assert!(w.poll(Duration::from_millis(300)).is_none());

        std::fs::write(d.join("svc.rs"), "2").unwrap();
        let c = wait_for_changes(&mut w);
        assert_eq!(c.message(), "updated files");
        assert_eq!(c.updated, [d.join("svc.rs")]);

        // a file in a folder created after the start
        std::fs::create_dir_all(d.join("new/deeper")).unwrap();
        std::fs::write(d.join("new/deeper/x.json"), "{}").unwrap();
        let c = wait_for_changes(&mut w);
        assert_eq!(c.added, [d.join("new/deeper/x.json")]);
        std::fs::write(d.join("new/deeper/x.json"), "{\"a\": 1}").unwrap();
        assert_eq!(
            wait_for_changes(&mut w).updated,
            [d.join("new/deeper/x.json")]
        );

        // ignored places and unchanged contents are no change
        std::fs::create_dir_all(d.join("target/debug")).unwrap();
        std::fs::write(d.join("target/debug/y.rs"), "x").unwrap();
        std::fs::write(d.join("notes.txt"), "x").unwrap();
        std::fs::write(d.join("svc.rs"), "2").unwrap();
        assert!(w.poll(Duration::from_millis(800)).is_none());
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn the_polling_fallback_works_like_upstream() {
        let d = tmp("polling");
        std::fs::write(d.join("svc.rs"), "1").unwrap();
        let mut w = Watcher::new(std::slice::from_ref(&d), Rules::new(&[], &[], &[]));
        w.fall_back("test");
        assert_eq!(w.mode(), "polling");
        assert_eq!(w.take_notices().len(), 1);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(d.join("svc.rs"), "2").unwrap();
        assert_eq!(wait_for_changes(&mut w).updated, [d.join("svc.rs")]);
        let _ = std::fs::remove_dir_all(d);
    }
}
