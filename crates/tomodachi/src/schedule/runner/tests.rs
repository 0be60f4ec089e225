//! The scheduling loop under tokio's paused clock: every fire is exact and the tests take
//! milliseconds.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::Semaphore;
use tomodachi_cron::jiff::Timestamp;

use super::super::{Clock, Invocation, ScheduleSpec, TokioClock};
use crate::logging::{build_subscriber, CaptureWriter, LogFormat, LogLevel, LoggingConfig};
use crate::{App, Error, RunningApp, Service};

type Trail = Arc<Mutex<Vec<String>>>;

/// 2017-06-15T10:16:50Z
const T0: u64 = 1_497_521_810;

fn at(offset_ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(T0 * 1000 + offset_ms)
}

fn wall(clock: &dyn Clock) -> String {
    Timestamp::try_from(clock.now()).unwrap().to_string()
}

fn push(trail: &Trail, s: impl Into<String>) {
    trail.lock().unwrap().push(s.into());
}

fn taken(trail: &Trail) -> Vec<String> {
    trail.lock().unwrap().clone()
}

async fn sleep(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

/// Starts `svc` with a paused-time clock reading `start`.
async fn start(svc: Service, clock: impl Clock) -> RunningApp {
    App::new().service(svc).clock(clock).start().await.unwrap()
}

fn capture() -> (CaptureWriter, tracing::subscriber::DefaultGuard) {
    let capture = CaptureWriter::new();
    let config = LoggingConfig {
        format: LogFormat::Json,
        level: LogLevel::Debug,
        color: false,
    };
    let guard = tracing::subscriber::set_default(build_subscriber(&config, capture.clone()));
    (capture, guard)
}

fn records(capture: &CaptureWriter) -> Vec<Value> {
    capture
        .contents()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn fires_on_whole_seconds_exactly_when_due() {
    let clock = TokioClock::starting_at(at(240));
    let trail: Trail = Arc::default();
    let t = trail.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "every_two",
            ScheduleSpec::interval(2),
            move |_s, run: Invocation| {
                let t = t.clone();
                async move {
                    push(
                        &t,
                        format!(
                            "{} {:?} @ {}",
                            run.invocation_time,
                            run.interval,
                            wall(&clock)
                        ),
                    );
                }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(6.0).await;
    assert_eq!(running.stop().await, 0);
    assert_eq!(
        taken(&trail),
        [
            "2017-06-15T10:16:52Z Some(\"2\") @ 2017-06-15T10:16:52Z",
            "2017-06-15T10:16:54Z Some(\"2\") @ 2017-06-15T10:16:54Z",
            "2017-06-15T10:16:56Z Some(\"2\") @ 2017-06-15T10:16:56Z",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn crontab_schedules_in_a_zone() {
    let clock = TokioClock::starting_at(at(0));
    let trail: Trail = Arc::default();
    let t = trail.clone();
    // 12:17 in Stockholm is 10:17 UTC in June
    let spec = ScheduleSpec::interval("*/1 12 * * *").timezone("Europe/Stockholm");
    let svc = Service::builder("s", ())
        .schedule("noonish", spec, move |_s, run: Invocation| {
            let t = t.clone();
            async move { push(&t, run.invocation_time) }
        })
        .build();
    let running = start(svc, clock).await;
    sleep(130.0).await;
    running.stop().await;
    assert_eq!(
        taken(&trail),
        ["2017-06-15T10:17:00Z", "2017-06-15T10:18:00Z"]
    );
}

#[tokio::test(start_paused = true)]
async fn immediately_runs_once_at_start_then_on_schedule() {
    let clock = TokioClock::starting_at(at(700));
    let trail: Trail = Arc::default();
    let t = trail.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "every_fifth_second",
            ScheduleSpec::interval("5 seconds").immediately(true),
            move |_s, run: Invocation| {
                let t = t.clone();
                async move { push(&t, run.invocation_time) }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(11.0).await;
    running.stop().await;
    assert_eq!(
        taken(&trail),
        [
            "2017-06-15T10:16:50Z",
            "2017-06-15T10:16:55Z",
            "2017-06-15T10:17:00Z"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_run_overlaps_the_next_fire() {
    let clock = TokioClock::starting_at(at(0));
    let trail: Trail = Arc::default();
    let running_now = Arc::new(AtomicUsize::new(0));
    let (t, r) = (trail.clone(), running_now.clone());
    let svc = Service::builder("s", ())
        .schedule(
            "heartbeat",
            ScheduleSpec::interval(1),
            move |_s, run: Invocation| {
                let (t, r) = (t.clone(), r.clone());
                async move {
                    let concurrent = r.fetch_add(1, Ordering::SeqCst) + 1;
                    push(
                        &t,
                        format!("{} with {concurrent} running", run.invocation_time),
                    );
                    sleep(2.5).await;
                    r.fetch_sub(1, Ordering::SeqCst);
                }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(5.5).await;
    running.stop().await;
    assert_eq!(
        taken(&trail),
        [
            "2017-06-15T10:16:51Z with 1 running",
            "2017-06-15T10:16:52Z with 2 running",
            "2017-06-15T10:16:53Z with 3 running",
            "2017-06-15T10:16:54Z with 3 running",
            "2017-06-15T10:16:55Z with 3 running",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn twenty_running_invocations_skip_fires_until_fewer_than_fifteen() {
    let (capture, _guard) = capture();
    let clock = TokioClock::starting_at(at(0));
    let gate = Arc::new(Semaphore::new(0));
    let fired: Trail = Arc::default();
    let (g, f) = (gate.clone(), fired.clone());
    let svc = Service::builder("s", ())
        .schedule(
            "stuck",
            ScheduleSpec::interval(1),
            move |_s, run: Invocation| {
                let (g, f) = (g.clone(), f.clone());
                async move {
                    push(&f, run.invocation_time);
                    let _ = g.acquire().await.map(|p| p.forget());
                }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(40.5).await;
    let fires = taken(&fired);
    assert_eq!(fires.len(), 20, "{fires:?}");
    assert_eq!(fires.last().unwrap(), "2017-06-15T10:17:10Z");
    // 6 runs finish: 14 left, firing resumes at the next computed fire
    gate.add_permits(6);
    sleep(20.0).await;
    let fires = taken(&fired);
    // skipped at :11 (20 running), retried from now + 10 s: :23 (skipped), :35 (14 running:
    // fires again), then every second
    assert_eq!(
        fires[20..23],
        [
            "2017-06-15T10:17:35Z",
            "2017-06-15T10:17:36Z",
            "2017-06-15T10:17:37Z"
        ]
    );
    assert!(fires.len() > 21);
    gate.add_permits(1000);
    running.stop().await;

    let recs = records(&capture);
    let warn: Vec<_> = recs
        .iter()
        .filter(|r| {
            r["message"] == "too many scheduled tasks for function in scheduled function loop"
        })
        .collect();
    // once per episode: at :11, and again after the resumed runs reach 20 at :41
    assert_eq!(warn.len(), 2);
    assert_eq!(warn[0]["logger"], "tomodachi.scheduler");
    assert_eq!(warn[0]["level"], "warning");
    assert_eq!(warn[0]["task_count"], 20);
    assert_eq!(warn[0]["task_limit"], 20);
    assert_eq!(warn[0]["handler"], "stuck");
    let resumed = recs
        .iter()
        .find(|r| {
            r["message"] == "scheduled function loop resumed as task count is within threshold"
        })
        .expect("resumed record");
    assert_eq!(resumed["task_count"], 14);
    assert_eq!(resumed["task_limit"], 20);
}

#[tokio::test(start_paused = true)]
async fn shutdown_awaits_running_invocations_then_stop_service() {
    let (capture, _guard) = capture();
    let clock = TokioClock::starting_at(at(0));
    let trail: Trail = Arc::default();
    let (t1, t2, t3, t4) = (trail.clone(), trail.clone(), trail.clone(), trail.clone());
    let c = clock;
    let svc = Service::builder("s", ())
        .on_start(move |_s| async move { push(&t1, "start_service") })
        .on_started(move |_s| async move { push(&t2, "started_service") })
        .on_stop(move |_s| async move { push(&t3, format!("stop_service @ {}", wall(&c))) })
        .schedule(
            "every_fifth_second",
            ScheduleSpec::interval("5 seconds").immediately(true),
            move |_s, run: Invocation| {
                let t = t4.clone();
                async move {
                    push(&t, format!("run {}", run.invocation_time));
                    // the first run takes 8 s, the second 18 s
                    let secs = if run.invocation_time.ends_with("50Z") {
                        8.0
                    } else {
                        18.0
                    };
                    sleep(secs).await;
                    push(&t, format!("done {}", run.invocation_time));
                }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(6.5).await;
    running.stop().await;
    assert_eq!(
        taken(&trail),
        [
            "start_service",
            "started_service",
            "run 2017-06-15T10:16:50Z",
            "run 2017-06-15T10:16:55Z",
            "done 2017-06-15T10:16:50Z",
            "done 2017-06-15T10:16:55Z",
            // 10:16:55 + 18 s; no fire at 10:17:00 or later
            "stop_service @ 2017-06-15T10:17:13Z",
        ]
    );
    let recs = records(&capture);
    let waits: Vec<_> = recs
        .iter()
        .filter(|r| r["logger"] == "tomodachi.scheduler")
        .map(|r| {
            format!(
                "{} {}",
                r["message"].as_str().unwrap(),
                r["task_name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        waits,
        [
            // 2 s after the stop (10:16:58.5) only the second run is still going...
            "awaiting task to complete every_fifth_second/2017-06-15T10:16:55.000000Z",
            // ...and 10 s later still
            "still awaiting task to finish every_fifth_second/2017-06-15T10:16:55.000000Z",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_fires_after_stop() {
    let clock = TokioClock::starting_at(at(0));
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "heartbeat",
            ScheduleSpec::interval(1),
            move |_s, _run: Invocation| {
                let c = c.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(3.5).await;
    running.stop().await;
    assert_eq!(count.load(Ordering::SeqCst), 3);
    sleep(100.0).await;
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn errors_and_panics_are_logged_and_the_schedule_goes_on() {
    let (capture, _guard) = capture();
    let clock = TokioClock::starting_at(at(0));
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "flaky",
            ScheduleSpec::interval(1),
            move |_s, _run: Invocation| {
                let c = c.clone();
                async move {
                    match c.fetch_add(1, Ordering::SeqCst) {
                        0 => Err(Error::msg("first run fails")),
                        1 => panic!("second run panics"),
                        _ => {
                            tracing::info!(target: "app", "third run logs");
                            Ok(())
                        }
                    }
                }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(4.5).await;
    running.stop().await;
    assert_eq!(n.load(Ordering::SeqCst), 4);
    let recs = records(&capture);
    let exceptions: Vec<_> = recs.iter().filter(|r| r["logger"] == "exception").collect();
    assert_eq!(exceptions.len(), 2);
    assert_eq!(
        exceptions[0]["message"],
        "uncaught exception: first run fails"
    );
    assert_eq!(exceptions[0]["handler"], "flaky");
    assert_eq!(
        exceptions[1]["message"],
        "uncaught exception: handler panicked: second run panics"
    );
    let inside = recs
        .iter()
        .find(|r| r["message"] == "third run logs")
        .unwrap();
    assert_eq!(inside["handler"], "flaky");
    assert_eq!(inside["type"], "tomodachi.schedule");
}

#[tokio::test(start_paused = true)]
async fn an_ended_schedule_waits_for_the_stop() {
    let clock = TokioClock::starting_at(at(0));
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "once",
            ScheduleSpec::timestamp("2017-06-15 10:16:55").timezone("UTC"),
            move |_s, _run: Invocation| {
                let c = c.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .build();
    let running = start(svc, clock).await;
    sleep(3600.0).await;
    assert_eq!(count.load(Ordering::SeqCst), 1);
    running.stop().await;
}

/// A paused-time clock that can be set forward or back.
#[derive(Clone)]
struct Adjustable(TokioClock, Arc<AtomicI64>);

impl Clock for Adjustable {
    fn now(&self) -> SystemTime {
        let shift = self.1.load(Ordering::SeqCst);
        let now = self.0.now();
        if shift >= 0 {
            now + Duration::from_secs(shift as u64)
        } else {
            now - Duration::from_secs(shift.unsigned_abs())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn wall_clock_jumps_neither_replay_nor_lose_the_schedule() {
    let clock = Adjustable(TokioClock::starting_at(at(0)), Arc::default());
    let shift = clock.1.clone();
    let trail: Trail = Arc::default();
    let t = trail.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "heartbeat",
            ScheduleSpec::interval(1),
            move |_s, run: Invocation| {
                let t = t.clone();
                async move { push(&t, run.invocation_time) }
            },
        )
        .build();
    let running = start(svc, clock.clone()).await;
    sleep(2.5).await;
    shift.store(3600, Ordering::SeqCst);
    sleep(1.0).await;
    // the due fire, then the current second: not 3600 catch-up runs
    assert_eq!(
        taken(&trail),
        [
            "2017-06-15T10:16:51Z",
            "2017-06-15T10:16:52Z",
            "2017-06-15T10:16:53Z",
            "2017-06-15T11:16:53Z",
        ]
    );
    // set back by two hours: nothing fires until the wall clock reaches the next fire again
    shift.store(-3600, Ordering::SeqCst);
    // (now: 09:16:53.5 by the wall clock; the next fire is 11:16:54)
    sleep(7200.0).await;
    assert_eq!(trail.lock().unwrap().len(), 4);
    sleep(1.0).await;
    assert_eq!(taken(&trail)[4], "2017-06-15T11:16:54Z");
    running.stop().await;
}

#[tokio::test]
async fn an_invalid_schedule_fails_the_start() {
    let svc = Service::builder("s", ())
        .schedule(
            "bad",
            ScheduleSpec::interval("5 minutes"),
            |_s, _run: Invocation| async {},
        )
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "Invalid interval: \"5 minutes\" (Invalid cron notation: invalid values for hour (minutes)) \
         (scheduled function 'bad')"
    );
    let svc = Service::builder("s", ())
        .schedule(
            "bad_zone",
            ScheduleSpec::timestamp("22:00").timezone("Mars/Olympus"),
            |_s, _run: Invocation| async {},
        )
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert!(err
        .to_string()
        .starts_with("Unknown timezone: Mars/Olympus"));
}

#[tokio::test(start_paused = true)]
async fn a_loop_started_after_a_stop_request_never_runs() {
    let (capture, _guard) = capture();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "late",
            ScheduleSpec::interval(1).immediately(true),
            move |_s, _run: Invocation| {
                let c = c.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .build();
    let (tx, rx) = tokio::sync::watch::channel(true);
    let mut ctx = crate::transport::TransportContext::new("s", "u", Default::default());
    ctx.stop = rx;
    let mut svc = svc;
    let scheduler = svc.transports.pop().unwrap().into_transport();
    let transport = scheduler.declare(ctx).await.unwrap().start().await.unwrap();
    sleep(5.0).await;
    transport.stop().await;
    drop(tx);
    assert_eq!(count.load(Ordering::SeqCst), 0);
    let recs = records(&capture);
    assert!(recs.iter().any(|r| r["message"]
        == "scheduled function loop never started before service termination"
        && r["handler"] == "late"));
}

#[tokio::test(start_paused = true)]
async fn execution_context_counts_runs() {
    let clock = TokioClock::starting_at(at(0));
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let svc = Service::builder("s", ())
        .schedule(
            "counted",
            ScheduleSpec::interval(1),
            move |_s, _run: Invocation| {
                let g = g.clone();
                async move {
                    let _ = g.acquire().await.map(|p| p.forget());
                }
            },
        )
        .build();
    let before = crate::get_execution_context();
    let total_before = before["scheduled_functions_total_tasks"]
        .as_u64()
        .unwrap_or(0);
    let running = start(svc, clock).await;
    sleep(2.5).await;
    let ctx = crate::get_execution_context();
    assert_eq!(ctx["scheduled_functions_enabled"], true);
    // other tests run in parallel and share the process-wide counters
    assert!(ctx["scheduled_functions_total_tasks"].as_u64().unwrap() >= total_before + 2);
    assert!(ctx["scheduled_functions_current_tasks"].as_i64().unwrap() >= 2);
    gate.add_permits(10);
    running.stop().await;
}
