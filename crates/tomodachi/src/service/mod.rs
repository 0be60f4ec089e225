//! Services: their definition ([`ServiceBuilder`]), the process registry, lifecycle and exit.
//!
//! A service is any `Send + Sync + 'static` value with handlers registered on a builder. The
//! `#[tomodachi::service]` macro generates exactly these builder calls.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use tomodachi::http::{HttpRequest, Method};
//! use tomodachi::Service;
//!
//! #[derive(Default)]
//! struct Counter { n: AtomicU64 }
//!
//! let service = Service::builder("counter", Counter::default())
//!     .http(Method::POST, r"/count", |c: Arc<Counter>, _req: HttpRequest| async move {
//!         (200, (c.n.fetch_add(1, Ordering::SeqCst) + 1).to_string())
//!     })
//!     .on_start(|_c: Arc<Counter>| async { Ok::<_, tomodachi::Error>(()) })
//!     .build();
//! assert_eq!(service.name(), "counter");
//! ```

pub(crate) mod app;
pub(crate) mod context;
pub(crate) mod exit;
pub(crate) mod registry;
pub(crate) mod transport;

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use crate::error::Error;
use crate::http::handler::{
    erase_handler, erase_middleware, BoxFuture, ErasedHandler, ErasedMiddleware,
};
use crate::http::layer::{layer_fn, LayerFn};
use crate::http::router::{compile, Route};
use crate::http::{HttpLayerService, HttpRequest, HttpRoute, IntoMethods, IntoResponse, Next};
use crate::options::Options;

pub use app::{App, RunningApp, StopHandle};
pub use context::get_execution_context;
pub use exit::{exit, exit_code};
pub use registry::{get_service, service_names};

/// What a lifecycle hook may return: `()` or `Result<(), E>` with `E: Into<Error>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a tomodachi lifecycle hook",
    label = "hooks return `()` or `Result<(), E>`",
    note = "return `()` or `tomodachi::Result<()>` (any `Result<(), E>` with `E: Into<tomodachi::Error>`)"
)]
pub trait HookOutput {
    /// The hook's outcome.
    fn into_result(self) -> Result<(), Error>;
}

impl HookOutput for () {
    fn into_result(self) -> Result<(), Error> {
        Ok(())
    }
}

impl<E: Into<Error>> HookOutput for Result<(), E> {
    fn into_result(self) -> Result<(), Error> {
        self.map_err(Into::into)
    }
}

pub(crate) type ErasedHook = Box<dyn FnOnce() -> BoxFuture<Result<(), Error>> + Send>;

/// The four lifecycle hooks, in upstream order.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) start: Option<ErasedHook>,
    pub(crate) started: Option<ErasedHook>,
    pub(crate) stopping: Option<ErasedHook>,
    pub(crate) stop: Option<ErasedHook>,
}

/// A defined service, ready to run (built by [`ServiceBuilder::build`]).
pub struct Service {
    pub(crate) name: String,
    pub(crate) uuid: Option<String>,
    pub(crate) options: Options,
    pub(crate) state: Arc<dyn Any + Send + Sync>,
    pub(crate) routes: Vec<Route>,
    pub(crate) error_handlers: HashMap<u16, ErasedHandler>,
    pub(crate) http_middlewares: Vec<ErasedMiddleware>,
    pub(crate) http_layers: Vec<LayerFn>,
    pub(crate) transports: Vec<transport::TransportStarter>,
    pub(crate) hooks: Hooks,
    pub(crate) definition_errors: Vec<String>,
    pub(crate) message_envelope: Option<crate::envelope::SharedEnvelope>,
    amqp_handlers: Vec<crate::amqp::AmqpHandlerDef>,
    #[cfg(feature = "aws")]
    sns_sqs_handlers: Vec<crate::aws_sns_sqs::SnsSqsHandlerDef>,
    message_middlewares: Vec<crate::message::ErasedMessageMiddleware>,
    failure_policy: crate::message::FailurePolicy,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .field(
                "routes",
                &self.routes.iter().map(|r| &r.pattern).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Starts defining a service named `name` around `state` (the service instance).
    pub fn builder<S: Send + Sync + 'static>(
        name: impl Into<String>,
        state: S,
    ) -> ServiceBuilder<S> {
        ServiceBuilder::new(name, state)
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The options the service will start with (before `-c` config files are applied).
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Whether the service has anything to start (handlers or start hooks).
    pub(crate) fn has_work(&self) -> bool {
        !self.routes.is_empty()
            || !self.error_handlers.is_empty()
            || !self.transports.is_empty()
            || !self.amqp_handlers.is_empty()
            || self.hooks.start.is_some()
            || self.hooks.started.is_some()
    }
}

/// Anything that becomes a [`Service`]: a built service, a builder, or a type with the
/// `#[tomodachi::service]` attribute.
pub trait IntoService {
    /// The service definition.
    fn into_service(self) -> Service;
}

impl IntoService for Service {
    fn into_service(self) -> Service {
        self
    }
}

impl<S: Send + Sync + 'static> IntoService for ServiceBuilder<S> {
    fn into_service(self) -> Service {
        self.build()
    }
}

/// Defines a service: handlers, error handlers, middlewares, hooks and options.
///
/// Handlers receive the service instance as `Arc<S>` and the request.
pub struct ServiceBuilder<S> {
    state: Arc<S>,
    service: Service,
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// A service named `name` around `state`.
    pub fn new(name: impl Into<String>, state: S) -> Self {
        let state = Arc::new(state);
        let erased: Arc<dyn Any + Send + Sync> = state.clone();
        Self {
            state,
            service: Service {
                name: name.into(),
                uuid: None,
                options: Options::default(),
                state: erased,
                routes: Vec::new(),
                error_handlers: HashMap::new(),
                http_middlewares: Vec::new(),
                http_layers: Vec::new(),
                transports: Vec::new(),
                hooks: Hooks::default(),
                definition_errors: Vec::new(),
                message_envelope: None,
                amqp_handlers: Vec::new(),
                #[cfg(feature = "aws")]
                sns_sqs_handlers: Vec::new(),
                message_middlewares: Vec::new(),
                failure_policy: crate::message::FailurePolicy::default(),
            },
        }
    }

    /// The service instance handlers will receive.
    pub fn state(&self) -> &Arc<S> {
        &self.state
    }

    /// Sets the service uuid (default: a random UUIDv4 at start, or `uuid` from a config file).
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.service.uuid = Some(uuid.into());
        self
    }

    /// Sets the options (upstream's `options = Options(...)` class attribute).
    pub fn options(mut self, options: Options) -> Self {
        self.service.options = options;
        self
    }

    /// Changes the options in place.
    ///
    /// ```
    /// # struct S;
    /// let svc = tomodachi::Service::builder("s", S).configure(|o| o.http.port = 8080).build();
    /// assert_eq!(svc.options().http.port, 8080);
    /// ```
    pub fn configure(mut self, f: impl FnOnce(&mut Options)) -> Self {
        f(&mut self.service.options);
        self
    }

    /// Registers an HTTP handler for `methods` on the regex `pattern` (a full match).
    pub fn http<M, H, Fut, O>(self, methods: M, pattern: &str, handler: H) -> Self
    where
        M: IntoMethods,
        H: Fn(Arc<S>, HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: IntoResponse,
    {
        self.http_route(HttpRoute::new(methods, pattern), handler)
    }

    /// Registers an HTTP handler with a full route description (name, `ignore_logging`).
    pub fn http_route<H, Fut, O>(mut self, route: HttpRoute, handler: H) -> Self
    where
        H: Fn(Arc<S>, HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: IntoResponse,
    {
        if let Some(invalid) = route.invalid {
            self.service
                .definition_errors
                .push(format!("{invalid} in route '{}'", route.pattern));
            return self;
        }
        match compile(&route.pattern) {
            Ok(regex) => {
                let group_names = regex.capture_names().flatten().map(Arc::from).collect();
                let name = route.name.clone().unwrap_or_else(|| route.pattern.clone());
                self.service.routes.push(Route {
                    literal: crate::http::router::literal_path(&route.pattern),
                    pattern: route.pattern,
                    regex,
                    methods: route.methods,
                    group_names,
                    handler: erase_handler(self.state.clone(), handler),
                    name: Arc::from(name),
                    ignore_logging: route.ignore_logging,
                });
            }
            Err(e) => self.service.definition_errors.push(e),
        }
        self
    }

    /// Registers the error handler for responses with `status_code` (404, 405, 500, a status
    /// from an [`Error::http`](crate::Error::http), ...). The handler's status defaults to
    /// `status_code`; [`HttpRequest::error_status`] tells it too.
    pub fn http_error<H, Fut, O>(mut self, status_code: u16, handler: H) -> Self
    where
        H: Fn(Arc<S>, HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: IntoResponse,
    {
        self.service
            .error_handlers
            .insert(status_code, erase_handler(self.state.clone(), handler));
        self
    }

    /// Adds an HTTP middleware; the first added is the outermost.
    pub fn http_middleware<F, Fut, O>(mut self, middleware: F) -> Self
    where
        F: Fn(Arc<S>, HttpRequest, Next) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: IntoResponse,
    {
        self.service
            .http_middlewares
            .push(erase_middleware(self.state.clone(), middleware));
        self
    }

    /// Wraps the service's HTTP handling in a tower layer (CORS, compression, timeouts, ...
    /// from tower-http, or your own). The first layer added is the outermost; layers run
    /// outside the `http_middleware` stack, after the body was read within `client_max_size`.
    /// Layers must keep the request body type (`Full<Bytes>`).
    ///
    /// ```
    /// use tower::ServiceBuilder as Layers;
    /// # struct S;
    /// let svc = tomodachi::Service::builder("s", S)
    ///     .http_layer(tower::layer::util::Identity::new())
    ///     .build();
    /// ```
    pub fn http_layer<L, B, E>(mut self, layer: L) -> Self
    where
        L: tower::Layer<HttpLayerService> + Send + 'static,
        L::Service: tower::Service<
                http::Request<http_body_util::Full<bytes::Bytes>>,
                Response = http::Response<B>,
                Error = E,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<http_body_util::Full<bytes::Bytes>>>>::Future:
            Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<crate::BoxError>,
        E: Into<crate::BoxError> + 'static,
    {
        self.service.http_layers.push(layer_fn(layer));
        self
    }

    /// Registers a transport (AMQP, SNS+SQS, scheduler) started by the app in its phase.
    #[allow(dead_code)]
    pub(crate) fn transport(mut self, starter: transport::TransportStarter) -> Self {
        self.service.transports.push(starter);
        self
    }

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
    pub fn schedule<H, Fut, O>(
        mut self,
        name: impl Into<String>,
        spec: crate::schedule::ScheduleSpec,
        handler: H,
    ) -> Self
    where
        H: Fn(Arc<S>, crate::schedule::Invocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        let state = self.state.clone();
        match crate::schedule::scheduled_function(state, name.into(), spec, handler) {
            Ok(starter) => self.service.transports.push(starter),
            Err(e) => self.service.definition_errors.push(e),
        }
        self
    }

    /// The service's default message envelope (upstream's `message_envelope` attribute),
    /// used by its message handlers and when it publishes. Without one, messages are raw.
    pub fn message_envelope(mut self, envelope: impl crate::envelope::Envelope) -> Self {
        self.service.message_envelope = Some(Arc::new(envelope));
        self
    }

    /// Adds a message middleware (AMQP and, later, SNS+SQS handlers); the first added is the
    /// outermost. It receives the service, the [`Message`](crate::message::Message) and the
    /// rest of the chain, and can hand typed values to the handler through
    /// `message.extensions_mut()`; the transport's values are read-only.
    pub fn message_middleware<M, Fut, O>(mut self, middleware: M) -> Self
    where
        M: Fn(Arc<S>, crate::message::Message, crate::message::MessageNext) -> Fut
            + Send
            + Sync
            + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        self.service
            .message_middlewares
            .push(crate::message::erase_message_middleware(
                self.state.clone(),
                middleware,
            ));
        self
    }

    /// What happens to a message whose handler failed: retried then dead-lettered (default),
    /// or dropped as upstream does.
    pub fn message_failure_policy(mut self, policy: crate::message::FailurePolicy) -> Self {
        self.service.failure_policy = policy;
        self
    }

    /// Registers an AMQP message handler (upstream `@amqp`). The handler returns `()` or
    /// `Result<(), E>`; the message is acknowledged only after it succeeded.
    pub fn amqp<H, Fut, O>(
        mut self,
        subscription: crate::amqp::AmqpSubscription,
        handler: H,
    ) -> Self
    where
        H: Fn(Arc<S>, crate::message::Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        self.service
            .amqp_handlers
            .push(crate::amqp::AmqpHandlerDef {
                subscription,
                handler: crate::message::erase_message_handler(self.state.clone(), handler),
            });
        self
    }

    /// Registers an AWS SNS+SQS message handler (upstream `@aws_sns_sqs`). The handler
    /// returns `()` or `Result<(), E>`; the message is deleted only after it succeeded.
    #[cfg(feature = "aws")]
    pub fn aws_sns_sqs<H, Fut, O>(
        mut self,
        subscription: crate::aws_sns_sqs::SnsSqsSubscription,
        handler: H,
    ) -> Self
    where
        H: Fn(Arc<S>, crate::message::Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        self.service
            .sns_sqs_handlers
            .push(crate::aws_sns_sqs::SnsSqsHandlerDef {
                subscription,
                handler: crate::message::erase_message_handler(self.state.clone(), handler),
            });
        self
    }

    fn hook<F, Fut, O>(&self, f: F) -> ErasedHook
    where
        F: FnOnce(Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        let state = self.state.clone();
        Box::new(move || {
            let fut = f(state);
            Box::pin(async move { fut.await.into_result() })
        })
    }

    /// `start_service`: runs before transports start; an error aborts start with exit code 1.
    pub fn on_start<F, Fut, O>(mut self, f: F) -> Self
    where
        F: FnOnce(Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        self.service.hooks.start = Some(self.hook(f));
        self
    }

    /// `started_service`: runs once transports are up; an error aborts with exit code 1.
    pub fn on_started<F, Fut, O>(mut self, f: F) -> Self
    where
        F: FnOnce(Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        self.service.hooks.started = Some(self.hook(f));
        self
    }

    /// `stopping_service`: runs as soon as a stop is requested, while transports drain.
    pub fn on_stopping<F, Fut, O>(mut self, f: F) -> Self
    where
        F: FnOnce(Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        self.service.hooks.stopping = Some(self.hook(f));
        self
    }

    /// `stop_service`: runs last, after all transports have drained.
    pub fn on_stop<F, Fut, O>(mut self, f: F) -> Self
    where
        F: FnOnce(Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = O> + Send + 'static,
        O: HookOutput,
    {
        self.service.hooks.stop = Some(self.hook(f));
        self
    }

    /// Finishes the definition. Definition errors (e.g. a bad route regex) are reported when
    /// the service starts.
    pub fn build(mut self) -> Service {
        let middlewares: Arc<[_]> = std::mem::take(&mut self.service.message_middlewares).into();
        let policy = self.service.failure_policy;
        #[cfg(feature = "aws")]
        {
            let handlers = std::mem::take(&mut self.service.sns_sqs_handlers);
            if !handlers.is_empty() {
                self.service.transports.extend(crate::aws_sns_sqs::start(
                    handlers,
                    middlewares.clone(),
                    policy,
                ));
            }
        }
        let handlers = std::mem::take(&mut self.service.amqp_handlers);
        if !handlers.is_empty() {
            self.service
                .transports
                .push(transport::TransportStarter::new(
                    transport::StartPhase::Transports,
                    move |info| crate::amqp::start(info, handlers, middlewares, policy),
                ));
        }
        self.service
    }
}
