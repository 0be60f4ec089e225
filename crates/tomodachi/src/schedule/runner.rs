//! One loop per scheduled function: sleep until the next fire by the wall
//! clock, start the run as its own task, and on stop await the runs still going.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tomodachi_cron::format_utc;
use tomodachi_cron::jiff::{SignedDuration, Timestamp};

use super::{Clock, Invocation, ScheduledFn};
use crate::error::Error;

/// The scheduler's tasks in the execution context.
static TASKS: crate::transport::TaskCounter =
    crate::transport::TaskCounter::new("scheduled_functions", &[]);
use crate::transport::{
    BoxFuture, DeclaredTransport, RunningTransport, StartPhase, Transport, TransportContext,
};

/// The loop re-reads the wall clock at least this often while it waits, so a clock that was
/// set (or a machine that was suspended) delays a fire by at most this much.
const MAX_NAP: Duration = Duration::from_secs(60);
/// Runs of one function still going at which fires are skipped.
const TASK_LIMIT: usize = 20;
/// Runs still going below which skipped firing resumes.
const RESUME_BELOW: usize = 15;

/// A service's scheduled functions as a [`Transport`]: nothing to declare; the loops start
/// once `started_service` has returned, and stopping awaits the runs still going.
#[derive(Default)]
pub(crate) struct Scheduler {
    pub(crate) functions: Vec<ScheduledFn>,
}

impl Transport for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn phase(&self) -> StartPhase {
        StartPhase::AfterStarted
    }

    fn describe(&self, _ctx: &TransportContext) -> Vec<crate::transport::Description> {
        self.functions
            .iter()
            .map(|f| {
                crate::transport::Description::Schedule(
                    crate::transport::ScheduleDescription::new(&*f.name, f.interval.clone())
                        .immediately(f.immediately),
                )
            })
            .collect()
    }

    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
        Box::pin(async move {
            Ok(Box::new(DeclaredScheduler {
                functions: self.functions,
                ctx,
            }) as Box<dyn DeclaredTransport>)
        })
    }
}

struct DeclaredScheduler {
    functions: Vec<ScheduledFn>,
    ctx: TransportContext,
}

impl DeclaredTransport for DeclaredScheduler {
    fn start(self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>> {
        Box::pin(async move {
            TASKS.enable();
            let (stop_tx, stop_rx) = watch::channel(false);
            let mut tasks = Vec::with_capacity(self.functions.len());
            let service: Arc<dyn std::any::Any + Send + Sync> = Arc::new(self.ctx.clone());
            for f in self.functions {
                if *self.ctx.stop.borrow() {
                    tracing::warn!(target: "tomodachi.scheduler", handler = &*f.name,
                        "scheduled function loop never started before service termination");
                    continue;
                }
                let clock = self.ctx.clock.0.clone();
                tasks.push(tokio::spawn(run(
                    Arc::new(f),
                    clock,
                    stop_rx.clone(),
                    service.clone(),
                )));
            }
            Ok(Box::new(RunningSchedule { stop_tx, tasks }) as Box<dyn RunningTransport>)
        })
    }
}

/// Started loops; stopping them ends firing and awaits the runs still going.
pub(crate) struct RunningSchedule {
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningTransport for RunningSchedule {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.stop_tx.send(true);
            futures_util::future::join_all(self.tasks).await;
        })
    }
}

fn wall(clock: &dyn Clock) -> Timestamp {
    Timestamp::try_from(clock.now()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn floor_second(t: Timestamp) -> Timestamp {
    let mut s = t.as_second();
    if t.subsec_nanosecond() < 0 {
        s -= 1;
    }
    Timestamp::from_second(s).unwrap_or(t)
}

/// Waits until the wall clock reads `target` (true) or a stop is requested (false). Sleeps on
/// tokio's timer and re-reads the wall clock after waking.
async fn sleep_until(
    clock: &dyn Clock,
    target: Timestamp,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        if *stop.borrow() {
            return false;
        }
        let Ok(wait) = SystemTime::from(target).duration_since(clock.now()) else {
            return true;
        };
        if wait.is_zero() {
            return true;
        }
        let deadline = tokio::time::Instant::now() + wait.min(MAX_NAP);
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = stop.wait_for(|s| *s) => return false,
        }
    }
}

/// Sleeps `d` unless a stop comes first (false).
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => return false,
    }
    !*stop.borrow()
}

async fn run(
    f: Arc<ScheduledFn>,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
    service: Arc<dyn std::any::Any + Send + Sync>,
) {
    let tracker = TaskTracker::new();
    let mut runs: Vec<(String, JoinHandle<()>)> = Vec::new();
    let mut after = wall(&*clock);
    if f.immediately {
        runs.push(start_run(
            &f,
            &service,
            &tracker,
            floor_second(after),
            &*clock,
        ));
    }
    let mut too_many = false;
    let mut threshold = TASK_LIMIT;
    loop {
        let Some(next) = f.schedule.next_fire(after) else {
            // the schedule has ended (a past timestamp): wait for the stop only
            let _ = stop.wait_for(|s| *s).await;
            break;
        };
        if !sleep_until(&*clock, next, &mut stop).await {
            break;
        }
        runs.retain(|(_, run)| !run.is_finished());
        let count = runs.len();
        if count >= TASK_LIMIT || (too_many && count >= RESUME_BELOW) {
            if count >= TASK_LIMIT && !too_many && count >= threshold {
                too_many = true;
                tracing::warn!(target: "tomodachi.scheduler", handler = &*f.name,
                    task_count = count, task_limit = threshold,
                    "too many scheduled tasks for function in scheduled function loop");
                threshold *= 2;
            }
            if !pause(Duration::from_secs(1), &mut stop).await {
                break;
            }
            after = wall(&*clock)
                .checked_add(SignedDuration::from_secs(10))
                .unwrap_or(next);
            continue;
        }
        if too_many {
            threshold = TASK_LIMIT;
            tracing::info!(target: "tomodachi.scheduler", handler = &*f.name,
                task_count = count, task_limit = threshold,
                "scheduled function loop resumed as task count is within threshold");
        }
        too_many = false;
        if *stop.borrow() {
            break;
        }
        runs.push(start_run(&f, &service, &tracker, next, &*clock));
        // The next fire follows this one; after a jump of the wall clock (or a suspended
        // machine) missed fires are not replayed one by one.
        let now = wall(&*clock);
        after = next.max(now.checked_sub(SignedDuration::from_secs(1)).unwrap_or(now));
    }
    drain(&f, tracker, runs).await;
}

/// Awaits the runs still going, without a time limit.
async fn drain(f: &ScheduledFn, tracker: TaskTracker, mut runs: Vec<(String, JoinHandle<()>)>) {
    tracker.close();
    let mut message = "awaiting task to complete";
    let mut wait = Duration::from_secs(2);
    while tokio::time::timeout(wait, tracker.wait()).await.is_err() {
        runs.retain(|(_, run)| !run.is_finished());
        for (task_name, _) in &runs {
            tracing::warn!(target: "tomodachi.scheduler", handler = &*f.name,
                task_name = %task_name, "{message}");
        }
        message = "still awaiting task to finish";
        wait = Duration::from_secs(10);
    }
}

/// Starts one run as its own task.
fn start_run(
    f: &Arc<ScheduledFn>,
    service: &Arc<dyn std::any::Any + Send + Sync>,
    tracker: &TaskTracker,
    at: Timestamp,
    clock: &dyn Clock,
) -> (String, JoinHandle<()>) {
    let invocation = Invocation {
        invocation_time: format_utc(at),
        interval: f.interval.clone(),
    };
    let task_name = format!(
        "{}/{}",
        f.name,
        wall(clock).strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    );
    let f = f.clone();
    let service = service.clone();
    #[cfg(feature = "opentelemetry")]
    let otel_service = service.clone();
    let handle = tracker.spawn(async move {
        TASKS.started();
        let span = tracing::info_span!(target: "tomodachi.schedule.handler", "handler",
            handler = &*f.name, r#type = "tomodachi.schedule");
        let handler = f.handler.clone();
        let context = crate::logging::HandlerContext::new(f.name.clone(), "tomodachi.schedule")
            .service(service);
        #[cfg(feature = "opentelemetry")]
        let traced = invocation.clone();
        let result = crate::logging::scope(
            context,
            tracing::Instrument::instrument(
                AssertUnwindSafe(async move { handler(invocation).await }).catch_unwind(),
                span,
            ),
        );
        // OpenTelemetry: an INTERNAL span around the run, when the service is instrumented
        #[cfg(feature = "opentelemetry")]
        let (result, otel) = crate::telemetry::schedule_spans::wrap(
            &*otel_service,
            &f.name,
            (&traced.invocation_time, traced.interval.as_deref()),
            result,
        );
        let result = result.await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(panic) => Some(crate::Error::msg(panic_message(&*panic))),
        };
        #[cfg(feature = "opentelemetry")]
        if let Some(otel) = otel {
            otel.finish(error.as_ref());
        }
        if let Some(e) = error {
            tracing::error!(target: "exception", handler = &*f.name, exception = ?e,
                "uncaught exception: {e}");
        }
        TASKS.finished();
    });
    (task_name, handle)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    format!("handler panicked: {msg}")
}

#[cfg(test)]
mod tests;
