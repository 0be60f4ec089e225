//! AMQP spans: `CONSUMER` `"<routing key> process"` around a handler (upstream's
//! `OpenTelemetryAMQPMiddleware`, the parent from the message's `headers` property) and
//! `PRODUCER` `"<routing key> publish"` around a publish, its context injected into the
//! `headers` property (upstream's traced `AmqpTransport._publish_message`).

#![cfg(feature = "amqp")]

use std::future::Future;

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use super::exception::event_attributes;
use super::propagation::{extract, inject, AmqpHeaders, AmqpHeadersMut};
use super::Tracing;
use crate::error::Error;
use crate::verdict::Verdict;

fn exchange_or_default(exchange: &str) -> &str {
    if exchange.is_empty() {
        "amq.topic"
    } else {
        exchange
    }
}

/// Runs a handler `chain` for a message from `exchange` on the subscription's (unprefixed)
/// `routing_key` inside its `CONSUMER` span; the span's status follows the verdict (OK when
/// handled or discarded; ERROR with an escaped exception event when the handler failed).
pub(crate) async fn consume<F: Future<Output = Verdict>>(
    tracing: &Tracing,
    routing_key: &str,
    exchange: &str,
    function: &str,
    properties: &lapin::BasicProperties,
    chain: F,
) -> Verdict {
    let parent = extract(&AmqpHeaders(properties.headers().as_ref()));
    let mut attributes = messaging_attributes("process", exchange, routing_key);
    attributes.push(KeyValue::new("code.function", function.to_owned()));
    let span = tracing
        .tracer
        .span_builder(format!("{routing_key} process"))
        .with_kind(SpanKind::Consumer)
        .with_attributes(attributes)
        .start_with_context(&tracing.tracer, &parent);
    let cx = super::log_ids::with_span(&parent, span);
    let metric = tracing
        .metrics
        .as_ref()
        .map(|m| m.rabbitmq_message(exchange_or_default(exchange), routing_key, function, &cx));
    super::run_in_consumer_span(cx, metric, chain).await
}

/// A publish's span, started by [`producer`].
pub(crate) struct ProducerSpan(opentelemetry_sdk::trace::Span);

/// Starts the `PRODUCER` span of a publish to `exchange` with the (unprefixed) `routing_key`,
/// as a child of the current span (the handler's, when publishing from one), and injects its
/// context into `properties`' headers.
pub(crate) fn producer(
    tracing: &Tracing,
    exchange: &str,
    routing_key: &str,
    properties: lapin::BasicProperties,
) -> (ProducerSpan, lapin::BasicProperties) {
    let attributes = messaging_attributes("publish", exchange, routing_key);
    let parent = Context::current();
    let span = tracing
        .tracer
        .span_builder(format!("{routing_key} publish"))
        .with_kind(SpanKind::Producer)
        .with_attributes(attributes)
        .start_with_context(&tracing.tracer, &parent);
    let mut headers = properties.headers().clone().unwrap_or_default();
    let span_cx = parent.with_remote_span_context(span.span_context().clone());
    inject(&span_cx, &mut AmqpHeadersMut(&mut headers));
    (ProducerSpan(span), properties.with_headers(headers))
}

impl ProducerSpan {
    /// Ends the span: OK once the broker confirmed, else ERROR with the error recorded.
    pub(crate) fn finish(mut self, result: &Result<(), Error>) {
        match result {
            Ok(()) => self.0.set_status(Status::Ok),
            Err(e) => {
                let message = e.to_string();
                record_failure_not_escaped(&mut self.0, &message);
                self.0
                    .set_status(Status::error(format!("Error: {message}")));
            }
        }
        self.0.end();
    }
}

fn record_failure_not_escaped(span: &mut opentelemetry_sdk::trace::Span, message: &str) {
    span.add_event("exception", event_attributes(message, message, false));
}

/// The attributes every RabbitMQ span has, upstream's order: system, operation, exchange,
/// routing key.
fn messaging_attributes(
    operation: &'static str,
    exchange: &str,
    routing_key: &str,
) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "rabbitmq"),
        KeyValue::new("messaging.operation", operation),
        KeyValue::new(
            "messaging.destination.name",
            exchange_or_default(exchange).to_owned(),
        ),
        KeyValue::new(
            "messaging.rabbitmq.destination.routing_key",
            routing_key.to_owned(),
        ),
    ]
}
