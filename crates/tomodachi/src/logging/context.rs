//! The bound logging context of the running handler: upstream binds `handler` and `type` in a
//! context variable for the duration of a handler; here it is a tokio task-local that the
//! formatter adds to every record emitted while the handler runs. It costs nothing unless a
//! record is actually written.

use std::future::Future;
use std::sync::Arc;

/// What a handler's log records carry.
#[derive(Debug, Clone)]
pub struct HandlerContext {
    /// The handler's name.
    pub handler: Arc<str>,
    /// `tomodachi.http`, `tomodachi.http_error`, `tomodachi.amqp`, `tomodachi.schedule`, ...
    pub kind: &'static str,
    /// The status code an `http_error` handler handles.
    pub status_code: Option<u16>,
}

tokio::task_local! {
    static CONTEXT: HandlerContext;
}

/// Runs `future` with `context` bound for its log records.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::logging::{scope, HandlerContext};
/// # async fn demo() {
/// let ctx = HandlerContext { handler: Arc::from("index"), kind: "tomodachi.http", status_code: None };
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
