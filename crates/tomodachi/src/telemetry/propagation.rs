//! W3C Trace Context (`traceparent`, `tracestate`) in HTTP headers and AMQP headers, the only
//! propagation upstream uses.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The parent context in `carrier` (a context without a remote span when there is none or it
/// is malformed: the span then starts a new trace).
pub(crate) fn extract(carrier: &dyn Extractor) -> Context {
    TraceContextPropagator::new().extract_with_context(&Context::new(), carrier)
}

/// Writes `cx`'s span into `carrier`.
pub(crate) fn inject(cx: &Context, carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(cx, carrier);
}

/// HTTP request headers as a carrier.
#[cfg(feature = "http")]
pub(crate) struct HeaderCarrier<'a>(pub(crate) &'a http::HeaderMap);

#[cfg(feature = "http")]
impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The AMQP `headers` property as a carrier: Python tomodachi injects into
/// `properties["headers"]`, which aioamqp sends as long strings; read back as text.
#[cfg(feature = "amqp")]
pub(crate) struct AmqpHeaders<'a>(pub(crate) Option<&'a lapin::types::FieldTable>);

#[cfg(feature = "amqp")]
impl Extractor for AmqpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        use lapin::types::AMQPValue;
        match self.0?.inner().get(key)? {
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
            AMQPValue::ShortString(s) => Some(s.as_str()),
            AMQPValue::ByteArray(b) => std::str::from_utf8(b.as_slice()).ok(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .map(|t| t.inner().keys().map(|k| k.as_str()).collect())
            .unwrap_or_default()
    }
}

/// Writes into an AMQP `headers` table, as long strings (what aioamqp sends for `str`).
#[cfg(feature = "amqp")]
pub(crate) struct AmqpHeadersMut<'a>(pub(crate) &'a mut lapin::types::FieldTable);

#[cfg(feature = "amqp")]
impl Injector for AmqpHeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(
            key.into(),
            lapin::types::AMQPValue::LongString(value.into_bytes().into()),
        );
    }
}
