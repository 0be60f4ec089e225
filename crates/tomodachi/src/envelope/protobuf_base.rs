//! The ProtobufBase envelope (`tomodachi-protobuf-base--1.0.0`), byte-compatible with Python
//! tomodachi's `tomodachi.envelope.ProtobufBase`, and [`Proto`], a prost message as message
//! data.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use prost::Message as _;
use serde_json::{Map, Value};

use super::protobuf_wire as wire;
use super::{Envelope, EnvelopeError, ParsedMessage, Payload, ServiceIdentity, ToPayload};

/// Python's `base64.b64decode` accepts what the strict standard engine rejects: non-zero
/// trailing bits, and (before decoding) it drops every character outside the alphabet.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The protobuf message type a subscription decodes its data into (upstream's `proto_class`),
/// with the optional validator, type-erased.
#[derive(Clone)]
struct ProtoClass {
    name: &'static str,
    check: Check,
}

/// Decodes plain protobuf bytes into the message type and runs the validator on the result.
type Check = Arc<dyn Fn(&[u8]) -> Result<(), CheckError> + Send + Sync>;

enum CheckError {
    Decode(prost::DecodeError),
    Validator(String),
}

/// The protobuf envelope of Python tomodachi (`tomodachi.envelope.ProtobufBase`, protocol
/// `tomodachi-protobuf-base--1.0.0`).
///
/// The body is the standard base64 (with padding) of a `proto.SNSSQSMessage`
/// (`{service {name, uuid}, metadata {message_uuid, protocol_version, timestamp, topic,
/// data_encoding}, data}`), whose `data` is the encoded protobuf message: as is with
/// `data_encoding` `"proto"`, or zlib-compressed with `"gzip_proto"` when the encoding is longer
/// than 60000 bytes. Built bodies are byte for byte what Python builds for the same service,
/// topic, message, message uuid and timestamp (the compressed bytes themselves may differ
/// between zlib implementations; they decompress to the same message).
///
/// **Publishing** takes a [`Proto`] (a prost message) or a [`Payload::Bytes`] of an encoded one:
/// `tomodachi::amqp::publish(&Proto(person), "person.created")`.
///
/// **Subscriptions** name the message type they receive, upstream's `proto_class`:
/// `ProtobufBase::of::<Person>()` (or [`ProtobufBase::validated`] with a validator, upstream's
/// `validator`). Parsing then decodes the data into that type (decompressing it as its
/// `data_encoding` says; inflated data is capped at 64 MiB) and fails when it is not one, so an
/// undecodable message is a parse failure (dead-lettered, never handed to the handler). The
/// handler takes the message as a [`Proto<Person>`] argument (or `message.proto::<Person>()`).
/// A subscription whose envelope is a `ProtobufBase` without a message type fails the service
/// start with upstream's error, `No proto_class defined`.
///
/// Without a message type (`ProtobufBase::new()`, the service default used to publish),
/// parsing hands over the `data` bytes as they are on the wire, compressed or not, as upstream
/// does without a `proto_class`.
///
/// The parsed `message` (the handler argument `message`) is `{"service": {"name", "uuid"},
/// "metadata": {"message_uuid", "protocol_version", "timestamp", "topic", "data_encoding"},
/// "data": <the data bytes as a standard base64 string>}`.
///
/// ```
/// use tomodachi::envelope::{Envelope, Payload, Proto, ProtobufBase, ServiceIdentity};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Person {
///     #[prost(string, tag = "1")]
///     id: String,
///     #[prost(string, tag = "2")]
///     name: String,
/// }
///
/// let service = ServiceIdentity::new("people", "1c0e9c14-58c0-4a3f-9ad5-2f1bd1dd8f31");
/// let person = Person { id: "12".into(), name: "John Doe".into() };
/// let body = ProtobufBase::new().build_message(&service, "person.created", &Proto(person.clone()).payload())?;
///
/// // without a message type: the data bytes as they are
/// let parsed = ProtobufBase::new().parse_message(&body)?;
/// assert_eq!(parsed.data, Payload::Bytes(b"\x0a\x0212\x12\x08John Doe".to_vec().into()));
/// assert_eq!(parsed.message()["metadata"]["data_encoding"], "proto");
///
/// // with one: decoded (and checked) into a Person
/// let parsed = ProtobufBase::of::<Person>().parse_message(&body)?;
/// assert_eq!(Proto::<Person>::from_payload(&parsed.data)?.0, person);
/// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
/// ```
#[derive(Clone, Default)]
pub struct ProtobufBase {
    proto_class: Option<ProtoClass>,
}

impl fmt::Debug for ProtobufBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtobufBase")
            .field("proto_class", &self.proto_class())
            .finish()
    }
}

impl ProtobufBase {
    /// The `metadata.protocol_version` this envelope writes.
    pub const PROTOCOL_VERSION: &'static str = "tomodachi-protobuf-base--1.0.0";

    /// Encoded data longer than this many bytes is compressed (Python: `> 60000`; JsonBase
    /// compresses at `>=`).
    pub const COMPRESSION_THRESHOLD: usize = 60000;

    /// Compressed data that inflates to more than this many bytes (64 MiB) is a parse error.
    pub const MAX_INFLATED_SIZE: usize = super::MAX_INFLATED_SIZE;

    /// `data_encoding` of the encoded message as is.
    pub const ENCODING_PROTO: &'static str = "proto";

    /// `data_encoding` of the zlib-compressed encoded message (zlib, despite the name).
    pub const ENCODING_GZIP_PROTO: &'static str = "gzip_proto";

    /// `data_encoding` of base64 of the encoded message (deprecated upstream; parsed only).
    pub const ENCODING_BASE64: &'static str = "base64";

    /// `data_encoding` of base64 of the compressed message (deprecated upstream; parsed only).
    pub const ENCODING_BASE64_GZIP_PROTO: &'static str = "base64_gzip_proto";

    /// `data_encoding` of bytes that are not decoded even with a message type.
    pub const ENCODING_RAW: &'static str = "raw";

    /// The envelope without a message type: builds messages from any protobuf data; parsing
    /// hands over the raw `data` bytes. A subscription needs [`ProtobufBase::of`].
    ///
    /// ```
    /// let envelope = tomodachi::envelope::ProtobufBase::new();
    /// assert_eq!(envelope.proto_class(), None);
    /// ```
    pub const fn new() -> Self {
        Self { proto_class: None }
    }

    /// The envelope for subscriptions receiving `M` (upstream's `proto_class=M`): parsing
    /// decodes the data into an `M` and fails when it is not one.
    ///
    /// ```
    /// #[derive(Clone, PartialEq, prost::Message)]
    /// struct Person {
    ///     #[prost(string, tag = "1")]
    ///     id: String,
    /// }
    ///
    /// let envelope = tomodachi::envelope::ProtobufBase::of::<Person>();
    /// assert!(envelope.proto_class().unwrap().ends_with("Person"));
    /// ```
    pub fn of<M: prost::Message + Default + 'static>() -> Self {
        Self::with_check::<M>(Arc::new(|bytes| {
            M::decode(bytes).map(drop).map_err(CheckError::Decode)
        }))
    }

    /// [`ProtobufBase::of`] with a validator (upstream's `validator=`): it sees each decoded
    /// message, and an error rejects the message as a parse failure, logged as a warning on
    /// `tomodachi.envelope` with `envelope="ProtobufBase"`.
    ///
    /// ```
    /// use tomodachi::envelope::{Envelope, Proto, ProtobufBase, ServiceIdentity};
    ///
    /// #[derive(Clone, PartialEq, prost::Message)]
    /// struct Person {
    ///     #[prost(string, tag = "1")]
    ///     id: String,
    /// }
    ///
    /// let envelope = ProtobufBase::validated(|p: &Person| {
    ///     if p.id.is_empty() { Err("a person needs an id") } else { Ok(()) }
    /// });
    /// let service = ServiceIdentity::new("svc", "uuid");
    /// let body = envelope.build_message(&service, "t", &Proto(Person::default()).payload())?;
    /// let err = envelope.parse_message(&body).unwrap_err();
    /// assert!(err.to_string().contains("a person needs an id"), "{err}");
    /// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
    /// ```
    pub fn validated<M, F, E>(validator: F) -> Self
    where
        M: prost::Message + Default + 'static,
        F: Fn(&M) -> Result<(), E> + Send + Sync + 'static,
        E: fmt::Display,
    {
        Self::with_check::<M>(Arc::new(move |bytes| {
            let message = M::decode(bytes).map_err(CheckError::Decode)?;
            validator(&message).map_err(|e| CheckError::Validator(e.to_string()))
        }))
    }

    fn with_check<M: 'static>(check: Check) -> Self {
        Self {
            proto_class: Some(ProtoClass {
                name: std::any::type_name::<M>(),
                check,
            }),
        }
    }

    /// The Rust type name of the message type subscriptions decode into, if any.
    ///
    /// ```
    /// assert_eq!(tomodachi::envelope::ProtobufBase::new().proto_class(), None);
    /// ```
    pub fn proto_class(&self) -> Option<&'static str> {
        self.proto_class.as_ref().map(|c| c.name)
    }

    /// [`build_message`](Envelope::build_message) with a given message uuid4 and timestamp
    /// instead of fresh ones: deterministic output, for tests and parity checks.
    ///
    /// `uuid4` is the part after `"<service uuid>."` in `metadata.message_uuid`; `timestamp`
    /// is seconds since the Unix epoch.
    ///
    /// ```
    /// use tomodachi::envelope::{Payload, ProtobufBase, ServiceIdentity};
    ///
    /// let body = ProtobufBase::new().build_message_with(
    ///     &ServiceIdentity::new("svc", "u"),
    ///     "topic",
    ///     &Payload::Bytes(bytes::Bytes::from_static(b"\x0a\x0212")),
    ///     "a5e9b8f8-7f3c-4ec4-a0a4-dc4ea7c1e2b0",
    ///     1700000000.5,
    /// )?;
    /// assert_eq!(
    ///     body,
    ///     "CggKA3N2YxIBdRJfCiZ1LmE1ZTliOGY4LTdmM2MtNGVjNC1hMGE0LWRjNGVhN2MxZTJiMBIedG9tb2RhY2hpLXByb3RvYnVmLWJhc2UtLTEuMC4wGQAAIED8VNlBIgV0b3BpYyoFcHJvdG8aBAoCMTI="
    /// );
    /// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
    /// ```
    pub fn build_message_with(
        &self,
        service: &ServiceIdentity<'_>,
        topic: &str,
        data: &Payload,
        uuid4: &str,
        timestamp: f64,
    ) -> Result<String, EnvelopeError> {
        let encoded = match data {
            Payload::Bytes(bytes) => bytes.clone(),
            other => {
                return Err(EnvelopeError::build(format!(
                    "the ProtobufBase envelope carries protobuf messages, not {} data: publish a \
                     `Proto(message)` (or `Payload::Bytes` of an encoded message)",
                    match other {
                        Payload::Json(_) => "JSON",
                        _ => "text",
                    }
                )))
            }
        };
        let (encoding, data) = if encoded.len() > Self::COMPRESSION_THRESHOLD {
            (
                Self::ENCODING_GZIP_PROTO,
                Bytes::from(zlib_compress(&encoded)?),
            )
        } else {
            (Self::ENCODING_PROTO, encoded)
        };
        let message = wire::SnsSqsMessage {
            service: Some(wire::Service {
                name: service.name.to_owned(),
                uuid: service.uuid.to_owned(),
            }),
            metadata: Some(wire::Metadata {
                message_uuid: format!("{}.{}", service.uuid, uuid4),
                protocol_version: Self::PROTOCOL_VERSION.to_owned(),
                timestamp,
                topic: topic.to_owned(),
                data_encoding: encoding.to_owned(),
            }),
            data,
        };
        Ok(base64::engine::general_purpose::STANDARD.encode(message.encode_to_vec()))
    }

    /// The plain encoded message from `data` as its `data_encoding` says; `None` for `"raw"`
    /// (not decoded), empty bytes (the empty message) for an unknown encoding.
    fn plain_data(encoding: &str, data: &Bytes) -> Result<Option<Bytes>, EnvelopeError> {
        Ok(Some(match encoding {
            Self::ENCODING_PROTO => data.clone(),
            Self::ENCODING_GZIP_PROTO => inflate(data)?.into(),
            Self::ENCODING_BASE64 => b64decode(data)
                .map_err(|e| {
                    EnvelopeError::parse(format!("ProtobufBase data is not valid base64: {e}"))
                })?
                .into(),
            Self::ENCODING_BASE64_GZIP_PROTO => inflate(&b64decode(data).map_err(|e| {
                EnvelopeError::parse(format!("ProtobufBase data is not valid base64: {e}"))
            })?)?
            .into(),
            Self::ENCODING_RAW => return Ok(None),
            _ => Bytes::new(),
        }))
    }
}

impl Envelope for ProtobufBase {
    fn name(&self) -> &str {
        "ProtobufBase"
    }

    /// Builds the message with a fresh uuid4 and the current time; see
    /// [`ProtobufBase::build_message_with`]. Fails for JSON and text payloads.
    fn build_message(
        &self,
        service: &ServiceIdentity<'_>,
        topic: &str,
        data: &Payload,
    ) -> Result<String, EnvelopeError> {
        let (uuid4, now) = super::fresh_stamp();
        self.build_message_with(service, topic, data, &uuid4, now)
    }

    /// Parses like Python's `ProtobufBase.parse_message` (see the type's docs). Errors: the
    /// body is not base64 of a `proto.SNSSQSMessage`; with a message type, the data does not
    /// decompress or decode into it, or the validator rejects it.
    fn parse_message(&self, payload: &str) -> Result<ParsedMessage, EnvelopeError> {
        let raw = b64decode(payload.as_bytes()).map_err(|e| {
            EnvelopeError::parse(format!("ProtobufBase message is not valid base64: {e}"))
        })?;
        let message = wire::SnsSqsMessage::decode(raw.as_slice()).map_err(|e| {
            EnvelopeError::parse(format!(
                "ProtobufBase message is not a protobuf proto.SNSSQSMessage: {e}"
            ))
        })?;
        let service = message.service.unwrap_or_default();
        let metadata = message.metadata.unwrap_or_default();
        let data = match &self.proto_class {
            None => message.data,
            Some(class) => {
                let plain = Self::plain_data(&metadata.data_encoding, &message.data)?;
                // "raw" data is not decoded: the validator sees the empty message, as upstream
                let checked = plain.as_deref().unwrap_or_default();
                (class.check)(checked).map_err(|e| match e {
                    CheckError::Decode(e) => EnvelopeError::parse(format!(
                        "ProtobufBase data (data_encoding {:?}) is not a valid `{}` protobuf \
                         message: {e}",
                        metadata.data_encoding, class.name
                    )),
                    CheckError::Validator(text) => {
                        tracing::warn!(target: "tomodachi.envelope", envelope = "ProtobufBase", "{text}");
                        EnvelopeError::parse(format!(
                            "ProtobufBase validator rejected the `{}` message: {text}",
                            class.name
                        ))
                    }
                })?;
                plain.unwrap_or(message.data)
            }
        };

        let message_uuid = Some(metadata.message_uuid.clone()).filter(|u| !u.is_empty());
        let timestamp = metadata.timestamp;
        let mut service_json = Map::with_capacity(2);
        service_json.insert("name".into(), Value::String(service.name));
        service_json.insert("uuid".into(), Value::String(service.uuid));
        let mut metadata_json = Map::with_capacity(5);
        metadata_json.insert("message_uuid".into(), Value::String(metadata.message_uuid));
        metadata_json.insert(
            "protocol_version".into(),
            Value::String(metadata.protocol_version),
        );
        metadata_json.insert(
            "timestamp".into(),
            serde_json::Number::from_f64(timestamp).map_or(Value::Null, Value::Number),
        );
        metadata_json.insert("topic".into(), Value::String(metadata.topic));
        metadata_json.insert(
            "data_encoding".into(),
            Value::String(metadata.data_encoding),
        );
        let mut message_json = Map::with_capacity(3);
        message_json.insert("service".into(), Value::Object(service_json));
        message_json.insert("metadata".into(), Value::Object(metadata_json));
        message_json.insert(
            "data".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(&data)),
        );
        let mut parsed = ParsedMessage::new(Value::Object(message_json), Payload::Bytes(data))
            .with_timestamp(timestamp);
        parsed.message_uuid = message_uuid;
        Ok(parsed)
    }

    /// Upstream's `validate`: a subscription must name its message type.
    fn validate_subscription(&self) -> Result<(), EnvelopeError> {
        match self.proto_class {
            Some(_) => Ok(()),
            None => Err(EnvelopeError::validation(
                "No proto_class defined (a ProtobufBase subscription names the message type \
                 it receives: ProtobufBase::of::<T>())",
            )),
        }
    }
}

/// base64 like Python's `base64.b64decode`: characters outside the alphabet are dropped first.
fn b64decode(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    let in_alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if text.iter().all(in_alphabet) {
        LENIENT_BASE64.decode(text)
    } else {
        let cleaned: Vec<u8> = text.iter().copied().filter(in_alphabet).collect();
        LENIENT_BASE64.decode(cleaned)
    }
}

fn zlib_compress(bytes: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::new(6));
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| EnvelopeError::build(format!("ProtobufBase cannot compress data: {e}")))
}

/// zlib-decompresses at most [`ProtobufBase::MAX_INFLATED_SIZE`] bytes.
fn inflate(compressed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    super::inflate::inflate_capped(compressed, super::max_inflated_size(), "ProtobufBase")
}

/// A protobuf message (a prost type) as message data: what a handler receives from a
/// [`ProtobufBase`] subscription and what it publishes through one.
///
/// * As a handler argument (`Proto(person): Proto<Person>`, or `data: Proto<Person>` with the
///   attributes) it is the message's data decoded into `T`; data that is not a `T` fails the
///   message as undecodable (dead-lettered).
/// * Published (`tomodachi::amqp::publish(&Proto(person), "key")`) it is the encoded message,
///   which the service's (or the publish's) `ProtobufBase` envelope wraps.
///
/// ```
/// use tomodachi::envelope::{Payload, Proto};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Person {
///     #[prost(string, tag = "1")]
///     id: String,
/// }
///
/// let payload = Proto(Person { id: "12".into() }).payload();
/// assert_eq!(payload, Payload::Bytes(bytes::Bytes::from_static(b"\x0a\x0212")));
/// assert_eq!(Proto::<Person>::from_payload(&payload)?.0.id, "12");
/// assert!(Proto::<Person>::from_payload(&Payload::Json(serde_json::json!({"id": "12"}))).is_err());
/// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Proto<T>(pub T);

impl<T> Proto<T> {
    /// The message.
    ///
    /// ```
    /// assert_eq!(tomodachi::envelope::Proto(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: prost::Message> Proto<T> {
    /// The encoded message as a [`Payload::Bytes`].
    ///
    /// ```
    /// let payload = tomodachi::envelope::Proto(String::from("a")).payload();
    /// assert_eq!(payload, tomodachi::envelope::Payload::Bytes(bytes::Bytes::from_static(b"\x0a\x01a")));
    /// ```
    pub fn payload(&self) -> Payload {
        Payload::Bytes(self.0.encode_to_vec().into())
    }
}

impl<T: prost::Message + Default> Proto<T> {
    /// Decodes a [`Payload::Bytes`] (what [`ProtobufBase`] parses into) as a `T`.
    ///
    /// ```
    /// use tomodachi::envelope::{Payload, Proto};
    /// let payload = Payload::Bytes(bytes::Bytes::from_static(b"\x0a\x01a"));
    /// assert_eq!(Proto::<String>::from_payload(&payload)?.0, "a");
    /// assert!(Proto::<String>::from_payload(&Payload::Bytes(bytes::Bytes::from_static(b"\xff"))).is_err());
    /// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
    /// ```
    pub fn from_payload(payload: &Payload) -> Result<Self, EnvelopeError> {
        match payload {
            Payload::Bytes(bytes) => T::decode(bytes.as_ref()).map(Proto).map_err(|e| {
                EnvelopeError::deserialize(format!(
                    "the message data is not a valid `{}` protobuf message: {e}",
                    std::any::type_name::<T>()
                ))
            }),
            other => Err(EnvelopeError::deserialize(format!(
                "the message data is {}, not protobuf bytes, so it cannot be a `{}` (is the \
                 envelope ProtobufBase?)",
                match other {
                    Payload::Json(_) => "JSON",
                    _ => "text",
                },
                std::any::type_name::<T>()
            ))),
        }
    }
}

impl<T: prost::Message> ToPayload for Proto<T> {
    fn to_payload(&self) -> Result<Payload, EnvelopeError> {
        Ok(self.payload())
    }
}

/// Deserialises from bytes (a [`Payload::Bytes`]), so `Message::data::<Proto<T>>()` and the
/// attributes' `data: Proto<T>` argument work.
impl<'de, T: prost::Message + Default> serde::Deserialize<'de> for Proto<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);

        impl<T: prost::Message + Default> serde::de::Visitor<'_> for Visitor<T> {
            type Value = Proto<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "the bytes of a `{}` protobuf message",
                    std::any::type_name::<T>()
                )
            }

            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
                T::decode(bytes).map(Proto).map_err(|e| {
                    E::custom(format!(
                        "not a valid `{}` protobuf message: {e}",
                        std::any::type_name::<T>()
                    ))
                })
            }
        }

        deserializer.deserialize_bytes(Visitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::EnvelopeErrorKind;

    /// example.Person of `examples/protobuf_service.rs`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Person {
        #[prost(string, tag = "1")]
        id: String,
        #[prost(string, tag = "2")]
        first_name: String,
        #[prost(string, tag = "3")]
        last_name: String,
        #[prost(int32, tag = "4")]
        age: i32,
        #[prost(string, repeated, tag = "5")]
        tags: Vec<String>,
    }

    /// The Person of upstream's tests: `id` = 1, `name` = 2.
    #[derive(Clone, PartialEq, prost::Message)]
    struct UpstreamPerson {
        #[prost(string, tag = "1")]
        id: String,
        #[prost(string, tag = "2")]
        name: String,
    }

    const SERVICE_UUID: &str = "0d4f9d7a-3c5c-4a8e-9a43-5f2f0ab1c0de";
    const UUID4: &str = "6f1c1b5e-2f4d-4c3a-9e8b-7a6d5c4b3a29";

    fn service() -> ServiceIdentity<'static> {
        ServiceIdentity::new("test-service", SERVICE_UUID)
    }

    fn person() -> Person {
        Person {
            id: "p-1".into(),
            first_name: "Åsa".into(),
            last_name: "Doe".into(),
            age: 42,
            tags: vec!["a".into(), "b".into()],
        }
    }

    fn build(data: &Payload) -> String {
        ProtobufBase::new()
            .build_message_with(&service(), "some.topic", data, UUID4, 1795330604.854375)
            .unwrap()
    }

    fn big_person() -> Person {
        Person {
            tags: (0..8000).map(|i| format!("tag-{i}")).collect(),
            ..person()
        }
    }

    /// Produced by Python tomodachi 0.29 (protobuf 7.36) with uuid4 and time patched:
    /// `ProtobufBase.build_message(service, "some.topic", Person(id="p-1", first_name="Åsa",
    /// last_name="Doe", age=42, tags=["a", "b"]))`.
    const PYTHON_BODY: &str = "CjQKDHRlc3Qtc2VydmljZRIkMGQ0ZjlkN2EtM2M1Yy00YThlLTlhNDMtNWYyZjBhYjFjMGRlEocBCkkwZDRmOWQ3YS0zYzVjLTRhOGUtOWE0My01ZjJmMGFiMWMwZGUuNmYxYzFiNWUtMmY0ZC00YzNhLTllOGItN2E2ZDVjNGIzYTI5Eh50b21vZGFjaGktcHJvdG9idWYtYmFzZS0tMS4wLjAZFK42i6TA2kEiCnNvbWUudG9waWMqBXByb3RvGhgKA3AtMRIEw4VzYRoDRG9lICoqAWEqAWI=";

    #[test]
    fn builds_the_exact_python_body() {
        let body = build(&Proto(person()).payload());
        assert_eq!(body, PYTHON_BODY);
    }

    #[test]
    fn parses_without_a_proto_class_into_the_raw_data_bytes() {
        let upstream = UpstreamPerson {
            id: "12".into(),
            name: "John Doe".into(),
        };
        let parsed = ProtobufBase::new()
            .parse_message(&build(&Proto(upstream).payload()))
            .unwrap();
        assert_eq!(
            parsed.data,
            Payload::Bytes(Bytes::from_static(b"\x0a\x0212\x12\x08John Doe"))
        );
        assert_eq!(
            parsed.message_uuid.as_deref(),
            Some(&*format!("{SERVICE_UUID}.{UUID4}"))
        );
        assert_eq!(parsed.timestamp, Some(1795330604.854375));
        assert_eq!(
            *parsed.message(),
            serde_json::json!({
                "service": {"name": "test-service", "uuid": SERVICE_UUID},
                "metadata": {
                    "message_uuid": format!("{SERVICE_UUID}.{UUID4}"),
                    "protocol_version": "tomodachi-protobuf-base--1.0.0",
                    "timestamp": 1795330604.854375,
                    "topic": "some.topic",
                    "data_encoding": "proto",
                },
                "data": "CgIxMhIISm9obiBEb2U=",
            })
        );
        let keys: Vec<_> = parsed.message()["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "message_uuid",
                "protocol_version",
                "timestamp",
                "topic",
                "data_encoding"
            ]
        );
    }

    #[test]
    fn parses_python_bodies_with_a_proto_class() {
        let parsed = ProtobufBase::of::<Person>()
            .parse_message(PYTHON_BODY)
            .unwrap();
        assert_eq!(
            Proto::<Person>::from_payload(&parsed.data).unwrap().0,
            person()
        );
        assert_eq!(
            parsed.data.deserialize::<Proto<Person>>().unwrap().0,
            person()
        );
        assert_eq!(parsed.message()["metadata"]["topic"], "some.topic");
        assert_eq!(parsed.message()["service"]["name"], "test-service");
    }

    #[test]
    fn compresses_above_60000_bytes_only() {
        let exactly = Payload::Bytes(vec![b'x'; 60000].into());
        let doc = |body: &str| {
            wire::SnsSqsMessage::decode(
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap()
                    .as_slice(),
            )
            .unwrap()
        };
        let at = doc(&build(&exactly));
        assert_eq!(at.metadata.unwrap().data_encoding, "proto");
        assert_eq!(at.data.len(), 60000);
        let above = doc(&build(&Payload::Bytes(vec![b'x'; 60001].into())));
        assert_eq!(above.metadata.unwrap().data_encoding, "gzip_proto");
        assert_eq!(&above.data[..1], b"\x78", "zlib, not gzip");
        assert!(above.data.len() < 1000);

        let big = big_person();
        assert!(big.encoded_len() > 60000);
        let body = build(&Proto(big.clone()).payload());
        let parsed = ProtobufBase::of::<Person>().parse_message(&body).unwrap();
        assert_eq!(parsed.message()["metadata"]["data_encoding"], "gzip_proto");
        assert_eq!(Proto::<Person>::from_payload(&parsed.data).unwrap().0, big);
        // without a proto_class the data stays compressed, as upstream
        let raw = ProtobufBase::new().parse_message(&body).unwrap();
        let Payload::Bytes(raw) = raw.data else {
            panic!("bytes")
        };
        assert_eq!(raw[0], 0x78);
        assert_eq!(inflate(&raw).unwrap(), big.encode_to_vec());
    }

    fn body_with(encoding: &str, data: &[u8]) -> String {
        let message = wire::SnsSqsMessage {
            service: Some(wire::Service::default()),
            metadata: Some(wire::Metadata {
                message_uuid: "m".into(),
                data_encoding: encoding.into(),
                ..Default::default()
            }),
            data: Bytes::copy_from_slice(data),
        };
        base64::engine::general_purpose::STANDARD.encode(message.encode_to_vec())
    }

    #[test]
    fn decodes_every_upstream_data_encoding() {
        let encoded = person().encode_to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&encoded);
        let zipped = zlib_compress(&encoded).unwrap();
        let b64_zipped = base64::engine::general_purpose::STANDARD.encode(&zipped);
        let of = ProtobufBase::of::<Person>();
        for (encoding, data) in [
            ("proto", &encoded[..]),
            ("base64", b64.as_bytes()),
            ("gzip_proto", &zipped[..]),
            ("base64_gzip_proto", b64_zipped.as_bytes()),
        ] {
            let parsed = of.parse_message(&body_with(encoding, data)).unwrap();
            assert_eq!(
                Proto::<Person>::from_payload(&parsed.data).unwrap().0,
                person(),
                "{encoding}"
            );
            assert_eq!(parsed.message()["metadata"]["data_encoding"], encoding);
        }
        // "raw": the bytes as they are, not decoded
        let parsed = of.parse_message(&body_with("raw", b"\xff\xfe")).unwrap();
        assert_eq!(parsed.data, Payload::Bytes(Bytes::from_static(b"\xff\xfe")));
        // anything else: the empty message, no error
        for encoding in ["", "json", "PROTO"] {
            let parsed = of.parse_message(&body_with(encoding, b"\xff")).unwrap();
            assert_eq!(
                Proto::<Person>::from_payload(&parsed.data).unwrap().0,
                Person::default()
            );
        }
    }

    #[test]
    fn undecodable_input_is_a_clear_parse_error() {
        let of = ProtobufBase::of::<Person>();
        let cases: Vec<(String, &str)> = vec![
            ("not base64 at all!".into(), "not valid base64"),
            ("abc".into(), "not valid base64"),
            (
                base64::engine::general_purpose::STANDARD.encode(b"\xff\xff\xff"),
                "not a protobuf proto.SNSSQSMessage",
            ),
            (
                body_with("proto", b"\x0a\x05ab"),
                "is not a valid `tomodachi::envelope::protobuf_base::tests::Person` protobuf message",
            ),
            (body_with("proto", b"\x20\xff"), "not a valid"),
            (body_with("gzip_proto", b"hello"), "not a valid zlib stream"),
            (body_with("base64", b"abc"), "not valid base64"),
        ];
        for (body, needle) in cases {
            let err = of.parse_message(&body).unwrap_err();
            assert_eq!(err.kind(), EnvelopeErrorKind::Parse, "{body}");
            assert!(err.to_string().contains(needle), "{body}: {err}");
        }
        // truncated zlib streams fail too
        let zipped = zlib_compress(&big_person().encode_to_vec()).unwrap();
        let err = of
            .parse_message(&body_with("gzip_proto", &zipped[..zipped.len() / 2]))
            .unwrap_err();
        assert_eq!(err.kind(), EnvelopeErrorKind::Parse, "{err}");
        // without a proto_class, bad data bytes are handed over (upstream does the same)
        assert!(ProtobufBase::new()
            .parse_message(&body_with("proto", b"\xff"))
            .is_ok());
        // an empty body is an empty message, as in Python
        let parsed = of.parse_message("").unwrap();
        assert_eq!(parsed.message_uuid, None);
        assert_eq!(parsed.message()["metadata"]["protocol_version"], "");
    }

    #[test]
    fn inflating_is_capped() {
        let bomb = zlib_compress(&vec![0u8; ProtobufBase::MAX_INFLATED_SIZE + 1]).unwrap();
        assert!(bomb.len() < 200_000);
        let err = ProtobufBase::of::<Person>()
            .parse_message(&body_with("gzip_proto", &bomb))
            .unwrap_err();
        assert!(err.to_string().contains("inflates to more than"), "{err}");
    }

    #[test]
    fn base64_is_as_lenient_as_python() {
        let body = build(&Proto(person()).payload());
        let wrapped = format!("{}\n{}", &body[..20], &body[20..]);
        let parsed = ProtobufBase::of::<Person>()
            .parse_message(&wrapped)
            .unwrap();
        assert_eq!(
            Proto::<Person>::from_payload(&parsed.data).unwrap().0,
            person()
        );
    }

    #[test]
    fn validators_reject_with_their_text() {
        let envelope = ProtobufBase::validated(|p: &Person| {
            if p.age < 0 {
                Err(format!("negative age {}", p.age))
            } else {
                Ok(())
            }
        });
        let ok = build(&Proto(person()).payload());
        assert!(envelope.parse_message(&ok).is_ok());
        let bad = build(
            &Proto(Person {
                age: -1,
                ..person()
            })
            .payload(),
        );
        let err = envelope.parse_message(&bad).unwrap_err();
        assert_eq!(err.kind(), EnvelopeErrorKind::Parse);
        assert!(err.to_string().contains("negative age -1"), "{err}");
    }

    #[test]
    fn builds_only_protobuf_payloads() {
        for payload in [
            Payload::Json(serde_json::json!({"id": 1})),
            Payload::Text("hi".into()),
        ] {
            let err = ProtobufBase::new()
                .build_message(&service(), "t", &payload)
                .unwrap_err();
            assert_eq!(err.kind(), EnvelopeErrorKind::Build);
            assert!(err.to_string().contains("Proto(message)"), "{err}");
        }
    }

    #[test]
    fn subscriptions_need_a_proto_class() {
        let err = ProtobufBase::new().validate_subscription().unwrap_err();
        assert_eq!(err.kind(), EnvelopeErrorKind::Validate);
        assert!(
            err.to_string().starts_with("No proto_class defined"),
            "{err}"
        );
        assert!(ProtobufBase::of::<Person>().validate_subscription().is_ok());
        assert!(format!("{:?}", ProtobufBase::of::<Person>()).contains("Person"));
    }

    #[test]
    fn fresh_builds_have_a_message_uuid_and_a_timestamp() {
        let body = ProtobufBase::new()
            .build_message(&service(), "t", &Proto(person()).payload())
            .unwrap();
        let parsed = ProtobufBase::new().parse_message(&body).unwrap();
        let uuid = parsed.message_uuid.unwrap();
        assert_eq!(uuid.len(), 73);
        assert!(uuid.starts_with(&format!("{SERVICE_UUID}.")));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((now - parsed.timestamp.unwrap()).abs() < 60.0);
    }
}
