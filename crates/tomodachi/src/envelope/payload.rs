//! [`Payload`]: message data before building and after parsing.

use bytes::Bytes;
use serde::de::value::{SeqDeserializer, StrDeserializer};
use serde::de::{DeserializeOwned, Deserializer, Error as _, Visitor};
use serde_json::Value;

use super::pyjson;
use super::EnvelopeError;

/// Message data: what a handler publishes, or what an envelope decoded from a message.
///
/// * [`Payload::Json`]: a JSON value (JsonBase data, anything serialisable).
/// * [`Payload::Text`]: a string body (raw mode, no envelope).
/// * [`Payload::Bytes`]: opaque bytes (for envelopes that carry binary data).
///
/// ```
/// use tomodachi::envelope::Payload;
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Order { id: u32 }
///
/// let payload = Payload::from_serialize(&Order { id: 7 })?;
/// assert_eq!(payload, Payload::Json(serde_json::json!({"id": 7})));
/// assert_eq!(payload.deserialize::<Order>()?, Order { id: 7 });
///
/// // A raw text body: a `String` gets the text, other types see it parsed as JSON.
/// let raw = Payload::Text(r#"{"id": 8}"#.to_owned());
/// assert_eq!(raw.deserialize::<String>()?, r#"{"id": 8}"#);
/// assert_eq!(raw.deserialize::<Order>()?, Order { id: 8 });
/// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A JSON value.
    Json(Value),
    /// Opaque bytes.
    Bytes(Bytes),
    /// Text (a raw body).
    Text(String),
}

impl Payload {
    /// Deserialises the payload into a handler's `data` type.
    ///
    /// * `Json`: the value is deserialised into `T` (like `serde_json::from_value`).
    /// * `Text`: string-like targets (`String`, `Box<str>`, `char`, `Option<String>`, newtypes
    ///   of those) receive the text itself; everything else sees the text parsed as JSON
    ///   (`serde_json::Value` gets the parsed JSON, or the text as a JSON string when it is
    ///   not valid JSON; an enum gets a unit variant named by the text when it is not JSON;
    ///   byte targets such as `serde_bytes::ByteBuf` get the UTF-8 bytes).
    /// * `Bytes`: byte targets receive the bytes (`Vec<u8>` as a sequence of `u8`,
    ///   `serde_bytes::ByteBuf` as bytes); string targets the bytes as UTF-8 text (an error if
    ///   they are not UTF-8); everything else sees the bytes parsed as JSON.
    ///
    /// The error names the target type and carries serde's message.
    ///
    /// ```
    /// use tomodachi::envelope::Payload;
    ///
    /// let p = Payload::Bytes(bytes::Bytes::from_static(b"\x00\xff"));
    /// assert_eq!(p.deserialize::<Vec<u8>>()?, vec![0, 255]);
    /// let err = p.deserialize::<String>().unwrap_err();
    /// assert!(err.to_string().contains("alloc::string::String"), "{err}");
    /// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        let result = match self {
            Payload::Json(value) => T::deserialize(value),
            Payload::Text(text) => T::deserialize(OpaqueDeserializer {
                bytes: text.as_bytes(),
                text: Some(text),
                raw_bytes: false,
            }),
            Payload::Bytes(bytes) => T::deserialize(OpaqueDeserializer {
                bytes,
                text: std::str::from_utf8(bytes).ok(),
                raw_bytes: true,
            }),
        };
        result.map_err(|e| {
            EnvelopeError::deserialize(format!(
                "cannot deserialize the message data ({}) into `{}`: {e}",
                self.kind_name(),
                std::any::type_name::<T>()
            ))
        })
    }

    /// Serialises `value` into a [`Payload::Json`].
    ///
    /// Fails like `serde_json::to_value` (e.g. a map with non-string keys). Non-finite floats
    /// become `null`.
    ///
    /// ```
    /// use tomodachi::envelope::Payload;
    ///
    /// let p = Payload::from_serialize(&vec![1, 2])?;
    /// assert_eq!(p, Payload::Json(serde_json::json!([1, 2])));
    /// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
    /// ```
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, EnvelopeError> {
        serde_json::to_value(value).map(Payload::Json).map_err(|e| {
            EnvelopeError::build(format!(
                "cannot serialize `{}` as JSON: {e}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// The payload's JSON value, if it is [`Payload::Json`].
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Payload::Json(value) => Some(value),
            _ => None,
        }
    }

    /// The payload's text, if it is [`Payload::Text`] (or a [`Payload::Json`] string).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Payload::Text(text) => Some(text),
            Payload::Json(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// The payload as Python `json.dumps` would write it (see [`to_python_json`]): `Json` as
    /// its JSON text, `Text` as a JSON string; `Bytes` cannot be written (Python raises
    /// `TypeError` for `bytes`).
    ///
    /// [`to_python_json`]: super::to_python_json
    pub(crate) fn to_python_json(&self, envelope: &str) -> Result<String, EnvelopeError> {
        let mut out = String::new();
        match self {
            Payload::Json(value) => pyjson::write_value(&mut out, value),
            Payload::Text(text) => pyjson::write_str(&mut out, text),
            Payload::Bytes(_) => {
                return Err(EnvelopeError::build(format!(
                    "the {envelope} envelope carries JSON data, not raw bytes \
                     (use Payload::Text or Payload::Json)"
                )))
            }
        }
        Ok(out)
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Payload::Json(_) => "JSON",
            Payload::Bytes(_) => "bytes",
            Payload::Text(_) => "text",
        }
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload::Json(value)
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Self {
        Payload::Text(text)
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Self {
        Payload::Text(text.to_owned())
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Payload::Bytes(bytes)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload::Bytes(Bytes::from(bytes))
    }
}

/// What can be published: anything serialisable (sent as [`Payload::Json`]), a [`Payload`]
/// itself, and with the `protobuf` feature a `Proto(message)` (sent as [`Payload::Bytes`] of the
/// encoded protobuf message, what the `ProtobufBase` envelope carries).
///
/// The publish helpers (`amqp::publish`, `aws_sns_sqs::publish`, `message::build_body`, ...)
/// take any `ToPayload`.
///
/// ```
/// use tomodachi::envelope::{Payload, ToPayload};
///
/// assert_eq!(serde_json::json!({"id": 1}).to_payload()?, Payload::Json(serde_json::json!({"id": 1})));
/// assert_eq!("text".to_payload()?, Payload::Json(serde_json::json!("text")));
/// let bytes = Payload::Bytes(bytes::Bytes::from_static(b"\x08\x01"));
/// assert_eq!(bytes.to_payload()?, bytes);
/// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
/// ```
pub trait ToPayload {
    /// The payload to build a message from.
    fn to_payload(&self) -> Result<Payload, EnvelopeError>;
}

impl<T: serde::Serialize + ?Sized> ToPayload for T {
    fn to_payload(&self) -> Result<Payload, EnvelopeError> {
        Payload::from_serialize(self)
    }
}

impl ToPayload for Payload {
    fn to_payload(&self) -> Result<Payload, EnvelopeError> {
        Ok(self.clone())
    }
}

/// Deserialises a text or bytes payload: string-like targets get the text, byte targets the
/// bytes, everything else the content parsed as JSON.
struct OpaqueDeserializer<'a> {
    bytes: &'a [u8],
    /// The content as text, when it is valid UTF-8.
    text: Option<&'a str>,
    /// A `Bytes` payload (sequences are its bytes) rather than a `Text` one.
    raw_bytes: bool,
}

impl OpaqueDeserializer<'_> {
    fn text(&self) -> Result<&str, serde_json::Error> {
        self.text
            .ok_or_else(|| serde_json::Error::custom("the bytes are not valid UTF-8"))
    }

    fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.text()?)
            .map_err(|e| serde_json::Error::custom(format!("the content is not valid JSON ({e})")))
    }
}

macro_rules! forward_to_json {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                self.json()?.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for OpaqueDeserializer<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.text {
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => value.deserialize_any(visitor),
                Err(_) => visitor.visit_borrowed_str(text),
            },
            None => visitor.visit_borrowed_bytes(self.bytes),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.text {
            Some(text) => visitor.visit_borrowed_str(text),
            None => Err(serde_json::Error::custom(
                "the bytes are not valid UTF-8 text",
            )),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_borrowed_bytes(self.bytes)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_borrowed_bytes(self.bytes)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.raw_bytes {
            let mut seq = SeqDeserializer::new(self.bytes.iter().copied());
            let value = visitor.visit_seq(&mut seq)?;
            seq.end()?;
            Ok(value)
        } else {
            self.json()?.deserialize_seq(visitor)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let text = self.text()?;
        match serde_json::from_str::<Value>(text) {
            Ok(value) => value.deserialize_enum(name, variants, visitor),
            Err(_) => visitor.visit_enum(StrDeserializer::<serde_json::Error>::new(text)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    forward_to_json! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_identifier();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize, Serialize)]
    struct Order {
        id: u32,
        items: Vec<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Status {
        Started,
        Done,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Wrapper(String);

    #[test]
    fn json_payloads_deserialize_like_from_value() {
        let p = Payload::Json(json!({"id": 1, "items": ["a"]}));
        assert_eq!(
            p.deserialize::<Order>().unwrap(),
            Order {
                id: 1,
                items: vec!["a".into()]
            }
        );
        assert_eq!(
            p.deserialize::<Value>().unwrap(),
            json!({"id": 1, "items": ["a"]})
        );
        let s = Payload::Json(json!("hello"));
        assert_eq!(s.deserialize::<String>().unwrap(), "hello");
        let err = p.deserialize::<String>().unwrap_err();
        assert_eq!(err.kind(), super::super::EnvelopeErrorKind::Deserialize);
        assert!(err.to_string().contains("`alloc::string::String`"), "{err}");
        assert!(err.to_string().contains("invalid type: map"), "{err}");
        let err = Payload::Json(json!({"id": "x"}))
            .deserialize::<Order>()
            .unwrap_err();
        assert!(err.to_string().contains("Order"), "{err}");
        assert!(err.to_string().contains("invalid type: string"), "{err}");
    }

    #[test]
    fn text_payloads_give_strings_the_text_and_others_the_parsed_json() {
        let p = Payload::Text(r#"{"id": 2, "items": []}"#.into());
        assert_eq!(
            p.deserialize::<String>().unwrap(),
            r#"{"id": 2, "items": []}"#
        );
        assert_eq!(
            p.deserialize::<Option<String>>().unwrap().as_deref(),
            Some(r#"{"id": 2, "items": []}"#)
        );
        assert_eq!(
            p.deserialize::<Wrapper>().unwrap(),
            Wrapper(r#"{"id": 2, "items": []}"#.into())
        );
        assert_eq!(
            p.deserialize::<Order>().unwrap(),
            Order {
                id: 2,
                items: vec![]
            }
        );
        assert_eq!(
            p.deserialize::<Value>().unwrap(),
            json!({"id": 2, "items": []})
        );
        // Text that is a JSON string: `String` still gets the text verbatim (quotes included).
        let quoted = Payload::Text(r#""hi""#.into());
        assert_eq!(quoted.deserialize::<String>().unwrap(), r#""hi""#);
        assert_eq!(quoted.deserialize::<Value>().unwrap(), json!("hi"));

        let plain = Payload::Text("hello world".into());
        assert_eq!(plain.deserialize::<Value>().unwrap(), json!("hello world"));
        assert_eq!(Payload::Text("5".into()).deserialize::<u32>().unwrap(), 5);
        assert_eq!(
            Payload::Text("[1, 2]".into())
                .deserialize::<Vec<u8>>()
                .unwrap(),
            vec![1, 2]
        );
        assert_eq!(
            Payload::Text("done".into())
                .deserialize::<Status>()
                .unwrap(),
            Status::Done
        );
        assert_eq!(
            Payload::Text(r#""started""#.into())
                .deserialize::<Status>()
                .unwrap(),
            Status::Started
        );
        assert_eq!(
            Payload::Text("x".into()).deserialize::<char>().unwrap(),
            'x'
        );

        let err = plain.deserialize::<Order>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("(text)") && msg.contains("Order"), "{msg}");
        assert!(msg.contains("not valid JSON"), "{msg}");
    }

    #[test]
    fn bytes_payloads_deserialize_into_bytes_text_or_json() {
        let p = Payload::Bytes(Bytes::from_static(b"\x00\x01\xfe"));
        assert_eq!(p.deserialize::<Vec<u8>>().unwrap(), vec![0, 1, 254]);
        let err = p.deserialize::<String>().unwrap_err();
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
        let err = p.deserialize::<Order>().unwrap_err();
        assert!(err.to_string().contains("(bytes)"), "{err}");

        let utf8 = Payload::Bytes(Bytes::from_static(br#"{"id": 3, "items": ["x"]}"#));
        assert_eq!(
            utf8.deserialize::<String>().unwrap(),
            r#"{"id": 3, "items": ["x"]}"#
        );
        assert_eq!(utf8.deserialize::<Order>().unwrap().id, 3);
        assert_eq!(
            utf8.deserialize::<Vec<u8>>().unwrap(),
            br#"{"id": 3, "items": ["x"]}"#.to_vec()
        );
        // A sequence of u8 larger than a byte fails through serde, not silently.
        assert!(p.deserialize::<Vec<bool>>().is_err());
    }

    #[test]
    fn from_serialize_produces_json() {
        let p = Payload::from_serialize(&Order {
            id: 9,
            items: vec!["åäö".into()],
        })
        .unwrap();
        assert_eq!(p, Payload::Json(json!({"id": 9, "items": ["åäö"]})));
        assert_eq!(
            Payload::from_serialize("text").unwrap(),
            Payload::Json(json!("text"))
        );
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1u8], 1);
        let err = Payload::from_serialize(&bad).unwrap_err();
        assert_eq!(err.kind(), super::super::EnvelopeErrorKind::Build);
        assert!(err.to_string().contains("HashMap"), "{err}");
    }
}
