//! The trace ids of log records: while a span is active (the OpenTelemetry context of a
//! handler), console and JSON records end with `span_id`, `trace_id` and, when the span has a
//! parent, `parent_span_id`, as upstream's `add_trace_structlog_processor` adds them: Python
//! `hex()` of the ids, `0x`-prefixed lower-case hex without zero padding.
//!
//! The SDK does not tell a span's parent through the context, so the spans this crate starts
//! carry it beside them in the context ([`with_span`]); a span started by other code gets the
//! `span_id` and `trace_id` of its own and no `parent_span_id`.

use opentelemetry::trace::{SpanId, TraceContextExt};
use opentelemetry::Context;

/// The parent of the span a context was made for by [`with_span`].
#[derive(Debug, Clone, Copy)]
struct SpanParent {
    /// The span it belongs to (a child span started from the same context has another id).
    span_id: SpanId,
    parent_span_id: SpanId,
}

/// `parent` with `span` active and, when `parent` has a valid span, its id noted as the new
/// span's parent (what upstream's `span.parent` is).
pub(crate) fn with_span(parent: &Context, span: opentelemetry_sdk::trace::Span) -> Context {
    use opentelemetry::trace::Span as _;
    let span_id = span.span_context().span_id();
    let parent_sc = parent.span().span_context().clone();
    let cx = parent.with_span(span);
    if parent_sc.is_valid() {
        cx.with_value(SpanParent {
            span_id,
            parent_span_id: parent_sc.span_id(),
        })
    } else {
        cx
    }
}

/// The ids of the active span, if one is (and valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceIds {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) parent_span_id: Option<u64>,
}

/// The ids of the current context's span: one thread-local look-up when no span is active.
#[inline]
pub(crate) fn current() -> Option<TraceIds> {
    Context::map_current(|cx| {
        if !cx.has_active_span() {
            return None;
        }
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let span_id = sc.span_id();
        let parent_span_id = cx
            .get::<SpanParent>()
            .filter(|p| p.span_id == span_id)
            .map(|p| u64::from_be_bytes(p.parent_span_id.to_bytes()));
        Some(TraceIds {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(span_id.to_bytes()),
            parent_span_id,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::Span as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState, Tracer as _};

    #[test]
    fn no_span_no_ids() {
        assert_eq!(current(), None);
    }

    #[test]
    fn the_parent_is_the_context_the_span_was_started_from() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("t");
        let remote = SpanContext::new(
            TraceId::from_hex("000f7651916cd43dd8448eb211c80319").unwrap(),
            SpanId::from_hex("00ad6b7169203331").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let parent = Context::new().with_remote_span_context(remote);
        let span = tracer.start_with_context("child", &parent);
        let own = span.span_context().span_id();
        let cx = with_span(&parent, span);
        let ids = {
            let _guard = cx.clone().attach();
            current().unwrap()
        };
        assert_eq!(ids.trace_id, 0x000f7651916cd43dd8448eb211c80319);
        assert_eq!(ids.span_id, u64::from_be_bytes(own.to_bytes()));
        assert_eq!(ids.parent_span_id, Some(0x00ad6b7169203331));

        // a root span has no parent
        let root = tracer.start_with_context("root", &Context::new());
        let cx = with_span(&Context::new(), root);
        let _guard = cx.attach();
        assert_eq!(current().unwrap().parent_span_id, None);
    }
}
