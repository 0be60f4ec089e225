//! Starting and stopping a set of services in upstream lifecycle order: `start_service`
//! hooks, every transport declared, transports started with HTTP, `started_service` hooks,
//! transports started after it; on stop, `stopping_service` hooks beside the transports' drain,
//! then `stop_service` hooks.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::future::join_all;
use tokio::sync::watch;

use super::{registry, ErasedHook, IntoService, Service};
use crate::clock::SharedClock;
use crate::error::Error;
use crate::options::ConfigFile;
use crate::transport::{
    register_context, unregister_context, DeclaredTransport, RunningTransport, StartPhase,
    Transport, TransportContext,
};

/// A set of services to run in one process (upstream: the services of the `run` command).
///
/// `tomodachi::main!` and [`launch`](crate::launch) use it; tests use it directly:
///
/// ```no_run
/// # async fn demo(service: tomodachi::Service) -> tomodachi::Result<()> {
/// let running = tomodachi::App::new().service(service).start().await?;
/// let addr = running.http_addr(0).expect("the service serves HTTP");
/// // ... send requests to addr ...
/// let exit_code = running.stop().await;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct App {
    services: Vec<Service>,
    config: Option<ConfigFile>,
    clock: SharedClock,
    #[cfg(feature = "opentelemetry")]
    telemetry: Option<crate::telemetry::OpenTelemetry>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("services", &self.services)
            .finish()
    }
}

use super::exit::StopSignal;

struct Running {
    name: String,
    state: Arc<dyn Any + Send + Sync>,
    ctx: TransportContext,
    /// Registered, not declared yet.
    registered: Vec<Box<dyn Transport>>,
    /// Declared, waiting for their start phase.
    declared: Vec<(StartPhase, Box<dyn DeclaredTransport>)>,
    running: Vec<Box<dyn RunningTransport>>,
    stopping: Option<ErasedHook>,
    stop: Option<ErasedHook>,
}

/// Services that have started; [`wait`](Self::wait) blocks until a stop is requested and then
/// shuts them down gracefully.
pub struct RunningApp {
    services: Vec<Running>,
    signal: Arc<StopSignal>,
    stop_rx: watch::Receiver<bool>,
    show_service: bool,
    #[cfg(feature = "opentelemetry")]
    telemetry: Option<crate::telemetry::OpenTelemetry>,
}

/// Requests a graceful stop of a [`RunningApp`] from anywhere.
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<StopSignal>);

impl StopHandle {
    /// Requests the stop (idempotent).
    pub fn stop(&self) {
        self.0.stop();
    }
}

fn lifecycle(state: &str, message: &str, service: Option<&str>) {
    match service {
        Some(s) => {
            tracing::info!(target: "tomodachi.lifecycle", service = s, state = state, "{message}")
        }
        None => tracing::info!(target: "tomodachi.lifecycle", state = state, "{message}"),
    }
}

async fn run_hooks(hooks: Vec<(String, ErasedHook)>, event: &'static str) -> Result<(), Error> {
    let results = join_all(hooks.into_iter().map(|(name, hook)| {
        let span = tracing::info_span!(target: "tomodachi.lifecycle.handler", "hook",
            handler = %name, r#type = "tomodachi.event", event = event);
        tracing::Instrument::instrument(
            futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(hook())),
            span,
        )
    }))
    .await;
    let mut first_err = None;
    for r in results {
        let r = r.unwrap_or_else(|_| Err(Error::msg(format!("{event} hook panicked"))));
        if let Err(e) = r {
            tracing::error!(target: "exception", exception = ?e, "uncaught exception: {e}");
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

impl App {
    /// No services yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a service.
    pub fn service(mut self, service: impl IntoService) -> Self {
        self.services.push(service.into_service());
        self
    }

    /// Applies merged `-c` config files to every service at start.
    pub fn config(mut self, config: ConfigFile) -> Self {
        self.config = Some(config);
        self
    }

    /// The wall clock scheduled functions follow (default: the system clock). With a
    /// [`TokioClock`](crate::schedule::TokioClock) and tokio's paused time, tests run
    /// schedules deterministically.
    ///
    /// ```
    /// let app = tomodachi::App::new().clock(tomodachi::schedule::SystemClock);
    /// ```
    pub fn clock(mut self, clock: impl crate::clock::Clock) -> Self {
        self.clock = SharedClock(Arc::new(clock));
        self
    }

    /// Instruments the services with OpenTelemetry (feature `opentelemetry`): spans for
    /// HTTP requests, AMQP messages and publishes, as upstream's `TomodachiInstrumentor`.
    /// Without it, the process's instrumentation applies
    /// ([`OpenTelemetry::instrument`](crate::telemetry::OpenTelemetry::instrument), or
    /// `--opentelemetry-instrument` with [`launch`](crate::launch)).
    ///
    /// ```
    /// use tomodachi::telemetry::{opentelemetry_sdk::trace::SdkTracerProvider, OpenTelemetry};
    /// let provider = SdkTracerProvider::builder().build();
    /// let app = tomodachi::App::new().opentelemetry(OpenTelemetry::with_tracer_provider(provider));
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn opentelemetry(mut self, telemetry: crate::telemetry::OpenTelemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Runs the start phase: `start_service` hooks, every transport declared, transports
    /// started with HTTP, `started_service` hooks, transports started after them.
    ///
    /// On failure everything started is stopped again and the error is returned (the process
    /// exit code becomes 1, as upstream).
    pub async fn start(self) -> Result<RunningApp, Error> {
        let (signal, stop_rx) = StopSignal::new();
        let show_service = self.services.len() > 1;
        for svc in &self.services {
            if let Some(e) = svc.definition_errors.first() {
                return Err(fail_init(&svc.name, e.clone()));
            }
        }
        if self.services.is_empty() || !self.services.iter().any(Service::has_work) {
            tracing::warn!(target: "tomodachi.init", "no transport handlers defined");
            return Err(Error::msg("no transport handlers defined"));
        }

        // Options: code, then config files (merged key by key), then validation.
        let mut services = self.services;
        let mut log_limits: Option<crate::logging::LogLimits> = None;
        for svc in &mut services {
            if let Some(config) = &self.config {
                if let Err(e) = config.apply_to(&mut svc.options) {
                    return Err(fail_init(&svc.name, e.to_string()));
                }
                if svc.uuid.is_none() {
                    svc.uuid = config.uuid().map(str::to_owned);
                }
                config.merge_attributes_into(&mut svc.attributes);
            }
            if let Err(e) = svc.options.validate() {
                return Err(fail_init(&svc.name, e.to_string()));
            }
            let limits = svc.options.logging.limits();
            log_limits = Some(log_limits.map_or(limits, |l| l.min(limits)));
            let uuid = svc
                .uuid
                .get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
            tracing::info!(target: "tomodachi.service", service = %svc.name, uuid = %uuid,
                "initializing service instance");
            registry::register(&svc.name, svc.state.clone());
        }
        // Log record caps are process-wide: the smallest of the services' applies.
        if let Some(limits) = log_limits {
            crate::logging::set_limits(limits);
        }
        // OpenTelemetry: each service's tracer, for its transports (through the context)
        #[cfg(feature = "opentelemetry")]
        let telemetry = self
            .telemetry
            .or_else(crate::telemetry::OpenTelemetry::global);
        #[cfg(feature = "opentelemetry")]
        if let Some(t) = &telemetry {
            for svc in &mut services {
                let uuid = svc.uuid.clone().unwrap_or_default();
                match t.for_service(&svc.name, &uuid) {
                    Ok(tracing) => svc.extensions.insert(tracing),
                    Err(e) => return Err(fail_init(&svc.name, e.to_string())),
                };
                // the library's log records to the logger provider, if there is one
                if let Err(e) = t.start_logs(&svc.name, &uuid) {
                    return Err(fail_init(&svc.name, e.to_string()));
                }
            }
        }
        lifecycle("starting", "starting the service", None);

        let mut running = Vec::with_capacity(services.len());
        let mut start_hooks = Vec::new();
        let mut started_hooks = Vec::new();
        for mut svc in services {
            if let Some(h) = svc.hooks.start.take() {
                start_hooks.push((format!("{}.start_service", svc.name), h));
            }
            if let Some(h) = svc.hooks.started.take() {
                started_hooks.push((format!("{}.started_service", svc.name), h));
            }
            let ctx = TransportContext {
                name: Arc::from(svc.name.as_str()),
                uuid: Arc::from(svc.uuid.as_deref().unwrap_or_default()),
                options: Arc::new(svc.options.clone()),
                clock: self.clock.clone(),
                stop: stop_rx.clone(),
                envelope: svc.message_envelope.clone(),
                extensions: Arc::new(std::mem::take(&mut svc.extensions)),
                exit: Some(signal.clone()),
                attributes: Arc::new(std::mem::take(&mut svc.attributes)),
            };
            register_context(ctx.clone());
            running.push(Running {
                name: svc.name,
                state: svc.state,
                ctx,
                registered: svc
                    .transports
                    .into_iter()
                    .map(|t| t.into_transport())
                    .collect(),
                declared: Vec::new(),
                running: Vec::new(),
                stopping: svc.hooks.stopping.take(),
                stop: svc.hooks.stop.take(),
            });
        }
        let mut app = RunningApp {
            services: running,
            signal,
            stop_rx,
            show_service,
            #[cfg(feature = "opentelemetry")]
            telemetry,
        };

        if let Err(e) = run_hooks(start_hooks, "lifecycle.setup").await {
            return Err(app.abort(e).await);
        }
        // Transports are declared after start_service (a request during start_service is
        // refused: the port is not bound yet), all of them before any starts consuming.
        if let Err(e) = app.declare_transports().await {
            return Err(app.abort(e).await);
        }
        if let Err(e) = app.start_transports(StartPhase::WithHttp).await {
            return Err(app.abort(e).await);
        }
        lifecycle("initialized", "enabled handler functions", None);
        if let Err(e) = run_hooks(started_hooks, "lifecycle.initialized").await {
            return Err(app.abort(e).await);
        }
        // SQS consumers and scheduled functions start once started_service has returned.
        if let Err(e) = app.start_transports(StartPhase::AfterStarted).await {
            return Err(app.abort(e).await);
        }
        if !*app.stop_rx.borrow() {
            lifecycle("ready", "started service successfully", None);
        }
        Ok(app)
    }
}

impl Running {
    /// Where its HTTP server listens (declared or running).
    fn local_addr(&self) -> Option<SocketAddr> {
        self.running
            .iter()
            .find_map(|t| t.local_addr())
            .or_else(|| self.declared.iter().find_map(|(_, t)| t.local_addr()))
    }
}

fn fail_init(service: &str, message: String) -> Error {
    tracing::error!(target: "tomodachi.init", service = service, error_message = %message,
        "failed to initialize instance");
    Error::msg(message)
}

impl RunningApp {
    /// The address the `index`-th service (in the order they were added) listens on: its
    /// HTTP server's bound address.
    pub fn http_addr(&self, index: usize) -> Option<SocketAddr> {
        self.services.get(index)?.local_addr()
    }

    /// The bound HTTP address of the service named `name`.
    pub fn http_addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.services.iter().find(|s| s.name == name)?.local_addr()
    }

    /// A handle that requests a graceful stop.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.signal.clone())
    }

    /// Waits for a stop request (signal, `tomodachi::exit`, [`StopHandle`]), shuts down
    /// gracefully and returns the exit code.
    pub async fn wait(mut self) -> i32 {
        let _ = self.stop_rx.wait_for(|stop| *stop).await;
        self.shutdown().await;
        self.signal.code()
    }

    /// Requests a stop and waits for the graceful shutdown; returns the exit code.
    pub async fn stop(self) -> i32 {
        self.signal.stop();
        self.wait().await
    }

    /// Declares every registered transport of every service, concurrently.
    async fn declare_transports(&mut self) -> Result<(), Error> {
        let mut declares = Vec::new();
        for (index, svc) in self.services.iter_mut().enumerate() {
            for transport in svc.registered.drain(..) {
                let phase = transport.phase();
                declares.push((index, phase, transport.declare(svc.ctx.clone())));
            }
        }
        let mut first_err = None;
        let (keys, futures): (Vec<_>, Vec<_>) = declares
            .into_iter()
            .map(|(index, phase, future)| ((index, phase), future))
            .unzip();
        for ((index, phase), result) in keys.into_iter().zip(join_all(futures).await) {
            match result {
                Ok(t) => self.services[index].declared.push((phase, t)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Starts the declared transports of `phase`, all services concurrently.
    async fn start_transports(&mut self, phase: StartPhase) -> Result<(), Error> {
        let mut starts = Vec::new();
        for (index, svc) in self.services.iter_mut().enumerate() {
            let (now, later): (Vec<_>, Vec<_>) =
                svc.declared.drain(..).partition(|(p, _)| *p == phase);
            svc.declared = later;
            for (_, declared) in now {
                starts.push((index, declared.start()));
            }
        }
        let (indices, futures): (Vec<_>, Vec<_>) = starts.into_iter().unzip();
        let mut first_err = None;
        for (index, result) in indices.into_iter().zip(join_all(futures).await) {
            match result {
                Ok(t) => self.services[index].running.push(t),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn abort(mut self, error: Error) -> Error {
        // The reason is on the line: some failures (an unresolvable http.host, a refused
        // broker login) are not logged anywhere else.
        tracing::info!(target: "tomodachi.lifecycle", state = "aborting", error_message = %error,
            "failed to start service");
        self.signal.set_code(1);
        self.shutdown().await;
        error
    }

    /// `stopping_service` hooks run concurrently with the transports' drain; `stop_service`
    /// hooks run last.
    async fn shutdown(&mut self) {
        let service = self.show_service.then(|| self.services[0].name.clone());
        lifecycle("stopping", "stopping service", service.as_deref());
        let stopping: Vec<_> = self
            .services
            .iter_mut()
            .filter_map(|s| Some((format!("{}.stopping_service", s.name), s.stopping.take()?)))
            .collect();
        // Declared but never started (a start failed): released by dropping them.
        for s in &mut self.services {
            s.declared.clear();
        }
        let transports: Vec<_> = self
            .services
            .iter_mut()
            .flat_map(|s| s.running.drain(..))
            .collect();
        let drain = join_all(transports.into_iter().map(|t| t.stop()));
        let (_, _) = tokio::join!(run_hooks(stopping, "lifecycle.interrupt"), drain);
        let stop: Vec<_> = self
            .services
            .iter_mut()
            .filter_map(|s| Some((format!("{}.stop_service", s.name), s.stop.take()?)))
            .collect();
        let _ = run_hooks(stop, "lifecycle.teardown").await;
        for s in &self.services {
            registry::unregister(&s.name, &s.state);
            unregister_context(&s.ctx);
        }
        // the spans still queued are exported (a provider from the environment is shut down)
        #[cfg(feature = "opentelemetry")]
        if let Some(t) = &self.telemetry {
            t.finish().await;
        }
        lifecycle("terminated", "terminated service", service.as_deref());
        // the log records still queued, the last line included, are exported
        #[cfg(feature = "opentelemetry")]
        if let Some(t) = &self.telemetry {
            t.finish_logs().await;
        }
    }
}
