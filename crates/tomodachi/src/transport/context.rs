//! What a transport learns about its service, and which service a running handler belongs to.

use std::sync::{Arc, Mutex};

use http::Extensions;
use tokio::sync::watch;

use crate::clock::{Clock, SharedClock};
use crate::envelope::SharedEnvelope;
use crate::options::Options;

/// A service as its transports see it: identity, options (after config files), the default
/// envelope, the service-wide message pipeline settings, the clock and the shutdown signal.
///
/// Cheap to clone; every transport of a service gets the same one.
///
/// ```
/// # fn demo(ctx: &tomodachi::transport::TransportContext) {
/// let port = ctx.options().http.port;
/// let queue_prefix = &ctx.options().amqp.queue_name_prefix;
/// tracing::info!(service = ctx.service_name(), uuid = ctx.service_uuid(), port, "declaring");
/// # let _ = queue_prefix; }
/// ```
#[derive(Clone)]
pub struct TransportContext {
    pub(crate) name: Arc<str>,
    pub(crate) uuid: Arc<str>,
    pub(crate) options: Arc<Options>,
    pub(crate) clock: SharedClock,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) envelope: Option<SharedEnvelope>,
    pub(crate) extensions: Arc<Extensions>,
    /// The app's exit code and stop request (`None` outside an app).
    pub(crate) exit: Option<Arc<crate::service::StopSignal>>,
    /// The service's custom attributes (code, then config files).
    pub(crate) attributes: Arc<serde_json::Map<String, serde_json::Value>>,
}

impl std::fmt::Debug for TransportContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportContext")
            .field("service", &self.name)
            .field("uuid", &self.uuid)
            .finish_non_exhaustive()
    }
}

impl TransportContext {
    /// A context for a service named `name`, e.g. to drive a transport in a test.
    ///
    /// ```
    /// let ctx = tomodachi::transport::TransportContext::new("svc", "uuid-1", Default::default());
    /// assert_eq!(ctx.service_name(), "svc");
    /// assert!(!ctx.shutdown().is_requested());
    /// ```
    pub fn new(name: &str, uuid: &str, options: Options) -> Self {
        let (_tx, stop) = watch::channel(false);
        Self {
            name: Arc::from(name),
            uuid: Arc::from(uuid),
            options: Arc::new(options),
            clock: SharedClock::default(),
            stop,
            envelope: None,
            extensions: Arc::default(),
            exit: None,
            attributes: Arc::default(),
        }
    }

    /// The service name.
    pub fn service_name(&self) -> &str {
        &self.name
    }

    /// A custom attribute of the service ([`ServiceBuilder::attribute`](crate::ServiceBuilder::attribute),
    /// merged with the config files' other top-level keys).
    pub fn attribute(&self, key: &str) -> Option<&serde_json::Value> {
        self.attributes.get(key)
    }

    /// The service instance's uuid.
    pub fn service_uuid(&self) -> &str {
        &self.uuid
    }

    /// The service's options, with config files applied.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The service's default message envelope (`None`: raw messages).
    pub fn envelope(&self) -> Option<&SharedEnvelope> {
        self.envelope.as_ref()
    }

    /// The wall clock (set with [`App::clock`](crate::App::clock); the system clock by
    /// default).
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock.0
    }

    /// The app's stop signal.
    pub fn shutdown(&self) -> Shutdown {
        Shutdown(self.stop.clone())
    }

    /// A value the service put in the context for its transports (the message pipeline's
    /// settings live here; see [`message`](crate::message)).
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get::<T>()
    }
}

/// The app's stop signal, as a transport watches it.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Whether a stop was requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once a stop is requested; never for a context whose app is gone without
    /// one (such as a context made with [`TransportContext::new`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let ctx = tomodachi::transport::TransportContext::new("svc", "u", Default::default());
    /// let wait = tokio::time::timeout(std::time::Duration::from_millis(10), ctx.shutdown().requested());
    /// assert!(wait.await.is_err(), "no stop was requested");
    /// # }
    /// ```
    pub async fn requested(mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            // the signal's sender is gone without a stop: none will come
            std::future::pending::<()>().await;
        }
    }
}

static CONTEXTS: Mutex<Vec<TransportContext>> = Mutex::new(Vec::new());

/// Registers a starting service's context.
pub(crate) fn register_context(ctx: TransportContext) {
    if let Ok(mut all) = CONTEXTS.lock() {
        all.push(ctx);
    }
}

/// Forgets a stopped service.
pub(crate) fn unregister_context(ctx: &TransportContext) {
    if let Ok(mut all) = CONTEXTS.lock() {
        all.retain(|c| !(Arc::ptr_eq(&c.name, &ctx.name) && Arc::ptr_eq(&c.uuid, &ctx.uuid)));
    }
}

impl TransportContext {
    /// The context of a running service: the one named `name`; without a name, the service
    /// whose handler is running, else the most recently started one. What a transport's
    /// publish helpers use to publish as "this service" (`amqp::publish` does).
    ///
    /// ```
    /// assert!(tomodachi::transport::TransportContext::current(Some("not running")).is_none());
    /// ```
    pub fn current(name: Option<&str>) -> Option<TransportContext> {
        let all = CONTEXTS.lock().ok()?;
        match name {
            Some(name) => all.iter().rev().find(|c| &*c.name == name).cloned(),
            // the handler's log context carries its service (one task-local for both)
            None => crate::logging::current_service()
                .and_then(|s| s.downcast_ref::<TransportContext>().cloned())
                .or_else(|| all.last().cloned()),
        }
    }
}
