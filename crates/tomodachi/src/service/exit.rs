//! `tomodachi::exit`, stop requests and exit codes.
//!
//! Every running [`App`](super::App) registers a [`StopSignal`]; signals and [`exit`] reach all
//! of them. Each app keeps its own exit code, so several apps in one process (tests) do not
//! disturb each other.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

/// One app's stop request and exit code.
#[derive(Debug)]
pub(crate) struct StopSignal {
    tx: watch::Sender<bool>,
    code: AtomicI32,
}

impl StopSignal {
    pub(crate) fn new() -> (Arc<Self>, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let signal = Arc::new(Self {
            tx,
            code: AtomicI32::new(0),
        });
        if let Ok(mut all) = SIGNALS.lock() {
            all.retain(|s| s.strong_count() > 0);
            all.push(Arc::downgrade(&signal));
        }
        (signal, rx)
    }

    pub(crate) fn stop(&self) {
        let _ = self.tx.send(true);
    }

    pub(crate) fn set_code(&self, code: i32) {
        self.code.store(code, Ordering::SeqCst);
    }

    pub(crate) fn code(&self) -> i32 {
        self.code.load(Ordering::SeqCst)
    }
}

static SIGNALS: Mutex<Vec<Weak<StopSignal>>> = Mutex::new(Vec::new());

fn running() -> Vec<Arc<StopSignal>> {
    SIGNALS
        .lock()
        .map(|all| all.iter().filter_map(Weak::upgrade).collect())
        .unwrap_or_default()
}

/// Requests a graceful stop of every running service, with `code` as the exit code (the
/// current exit code, default 0, when `None`): upstream `tomodachi.exit(code)`.
///
/// ```no_run
/// tomodachi::exit(Some(3)); // the process exits with 3 once shutdown completes
/// ```
pub fn exit(code: Option<i32>) {
    for signal in running() {
        if let Some(code) = code {
            signal.set_code(code);
        }
        let code = signal.code();
        tracing::warn!(target: "tomodachi.exit", exit_code = code, "tomodachi.exit [{code}] was called");
        signal.stop();
    }
}

/// Sets the exit code the process ends with, without stopping it (upstream's
/// `tomodachi.SERVICE_EXIT_CODE = code`): a later stop by a signal, or [`exit`] without a code,
/// ends with it. Called from a handler, it sets the code of that handler's app; elsewhere (a
/// lifecycle hook, another task), of every running app.
///
/// ```no_run
/// // in `start_service`: remember that something was degraded, keep running
/// tomodachi::set_exit_code(128);
/// // ... later `tomodachi::exit(None)` (or SIGTERM) ends the process with 128
/// ```
pub fn set_exit_code(code: i32) {
    let own = crate::logging::current_service().and_then(|s| {
        s.downcast_ref::<crate::transport::TransportContext>()
            .and_then(|c| c.exit.clone())
    });
    match own {
        Some(signal) => signal.set_code(code),
        None => running().iter().for_each(|s| s.set_code(code)),
    }
}

/// The exit code the most recently started running app will end with (0 when none runs).
pub fn exit_code() -> i32 {
    running().last().map_or(0, |s| s.code())
}

/// Asks every running app to stop (signals).
pub(crate) fn request_stop_all() {
    for signal in running() {
        signal.stop();
    }
}
