//! The bound logging context of the running handler: upstream binds `handler` and `type` in a
//! context variable for the duration of a handler; here it is a tokio task-local that the
//! formatter adds to every record emitted while the handler runs. It costs nothing unless a
//! record is actually written.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

/// What a handler's log records carry, and which service the handler belongs to.
#[derive(Clone)]
pub struct HandlerContext {
    /// The handler's name.
    pub handler: Arc<str>,
    /// `tomodachi.http`, `tomodachi.http_error`, `tomodachi.amqp`, `tomodachi.schedule`, ...
    pub kind: &'static str,
    /// The status code an `http_error` handler handles.
    pub status_code: Option<u16>,
    /// The handler's service (its transport context): one task-local carries both.
    pub(crate) service: Option<Arc<dyn Any + Send + Sync>>,
    /// The loggers bound in this handler ([`get_logger`](super::get_logger)); empty (and
    /// allocation-free) until one is.
    pub(crate) loggers: super::logger::BoundLoggers,
}

impl std::fmt::Debug for HandlerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerContext")
            .field("handler", &self.handler)
            .field("kind", &self.kind)
            .field("status_code", &self.status_code)
            .finish_non_exhaustive()
    }
}

impl HandlerContext {
    /// The context of the handler `handler` of kind `kind`.
    pub fn new(handler: impl Into<Arc<str>>, kind: &'static str) -> Self {
        Self {
            handler: handler.into(),
            kind,
            status_code: None,
            service: None,
            loggers: Default::default(),
        }
    }

    /// Marks the handler as one of `service` (publishing from it publishes as that service).
    pub(crate) fn service(mut self, service: Arc<dyn Any + Send + Sync>) -> Self {
        self.service = Some(service);
        self
    }
}

tokio::task_local! {
    pub(super) static CONTEXT: HandlerContext;
}

/// Runs `future` with `context` bound for its log records.
///
/// ```
/// use tomodachi::logging::{scope, HandlerContext};
/// # async fn demo() {
/// let ctx = HandlerContext::new("index", "tomodachi.http");
/// scope(ctx, async { tracing::info!("logged with handler=index type=tomodachi.http") }).await;
/// # }
/// ```
pub fn scope<F: Future>(context: HandlerContext, future: F) -> impl Future<Output = F::Output> {
    CONTEXT.scope(context, future)
}

/// The context bound to the current task, if any.
pub fn current() -> Option<HandlerContext> {
    CONTEXT.try_with(HandlerContext::clone).ok()
}

/// `f` of the context bound to the current task, if any (no clone).
pub(crate) fn with_current<R>(f: impl FnOnce(&HandlerContext) -> R) -> Option<R> {
    CONTEXT.try_with(f).ok()
}

/// The service of the handler running on the current task, if any.
pub(crate) fn current_service() -> Option<Arc<dyn Any + Send + Sync>> {
    CONTEXT.try_with(|c| c.service.clone()).ok().flatten()
}
