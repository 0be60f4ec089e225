//! The per-transport counters of the execution context (`tomodachi.get_execution_context()`):
//! `<name>_enabled`, `<name>_current_tasks`, `<name>_total_tasks` and the transport's library
//! versions, as upstream reports them.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{Map, Value};

/// A transport's task counters, reported by
/// [`get_execution_context`](crate::get_execution_context) once the transport is enabled.
/// Declare one as a `static` in the transport's module; counting is two atomic operations per
/// task.
///
/// ```
/// use tomodachi::transport::TaskCounter;
///
/// static NATS: TaskCounter = TaskCounter::new("nats", &[("async_nats_version", "0.42")]);
///
/// NATS.enable();
/// NATS.started();
/// let ctx = tomodachi::get_execution_context();
/// assert_eq!(ctx["nats_enabled"], true);
/// assert!(ctx["nats_total_tasks"].as_u64().unwrap() >= 1);
/// NATS.finished();
/// ```
#[derive(Debug)]
pub struct TaskCounter {
    name: &'static str,
    versions: &'static [(&'static str, &'static str)],
    enabled: AtomicBool,
    current: AtomicI64,
    total: AtomicU64,
}

static REGISTERED: Mutex<Vec<&'static TaskCounter>> = Mutex::new(Vec::new());

impl TaskCounter {
    /// Counters reported under `<name>_...`, with `versions` as extra `(key, value)` pairs.
    pub const fn new(
        name: &'static str,
        versions: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            name,
            versions,
            enabled: AtomicBool::new(false),
            current: AtomicI64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// Marks the transport enabled: from now on the execution context reports it.
    pub fn enable(&'static self) {
        if !self.enabled.swap(true, Ordering::Relaxed) {
            if let Ok(mut all) = REGISTERED.lock() {
                all.push(self);
            }
        }
    }

    /// A task (request, message, scheduled run) started.
    pub fn started(&self) {
        self.current.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// A task finished.
    pub fn finished(&self) {
        self.current.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Adds every enabled transport's keys to `m`, in the order they were enabled.
pub(crate) fn report(m: &mut Map<String, Value>) {
    let Ok(all) = REGISTERED.lock() else {
        return;
    };
    for c in all.iter() {
        m.insert(format!("{}_enabled", c.name), true.into());
        m.insert(
            format!("{}_current_tasks", c.name),
            c.current.load(Ordering::Relaxed).into(),
        );
        m.insert(
            format!("{}_total_tasks", c.name),
            c.total.load(Ordering::Relaxed).into(),
        );
        for (key, value) in c.versions {
            m.insert((*key).to_owned(), (*value).into());
        }
    }
}
