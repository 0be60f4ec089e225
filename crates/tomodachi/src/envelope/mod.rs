//! Message envelopes: how message transports (AMQP, AWS SNS+SQS) turn published data into a
//! message body and a received body back into data.
//!
//! An [`Envelope`] builds the body string from the publishing service, the (unprefixed) topic
//! or routing key and a [`Payload`], and parses a body into a [`ParsedMessage`]. Shipped:
//!
//! * [`JsonBase`]: Python tomodachi's `JsonBase` (`tomodachi-json-base--1.0.0`),
//!   byte-for-byte compatible;
//! * [`ProtobufBase`] (feature `protobuf`): Python tomodachi's `ProtobufBase`
//!   (`tomodachi-protobuf-base--1.0.0`), byte-for-byte compatible, with [`Proto`] for prost
//!   messages as data;
//! * [`Raw`]: no envelope (Python's raw mode), the body is the data.
//!
//! Custom envelopes implement [`Envelope`] and are shared as a [`SharedEnvelope`].
//! [`to_python_json`] writes JSON exactly like Python's `json.dumps`.
//!
//! ```
//! use serde_json::json;
//! use tomodachi::envelope::{JsonBase, Payload, ServiceIdentity, SharedEnvelope};
//!
//! let envelope: SharedEnvelope = std::sync::Arc::new(JsonBase);
//! let service = ServiceIdentity::new("orders", "2f8e8a1c-8f6a-4a7e-9d0b-0c6f3f5e2a11");
//! let body = envelope.build_message(&service, "order.created", &Payload::from_serialize(&json!({"id": 1}))?)?;
//! let parsed = envelope.parse_message(&body)?;
//! assert_eq!(parsed.data.deserialize::<serde_json::Value>()?, json!({"id": 1}));
//! # Ok::<(), tomodachi::envelope::EnvelopeError>(())
//! ```

mod error;
mod inflate;
mod json_base;
mod json_base_wire;
mod non_finite;
mod payload;
#[cfg(feature = "protobuf")]
mod protobuf_base;
#[cfg(feature = "protobuf")]
mod protobuf_wire;
mod pyjson;
mod raw;

pub use error::{EnvelopeError, EnvelopeErrorKind};
pub use inflate::{max_inflated_size, with_max_inflated_size, MAX_INFLATED_SIZE};
pub use json_base::JsonBase;
pub use payload::{Payload, ToPayload};
#[cfg(feature = "protobuf")]
pub use protobuf_base::{Proto, ProtobufBase};
pub use pyjson::{python_float_repr, to_python_json};
pub use raw::Raw;

use serde_json::Value;

/// The publishing service, as an envelope sees it: only its name and uuid are written.
///
/// ```
/// let service = tomodachi::envelope::ServiceIdentity::new("orders", "2f8e8a1c-8f6a-4a7e-9d0b-0c6f3f5e2a11");
/// assert_eq!(service.name, "orders");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceIdentity<'a> {
    /// The service name (`service.name` in JsonBase).
    pub name: &'a str,
    /// The service instance uuid (`service.uuid`, and the prefix of every message uuid).
    pub uuid: &'a str,
}

impl<'a> ServiceIdentity<'a> {
    /// A service identity from its name and uuid.
    pub const fn new(name: &'a str, uuid: &'a str) -> Self {
        Self { name, uuid }
    }
}

/// What [`Envelope::parse_message`] returns: Python's `(message, message_uuid, timestamp)`
/// plus the decoded data.
///
/// The whole message (the handler argument `message`) is built only when something asks for
/// it ([`message`](Self::message)): the envelopes of this crate keep its parts and assemble it
/// on first use, so a handler that takes only `data` never pays for it.
///
/// ```
/// use serde_json::json;
/// use tomodachi::envelope::{ParsedMessage, Payload};
///
/// let parsed = ParsedMessage::new(json!({"data": 1}), Payload::Json(json!(1)))
///     .with_message_uuid("4f5b…")
///     .with_timestamp(1700000000.0);
/// assert_eq!(parsed.message()["data"], 1);
/// assert_eq!(parsed.message_uuid.as_deref(), Some("4f5b…"));
/// ```
#[derive(Clone)]
pub struct ParsedMessage {
    /// The decoded data (the handler argument `data`). JsonBase: [`Payload::Json`] (`null` for
    /// an unknown or missing encoding); Raw: [`Payload::Text`] of the body.
    pub data: Payload,
    /// The message uuid, when the message has a string one. Python de-duplicates only on a
    /// truthy uuid, so treat `Some("")` like `None` for de-duplication.
    pub message_uuid: Option<String>,
    /// The message timestamp (seconds since the Unix epoch), when it has a numeric one.
    pub timestamp: Option<f64>,
    /// The whole message once built (or given).
    built: std::sync::OnceLock<Value>,
    /// What it is built from.
    parts: MessageParts,
}

/// What a lazily built [`ParsedMessage::message`] is made of.
#[derive(Clone)]
enum MessageParts {
    /// Given whole to [`ParsedMessage::new`].
    Given,
    /// JsonBase: `service.name`/`uuid` and the metadata values; `data` is the payload.
    JsonBase(Box<([Value; 2], [Value; 5])>),
    /// Raw: the body (the payload text) as a JSON string.
    PayloadText,
}

impl ParsedMessage {
    /// A parsed message: the whole `message` and its `data` (no uuid, no timestamp).
    pub fn new(message: Value, data: Payload) -> Self {
        Self {
            data,
            message_uuid: None,
            timestamp: None,
            built: std::sync::OnceLock::from(message),
            parts: MessageParts::Given,
        }
    }

    /// With the message uuid (duplicate deliveries of a uuid are handled once).
    pub fn with_message_uuid(mut self, uuid: impl Into<String>) -> Self {
        self.message_uuid = Some(uuid.into());
        self
    }

    /// With the message timestamp (seconds since the Unix epoch).
    pub fn with_timestamp(mut self, timestamp: f64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// A JsonBase message whose whole `message` is assembled on first use.
    pub(crate) fn json_base(service: [Value; 2], metadata: [Value; 5], data: Payload) -> Self {
        Self {
            data,
            message_uuid: None,
            timestamp: None,
            built: std::sync::OnceLock::new(),
            parts: MessageParts::JsonBase(Box::new((service, metadata))),
        }
    }

    /// A raw message: the payload text, which is also the whole `message` (a JSON string).
    pub(crate) fn raw(text: String) -> Self {
        Self {
            data: Payload::Text(text),
            message_uuid: None,
            timestamp: None,
            built: std::sync::OnceLock::new(),
            parts: MessageParts::PayloadText,
        }
    }

    /// The whole parsed message, the value of the handler argument `message`.
    ///
    /// JsonBase: exactly `{"service": {"name", "uuid"}, "metadata": {"message_uuid",
    /// "protocol_version", "timestamp", "topic", "data_encoding"}, "data": <decoded data>}`
    /// (missing keys as `null`); its top-level keys are the envelope's handler arguments.
    /// Raw: the body as a JSON string.
    pub fn message(&self) -> &Value {
        self.built.get_or_init(|| self.assemble())
    }

    fn assemble(&self) -> Value {
        match &self.parts {
            MessageParts::Given => Value::Null,
            MessageParts::PayloadText => match &self.data {
                Payload::Text(text) => Value::String(text.clone()),
                other => other.as_json().cloned().unwrap_or(Value::Null),
            },
            MessageParts::JsonBase(parts) => {
                let (service_values, metadata_values) = &**parts;
                json_base::assemble_message(service_values, metadata_values, &self.data)
            }
        }
    }
}

impl std::fmt::Debug for ParsedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedMessage")
            .field("message", self.message())
            .field("data", &self.data)
            .field("message_uuid", &self.message_uuid)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl PartialEq for ParsedMessage {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
            && self.message_uuid == other.message_uuid
            && self.timestamp == other.timestamp
            && self.message() == other.message()
    }
}

/// A message codec: builds transport bodies from data and parses them back.
///
/// Envelopes are symmetric per service configuration: a body built by one envelope is only
/// understood by the same envelope on the receiving side (Python or Rust).
///
/// A custom envelope, e.g. one that writes `{"envelope": "custom", "data": <data>}`:
///
/// ```
/// use serde_json::{json, Value};
/// use tomodachi::envelope::{Envelope, EnvelopeError, ParsedMessage, Payload, ServiceIdentity};
///
/// struct Custom;
///
/// impl Envelope for Custom {
///     fn name(&self) -> &str {
///         "Custom"
///     }
///
///     fn build_message(&self, _service: &ServiceIdentity<'_>, _topic: &str, data: &Payload)
///         -> Result<String, EnvelopeError>
///     {
///         let data = data.deserialize::<Value>()?;
///         Ok(tomodachi::envelope::to_python_json(&json!({"envelope": "custom", "data": data})))
///     }
///
///     fn parse_message(&self, payload: &str) -> Result<ParsedMessage, EnvelopeError> {
///         let message: Value = serde_json::from_str(payload)
///             .map_err(|e| EnvelopeError::parse(format!("not JSON: {e}")))?;
///         let data = Payload::Json(message["data"].clone());
///         Ok(ParsedMessage::new(message, data))
///     }
/// }
///
/// let service = ServiceIdentity::new("svc", "uuid");
/// let body = Custom.build_message(&service, "topic", &Payload::Json(json!({"x": 1})))?;
/// assert_eq!(body, r#"{"envelope": "custom", "data": {"x": 1}}"#);
/// let parsed = Custom.parse_message(&body)?;
/// assert_eq!(parsed.message()["envelope"], "custom");
/// assert_eq!(parsed.data, Payload::Json(json!({"x": 1})));
/// # Ok::<(), EnvelopeError>(())
/// ```
pub trait Envelope: Send + Sync + 'static {
    /// A short name for logs (`"JsonBase"`, `"Raw"`).
    fn name(&self) -> &str;

    /// Builds the transport body for `data` published by `service` to `topic` (the topic or
    /// routing key as given to publish, without any configured prefix; `""` for a direct SQS
    /// send).
    fn build_message(
        &self,
        service: &ServiceIdentity<'_>,
        topic: &str,
        data: &Payload,
    ) -> Result<String, EnvelopeError>;

    /// Parses a transport body. An error means the message cannot be understood; upstream
    /// logs it and drops the message.
    fn parse_message(&self, payload: &str) -> Result<ParsedMessage, EnvelopeError>;

    /// Checks the envelope of a subscription when its service starts (upstream's
    /// `validate(**decorator_kwargs)`): an error fails the start. The default accepts;
    /// `ProtobufBase` without a message type refuses (`No proto_class defined`).
    ///
    /// ```
    /// use tomodachi::envelope::{Envelope, JsonBase};
    /// assert!(JsonBase.validate_subscription().is_ok());
    /// ```
    fn validate_subscription(&self) -> Result<(), EnvelopeError> {
        Ok(())
    }
}

/// An envelope shared between subscriptions and publishers.
pub type SharedEnvelope = std::sync::Arc<dyn Envelope>;

impl std::fmt::Debug for dyn Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Envelope").field(&self.name()).finish()
    }
}

/// A fresh uuid4 and the current time in seconds since the Unix epoch: what a built message is
/// stamped with.
pub(crate) fn fresh_stamp() -> (String, f64) {
    use std::time::{SystemTime, UNIX_EPOCH};
    let now = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    };
    (uuid::Uuid::new_v4().to_string(), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    /// The custom envelope of upstream's tests: `{"envelope": "custom", "data": data}`.
    struct CustomEnvelope;

    impl Envelope for CustomEnvelope {
        fn name(&self) -> &str {
            "CustomEnvelope"
        }

        fn build_message(
            &self,
            _service: &ServiceIdentity<'_>,
            _topic: &str,
            data: &Payload,
        ) -> Result<String, EnvelopeError> {
            let data: Value = data.deserialize()?;
            Ok(to_python_json(&json!({"envelope": "custom", "data": data})))
        }

        fn parse_message(&self, payload: &str) -> Result<ParsedMessage, EnvelopeError> {
            let message: Value = serde_json::from_str(payload)
                .map_err(|e| EnvelopeError::parse(format!("not JSON: {e}")))?;
            let data = Payload::Json(message.get("data").cloned().unwrap_or(Value::Null));
            Ok(ParsedMessage::new(message, data))
        }
    }

    #[test]
    fn envelopes_are_usable_as_shared_trait_objects() {
        let service = ServiceIdentity::new("svc", "0d4f9d7a-3c5c-4a8e-9a43-5f2f0ab1c0de");
        let envelopes: Vec<SharedEnvelope> =
            vec![Arc::new(CustomEnvelope), Arc::new(JsonBase), Arc::new(Raw)];
        let names: Vec<_> = envelopes.iter().map(|e| e.name().to_owned()).collect();
        assert_eq!(names, ["CustomEnvelope", "JsonBase", "Raw"]);

        let data = Payload::Json(json!({"order": 1, "name": "åäö"}));
        let custom = envelopes[0].build_message(&service, "t", &data).unwrap();
        assert_eq!(
            custom,
            r#"{"envelope": "custom", "data": {"order": 1, "name": "\u00e5\u00e4\u00f6"}}"#
        );
        let parsed = envelopes[0].parse_message(&custom).unwrap();
        assert_eq!(parsed.message()["envelope"], "custom");
        assert_eq!(parsed.data, data);
        assert_eq!(parsed.message_uuid, None);

        for envelope in &envelopes[..2] {
            let body = envelope.build_message(&service, "t", &data).unwrap();
            let parsed = envelope.parse_message(&body).unwrap();
            assert_eq!(parsed.data, data, "{}", envelope.name());
        }
        // Raw round-trips through text: a JSON payload comes back as its text.
        let body = envelopes[2].build_message(&service, "t", &data).unwrap();
        let parsed = envelopes[2].parse_message(&body).unwrap();
        assert_eq!(
            parsed.data.deserialize::<Value>().unwrap(),
            json!({"order": 1, "name": "åäö"})
        );
    }

    #[test]
    fn envelope_errors_convert_into_the_crate_error() {
        fn handler() -> crate::Result<()> {
            JsonBase.parse_message("[]")?;
            Ok(())
        }
        let err = handler().unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
        assert!(err.downcast_ref::<EnvelopeError>().is_some());
    }
}
