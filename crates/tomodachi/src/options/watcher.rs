//! `options.watcher.*` – file watcher settings (development mode).

use serde_json::Value;

use super::error::OptionsError;
use super::value;

/// `options.watcher.*` – extra directories to ignore and extra file endings to watch
///. Upstream reads these from config files only.
///
/// ```
/// use tomodachi::options::{Options, WatcherOptions};
///
/// let options = Options {
///     watcher: WatcherOptions { ignored_dirs: vec!["build".into()], ..Default::default() },
///     ..Default::default()
/// };
/// assert_eq!(options.get("watcher.ignored_dirs").unwrap(), serde_json::json!(["build"]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatcherOptions {
    /// Directory names to ignore in addition to the built-in list. Default empty.
    pub ignored_dirs: Vec<String>,
    /// File endings to watch in addition to the built-in list. Default empty.
    pub watched_file_endings: Vec<String>,
}

impl WatcherOptions {
    /// The keys of the section, in upstream `asdict()` order.
    pub const KEYS: &'static [&'static str] = &["ignored_dirs", "watched_file_endings"];

    /// The section's values in `asdict()` order.
    pub(super) fn entries(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("ignored_dirs", Value::from(self.ignored_dirs.clone())),
            (
                "watched_file_endings",
                Value::from(self.watched_file_endings.clone()),
            ),
        ]
    }

    /// Sets one canonical key of the section (`full` is the dotted key used in errors).
    pub(super) fn set_key(&mut self, key: &str, full: &str, v: &Value) -> Result<(), OptionsError> {
        match key {
            "ignored_dirs" => self.ignored_dirs = value::string_list(full, v)?,
            "watched_file_endings" => self.watched_file_endings = value::string_list(full, v)?,
            _ => return Err(super::unknown_key(full)),
        }
        Ok(())
    }
}
