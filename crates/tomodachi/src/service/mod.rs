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

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use http::Extensions;

use crate::error::Error;
use crate::options::Options;
use crate::transport::{AnyTransport, BoxFuture, Transport};

pub use app::{App, RunningApp, StopHandle};
pub use context::{get_execution_context, ExecutionContext};
pub(crate) use exit::StopSignal;
pub use exit::{exit, exit_code, set_exit_code};
pub use registry::{get_service, service_attribute, service_names};

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

pub(crate) type ErasedHook = Box<dyn FnOnce() -> BoxFuture<'static, Result<(), Error>> + Send>;

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
    pub(crate) transports: Vec<Box<dyn AnyTransport>>,
    pub(crate) hooks: Hooks,
    pub(crate) definition_errors: Vec<String>,
    pub(crate) message_envelope: Option<crate::envelope::SharedEnvelope>,
    /// Values handed to every transport through its [`TransportContext`](crate::transport::TransportContext).
    pub(crate) extensions: Extensions,
    /// Custom attributes: set in code, then merged with the config files' other top-level keys.
    pub(crate) attributes: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .field(
                "transports",
                &self.transports.iter().map(|t| t.name()).collect::<Vec<_>>(),
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

    /// The service's custom attributes (see [`ServiceBuilder::attribute`]); config files are
    /// merged in when the service starts.
    pub fn attributes(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.attributes
    }

    /// The options the service will start with (before `-c` config files are applied).
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The names of the transports registered on the service (`"http"`, `"amqp"`, ...).
    pub fn transport_names(&self) -> Vec<&'static str> {
        self.transports.iter().map(|t| t.name()).collect()
    }

    /// Whether the service has anything to start (transports or start hooks).
    pub(crate) fn has_work(&self) -> bool {
        !self.transports.is_empty() || self.hooks.start.is_some() || self.hooks.started.is_some()
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
    pub(crate) state: Arc<S>,
    pub(crate) service: Service,
}

impl<S: Send + Sync + 'static> ServiceBuilder<S> {
    /// A service named `name` around `state`.
    pub fn new(name: impl Into<String>, state: S) -> Self {
        Self::from_arc(name, Arc::new(state))
    }

    /// A service named `name` around a state the caller keeps a handle to: handlers receive
    /// this same `Arc` (not one wrapped around it).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use tomodachi::ServiceBuilder;
    ///
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// let service = ServiceBuilder::from_arc("counter", hits.clone())
    ///     .http("GET", r"/hit", |hits: Arc<AtomicUsize>| async move {
    ///         hits.fetch_add(1, Ordering::Relaxed).to_string()
    ///     })
    ///     .build();
    /// assert_eq!(hits.load(Ordering::Relaxed), 0);
    /// ```
    pub fn from_arc(name: impl Into<String>, state: Arc<S>) -> Self {
        let erased: Arc<dyn Any + Send + Sync> = state.clone();
        Self {
            state,
            service: Service {
                name: name.into(),
                uuid: None,
                options: Options::default(),
                state: erased,
                transports: Vec::new(),
                hooks: Hooks::default(),
                definition_errors: Vec::new(),
                message_envelope: None,
                extensions: Extensions::new(),
                attributes: serde_json::Map::new(),
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

    /// Sets a custom attribute (upstream: any class attribute a config file may also set). A
    /// config file's top-level keys other than `options` and `uuid` are merged onto these when
    /// the service starts, with upstream's rule: an unset or falsy value is replaced, lists are
    /// concatenated, objects merged key by key, anything else replaced. Handlers read them with
    /// [`service_attribute`](crate::service_attribute), transports with
    /// [`TransportContext::attribute`](crate::transport::TransportContext::attribute).
    ///
    /// ```
    /// # struct S;
    /// let svc = tomodachi::Service::builder("s", S)
    ///     .attribute("greeting", "hello")
    ///     .attribute("allowed_hosts", ["a.example"])
    ///     .build();
    /// assert_eq!(svc.attributes()["greeting"], "hello");
    /// ```
    pub fn attribute(mut self, key: impl Into<String>, value: impl serde::Serialize) -> Self {
        let key = key.into();
        match serde_json::to_value(value) {
            Ok(value) => {
                self.service.attributes.insert(key, value);
            }
            Err(e) => self.definition_error(format!("attribute '{key}' is not a JSON value: {e}")),
        }
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

    /// The registered transport of type `T`, created with `T::default()` on first use: how a
    /// transport's builder methods (in its own module or crate) add handlers to one shared
    /// instance per service.
    ///
    /// ```
    /// # use tomodachi::transport::*;
    /// #[derive(Default)]
    /// struct Counting(u32);
    /// impl Transport for Counting {
    ///     fn name(&self) -> &'static str { "counting" }
    ///     fn declare(self: Box<Self>, _ctx: TransportContext)
    ///         -> BoxFuture<'static, tomodachi::Result<Box<dyn DeclaredTransport>>> {
    ///         unimplemented!()
    ///     }
    /// }
    /// let mut builder = tomodachi::Service::builder("s", ());
    /// builder.transport_mut::<Counting>().0 += 1;
    /// builder.transport_mut::<Counting>().0 += 1;
    /// assert_eq!(builder.transport_mut::<Counting>().0, 2);
    /// assert_eq!(builder.build().transport_names(), ["counting"]);
    /// ```
    pub fn transport_mut<T: Transport + Default>(&mut self) -> &mut T {
        let index = match self
            .service
            .transports
            .iter_mut()
            .position(|t| t.as_any_mut().is::<T>())
        {
            Some(index) => index,
            None => {
                self.service.transports.push(Box::new(T::default()));
                self.service.transports.len() - 1
            }
        };
        match self.service.transports[index]
            .as_any_mut()
            .downcast_mut::<T>()
        {
            Some(t) => t,
            None => unreachable!("the transport at this index is a T"),
        }
    }

    /// Registers a transport instance of its own (several of one type may be added).
    pub fn with(mut self, transport: impl Transport) -> Self {
        self.service.transports.push(Box::new(transport));
        self
    }

    /// Records a definition error (a bad route, an invalid schedule): the service's start
    /// fails with it, before anything is started.
    pub fn definition_error(&mut self, error: impl Into<String>) {
        self.service.definition_errors.push(error.into());
    }

    /// Puts a value in the context every transport of this service receives
    /// ([`TransportContext::extension`](crate::transport::TransportContext::extension)).
    pub fn context_extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.service.extensions.insert(value);
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
    pub fn build(self) -> Service {
        self.service
    }
}
