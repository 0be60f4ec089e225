//! The execution context (`tomodachi.get_execution_context()`): facts about the process and
//! the counters of the running transports ([`TaskCounter`](crate::transport::TaskCounter)).

use std::sync::Mutex;

use serde_json::{Map, Value};

static LAUNCHER: Mutex<Option<Map<String, Value>>> = Mutex::new(None);

/// Records the launcher facts; called once per start.
pub(crate) fn init_launcher(runtime_flavor: &str, watcher_enabled: bool) {
    let mut m = Map::new();
    m.insert("tomodachi_version".into(), env!("CARGO_PKG_VERSION").into());
    m.insert(
        "rust_version".into(),
        env!("TOMODACHI_RUSTC_VERSION").into(),
    );
    m.insert("system_platform".into(), platform().into());
    m.insert("process_id".into(), std::process::id().into());
    m.insert(
        "init_timestamp".into(),
        chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string()
            .into(),
    );
    m.insert("event_loop".into(), "tokio".into());
    m.insert("tokio_runtime".into(), runtime_flavor.into());
    m.insert(
        "tokio_version".into(),
        env!("TOMODACHI_TOKIO_VERSION").into(),
    );
    m.insert(
        "cwd".into(),
        std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
            .into(),
    );
    m.insert("watcher_enabled".into(), watcher_enabled.into());
    if let Ok(mut l) = LAUNCHER.lock() {
        *l = Some(m);
    }
}

fn platform() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows",
        other => other,
    }
}

/// A snapshot of the execution context, with upstream's key names where they apply
/// (`rust_version` and `tokio_runtime` stand in for the Python-specific keys).
///
/// ```
/// let ctx = tomodachi::get_execution_context();
/// assert!(ctx.contains_key("tomodachi_version"));
/// ```
pub fn get_execution_context() -> Map<String, Value> {
    let mut m = LAUNCHER
        .lock()
        .ok()
        .and_then(|l| l.clone())
        .unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("tomodachi_version".into(), env!("CARGO_PKG_VERSION").into());
            m.insert(
                "rust_version".into(),
                env!("TOMODACHI_RUSTC_VERSION").into(),
            );
            m.insert(
                "tokio_version".into(),
                env!("TOMODACHI_TOKIO_VERSION").into(),
            );
            m
        });
    crate::transport::report_counters(&mut m);
    m
}

/// The execution context as a handler argument (HTTP and message handlers): a snapshot of
/// [`get_execution_context`] when the handler starts.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::ExecutionContext;
///
/// async fn health(_svc: Arc<()>, ExecutionContext(ctx): ExecutionContext) -> String {
///     ctx["tomodachi_version"].to_string()
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionContext(pub Map<String, Value>);
