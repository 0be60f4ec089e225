//! Decorator guards (upstream's `@tomodachi.decorator`): on HTTP routes over a real socket, on
//! AMQP handlers over the real RabbitMQ, on scheduled functions with the testing kit's clock;
//! macro and builder forms, sync and async, stacked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tomodachi::amqp::AmqpSubscription;
use tomodachi::decorator::decorate;
use tomodachi::envelope::JsonBase;
use tomodachi::http::{HeaderMap, HttpRequest, Method};
use tomodachi::message::{Data, Message};
use tomodachi::schedule::{Invocation, ScheduleSpec};
use tomodachi::testing::TestKit;
use tomodachi::{App, Error, Service};

use crate::support::eventually::eventually;
use crate::support::{get, send, test_options};

// ---- the upstream test case, macro form -------------------------------------------------

#[derive(Default)]
struct Counting {
    invocations: AtomicUsize,
    handler_runs: AtomicUsize,
    trail: Mutex<Vec<&'static str>>,
}

/// Upstream's `count_invocations` decorator: counts and answers `"0"` itself.
#[tomodachi::decorator]
async fn count_invocations(service: &Counting) -> Option<&'static str> {
    service.invocations.fetch_add(1, Ordering::SeqCst);
    Some("0")
}

/// A sync guard that borrows the request and lets it through unless it asks to be stopped.
#[tomodachi::decorator]
fn stop_on_header(service: &Counting, request: &HttpRequest) -> Option<(u16, String)> {
    service.trail.lock().unwrap().push("stop_on_header");
    request
        .header("x-stop")
        .map(|why| (409, format!("stopped: {why}")))
}

/// An async guard that only records it ran.
#[tomodachi::decorator]
async fn record(service: &Counting) {
    service.trail.lock().unwrap().push("record");
}

/// A guard returning an error: the error handlers answer.
#[tomodachi::decorator]
fn require_key(_service: &Counting, headers: HeaderMap) -> Result<(), Error> {
    match headers.get("x-api-key") {
        Some(_) => Ok(()),
        None => Err(Error::http(401)),
    }
}

#[tomodachi::service(name = "decorated", options = crate::support::test_options())]
impl Counting {
    #[http(GET, r"/count/?")]
    #[decorate(count_invocations)]
    async fn count(&self) -> &'static str {
        self.handler_runs.fetch_add(1, Ordering::SeqCst);
        "1"
    }

    #[http(GET, r"/stacked/(?P<id>[^/]+)")]
    #[decorate(record, stop_on_header)]
    async fn stacked(&self, id: String) -> String {
        self.trail.lock().unwrap().push("handler");
        format!("id {id}")
    }

    #[http(GET, r"/secret")]
    #[decorate(require_key)]
    async fn secret(&self) -> &'static str {
        "secret"
    }

    #[http_error(status_code = 401)]
    async fn unauthorized(&self) -> &'static str {
        "who are you?"
    }
}

#[tokio::test]
async fn a_guard_answering_0_answers_instead_of_the_handler_and_counts_the_call() {
    let service = Arc::new(Counting::default());
    let running = App::new()
        .service(tomodachi::IntoService::into_service(SharedCounting(
            service.clone(),
        )))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    for expected in 1..=3 {
        let res = get(addr, "/count").await;
        assert_eq!(res.status, 200);
        assert_eq!(res.text(), "0");
        assert_eq!(service.invocations.load(Ordering::SeqCst), expected);
    }
    assert_eq!(service.handler_runs.load(Ordering::SeqCst), 0);
    running.stop().await;
}

#[tokio::test]
async fn stacked_guards_run_outermost_first_and_the_handler_runs_when_they_let_it() {
    let service = Arc::new(Counting::default());
    let running = App::new()
        .service(tomodachi::IntoService::into_service(SharedCounting(
            service.clone(),
        )))
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();

    let res = get(addr, "/stacked/42").await;
    assert_eq!((res.status, res.text().as_str()), (200, "id 42"));
    assert_eq!(
        std::mem::take(&mut *service.trail.lock().unwrap()),
        ["record", "stop_on_header", "handler"]
    );

    let stopped = crate::support::raw(
        addr,
        b"GET /stacked/42 HTTP/1.1\r\nHost: x\r\nx-stop: not today\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(stopped.status, 409);
    assert_eq!(stopped.text(), "stopped: not today");
    assert_eq!(
        std::mem::take(&mut *service.trail.lock().unwrap()),
        ["record", "stop_on_header"]
    );

    let denied = get(addr, "/secret").await;
    assert_eq!(
        (denied.status, denied.text().as_str()),
        (401, "who are you?")
    );
    let allowed = crate::support::raw(
        addr,
        b"GET /secret HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((allowed.status, allowed.text().as_str()), (200, "secret"));
    running.stop().await;
}

/// The macro service above takes its state by value; the tests share it through an `Arc` so
/// they can read the counters (a plain builder service over the same state).
struct SharedCounting(Arc<Counting>);

impl tomodachi::IntoService for SharedCounting {
    fn into_service(self) -> Service {
        // the same guards and handlers as the macro service, through the builder
        tomodachi::ServiceBuilder::from_arc("decorated-shared", self.0)
            .options(test_options())
            .http(
                Method::GET,
                r"/count/?",
                decorate(count_invocations, |s: Arc<Counting>| async move {
                    s.handler_runs.fetch_add(1, Ordering::SeqCst);
                    "1"
                }),
            )
            .http(
                Method::GET,
                r"/stacked/(?P<id>[^/]+)",
                decorate(
                    record,
                    decorate(
                        stop_on_header,
                        |s: Arc<Counting>, req: HttpRequest| async move {
                            s.trail.lock().unwrap().push("handler");
                            format!("id {}", req.param("id").unwrap_or_default())
                        },
                    ),
                ),
            )
            .http(
                Method::GET,
                r"/secret",
                decorate(require_key, |_s: Arc<Counting>| async { "secret" }),
            )
            .http_error(401, |_s: Arc<Counting>| async { "who are you?" })
            .build()
    }
}

#[tokio::test]
async fn the_macro_service_answers_as_its_builder_twin() {
    let running = App::new()
        .service(Counting::default())
        .start()
        .await
        .unwrap();
    let addr = running.http_addr(0).unwrap();
    assert_eq!(get(addr, "/count").await.text(), "0");
    assert_eq!(get(addr, "/stacked/7").await.text(), "id 7");
    let stopped = crate::support::raw(
        addr,
        b"GET /stacked/7 HTTP/1.1\r\nHost: x\r\nx-stop: no\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        (stopped.status, stopped.text().as_str()),
        (409, "stopped: no")
    );
    let denied = get(addr, "/secret").await;
    assert_eq!(
        (denied.status, denied.text().as_str()),
        (401, "who are you?")
    );
    running.stop().await;
}

#[tokio::test]
async fn builder_guards_take_closures_sync_and_async_and_a_failing_extractor_is_a_400() {
    #[derive(serde::Deserialize)]
    struct Body {
        allowed: bool,
    }
    let svc = Service::builder("guards", ())
        .options(test_options())
        .http(
            Method::POST,
            r"/json",
            decorate(
                |_s: Arc<()>, tomodachi::http::Json(body): tomodachi::http::Json<Body>| {
                    (!body.allowed).then_some((403u16, "not allowed"))
                },
                |_s: Arc<()>, body: bytes::Bytes| async move { format!("handled {}", body.len()) },
            ),
        )
        .http(
            Method::GET,
            r"/async",
            decorate(
                |_s: Arc<()>, req: HttpRequest| async move {
                    tokio::task::yield_now().await;
                    req.query().map(|q| format!("guard {q}"))
                },
                |_s: Arc<()>| async { "handler" },
            ),
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let ok = send(addr, "POST", "/json", r#"{"allowed": true}"#).await;
    assert_eq!((ok.status, ok.text().as_str()), (200, "handled 17"));
    let no = send(addr, "POST", "/json", r#"{"allowed": false}"#).await;
    assert_eq!((no.status, no.text().as_str()), (403, "not allowed"));
    let bad = send(addr, "POST", "/json", "not json").await;
    assert_eq!(bad.status, 400);
    assert_eq!(get(addr, "/async").await.text(), "handler");
    assert_eq!(get(addr, "/async?q=x").await.text(), "guard q=x");
    running.stop().await;
}

// ---- message handlers over the real RabbitMQ --------------------------------------------

#[derive(Default)]
struct Orders {
    guarded: AtomicUsize,
    handled: Mutex<Vec<u64>>,
}

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

/// Skips odd orders (settled as handled, the handler never sees them).
#[tomodachi::decorator]
fn only_even(service: &Orders, Data(order): Data<Order>) -> Option<()> {
    service.guarded.fetch_add(1, Ordering::SeqCst);
    (order.id % 2 == 1).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_on_an_amqp_handler_skips_messages_over_the_real_broker() {
    let rk = format!("test.decorated.{}", uuid::Uuid::new_v4().simple());
    let state = Arc::new(Orders::default());
    let svc = tomodachi::ServiceBuilder::from_arc("decorated-amqp", state.clone())
        .options(test_options())
        .message_envelope(JsonBase)
        .amqp(
            AmqpSubscription::new(rk.clone()).name("on_order"),
            decorate(
                only_even,
                |s: Arc<Orders>, Data(order): Data<Order>| async move {
                    s.handled.lock().unwrap().push(order.id);
                },
            ),
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    for id in 1..=6u64 {
        tomodachi::amqp::publish(&serde_json::json!({ "id": id }), &rk)
            .await
            .unwrap();
    }
    eventually(20, "six guard calls", || {
        state.guarded.load(Ordering::SeqCst) == 6
    })
    .await;
    // every message was settled (none redelivered): six guard calls, three handled
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(state.guarded.load(Ordering::SeqCst), 6);
    let mut handled = state.handled.lock().unwrap().clone();
    handled.sort_unstable();
    assert_eq!(handled, [2, 4, 6]);
    running.stop().await;
}

#[tokio::test]
async fn a_message_guard_error_fails_the_message_without_running_the_handler() {
    let kit = TestKit::new();
    // [guard calls, handler runs]
    let counts: Arc<[AtomicUsize; 2]> = Arc::default();
    let svc = tomodachi::ServiceBuilder::from_arc("decorated-kit", counts.clone())
        .message_envelope(JsonBase)
        .amqp(
            AmqpSubscription::new("kit.guarded").name("on_message"),
            decorate(
                |s: Arc<[AtomicUsize; 2]>, message: Message| async move {
                    s[0].fetch_add(1, Ordering::SeqCst);
                    match message.data::<String>()?.as_str() {
                        "poison" => Err(Error::dead_letter("poison")),
                        _ => Ok(None::<()>),
                    }
                },
                |s: Arc<[AtomicUsize; 2]>| async move {
                    s[1].fetch_add(1, Ordering::SeqCst);
                },
            ),
        )
        .build();
    let app = kit.start(svc).await.unwrap();
    kit.publish_amqp("kit.guarded", "fine").unwrap();
    kit.publish_amqp("kit.guarded", "poison").unwrap();
    kit.settle().await;
    // the poison message is dead-lettered at once: one guard call each, never redelivered
    assert_eq!(counts[0].load(Ordering::SeqCst), 2);
    assert_eq!(counts[1].load(Ordering::SeqCst), 1);
    app.stop().await;
}

// ---- scheduled functions ------------------------------------------------------------------

/// The macro schedule's counters (its state is moved into the service).
static TICKS_SEEN: AtomicUsize = AtomicUsize::new(0);
static TICKS_RAN: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
struct Ticks;

/// Lets every second invocation through, and checks it sees the invocation.
#[tomodachi::decorator]
fn every_other(_service: &Ticks, invocation: &Invocation) -> Option<()> {
    assert!(invocation.invocation_time.ends_with('Z'));
    let seen = TICKS_SEEN.fetch_add(1, Ordering::SeqCst) + 1;
    (seen % 2 == 1).then_some(())
}

#[tomodachi::service(name = "decorated-schedule")]
impl Ticks {
    #[schedule(interval = 1)]
    #[decorate(every_other)]
    async fn tick(&self) {
        TICKS_RAN.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_guard_on_a_scheduled_function_sees_the_invocation_and_can_skip_it() {
    let kit = TestKit::new();
    let app = kit.start(Ticks).await.unwrap();
    for _ in 0..4 {
        kit.advance(Duration::from_secs(1)).await;
    }
    kit.settle().await;
    app.stop().await;
    let seen = TICKS_SEEN.load(Ordering::SeqCst);
    assert!(seen >= 4, "{seen} invocations seen");
    assert_eq!(TICKS_RAN.load(Ordering::SeqCst), seen / 2);
}

#[tokio::test]
async fn builder_schedule_guards_stack() {
    let kit = TestKit::new();
    let trail: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let svc = tomodachi::ServiceBuilder::from_arc("guarded-schedule", trail.clone())
        .schedule(
            "tick",
            ScheduleSpec::interval(1),
            decorate(
                |s: Arc<Mutex<Vec<&'static str>>>| {
                    s.lock().unwrap().push("outer");
                },
                decorate(
                    |s: Arc<Mutex<Vec<&'static str>>>, _run: Invocation| async move {
                        s.lock().unwrap().push("inner");
                        Some(())
                    },
                    |s: Arc<Mutex<Vec<&'static str>>>, _run: Invocation| async move {
                        s.lock().unwrap().push("handler");
                    },
                ),
            ),
        )
        .build();
    let app = kit.start(svc).await.unwrap();
    kit.advance(Duration::from_secs(1)).await;
    kit.settle().await;
    let trail = trail.lock().unwrap().clone();
    assert!(trail.len() >= 2, "{trail:?}");
    assert_eq!(trail[..2], ["outer", "inner"]);
    assert!(!trail.contains(&"handler"));
    app.stop().await;
}
