//! Test a service without a broker, an emulator or an open port (feature `testing`).
//!
//! A [`TestKit`] starts services the way [`App`] does — the same lifecycle hooks,
//! handlers, middlewares, envelopes and error handling — with their transports swapped for
//! in-process ones:
//!
//! - **HTTP**: no listener; [`TestApp::http`] sends requests through the service's whole HTTP
//!   handling (routing, middlewares, tower layers, error handlers, limits, default headers,
//!   access log) and returns the same responses as over TCP.
//! - **AMQP**: the service's real AMQP transport (queue names, declarations, retries,
//!   dead-letter queues, publishing) runs against [`amqp::MemoryBroker`], an in-memory
//!   RabbitMQ with its topic routing, prefetch, acknowledgements and error texts.
//!   [`TestKit::publish_amqp`] sends as a Python tomodachi service would;
//!   [`TestKit::amqp_messages`] shows what the service published.
//! - **AWS SNS+SQS**: the service's real SNS+SQS transport and the AWS SDK clients (names,
//!   setup sequence, policies, filter policies, notification unwrapping, deletes, redrive) run
//!   against [`sns_sqs::MemorySnsSqs`] through an in-process HTTP connector for the SDK
//!   ([`aws_wire`]): no emulator, no port. [`TestKit::publish_sns`] publishes as a Python
//!   tomodachi service would; [`TestKit::sns_messages`] shows what the service published.
//! - **Time**: scheduled functions follow the kit's clock, which advances with tokio's clock.
//!   Under paused time (`#[tokio::test(start_paused = true)]`), [`TestKit::advance`] runs
//!   through hours of interval, crontab and timestamp fires in milliseconds, each at the exact
//!   instant the real scheduler would fire it (time zones and daylight-saving changes
//!   included).
//!
//! The building blocks are public for tests of your own transports: RabbitMQ's topic matching
//! ([`topic`]) and AWS SNS filter policies ([`filter_policy`]), both checked against tables
//! recorded from the real systems, and the in-memory brokers themselves.
//!
//! Each transport stand-in is proven against the real system: the integration tests run one
//! scenario suite over RabbitMQ and moto and over the kit, and require identical records.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::Duration;
//! use tomodachi::http::{HttpRequest, Method};
//! use tomodachi::schedule::{Invocation, ScheduleSpec};
//! use tomodachi::testing::TestKit;
//! use tomodachi::Service;
//!
//! #[derive(Default)]
//! struct Ticker {
//!     ticks: AtomicU64,
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> tomodachi::Result<()> {
//! let service = Service::builder("ticker", Ticker::default())
//!     .schedule("tick", ScheduleSpec::interval("minutely"), |t: Arc<Ticker>, _: Invocation| async move {
//!         t.ticks.fetch_add(1, Ordering::SeqCst);
//!     })
//!     .http(Method::GET, r"/ticks", |t: Arc<Ticker>, _: HttpRequest| async move {
//!         t.ticks.load(Ordering::SeqCst).to_string()
//!     });
//!
//! let kit = TestKit::new();
//! let app = kit.start(service).await?;
//! kit.advance(Duration::from_secs(3600)).await; // an hour of fires, no real waiting
//! let res = app.http().get("/ticks").send().await;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.text(), "60");
//! assert_eq!(app.stop().await, 0);
//! # Ok(()) }
//! ```

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(feature = "aws")]
pub mod aws_wire;
pub mod filter_policy;
#[cfg(feature = "http")]
mod http;
pub mod sns_sqs;
pub mod topic;

#[cfg(feature = "http")]
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

#[cfg(feature = "http")]
pub use self::http::{TestClient, TestRequest, TestResponse};

use crate::error::Error;
#[cfg(feature = "http")]
use crate::http::transport::HttpTransport;
use crate::schedule::TokioClock;
use crate::service::{IntoService, Service};
#[cfg(feature = "http")]
use crate::transport::AnyTransport;
use crate::{App, RunningApp};

/// Starts services with in-process transports and a clock that tests drive.
///
/// Create it inside the test's tokio runtime.
#[derive(Debug, Clone)]
pub struct TestKit {
    clock: TokioClock,
    #[cfg(feature = "amqp")]
    amqp: amqp::MemoryBroker,
    sns_sqs: sns_sqs::MemorySnsSqs,
}

/// The identity of the peer the kit's publish helpers send as (a Python tomodachi service on
/// the same bus, as far as the receiving service can tell).
pub const PEER_SERVICE: &str = "tomodachi-testing-peer";
#[cfg(any(feature = "amqp", feature = "aws"))]
const PEER_UUID: &str = "00000000-0000-4000-8000-000000000000";

impl Default for TestKit {
    fn default() -> Self {
        Self::new()
    }
}

impl TestKit {
    /// A kit whose clock starts at the current wall-clock time.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A kit whose clock reads `start` now (e.g. a moment before a daylight-saving change).
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            clock: TokioClock::starting_at(start),
            #[cfg(feature = "amqp")]
            amqp: amqp::MemoryBroker::new(),
            sns_sqs: sns_sqs::MemorySnsSqs::new(),
        }
    }

    /// The in-memory SNS and SQS every service of the kit uses.
    pub fn sns_sqs(&self) -> &sns_sqs::MemorySnsSqs {
        &self.sns_sqs
    }

    /// Publishes `data` in a JsonBase envelope to the SNS topic `topic` (no prefix; the topic
    /// is created if it does not exist yet), as a Python tomodachi service's
    /// `aws_sns_sqs_publish` does.
    #[cfg(feature = "aws")]
    pub fn publish_sns<T: serde::Serialize + ?Sized>(
        &self,
        topic: &str,
        data: &T,
    ) -> Result<(), Error> {
        let body = json_base(topic, data)?;
        let name = crate::aws_sns_sqs::encode_topic(topic);
        let arn = self
            .sns_sqs
            .create_topic(&name, &Default::default())
            .map_err(Error::new)?;
        self.sns_sqs
            .publish(&arn, sns_sqs::Publish::new(body))
            .map(|_| ())
            .map_err(Error::new)
    }

    /// The `data` of every JsonBase message published so far to the SNS topic `topic` (as
    /// given to `aws_sns_sqs::publish`, without the prefix), in order.
    #[cfg(feature = "aws")]
    pub fn sns_messages(&self, topic: &str) -> Vec<serde_json::Value> {
        let arn = format!(
            "arn:aws:sns:{}:{}:{}",
            sns_sqs::REGION,
            sns_sqs::ACCOUNT_ID,
            crate::aws_sns_sqs::encode_topic(topic)
        );
        self.sns_sqs
            .published(&arn)
            .into_iter()
            .filter_map(|m| json_base_data(m.message.as_bytes()))
            .collect()
    }

    /// The in-memory RabbitMQ every service of the kit consumes from and publishes to.
    #[cfg(feature = "amqp")]
    pub fn amqp(&self) -> &amqp::MemoryBroker {
        &self.amqp
    }

    /// Publishes `data` in a JsonBase envelope with `routing_key` on `amq.topic`, as a Python
    /// tomodachi service's `amqp_publish` does (routing key encoded the same way, no prefix).
    #[cfg(feature = "amqp")]
    pub fn publish_amqp<T: serde::Serialize + ?Sized>(
        &self,
        routing_key: &str,
        data: &T,
    ) -> Result<(), Error> {
        let body = json_base(routing_key, data)?;
        self.amqp
            .basic_publish(
                "amq.topic",
                &crate::amqp::encode_routing_key(routing_key),
                body.into_bytes(),
                lapin::BasicProperties::default(),
            )
            .map_err(Error::new)
    }

    /// The `data` of every JsonBase message published so far with `routing_key` (as given to
    /// `amqp::publish`, before encoding), in order; other bodies are left out.
    #[cfg(feature = "amqp")]
    pub fn amqp_messages(&self, routing_key: &str) -> Vec<serde_json::Value> {
        let wire = crate::amqp::encode_routing_key(routing_key);
        self.amqp
            .published()
            .into_iter()
            .filter(|m| m.routing_key == wire)
            .filter_map(|m| json_base_data(&m.body))
            .collect()
    }

    /// Waits until every message delivered to a service has been handled and settled:
    /// acknowledged or deleted, or retried until it was, or dead-lettered. A message that fails
    /// forever and has nowhere to go (an SQS queue without a redrive policy) never settles, as
    /// with the real brokers: bound the wait with `tokio::time::timeout` when that can happen.
    pub async fn settle(&self) {
        loop {
            #[cfg(feature = "amqp")]
            self.amqp.wait_idle().await;
            let busy = self.busy_queues();
            if busy.is_empty() {
                #[cfg(feature = "amqp")]
                if !self.amqp.is_idle() {
                    continue;
                }
                return;
            }
            for url in busy {
                let _ = self.sns_sqs.wait_until_empty(&url).await;
            }
        }
    }

    /// The SQS queues holding messages, dead-letter queues left out (nothing consumes them).
    fn busy_queues(&self) -> Vec<String> {
        let queues = self.sns_sqs.list_queues();
        let dead_letter_queues: Vec<String> = queues
            .iter()
            .filter_map(|url| {
                let attributes = self
                    .sns_sqs
                    .get_queue_attributes(url, &["RedrivePolicy"])
                    .ok()?;
                let policy: serde_json::Value =
                    serde_json::from_str(attributes.get("RedrivePolicy")?).ok()?;
                policy["deadLetterTargetArn"].as_str().map(str::to_owned)
            })
            .collect();
        queues
            .into_iter()
            .filter(|url| {
                let arn = self.sns_sqs.queue_arn(url).unwrap_or_default();
                !dead_letter_queues.contains(&arn)
                    && self
                        .sns_sqs
                        .queue_depth(url)
                        .is_ok_and(|depth| depth.total() > 0)
            })
            .collect()
    }

    /// The wall-clock time the kit's services see.
    pub fn now(&self) -> SystemTime {
        crate::clock::Clock::now(&self.clock)
    }

    /// Lets `duration` of time pass. Under paused tokio time this takes no real time: every
    /// timer due in between (scheduled fires, retry backoffs, timeouts) fires in order at its
    /// instant, and the tasks it wakes run before time moves on.
    pub async fn advance(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    /// Starts a service (its `start_service` and `started_service` hooks run as in
    /// production) with the kit's transports.
    pub async fn start(&self, service: impl IntoService) -> Result<TestApp, Error> {
        self.start_all([service.into_service()]).await
    }

    /// Starts several services in one app; [`TestApp::http_of`] picks one by name.
    pub async fn start_all(
        &self,
        services: impl IntoIterator<Item = Service>,
    ) -> Result<TestApp, Error> {
        let mut app = App::new().clock(self.clock);
        let mut names = Vec::new();
        #[cfg(feature = "http")]
        let mut clients = Vec::new();
        for mut service in services {
            names.push(service.name.clone());
            // nothing listens: keep the options valid whatever port they name
            service.options.http.port = 0;
            service.options.http.reuse_port = false;
            #[cfg(feature = "amqp")]
            service.extensions.insert(self.amqp.clone());
            service.extensions.insert(self.sns_sqs.clone());
            #[cfg(feature = "http")]
            {
                let slot: self::http::AppSlot = Arc::new(Mutex::new(None));
                service.transports = std::mem::take(&mut service.transports)
                    .into_iter()
                    .map(|t| substitute(t, &slot))
                    .collect();
                clients.push((service.name.clone(), TestClient { slot }));
            }
            app = app.service(service);
        }
        let running = app.start().await?;
        Ok(TestApp {
            running,
            names,
            #[cfg(feature = "http")]
            clients,
        })
    }
}

/// A JsonBase body from the kit's peer service.
#[cfg(any(feature = "amqp", feature = "aws"))]
fn json_base<T: serde::Serialize + ?Sized>(topic: &str, data: &T) -> Result<String, Error> {
    use crate::envelope::{Envelope, JsonBase, Payload, ServiceIdentity};
    let payload = Payload::from_serialize(data).map_err(Error::new)?;
    JsonBase
        .build_message(
            &ServiceIdentity::new(PEER_SERVICE, PEER_UUID),
            topic,
            &payload,
        )
        .map_err(Error::new)
}

/// The `data` of a JsonBase body.
#[cfg(any(feature = "amqp", feature = "aws"))]
fn json_base_data(body: &[u8]) -> Option<serde_json::Value> {
    use crate::envelope::{Envelope, JsonBase};
    let text = std::str::from_utf8(body).ok()?;
    JsonBase.parse_message(text).ok()?.data.deserialize().ok()
}

/// The kit's stand-in for a transport that needs the outside world.
#[cfg(feature = "http")]
fn substitute(
    mut transport: Box<dyn AnyTransport>,
    slot: &self::http::AppSlot,
) -> Box<dyn AnyTransport> {
    if let Some(http) = transport.as_any_mut().downcast_mut::<HttpTransport>() {
        return Box::new(self::http::InProcessHttp {
            http: std::mem::take(http),
            slot: slot.clone(),
        });
    }
    transport
}

/// Services started by a [`TestKit`].
pub struct TestApp {
    running: RunningApp,
    names: Vec<String>,
    #[cfg(feature = "http")]
    clients: Vec<(String, TestClient)>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("services", &self.names)
            .finish_non_exhaustive()
    }
}

impl TestApp {
    /// The HTTP client of the first service.
    #[cfg(feature = "http")]
    pub fn http(&self) -> TestClient {
        match self.clients.first() {
            Some((_, client)) => client.clone(),
            None => TestClient {
                slot: Arc::default(),
            },
        }
    }

    /// The HTTP client of the service named `name` (a client that answers 503 when there is
    /// none).
    #[cfg(feature = "http")]
    pub fn http_of(&self, name: &str) -> TestClient {
        self.clients
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| TestClient {
                slot: Arc::default(),
            })
    }

    /// Stops the services gracefully (`stopping_service`, drain, `stop_service`) and returns
    /// the exit code.
    pub async fn stop(self) -> i32 {
        self.running.stop().await
    }
}
