//! The lifecycle order of transports: declared together after `start_service`, started in their
//! phase, stopped beside `stopping_service` and before `stop_service`.

use std::sync::{Arc, Mutex};

use super::*;
#[cfg(feature = "http")]
use crate::http::{HttpRequest, Method};
use crate::{App, Service};

type Trail = Arc<Mutex<Vec<String>>>;

fn push(trail: &Trail, entry: impl Into<String>) {
    trail.lock().unwrap().push(entry.into());
}

/// Records each of its steps; fails to declare when `fail` is set.
struct Recorder {
    trail: Trail,
    name: &'static str,
    phase: StartPhase,
    fail: bool,
}

impl Transport for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }
    fn phase(&self) -> StartPhase {
        self.phase
    }
    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
        Box::pin(async move {
            if self.fail {
                return Err(Error::msg("broker unreachable"));
            }
            push(
                &self.trail,
                format!("{} declared for {}", self.name, ctx.service_name()),
            );
            Ok(self as Box<dyn DeclaredTransport>)
        })
    }
}

impl DeclaredTransport for Recorder {
    fn start(self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>> {
        Box::pin(async move {
            push(&self.trail, format!("{} started", self.name));
            Ok(self as Box<dyn RunningTransport>)
        })
    }
}

impl RunningTransport for Recorder {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move { push(&self.trail, format!("{} stopped", self.name)) })
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        push(&self.trail, format!("{} dropped", self.name));
    }
}

fn recorder(trail: &Trail, name: &'static str, phase: StartPhase) -> Recorder {
    Recorder {
        trail: trail.clone(),
        name,
        phase,
        fail: false,
    }
}

#[cfg(feature = "http")]
#[tokio::test]
async fn transports_are_declared_together_then_started_in_their_phase() {
    let trail: Trail = Arc::default();
    let (t1, t2, t3, t4) = (trail.clone(), trail.clone(), trail.clone(), trail.clone());
    let svc = Service::builder("transports", ())
        .configure(|o| {
            o.http.host = "127.0.0.1".into();
            o.http.port = 0;
        })
        .http(Method::GET, "/", |_s: Arc<()>, _r: HttpRequest| async {
            "x"
        })
        .with(recorder(&trail, "scheduler", StartPhase::AfterStarted))
        .with(recorder(&trail, "amqp", StartPhase::WithHttp))
        .on_start(move |_s| async move { push(&t1, "start_service") })
        .on_started(move |_s| async move { push(&t2, "started_service") })
        .on_stopping(move |_s| async move { push(&t3, "stopping_service") })
        .on_stop(move |_s| async move { push(&t4, "stop_service") })
        .build();
    assert_eq!(svc.transport_names(), ["http", "scheduler", "amqp"]);
    let running = App::new().service(svc).start().await.unwrap();
    assert!(running.http_addr(0).is_some());
    assert_eq!(running.stop().await, 0);
    let trail = trail.lock().unwrap().clone();
    let steps: Vec<_> = trail.iter().filter(|s| !s.ends_with("dropped")).collect();
    assert_eq!(
        &steps[..6],
        [
            "start_service",
            "scheduler declared for transports",
            "amqp declared for transports",
            "amqp started",
            "started_service",
            "scheduler started",
        ]
    );
    let mut drain = steps[6..9].to_vec();
    drain.sort();
    assert_eq!(
        drain,
        ["amqp stopped", "scheduler stopped", "stopping_service"]
    );
    assert_eq!(steps[9..], ["stop_service"]);
    for name in ["amqp", "scheduler"] {
        let drops = trail.iter().filter(|s| **s == format!("{name} dropped"));
        assert_eq!(drops.count(), 1, "{trail:?}");
    }
}

#[tokio::test]
async fn a_failing_declare_aborts_the_start_before_anything_consumes() {
    let trail: Trail = Arc::default();
    let t = trail.clone();
    let mut broken = recorder(&trail, "broken", StartPhase::WithHttp);
    broken.fail = true;
    let svc = Service::builder("broken-transport", ())
        .with(recorder(&trail, "healthy", StartPhase::WithHttp))
        .with(broken)
        .on_stop(move |_s| async move { push(&t, "stop_service") })
        .build();
    let err = App::new().service(svc).start().await.err().unwrap();
    assert_eq!(err.to_string(), "broker unreachable");
    let trail = trail.lock().unwrap().clone();
    // the healthy transport was declared, never started, and released
    assert!(trail.contains(&"healthy declared for broken-transport".to_owned()));
    assert!(!trail.iter().any(|s| s.ends_with("started")), "{trail:?}");
    assert!(trail.contains(&"healthy dropped".to_owned()));
    assert_eq!(trail.last().map(String::as_str), Some("stop_service"));
}

#[cfg(feature = "http")]
#[tokio::test]
async fn transport_mut_finds_one_instance_per_type() {
    #[derive(Default)]
    struct Counted(u32);
    impl Transport for Counted {
        fn name(&self) -> &'static str {
            "counted"
        }
        fn declare(
            self: Box<Self>,
            _ctx: TransportContext,
        ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
            Box::pin(async { Err(Error::msg("not started in this test")) })
        }
    }
    let mut builder = Service::builder("s", ());
    builder.transport_mut::<Counted>().0 += 1;
    let mut builder = builder.http(Method::GET, "/", |_s: Arc<()>, _r: HttpRequest| async {
        ""
    });
    builder.transport_mut::<Counted>().0 += 1;
    assert_eq!(builder.transport_mut::<Counted>().0, 2);
    assert_eq!(builder.build().transport_names(), ["counted", "http"]);
}
