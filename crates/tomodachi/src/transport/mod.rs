//! The transport contract: how HTTP, AMQP, SNS+SQS, the scheduler — and any transport of your
//! own, in this crate or another — plug into a service's lifecycle.
//!
//! A transport goes through three states, each a trait, the way a listener becomes an acceptor
//! in poem or a connection hands out channels in lapin:
//!
//! 1. [`Transport`]: what was registered on the [`ServiceBuilder`](crate::ServiceBuilder)
//!    (routes, subscriptions, scheduled functions). At start the app calls
//!    [`declare`](Transport::declare) on every transport of every service *concurrently*, with a
//!    [`TransportContext`]: connect, declare exchanges and queues, create topics and
//!    subscriptions, bind sockets — provision everything, consume nothing.
//! 2. [`DeclaredTransport`]: once *every* transport has declared, the app calls
//!    [`start`](DeclaredTransport::start) in the transport's [`StartPhase`]: with HTTP
//!    (before `started_service`) or after `started_service` returned (upstream starts SQS
//!    consumers and scheduled functions then). A failure in either phase aborts the start: what
//!    was declared is dropped, what runs is stopped, and the process exits with code 1.
//! 3. [`RunningTransport`]: on shutdown the app calls [`stop`](RunningTransport::stop) on all of
//!    them concurrently, while `stopping_service` runs: stop taking new work, let in-flight work
//!    finish (HTTP within `http.termination_grace_period_seconds`), release connections.
//!    `stop_service` runs once every transport has stopped.
//!
//! A transport registers itself on a builder through
//! [`ServiceBuilder::transport_mut`](crate::ServiceBuilder::transport_mut) (one shared instance
//! per type, which handler registrations add to) or
//! [`ServiceBuilder::with`](crate::ServiceBuilder::with); a crate that adds a transport gives
//! the builder its methods with an extension trait. The runtime in `service/` names no
//! transport.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use tomodachi::transport::{
//!     BoxFuture, DeclaredTransport, RunningTransport, StartPhase, Transport, TransportContext,
//! };
//! use tomodachi::{App, Service, ServiceBuilder};
//!
//! /// A transport that records its lifecycle.
//! #[derive(Default)]
//! struct Recorder(Arc<Mutex<Vec<String>>>);
//!
//! impl Transport for Recorder {
//!     fn name(&self) -> &'static str {
//!         "recorder"
//!     }
//!     fn declare(
//!         self: Box<Self>,
//!         ctx: TransportContext,
//!     ) -> BoxFuture<'static, tomodachi::Result<Box<dyn DeclaredTransport>>> {
//!         Box::pin(async move {
//!             self.0.lock().unwrap().push(format!("declared for {}", ctx.service_name()));
//!             Ok(self as Box<dyn DeclaredTransport>)
//!         })
//!     }
//! }
//!
//! impl DeclaredTransport for Recorder {
//!     fn start(self: Box<Self>) -> BoxFuture<'static, tomodachi::Result<Box<dyn RunningTransport>>> {
//!         Box::pin(async move {
//!             self.0.lock().unwrap().push("started".into());
//!             Ok(self as Box<dyn RunningTransport>)
//!         })
//!     }
//! }
//!
//! impl RunningTransport for Recorder {
//!     fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
//!         Box::pin(async move { self.0.lock().unwrap().push("stopped".into()) })
//!     }
//! }
//!
//! /// The builder method a transport crate would add with an extension trait.
//! trait RecorderExt {
//!     fn record_into(self, trail: Arc<Mutex<Vec<String>>>) -> Self;
//! }
//! impl<S: Send + Sync + 'static> RecorderExt for ServiceBuilder<S> {
//!     fn record_into(mut self, trail: Arc<Mutex<Vec<String>>>) -> Self {
//!         self.transport_mut::<Recorder>().0 = trail;
//!         self
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> tomodachi::Result<()> {
//! let trail = Arc::new(Mutex::new(Vec::new()));
//! let service = Service::builder("recorded", ()).record_into(trail.clone()).build();
//! let running = App::new().service(service).start().await?;
//! assert_eq!(running.stop().await, 0);
//! assert_eq!(*trail.lock().unwrap(), ["declared for recorded", "started", "stopped"]);
//! # Ok(()) }
//! ```

mod context;
mod counters;
mod describe;
#[allow(unused_imports)]
pub(crate) use describe::data_schema_setters;

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use crate::error::Error;

pub(crate) use context::{register_context, unregister_context};
pub use context::{Shutdown, TransportContext};
pub(crate) use counters::report as report_counters;
pub use counters::TaskCounter;
pub use describe::{
    ChannelDescription, Description, MessageDescription, PathParameter, RouteDescription,
    RouteKind, ScheduleDescription, ServerDescription,
};

/// A boxed `Send` future: what the transport traits return, so they stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// When a declared transport starts consuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StartPhase {
    /// With HTTP, after `start_service` and before `started_service` (AMQP, HTTP).
    #[default]
    WithHttp,
    /// After `started_service` returned (SQS receive loops, scheduled functions).
    AfterStarted,
}

/// A transport as registered on a service: the first of its three states (see the module
/// docs).
pub trait Transport: Send + 'static {
    /// A short name for logs and errors (`"http"`, `"amqp"`, `"aws_sns_sqs"`, `"scheduler"`).
    fn name(&self) -> &'static str;

    /// When the transport starts consuming once declared (default: with HTTP).
    fn phase(&self) -> StartPhase {
        StartPhase::WithHttp
    }

    /// Provisions everything the transport needs (connections, exchanges, queues, topics,
    /// subscriptions, sockets) without consuming yet. Runs concurrently with every other
    /// transport of the app; an error aborts the start.
    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>>;

    /// What the transport registered (channels, routes, schedules, servers), for the API
    /// documents ([`apidoc`](crate::apidoc)): called without declaring anything, with the
    /// context the service would start with. Nothing by default.
    fn describe(&self, ctx: &TransportContext) -> Vec<Description> {
        let _ = ctx;
        Vec::new()
    }
}

/// A transport whose resources are declared, ready to consume.
///
/// Dropping it without [`start`](Self::start) (another transport failed to declare) must
/// release what it holds.
pub trait DeclaredTransport: Send + 'static {
    /// Starts consuming (accepting connections, pulling messages, firing schedules).
    fn start(self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>>;

    /// The socket address it listens on, once bound (HTTP), so tests can connect.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

/// A running transport.
pub trait RunningTransport: Send + 'static {
    /// Graceful stop: take no new work, let in-flight work finish, release connections.
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;

    /// The socket address it listens on (HTTP), so tests can connect.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

/// A registered transport the builder can find again by type (the blanket impl covers every
/// [`Transport`]).
pub(crate) trait AnyTransport: Transport {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_transport(self: Box<Self>) -> Box<dyn Transport>;
}

impl<T: Transport> AnyTransport for T {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_transport(self: Box<Self>) -> Box<dyn Transport> {
        self
    }
}

#[cfg(test)]
mod tests;
