//! One pass over a received JsonBase document: only the keys `JsonBase::parse_message` reads
//! are materialised (`service.name`/`uuid`, the five `metadata` keys, `data`); every other key
//! is skipped without building a value, and no intermediate map of the whole document is made.
//!
//! The semantics are Python's `JsonBase.parse_message`: missing keys read as `null`; a
//! `service` or `metadata` that is present but not an object (`null` included) is an error; a
//! body that is not a JSON object is an error. Repeated keys keep the last value, like
//! `json.loads`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// `service` keys, in the order of the parsed message.
pub(super) const SERVICE_KEYS: [&str; 2] = ["name", "uuid"];
/// `metadata` keys, in the order of the parsed message.
pub(super) const METADATA_KEYS: [&str; 5] = [
    "message_uuid",
    "protocol_version",
    "timestamp",
    "topic",
    "data_encoding",
];

/// The parts of a JsonBase document the envelope reads.
#[derive(Debug, Default)]
pub(super) struct Wire {
    /// `service.name`, `service.uuid` (`null` when missing).
    pub(super) service: [Value; 2],
    /// The [`METADATA_KEYS`] values (`null` when missing).
    pub(super) metadata: [Value; 5],
    /// `data`, if present.
    pub(super) data: Option<Value>,
}

/// Indices into [`Wire::metadata`] of the keys the envelope reads.
pub(super) const MESSAGE_UUID: usize = 0;
pub(super) const TIMESTAMP: usize = 2;
pub(super) const DATA_ENCODING: usize = 4;

/// The `visit_*` methods of a visitor that accepts only JSON objects: each other kind is an
/// error with `self.not_an_object("<kind>")`'s text.
macro_rules! reject_non_objects {
    () => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom(self.not_an_object("null")))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom(self.not_an_object("a boolean")))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom(self.not_an_object("a number")))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom(self.not_an_object("a number")))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom(self.not_an_object("a number")))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom(self.not_an_object("a string")))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom(self.not_an_object("an array")))
        }
    };
}

/// Parses `body`; errors are serde_json errors: syntax errors for text that is not JSON, data
/// errors (`Category::Data`) for JSON that is not a JsonBase document.
pub(super) fn parse(body: &str) -> Result<Wire, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(body);
    let wire = de.deserialize_any(DocumentVisitor)?;
    de.end()?;
    Ok(wire)
}

/// Which of a section's keys a map key is.
struct KeyIndex<'k> {
    keys: &'k [&'static str],
}

impl<'de> DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.keys.iter().position(|k| *k == key))
    }
}

/// A `service` or `metadata` object: its known keys' values, the rest skipped.
struct Section<const N: usize> {
    name: &'static str,
    keys: &'static [&'static str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for Section<N> {
    type Value = [Value; N];

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Section<N> {
    type Value = [Value; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the JsonBase {} object", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: [Value; N] = std::array::from_fn(|_| Value::Null);
        while let Some(index) = map.next_key_seed(KeyIndex { keys: self.keys })? {
            match index {
                Some(i) => values[i] = map.next_value()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }

    reject_non_objects!();
}

impl<const N: usize> Section<N> {
    fn not_an_object(&self, unexpected: &str) -> String {
        format!(
            "JsonBase message's \"{}\" is not an object but {unexpected}",
            self.name
        )
    }
}

/// The whole document.
struct DocumentVisitor;

const TOP_KEYS: [&str; 3] = ["service", "metadata", "data"];

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Wire;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JsonBase message (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire, A::Error> {
        let mut wire = Wire::default();
        while let Some(index) = map.next_key_seed(KeyIndex { keys: &TOP_KEYS })? {
            match index {
                Some(0) => {
                    wire.service = map.next_value_seed(Section {
                        name: "service",
                        keys: &SERVICE_KEYS,
                    })?
                }
                Some(1) => {
                    wire.metadata = map.next_value_seed(Section {
                        name: "metadata",
                        keys: &METADATA_KEYS,
                    })?
                }
                Some(_) => wire.data = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(wire)
    }

    reject_non_objects!();
}

impl DocumentVisitor {
    fn not_an_object(&self, unexpected: &str) -> String {
        format!("JsonBase message is not a JSON object but {unexpected}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_only_the_known_keys_and_keeps_the_last_of_repeated_ones() {
        let wire = parse(
            r#"{"x": {"deep": [1, {"y": 2}]}, "service": {"uuid": "u", "other": [], "name": "n"},
                "metadata": {"topic": "a", "topic": "b", "timestamp": 1.5}, "data": {"k": [1]}}"#,
        )
        .unwrap();
        assert_eq!(wire.service, [json!("n"), json!("u")]);
        assert_eq!(wire.metadata[3], json!("b"), "topic");
        assert_eq!(wire.metadata[TIMESTAMP], json!(1.5));
        assert_eq!(wire.metadata[MESSAGE_UUID], Value::Null);
        assert_eq!(wire.data, Some(json!({"k": [1]})));
    }

    #[test]
    fn keys_with_escapes_are_recognised() {
        let wire = parse(r#"{"d\u0061ta": 1, "service": {"n\u0061me": "x"}}"#).unwrap();
        assert_eq!(wire.data, Some(json!(1)));
        assert_eq!(wire.service[0], json!("x"));
    }

    #[test]
    fn trailing_text_is_a_syntax_error() {
        let err = parse(r#"{"data": 1} x"#).unwrap_err();
        assert!(err.is_syntax(), "{err}");
        let err = parse(r#"{"data": 1"#).unwrap_err();
        assert!(err.is_eof(), "{err}");
        let err = parse(r#"[1, 2]"#).unwrap_err();
        assert!(err.is_data(), "{err}");
    }
}
