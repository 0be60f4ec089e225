//! AWS SNS+SQS spans: `CONSUMER` `"<topic> process"` around a handler (upstream's
//! `OpenTelemetryAWSSQSMiddleware`, the parent from the message attributes) and `PRODUCER`
//! `"<topic> publish"` / `"<queue name> publish"` around an SNS `Publish` / SQS `SendMessage`,
//! its context injected into the message attributes (upstream's traced
//! `AWSSNSSQSTransport._publish_message` and `_send_raw_message`).
//!
//! Where the context travels, as upstream: `traceparent` (and `tracestate` when it is not empty)
//! as `String` message attributes of the SNS `Publish` or the SQS `SendMessage`. With raw
//! message delivery off (tomodachi's subscriptions) SNS forwards them inside the notification
//! body (`"MessageAttributes": {"traceparent": {"Type": "String", "Value": ...}}`); with raw
//! delivery, and for `SendMessage`, they are the SQS message's own attributes. The consumer
//! reads the SQS message's own attributes, else the notification's (upstream's order), which
//! [`SnsSqsDelivery::message_attributes`] already holds. The tomodachi body wrapper of
//! `sqs_send_message` is built before the context is injected, as upstream, so it carries the
//! caller's attributes only.

#![cfg(feature = "aws")]

use std::future::Future;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use super::exception::event_attributes;
use super::propagation::{extract, inject};
use super::Tracing;
use crate::aws_sns_sqs::{AttributeValue, MessageAttributes, SnsSqsDelivery};
use crate::error::Error;
use crate::verdict::Verdict;

/// The most message attributes an SNS or SQS message can have.
const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// A queue URL's queue name (the part after the last `/`) without `prefix` (upstream's
/// `get_queue_name_without_prefix(get_queue_name_from_queue_url(url))`).
pub(crate) fn queue_name_without_prefix<'a>(queue_url: &'a str, prefix: &str) -> &'a str {
    let name = queue_url.rsplit('/').next().unwrap_or(queue_url);
    match name.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() => rest,
        _ => name,
    }
}

/// Starts the `CONSUMER` span of a delivery to the queue at `delivery.queue_url` for the
/// handler `function`, its parent the context in the message attributes; returns the context to
/// run the handler in and the `messaging.aws_sqs.*` measurement (see [`process`]).
pub(crate) fn consumer(
    tracing: &Tracing,
    delivery: &SnsSqsDelivery,
    queue_name_prefix: &str,
    function: &str,
) -> Consuming {
    let queue_name = queue_name_without_prefix(&delivery.queue_url, queue_name_prefix);
    let topic = delivery.topic.as_str();
    let message_id = if delivery.sns_message_id.is_empty() {
        &delivery.sqs_message_id
    } else {
        &delivery.sns_message_id
    };
    // upstream's order
    let attributes = vec![
        KeyValue::new("messaging.system", "aws_sqs"),
        KeyValue::new("messaging.operation", "process"),
        KeyValue::new("messaging.destination.name", queue_name.to_owned()),
        KeyValue::new("messaging.destination.kind", "queue"),
        KeyValue::new("messaging.message.id", message_id.clone()),
        KeyValue::new(
            "messaging.destination_publish.name",
            if topic.is_empty() { queue_name } else { topic }.to_owned(),
        ),
        KeyValue::new(
            "messaging.destination_publish.kind",
            if topic.is_empty() { "queue" } else { "topic" },
        ),
        KeyValue::new("code.function", function.to_owned()),
    ];
    let parent = extract(&Attributes(&delivery.message_attributes));
    let span = tracing
        .tracer
        .span_builder(format!("{topic} process"))
        .with_kind(SpanKind::Consumer)
        .with_attributes(attributes)
        .start_with_context(&tracing.tracer, &parent);
    let cx = super::log_ids::with_span(&parent, span);
    let metric = tracing.metrics.as_ref().map(|m| {
        let (publish_name, publish_kind) = if topic.is_empty() {
            (queue_name, "queue")
        } else {
            (topic, "topic")
        };
        m.aws_sqs_message(
            queue_name,
            "queue",
            publish_name,
            publish_kind,
            function,
            &cx,
        )
    });
    Consuming { cx, metric }
}

/// A delivery's span context and its measurement, from [`consumer`].
pub(crate) struct Consuming {
    cx: Context,
    metric: Option<super::metrics::TaskMetric>,
}

/// Runs a handler `chain` in the span [`consumer`] started and ends it: OK when handled or
/// discarded; ERROR with an escaped exception event when the handler failed.
pub(crate) async fn process<F: Future<Output = Verdict>>(
    consuming: Consuming,
    chain: F,
) -> Verdict {
    let Consuming { cx, metric } = consuming;
    super::run_in_consumer_span(cx, metric, chain).await
}

/// What a `PRODUCER` span publishes to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Destination<'a> {
    /// An SNS topic (its name without the topic prefix).
    Topic(&'a str),
    /// An SQS queue (its name without the queue name prefix).
    Queue(&'a str),
}

/// A publish's span, started by [`producer`].
pub(crate) struct ProducerSpan(opentelemetry_sdk::trace::Span);

/// Starts the `PRODUCER` span of an SNS publish or SQS send to `destination`, as a child of the
/// current span (the handler's, when publishing from one), and injects its context into
/// `attributes` (`traceparent`, and `tracestate` when not empty; an existing attribute of that
/// name is replaced). A message whose own attributes leave no room under the 10-attribute limit
/// of SNS and SQS is sent without the context (the span is still recorded): the publish never
/// fails because of it.
pub(crate) fn producer(
    tracing: &Tracing,
    destination: Destination<'_>,
    attributes: &mut MessageAttributes,
) -> ProducerSpan {
    let (name, kind) = match destination {
        Destination::Topic(name) => (name, "topic"),
        Destination::Queue(name) => (name, "queue"),
    };
    let parent = Context::current();
    let span = tracing
        .tracer
        .span_builder(format!("{name} publish"))
        .with_kind(SpanKind::Producer)
        .with_attributes(vec![
            KeyValue::new("messaging.system", "aws_sqs"),
            KeyValue::new("messaging.operation", "publish"),
            KeyValue::new("messaging.destination.name", name.to_owned()),
            KeyValue::new("messaging.destination.kind", kind),
        ])
        .start_with_context(&tracing.tracer, &parent);
    let mut injected = Injected::default();
    inject(
        &parent.with_remote_span_context(span.span_context().clone()),
        &mut injected,
    );
    let added = injected
        .0
        .iter()
        .filter(|(k, _)| !attributes.contains_key(k))
        .count();
    if attributes.len() + added <= MAX_MESSAGE_ATTRIBUTES {
        for (k, v) in injected.0 {
            attributes.insert(k, AttributeValue::String(v));
        }
    } else {
        tracing::debug!(target: "tomodachi.opentelemetry", destination = name,
            "no room for the trace context among the message attributes (at most 10): sent without it");
    }
    ProducerSpan(span)
}

impl ProducerSpan {
    /// Ends the span: with the message id and OK once published, else ERROR with the error
    /// recorded (not escaped, as upstream's `start_as_current_span`).
    pub(crate) fn finish(mut self, result: &Result<String, Error>) {
        match result {
            Ok(id) => {
                self.0
                    .set_attribute(KeyValue::new("messaging.message.id", id.clone()));
                self.0.set_status(Status::Ok);
                self.0.end();
            }
            Err(e) => self.failed(e),
        }
    }

    /// Ends the span: ERROR with `error` recorded.
    pub(crate) fn failed(mut self, error: &Error) {
        let message = error.to_string();
        self.0
            .add_event("exception", event_attributes(&message, &message, false));
        self.0
            .set_status(Status::error(format!("Error: {message}")));
        self.0.end();
    }
}

/// Message attributes as a carrier: the `String` values (what upstream's propagator reads
/// from its parsed attributes).
struct Attributes<'a>(&'a MessageAttributes);

impl Extractor for Attributes<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The injected fields, empty values left out (an empty `tracestate`: upstream does not send
/// it, and SNS and SQS refuse empty attribute values).
#[derive(Default)]
struct Injected(Vec<(String, String)>);

impl Injector for Injected {
    fn set(&mut self, key: &str, value: String) {
        if !value.is_empty() {
            self.0.push((key.to_owned(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;

    fn tracing() -> Tracing {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        Tracing {
            tracer: provider.tracer("test"),
            excluded: super::super::exclude::ExcludedUrls::parse(""),
            metrics: None,
        }
    }

    #[test]
    fn queue_names_lose_the_prefix() {
        let url = "http://127.0.0.1:5000/123456789012/pre-orders";
        assert_eq!(queue_name_without_prefix(url, "pre-"), "orders");
        assert_eq!(queue_name_without_prefix(url, ""), "pre-orders");
        assert_eq!(queue_name_without_prefix(url, "other-"), "pre-orders");
        assert_eq!(queue_name_without_prefix("plain", "x"), "plain");
    }

    #[test]
    fn the_context_goes_into_string_attributes_and_comes_back() {
        let t = tracing();
        let mut attributes = MessageAttributes::from([("source".to_owned(), "rust".into())]);
        let span = producer(&t, Destination::Topic("orders"), &mut attributes);
        let sent = span.0.span_context().clone();
        span.finish(&Ok("id-1".into()));
        // traceparent only: the trace state is empty
        assert_eq!(
            attributes.keys().collect::<Vec<_>>(),
            ["source", "traceparent"]
        );
        let traceparent = attributes["traceparent"].as_str().unwrap();
        assert_eq!(
            traceparent,
            format!("00-{}-{}-01", sent.trace_id(), sent.span_id())
        );
        let delivery = SnsSqsDelivery {
            topic: "orders".into(),
            sns_message_id: "sns-1".into(),
            sqs_message_id: "sqs-1".into(),
            queue_url: "http://localhost/1/orders-queue".into(),
            message_attributes: attributes,
            ..Default::default()
        };
        let cx = consumer(&t, &delivery, "", "on_order");
        let got = cx.cx.span().span_context().clone();
        assert_eq!(got.trace_id(), sent.trace_id());
        assert_ne!(got.span_id(), sent.span_id());
    }

    #[test]
    fn no_room_no_context_and_an_existing_traceparent_is_replaced() {
        let t = tracing();
        let full: MessageAttributes = (0..10).map(|i| (format!("a{i}"), i.into())).collect();
        let mut attributes = full.clone();
        producer(&t, Destination::Queue("q"), &mut attributes).finish(&Ok("1".into()));
        assert_eq!(attributes, full);

        let mut nine: MessageAttributes = (0..9).map(|i| (format!("a{i}"), i.into())).collect();
        producer(&t, Destination::Queue("q"), &mut nine).finish(&Ok("1".into()));
        assert_eq!(nine.len(), 10);
        assert!(nine["traceparent"].as_str().unwrap().starts_with("00-"));

        let mut stale: MessageAttributes = (0..9).map(|i| (format!("a{i}"), i.into())).collect();
        stale.insert("traceparent".into(), "old".into());
        producer(&t, Destination::Queue("q"), &mut stale).finish(&Ok("1".into()));
        assert_ne!(stale["traceparent"].as_str(), Some("old"));
    }

    #[test]
    fn a_trace_state_travels_as_tracestate() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        let t = tracing();
        let parent = SpanContext::new(
            TraceId::from_hex(TRACE).unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        );
        let _current = Context::new().with_remote_span_context(parent).attach();
        let mut attributes = MessageAttributes::new();
        producer(&t, Destination::Topic("t"), &mut attributes).finish(&Ok("1".into()));
        assert_eq!(attributes["tracestate"].as_str(), Some("k=v"));
        assert!(attributes["traceparent"]
            .as_str()
            .unwrap()
            .starts_with(&format!("00-{TRACE}-")));
    }

    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

    #[test]
    fn a_message_without_context_starts_a_trace() {
        let t = tracing();
        let delivery = SnsSqsDelivery {
            sqs_message_id: "sqs-1".into(),
            queue_url: "http://localhost/1/q".into(),
            message_attributes: MessageAttributes::from([(
                "traceparent".to_owned(),
                AttributeValue::Int(1),
            )]),
            ..Default::default()
        };
        let cx = consumer(&t, &delivery, "", "f");
        assert!(cx.cx.span().span_context().is_valid());
        assert!(!cx.cx.span().span_context().is_remote());
    }
}
