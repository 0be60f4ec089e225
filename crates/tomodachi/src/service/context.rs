//! The execution context (`tomodachi.get_execution_context()`): facts about the process and
//! counters of the running transports.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{Map, Value};

static HTTP_ENABLED: AtomicBool = AtomicBool::new(false);
static HTTP_CURRENT: AtomicI64 = AtomicI64::new(0);
static HTTP_TOTAL: AtomicU64 = AtomicU64::new(0);
static AMQP_ENABLED: AtomicBool = AtomicBool::new(false);
static AMQP_CURRENT: AtomicI64 = AtomicI64::new(0);
static AMQP_TOTAL: AtomicU64 = AtomicU64::new(0);
static LAUNCHER: Mutex<Option<Map<String, Value>>> = Mutex::new(None);

#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn set_http_enabled(_port: u16) {
    HTTP_ENABLED.store(true, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "amqp"), allow(dead_code))]
pub(crate) fn set_amqp_enabled() {
    AMQP_ENABLED.store(true, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "amqp"), allow(dead_code))]
pub(crate) fn amqp_task_started() {
    AMQP_CURRENT.fetch_add(1, Ordering::Relaxed);
    AMQP_TOTAL.fetch_add(1, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "amqp"), allow(dead_code))]
pub(crate) fn amqp_task_finished() {
    AMQP_CURRENT.fetch_sub(1, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn http_task_started() {
    HTTP_CURRENT.fetch_add(1, Ordering::Relaxed);
    HTTP_TOTAL.fetch_add(1, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn http_task_finished() {
    HTTP_CURRENT.fetch_sub(1, Ordering::Relaxed);
}

static AWS_ENABLED: AtomicBool = AtomicBool::new(false);
static AWS_CURRENT: AtomicI64 = AtomicI64::new(0);
static AWS_TOTAL: AtomicU64 = AtomicU64::new(0);

#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) fn set_aws_sns_sqs_enabled() {
    AWS_ENABLED.store(true, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) fn aws_sns_sqs_task_started() {
    AWS_CURRENT.fetch_add(1, Ordering::Relaxed);
    AWS_TOTAL.fetch_add(1, Ordering::Relaxed);
}

#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) fn aws_sns_sqs_task_finished() {
    AWS_CURRENT.fetch_sub(1, Ordering::Relaxed);
}

static SCHEDULE_ENABLED: AtomicBool = AtomicBool::new(false);
static SCHEDULE_CURRENT: AtomicI64 = AtomicI64::new(0);
static SCHEDULE_TOTAL: AtomicU64 = AtomicU64::new(0);

pub(crate) fn set_scheduled_functions_enabled() {
    SCHEDULE_ENABLED.store(true, Ordering::Relaxed);
}

pub(crate) fn scheduled_task_started() {
    SCHEDULE_CURRENT.fetch_add(1, Ordering::Relaxed);
    SCHEDULE_TOTAL.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn scheduled_task_finished() {
    SCHEDULE_CURRENT.fetch_sub(1, Ordering::Relaxed);
}

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
            m
        });
    if HTTP_ENABLED.load(Ordering::Relaxed) {
        m.insert("http_enabled".into(), true.into());
        m.insert(
            "http_current_tasks".into(),
            HTTP_CURRENT.load(Ordering::Relaxed).into(),
        );
        m.insert(
            "http_total_tasks".into(),
            HTTP_TOTAL.load(Ordering::Relaxed).into(),
        );
        m.insert("hyper_version".into(), "1".into());
    }
    if AMQP_ENABLED.load(Ordering::Relaxed) {
        m.insert("amqp_enabled".into(), true.into());
        m.insert(
            "amqp_current_tasks".into(),
            AMQP_CURRENT.load(Ordering::Relaxed).into(),
        );
        m.insert(
            "amqp_total_tasks".into(),
            AMQP_TOTAL.load(Ordering::Relaxed).into(),
        );
        m.insert("lapin_version".into(), "4".into());
    }
    if AWS_ENABLED.load(Ordering::Relaxed) {
        m.insert("aws_sns_sqs_enabled".into(), true.into());
        m.insert(
            "aws_sns_sqs_current_tasks".into(),
            AWS_CURRENT.load(Ordering::Relaxed).into(),
        );
        m.insert(
            "aws_sns_sqs_total_tasks".into(),
            AWS_TOTAL.load(Ordering::Relaxed).into(),
        );
        m.insert("aws_sdk_version".into(), "1".into());
    }
    if SCHEDULE_ENABLED.load(Ordering::Relaxed) {
        m.insert("scheduled_functions_enabled".into(), true.into());
        m.insert(
            "scheduled_functions_current_tasks".into(),
            SCHEDULE_CURRENT.load(Ordering::Relaxed).into(),
        );
        m.insert(
            "scheduled_functions_total_tasks".into(),
            SCHEDULE_TOTAL.load(Ordering::Relaxed).into(),
        );
    }
    m
}
