//! Starting and stopping a set of services in upstream lifecycle order
//! (lifecycle_cli_logging.md §2-§4).

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::future::join_all;
use tokio::sync::watch;

use super::{registry, ErasedHook, IntoService, Service};
use crate::error::Error;
use crate::http::server::RunningServer;
use crate::http::settings::http_app;
use crate::options::ConfigFile;

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
    clock: crate::schedule::SharedClock,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("services", &self.services)
            .finish()
    }
}

use super::exit::StopSignal;
use super::transport::{RunningTransport, ServiceInfo, StartPhase, TransportStarter};

struct Running {
    name: String,
    state: Arc<dyn Any + Send + Sync>,
    info: ServiceInfo,
    http: Option<RunningServer>,
    transports: Vec<Box<dyn RunningTransport>>,
    pending: Vec<TransportStarter>,
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
    pub fn clock(mut self, clock: impl crate::schedule::Clock) -> Self {
        self.clock = crate::schedule::SharedClock(Arc::new(clock));
        self
    }

    /// Runs the start phase: `start_service` hooks, transports, `started_service` hooks.
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
        for svc in &mut services {
            if let Some(config) = &self.config {
                if let Err(e) = config.apply_to(&mut svc.options) {
                    return Err(fail_init(&svc.name, e.to_string()));
                }
                if svc.uuid.is_none() {
                    svc.uuid = config.uuid().map(str::to_owned);
                }
            }
            if let Err(e) = svc.options.validate() {
                return Err(fail_init(&svc.name, e.to_string()));
            }
            let uuid = svc
                .uuid
                .get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
            tracing::info!(target: "tomodachi.service", service = %svc.name, uuid = %uuid,
                "initializing service instance");
            registry::register(&svc.name, svc.state.clone());
        }
        lifecycle("starting", "starting the service", None);

        let mut running = Vec::with_capacity(services.len());
        let mut start_hooks = Vec::new();
        let mut started_hooks = Vec::new();
        let mut http_apps = Vec::new();
        for mut svc in services {
            if let Some(h) = svc.hooks.start.take() {
                start_hooks.push((format!("{}.start_service", svc.name), h));
            }
            if let Some(h) = svc.hooks.started.take() {
                started_hooks.push((format!("{}.started_service", svc.name), h));
            }
            let app = if svc.routes.is_empty() && svc.error_handlers.is_empty() {
                None
            } else {
                match http_app(&mut svc) {
                    Ok(app) => Some(app),
                    Err(e) => return Err(fail_init(&svc.name, e.to_string())),
                }
            };
            http_apps.push(app);
            let info = ServiceInfo {
                name: Arc::from(svc.name.as_str()),
                uuid: Arc::from(svc.uuid.as_deref().unwrap_or_default()),
                options: Arc::new(svc.options.clone()),
                clock: self.clock.clone(),
                stop: stop_rx.clone(),
                envelope: svc.message_envelope.clone(),
            };
            registry::register_info(info.clone());
            running.push(Running {
                name: svc.name,
                state: svc.state,
                info,
                http: None,
                transports: Vec::new(),
                pending: svc.transports,
                stopping: svc.hooks.stopping.take(),
                stop: svc.hooks.stop.take(),
            });
        }
        let mut app = RunningApp {
            services: running,
            signal,
            stop_rx,
            show_service,
        };

        if let Err(e) = run_hooks(start_hooks, "lifecycle.setup").await {
            return Err(app.abort(e).await);
        }
        // Transports start after start_service: a request during start_service is refused.
        let servers = join_all(http_apps.into_iter().map(|a| async move {
            match a {
                Some(a) => RunningServer::start(a).await.map(Some),
                None => Ok(None),
            }
        }))
        .await;
        let mut start_error = None;
        for (svc, server) in app.services.iter_mut().zip(servers) {
            match server {
                Ok(s) => svc.http = s,
                Err(e) => {
                    start_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = start_error {
            return Err(app.abort(e).await);
        }
        if let Err(e) = app.start_transports(StartPhase::Transports).await {
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

fn fail_init(service: &str, message: String) -> Error {
    tracing::error!(target: "tomodachi.init", service = service, error_message = %message,
        "failed to initialize instance");
    Error::msg(message)
}

impl RunningApp {
    /// The bound HTTP address of the `index`-th service (in the order they were added).
    pub fn http_addr(&self, index: usize) -> Option<SocketAddr> {
        self.services
            .get(index)?
            .http
            .as_ref()
            .map(RunningServer::local_addr)
    }

    /// The bound HTTP address of the service named `name`.
    pub fn http_addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.services
            .iter()
            .find(|s| s.name == name)?
            .http
            .as_ref()
            .map(RunningServer::local_addr)
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

    /// Starts the registered transports of `phase`, all services concurrently.
    async fn start_transports(&mut self, phase: StartPhase) -> Result<(), Error> {
        let mut starts = Vec::new();
        for (index, svc) in self.services.iter_mut().enumerate() {
            let (now, later): (Vec<_>, Vec<_>) =
                svc.pending.drain(..).partition(|t| t.phase == phase);
            svc.pending = later;
            for starter in now {
                starts.push((index, (starter.start)(svc.info.clone())));
            }
        }
        let (indices, futures): (Vec<_>, Vec<_>) = starts.into_iter().unzip();
        let mut first_err = None;
        for (index, result) in indices.into_iter().zip(join_all(futures).await) {
            match result {
                Ok(t) => self.services[index].transports.push(t),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn abort(mut self, error: Error) -> Error {
        lifecycle("aborting", "failed to start service", None);
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
        let servers: Vec<_> = self
            .services
            .iter_mut()
            .filter_map(|s| s.http.take())
            .collect();
        let transports: Vec<_> = self
            .services
            .iter_mut()
            .flat_map(|s| s.transports.drain(..))
            .collect();
        let drain = async {
            tokio::join!(
                join_all(servers.into_iter().map(RunningServer::stop)),
                join_all(transports.into_iter().map(|t| t.stop())),
            )
        };
        let (_, _) = tokio::join!(run_hooks(stopping, "lifecycle.interrupt"), drain);
        let stop: Vec<_> = self
            .services
            .iter_mut()
            .filter_map(|s| Some((format!("{}.stop_service", s.name), s.stop.take()?)))
            .collect();
        let _ = run_hooks(stop, "lifecycle.teardown").await;
        for s in &self.services {
            registry::unregister(&s.name, &s.state);
            registry::unregister_info(&s.info);
        }
        lifecycle("terminated", "terminated service", service.as_deref());
    }
}
