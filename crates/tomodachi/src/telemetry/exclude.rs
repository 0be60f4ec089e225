//! Excluded URLs: requests whose path matches one of these regexes get no span (upstream's
//! `ExcludeList` from `opentelemetry.util.http`).

use regex::Regex;

/// The variables upstream reads, in its order: the tomodachi and the aiohttp instrumentation
/// lists (each falling back to the generic `OTEL_PYTHON_EXCLUDED_URLS`), joined.
const VARIABLES: [&str; 2] = [
    "OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS",
    "OTEL_PYTHON_AIOHTTP_EXCLUDED_URLS",
];
const GENERIC: &str = "OTEL_PYTHON_EXCLUDED_URLS";

/// Comma-separated regexes, searched (not fully matched) in the request path.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExcludedUrls {
    regex: Option<Regex>,
}

impl ExcludedUrls {
    /// From a comma-separated list (blank entries ignored; an invalid regex is ignored with a
    /// warning).
    pub(crate) fn parse(urls: &str) -> Self {
        Self::from_entries(urls.split(',').map(str::trim).filter(|u| !u.is_empty()))
    }

    fn from_entries<'a>(entries: impl Iterator<Item = &'a str>) -> Self {
        let mut valid: Vec<&str> = Vec::new();
        for entry in entries {
            if valid.contains(&entry) {
                continue;
            }
            match Regex::new(entry) {
                Ok(_) => valid.push(entry),
                Err(e) => {
                    tracing::warn!(target: "tomodachi.opentelemetry", excluded_url = entry,
                        error_message = %e, "invalid excluded url pattern, ignored");
                }
            }
        }
        if valid.is_empty() {
            return Self::default();
        }
        let joined = valid
            .iter()
            .map(|v| format!("(?:{v})"))
            .collect::<Vec<_>>()
            .join("|");
        Self {
            regex: Regex::new(&joined).ok(),
        }
    }

    /// From `OTEL_PYTHON_TOMODACHI_EXCLUDED_URLS` and `OTEL_PYTHON_AIOHTTP_EXCLUDED_URLS`, each
    /// falling back to `OTEL_PYTHON_EXCLUDED_URLS` (`env` looks a variable up).
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let lists: Vec<String> = VARIABLES
            .iter()
            .filter_map(|name| env(name).or_else(|| env(GENERIC)))
            .collect();
        Self::from_entries(
            lists
                .iter()
                .flat_map(|l| l.split(','))
                .map(str::trim)
                .filter(|u| !u.is_empty()),
        )
    }

    /// Whether a request to `path` gets no span.
    pub(crate) fn excludes(&self, path: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(path))
    }
}
