//! Upstream's metric instruments (`http.server.*`, `messaging.rabbitmq.*`,
//! `messaging.aws_sqs.*`, `function.*`): names, units, descriptions, attribute keys and the
//! duration histograms' bucket boundaries as Python tomodachi's middlewares record them.
//!
//! A service's instruments are created once (when it is instrumented and a meter provider is
//! set); each handled request, message or scheduled run takes a guard that counts it as active
//! and records its duration when it ends (or is dropped). With the Prometheus endpoint's
//! exemplars enabled, the duration is also offered as an exemplar of the request's, message's
//! or run's span (see [`super::exemplars`]).

use std::sync::Arc;
use std::time::Instant;

use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use super::exemplars::ExemplarStore;

/// The explicit bucket boundaries (seconds) of the four duration histograms (upstream's).
pub(crate) const DURATION_BUCKETS: [f64; 15] = [
    0.0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The attribute keys of `http.server.active_requests` (upstream's order).
const HTTP_ACTIVE_KEYS: [&str; 4] = [
    "http.request.method",
    "server.address",
    "server.port",
    "url.scheme",
];

/// The attribute keys of `http.server.duration` besides `http.response.status_code`.
const HTTP_DURATION_KEYS: [&str; 7] = [
    "http.route",
    "http.request.method",
    "network.protocol.name",
    "network.protocol.version",
    "server.address",
    "server.port",
    "url.scheme",
];

/// A duration histogram and its active-tasks up-down counter.
#[derive(Clone)]
struct Pair {
    /// The histogram's name (the exemplars' series).
    name: &'static str,
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
    /// `None` unless the Prometheus endpoint serves exemplars.
    exemplars: Option<Arc<ExemplarStore>>,
}

impl Pair {
    fn new(
        meter: &Meter,
        exemplars: &Option<Arc<ExemplarStore>>,
        (duration, duration_description): (&'static str, &'static str),
        (active, unit, active_description): (&'static str, &'static str, &'static str),
    ) -> Self {
        Pair {
            name: duration,
            exemplars: exemplars.clone(),
            duration: meter
                .f64_histogram(duration)
                .with_unit("s")
                .with_description(duration_description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            active: meter
                .i64_up_down_counter(active)
                .with_unit(unit)
                .with_description(active_description)
                .build(),
        }
    }

    /// Records a duration, and offers it as an exemplar of `span` when exemplars are on.
    fn record_duration(&self, elapsed: f64, attributes: &[KeyValue], span: Option<&SpanContext>) {
        self.duration.record(elapsed, attributes);
        if let (Some(store), Some(span)) = (&self.exemplars, span) {
            store.offer(self.name, attributes, &DURATION_BUCKETS, elapsed, span);
        }
    }
}

const HANDLER_DURATION: &str =
    "Measures the duration of processing a message by the handler function.";

/// One instrumented service's instruments.
#[derive(Clone)]
pub(crate) struct Metrics {
    http: Pair,
    rabbitmq: Pair,
    aws_sqs: Pair,
    function: Pair,
}

impl Metrics {
    /// Creates the instruments on `meter` (the `tomodachi` scope); `exemplars` when the
    /// Prometheus endpoint serves them.
    pub(crate) fn new(meter: &Meter, exemplars: Option<Arc<ExemplarStore>>) -> Self {
        let exemplars = &exemplars;
        Metrics {
            http: Pair::new(
                meter,
                exemplars,
                (
                    "http.server.duration",
                    "Measures the duration of inbound HTTP requests.",
                ),
                (
                    "http.server.active_requests",
                    "{request}",
                    "Measures the number of concurrent HTTP requests that are currently in-flight.",
                ),
            ),
            rabbitmq: Pair::new(
                meter,
                exemplars,
                ("messaging.rabbitmq.duration", HANDLER_DURATION),
                (
                    "messaging.rabbitmq.active_tasks",
                    "{message}",
                    "Measures the number of concurrent AMQP messages that are currently being processed.",
                ),
            ),
            aws_sqs: Pair::new(
                meter,
                exemplars,
                ("messaging.aws_sqs.duration", HANDLER_DURATION),
                (
                    "messaging.aws_sqs.active_tasks",
                    "{message}",
                    "Measures the number of concurrent SQS messages that are currently being processed.",
                ),
            ),
            function: Pair::new(
                meter,
                exemplars,
                (
                    "function.duration",
                    "Measures the duration of running the scheduled handler function.",
                ),
                (
                    "function.active_tasks",
                    "{task}",
                    "Measures the number of concurrent invocations of the scheduled handler that is currently running.",
                ),
            ),
        }
    }

    /// An HTTP request begins: `span_attributes` are its `SERVER` span's (the metrics' are
    /// picked from them, as upstream does).
    pub(crate) fn http_request(&self, span_attributes: &[KeyValue]) -> HttpRequestMetric {
        let pick = |keys: &[&str]| -> Vec<KeyValue> {
            // in the instrument's key order; a key the span lacks (`http.route`) is left out
            keys.iter()
                .filter_map(|k| span_attributes.iter().find(|kv| kv.key.as_str() == *k))
                .cloned()
                .collect()
        };
        let active = pick(&HTTP_ACTIVE_KEYS);
        let mut duration = pick(&HTTP_DURATION_KEYS);
        duration.reserve_exact(1);
        self.http.active.add(1, &active);
        HttpRequestMetric {
            pair: self.http.clone(),
            active,
            duration,
            started: Instant::now(),
        }
    }

    /// An AMQP message's handler begins (`exchange` as the span shows it, `amq.topic` for the
    /// default), in the context `cx` of its span.
    pub(crate) fn rabbitmq_message(
        &self,
        exchange: &str,
        routing_key: &str,
        function: &str,
        cx: &Context,
    ) -> TaskMetric {
        TaskMetric::start(
            &self.rabbitmq,
            cx,
            vec![
                KeyValue::new("messaging.destination.name", exchange.to_owned()),
                KeyValue::new(
                    "messaging.rabbitmq.destination.routing_key",
                    routing_key.to_owned(),
                ),
                KeyValue::new("code.function", function.to_owned()),
            ],
        )
    }

    /// An SQS message's handler begins: the queue name (without prefix), `queue`, the topic
    /// (else the queue name), `topic`/`queue`, and the handler's name — upstream's five
    /// attributes of `messaging.aws_sqs.*` — in the context `cx` of its span.
    // for the SNS+SQS consumer's handlers (its `CONSUMER` span's place)
    #[allow(dead_code)]
    pub(crate) fn aws_sqs_message(
        &self,
        destination_name: &str,
        destination_kind: &'static str,
        destination_publish_name: &str,
        destination_publish_kind: &'static str,
        function: &str,
        cx: &Context,
    ) -> TaskMetric {
        TaskMetric::start(
            &self.aws_sqs,
            cx,
            vec![
                KeyValue::new("messaging.destination.name", destination_name.to_owned()),
                KeyValue::new("messaging.destination.kind", destination_kind),
                KeyValue::new(
                    "messaging.destination_publish.name",
                    destination_publish_name.to_owned(),
                ),
                KeyValue::new(
                    "messaging.destination_publish.kind",
                    destination_publish_kind,
                ),
                KeyValue::new("code.function", function.to_owned()),
            ],
        )
    }

    /// A run of the scheduled function `function` begins, in the context `cx` of its span.
    pub(crate) fn scheduled_run(&self, function: &str, cx: &Context) -> TaskMetric {
        TaskMetric::start(
            &self.function,
            cx,
            vec![KeyValue::new("code.function", function.to_owned())],
        )
    }
}

/// An HTTP request in flight; [`finish`](Self::finish) records it.
pub(crate) struct HttpRequestMetric {
    pair: Pair,
    active: Vec<KeyValue>,
    duration: Vec<KeyValue>,
    started: Instant,
}

impl HttpRequestMetric {
    /// The request was answered with `status` (the one its span, current in `cx`, reports).
    pub(crate) fn finish(mut self, status: i64, cx: &Context) {
        self.pair.active.add(-1, &self.active);
        self.duration
            .push(KeyValue::new("http.response.status_code", status));
        let elapsed = self.started.elapsed().as_secs_f64();
        // the span is looked up only when exemplars are on
        let span = self.pair.exemplars.as_ref().map(|_| cx.span());
        let span_context = span.as_ref().map(|s| s.span_context());
        self.pair
            .record_duration(elapsed, &self.duration, span_context);
    }
}

/// A message handler or scheduled run in progress: active until [`finish`](Self::finish) (or
/// drop, counted as a failure), then its duration is recorded with `function.success`.
pub(crate) struct TaskMetric {
    pair: Pair,
    attributes: Vec<KeyValue>,
    started: Instant,
    finished: bool,
    /// The span the measurement's exemplar refers to (only kept when exemplars are on).
    span: Option<SpanContext>,
}

impl TaskMetric {
    fn start(pair: &Pair, cx: &Context, mut attributes: Vec<KeyValue>) -> Self {
        pair.active.add(1, &attributes);
        attributes.reserve_exact(1);
        TaskMetric {
            pair: pair.clone(),
            attributes,
            started: Instant::now(),
            finished: false,
            span: pair
                .exemplars
                .as_ref()
                .map(|_| cx.span().span_context().clone()),
        }
    }

    /// The handler returned: `success` unless it failed.
    pub(crate) fn finish(mut self, success: bool) {
        self.record(success);
    }

    fn record(&mut self, success: bool) {
        self.finished = true;
        self.pair.active.add(-1, &self.attributes);
        let elapsed = self.started.elapsed().as_secs_f64();
        self.attributes
            .push(KeyValue::new("function.success", success));
        self.pair
            .record_duration(elapsed, &self.attributes, self.span.as_ref());
    }
}

impl Drop for TaskMetric {
    fn drop(&mut self) {
        if !self.finished {
            self.record(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    use super::super::prometheus::{Exposition, PrometheusConfig};
    use super::*;

    /// The SNS+SQS instruments (not wired to the consumer yet), read as the Prometheus endpoint
    /// shows them.
    #[test]
    fn the_sqs_instruments_have_upstreams_names_and_attributes() {
        let config = PrometheusConfig::from_env(&|_| None).unwrap();
        let (reader, exposition) = Exposition::new(config);
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let metrics = Metrics::new(&provider.meter("tomodachi"), None);
        let cx = Context::new();
        metrics
            .aws_sqs_message("orders", "queue", "order-created", "topic", "on_order", &cx)
            .finish(true);
        // dropped without finishing: counted as a failure
        drop(metrics.aws_sqs_message("orders", "queue", "orders", "queue", "on_order", &cx));
        let text = exposition.render(false);
        for expected in [
            "# HELP messaging_aws_sqs_duration_seconds Measures the duration of processing a message by the handler function.",
            "# TYPE messaging_aws_sqs_duration_seconds histogram",
            "# HELP messaging_aws_sqs_active_tasks_messages Measures the number of concurrent SQS messages that are currently being processed.",
            "# TYPE messaging_aws_sqs_active_tasks_messages gauge",
            "messaging_aws_sqs_duration_seconds_count{code_function=\"on_order\",function_success=\"true\",messaging_destination_kind=\"queue\",messaging_destination_name=\"orders\",messaging_destination_publish_kind=\"topic\",messaging_destination_publish_name=\"order-created\",",
            "messaging_aws_sqs_duration_seconds_count{code_function=\"on_order\",function_success=\"false\",messaging_destination_kind=\"queue\",messaging_destination_name=\"orders\",messaging_destination_publish_kind=\"queue\",messaging_destination_publish_name=\"orders\",",
            "messaging_aws_sqs_active_tasks_messages{code_function=\"on_order\",messaging_destination_kind=\"queue\",messaging_destination_name=\"orders\",messaging_destination_publish_kind=\"topic\",messaging_destination_publish_name=\"order-created\",",
            "le=\"0.005\"",
            "le=\"7.5\"",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
        // both ended: nothing active
        for line in text
            .lines()
            .filter(|l| l.starts_with("messaging_aws_sqs_active_tasks_messages{"))
        {
            assert!(line.ends_with(" 0.0"), "{line}");
        }
    }
}
