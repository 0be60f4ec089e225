//! Scheduled functions' `INTERNAL` spans: upstream's `OpenTelemetryScheduleFunctionMiddleware`
//! (named after the function, a root span, `function.trigger=timer`).

use std::future::Future;

use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use super::exception::event_attributes;
use crate::error::Error;
use crate::transport::TransportContext;

/// A run's span (and its `function.*` metrics), ended by [`finish`](Self::finish).
pub(crate) struct InternalSpan(Context, Option<super::metrics::TaskMetric>);

/// Starts the span of one run of `function` (fired for `invocation_time`, declared with
/// `interval`) when `service` (the scheduler's context) is instrumented, and makes it current
/// for `run`.
pub(crate) fn wrap<F: Future>(
    service: &(dyn std::any::Any + Send + Sync),
    function: &str,
    (invocation_time, interval): (&str, Option<&str>),
    run: F,
) -> (WithContext<F>, Option<InternalSpan>) {
    let Some(tracing) = service
        .downcast_ref::<TransportContext>()
        .and_then(super::of)
    else {
        return (run.with_current_context(), None);
    };
    let mut attributes = vec![
        KeyValue::new("code.function", function.to_owned()),
        KeyValue::new("function.trigger", "timer"),
        KeyValue::new("function.time", invocation_time.to_owned()),
    ];
    if let Some(interval) = interval.filter(|i| !i.is_empty()) {
        attributes.push(KeyValue::new("function.interval", interval.to_owned()));
    }
    let span = tracing
        .tracer
        .span_builder(function.to_owned())
        .with_kind(SpanKind::Internal)
        .with_attributes(attributes)
        .start_with_context(&tracing.tracer, &Context::new());
    let cx = super::log_ids::with_span(&Context::new(), span);
    let metric = tracing
        .metrics
        .as_ref()
        .map(|m| m.scheduled_run(function, &cx));
    (run.with_context(cx.clone()), Some(InternalSpan(cx, metric)))
}

impl InternalSpan {
    /// OK, or ERROR with the error as an escaped `exception` event.
    pub(crate) fn finish(self, error: Option<&Error>) {
        if let Some(metric) = self.1 {
            metric.finish(error.is_none());
        }
        let span = self.0.span();
        match error {
            None => span.set_status(Status::Ok),
            Some(e) => {
                let message = e.to_string();
                span.set_status(Status::error(""));
                span.add_event("exception", event_attributes(&message, &message, true));
            }
        }
        span.end();
    }
}
