//! Errors as span events: upstream's `span.record_exception(exc, {"exception.stacktrace":
//! ...}, escaped=...)`. Rust errors have no exception class or traceback: the type is the
//! error's kind, the stack trace its source chain.

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use crate::error::Error;

/// The `exception` event's attributes, in upstream's order.
pub(crate) fn event_attributes(message: &str, trace: &str, escaped: bool) -> Vec<KeyValue> {
    vec![
        KeyValue::new("exception.type", ERROR_TYPE),
        KeyValue::new("exception.message", message.to_owned()),
        KeyValue::new("exception.stacktrace", trace.to_owned()),
        KeyValue::new("exception.escaped", if escaped { "True" } else { "False" }),
    ]
}

/// Records a handler error caught by the framework (an HTTP handler's error that became a
/// 500) on the current span, if one is recording: not escaped, as upstream's HTTP middleware
/// records `_caught_exceptions`.
pub(crate) fn record_error(error: &Error) {
    Context::map_current(|cx| {
        if !cx.has_active_span() {
            return;
        }
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let message = error.to_string();
        span.add_event(
            "exception",
            event_attributes(&message, &chain(error), false),
        );
    });
}

/// `exception.type` of every recorded error.
const ERROR_TYPE: &str = "tomodachi::Error";

/// The error and its sources, one per line (what stands in for a traceback).
fn chain(error: &Error) -> String {
    let mut out = format!("tomodachi::Error: {error}");
    let mut source: Option<&(dyn std::error::Error + 'static)> = error
        .source_error()
        .map(|e| e as &(dyn std::error::Error + 'static));
    while let Some(e) = source {
        out.push_str(&format!("\ncaused by: {e}"));
        source = e.source();
    }
    out
}
