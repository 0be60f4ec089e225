//! Scheduled functions: handlers run on an interval, a crontab expression or a timestamp
//! (upstream's `@schedule`, `@heartbeat`, `@minutely`, `@hourly`, `@daily`, `@monthly`).
//!
//! The schedule forms, the crontab dialect and the time zones come from [`tomodachi_cron`]
//! (re-exported here). [`ServiceBuilder::schedule`](crate::ServiceBuilder::schedule) registers
//! a function; `#[schedule(...)]` and friends inside `#[tomodachi::service]` generate that call.
//!
//! ```
//! use std::sync::Arc;
//! use tomodachi::schedule::{Invocation, ScheduleSpec};
//! use tomodachi::Service;
//!
//! struct Reports;
//!
//! let service = Service::builder("reports", Reports)
//!     .schedule(
//!         "nightly_report",
//!         ScheduleSpec::interval("0 3 * * *").timezone("Europe/Stockholm"),
//!         |_svc: Arc<Reports>, run: Invocation| async move {
//!             tracing::info!(at = %run.invocation_time, "building the report");
//!         },
//!     )
//!     .build();
//! ```
//!
//! How functions run, as upstream:
//! - Loops start once `started_service` has returned; `immediately` adds one run right then.
//! - Every fire starts a new task: a slow run does not delay or skip the next fire. When 20
//!   runs of one function are still going, fires are skipped (a warning is logged) until fewer
//!   than 15 are.
//! - Errors and panics are logged (`uncaught exception: ...` on logger `exception`); the
//!   schedule goes on.
//! - On shutdown no new runs start; running ones are awaited without a time limit (warnings
//!   after 2 s and every 10 s), then `stop_service` runs.
//!
//! Fire times follow the wall clock of the schedule's zone across daylight-saving changes (see
//! [`Schedule`]); upstream reuses the offset in force at "now" and is an hour off once after
//! each change. Waiting costs nothing: the loop sleeps until the next fire (re-reading the wall
//! clock at least once a minute), with no polling.

mod runner;

use std::future::Future;
use std::sync::Arc;

pub use crate::clock::{Clock, SystemClock, TokioClock};
pub use tomodachi_cron::{
    format_utc, parse_timezone, CronError, CronExpr, CronField, Interval, Schedule, ScheduleError,
    ScheduleSpec,
};

use crate::error::Error;
use crate::service::HookOutput;
use crate::transport::BoxFuture;
use crate::ServiceBuilder;

/// What a scheduled function learns about its run.
///
/// ```
/// let run = tomodachi::schedule::Invocation::new("2026-11-22T06:54:22Z", Some("* * * * *".into()));
/// assert_eq!(run.invocation_time, "2026-11-22T06:54:22Z");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invocation {
    /// The scheduled fire time in UTC, `YYYY-MM-DDTHH:MM:SSZ` (for an `immediately` run, the
    /// start time truncated to the second).
    pub invocation_time: String,
    /// The declared interval (`"5"`, `"* * * * *"`, `"hourly"`), `None` for timestamps.
    pub interval: Option<String>,
}

impl Invocation {
    /// An invocation, e.g. to call a handler directly in a test.
    pub fn new(invocation_time: impl Into<String>, interval: Option<String>) -> Self {
        Self {
            invocation_time: invocation_time.into(),
            interval,
        }
    }
}

/// A scheduled function: `Fn(Arc<S>, Invocation)` returning `()` or `Result<(), E>`, or a
/// [`Decorated`](crate::decorator::Decorated) one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a scheduled function",
    label = "not an async fn(Arc<S>, Invocation) returning () or Result<(), E>",
    note = "a scheduled function is `Fn(Arc<S>, Invocation) -> impl Future<Output = ()>` (or `Result<(), E>`)"
)]
pub trait ScheduleHandler<S, Args>: Send + Sync + 'static {
    /// Runs the function for one invocation.
    fn call(&self, state: Arc<S>, invocation: Invocation) -> BoxFuture<'static, Result<(), Error>>;
}

impl<S, F, Fut, O> ScheduleHandler<S, ()> for F
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = O> + Send + 'static,
    O: HookOutput,
{
    fn call(&self, state: Arc<S>, invocation: Invocation) -> BoxFuture<'static, Result<(), Error>> {
        let fut = self(state, invocation);
        Box::pin(async move { fut.await.into_result() })
    }
}

pub(crate) type ErasedScheduleHandler =
    Arc<dyn Fn(Invocation) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;

/// A validated scheduled function, ready to start as a transport.
pub(crate) struct ScheduledFn {
    pub(crate) name: Arc<str>,
    pub(crate) schedule: Schedule,
    pub(crate) immediately: bool,
    pub(crate) interval: Option<String>,
    pub(crate) handler: ErasedScheduleHandler,
}

/// Validates `spec` and wraps the handler; the error text names the function.
fn scheduled_function<S, H, Args>(
    state: Arc<S>,
    name: String,
    spec: ScheduleSpec,
    handler: H,
) -> Result<ScheduledFn, String>
where
    S: Send + Sync + 'static,
    H: ScheduleHandler<S, Args>,
{
    let schedule = spec
        .parse()
        .map_err(|e| format!("{e} (scheduled function '{name}')"))?;
    let handler: ErasedScheduleHandler =
        Arc::new(move |invocation| handler.call(state.clone(), invocation));
    Ok(ScheduledFn {
        name: Arc::from(name),
        schedule,
        immediately: spec.is_immediate(),
        interval: spec.interval_value(),
        handler,
    })
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// Registers a scheduled function named `name` (the `handler` field of its logs): it runs
    /// on `spec`'s interval, crontab expression or timestamp once `started_service` has
    /// returned (see [`schedule`](crate::schedule)). The handler returns `()` or
    /// `Result<(), E>`; errors are logged and the schedule goes on. An invalid `spec` makes
    /// the app's start fail with the schedule error.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tomodachi::schedule::{Invocation, ScheduleSpec};
    /// # struct S;
    /// let svc = tomodachi::Service::builder("s", S)
    ///     .schedule("heartbeat", ScheduleSpec::interval(1), |_s: Arc<S>, run: Invocation| async move {
    ///         tracing::info!(at = %run.invocation_time, "heartbeat");
    ///     })
    ///     .build();
    /// ```
    pub fn schedule<H, Args>(
        mut self,
        name: impl Into<String>,
        spec: ScheduleSpec,
        handler: H,
    ) -> Self
    where
        H: ScheduleHandler<S, Args>,
    {
        match scheduled_function(self.state.clone(), name.into(), spec, handler) {
            Ok(f) => self.transport_mut::<runner::Scheduler>().functions.push(f),
            Err(e) => self.definition_error(e),
        }
        self
    }
}
