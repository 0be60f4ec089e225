//! The JsonBase envelope (`tomodachi-json-base--1.0.0`), byte-compatible with Python
//! tomodachi's `tomodachi.envelope.JsonBase`.

use std::io::Write;

use base64::Engine as _;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{Map, Value};

use super::json_base_wire as wire;
use super::pyjson::{write_f64, write_str};
use super::{Envelope, EnvelopeError, ParsedMessage, Payload, ServiceIdentity};

/// The JSON envelope of Python tomodachi (`tomodachi.envelope.JsonBase`,
/// protocol `tomodachi-json-base--1.0.0`).
///
/// Built messages are byte-for-byte what Python's `JsonBase.build_message` produces for the
/// same service, topic, data, message uuid and timestamp:
///
/// ```text
/// {"service": {"name": "svc", "uuid": "<uuid>"}, "metadata": {"message_uuid": "<uuid>.<uuid4>",
///  "protocol_version": "tomodachi-json-base--1.0.0", "compatible_protocol_versions":
///  ["json_base-wip"], "timestamp": 1795330604.854375, "topic": "orders", "data_encoding": "raw"},
///  "data": <data>}
/// ```
///
/// (one line, `json.dumps` formatting, see [`to_python_json`](super::to_python_json)). Data
/// whose JSON text is 60000 characters or longer is sent as base64 of a zlib stream with
/// `data_encoding` `"base64_gzip_json"`.
///
/// ```
/// use serde_json::json;
/// use tomodachi::envelope::{Envelope, JsonBase, Payload, ServiceIdentity};
///
/// let service = ServiceIdentity::new("orders", "8dbc8a13-9e2c-4dc5-bd8b-0be55f2b7d53");
/// let body = JsonBase.build_message(&service, "order.created", &Payload::Json(json!({"id": 1})))?;
/// let parsed = JsonBase.parse_message(&body)?;
/// assert_eq!(parsed.data, Payload::Json(json!({"id": 1})));
/// assert_eq!(parsed.message()["metadata"]["topic"], "order.created");
/// assert!(parsed.message_uuid.unwrap().starts_with("8dbc8a13-9e2c-4dc5-bd8b-0be55f2b7d53."));
/// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonBase;

impl JsonBase {
    /// The `metadata.protocol_version` this envelope writes.
    pub const PROTOCOL_VERSION: &'static str = "tomodachi-json-base--1.0.0";

    /// Serialised data of this many characters or more is compressed (Python: `>= 60000`).
    pub const COMPRESSION_THRESHOLD: usize = 60000;

    /// `data_encoding` of data embedded as a JSON value.
    pub const ENCODING_RAW: &'static str = "raw";

    /// `data_encoding` of compressed data (base64 of a zlib stream, despite the name).
    pub const ENCODING_BASE64_GZIP_JSON: &'static str = "base64_gzip_json";

    /// [`build_message`](Envelope::build_message) with a given message uuid4 and timestamp
    /// instead of fresh ones: deterministic output, for tests and parity checks.
    ///
    /// `uuid4` is the part after `"<service uuid>."` in `metadata.message_uuid`; `timestamp`
    /// is seconds since the Unix epoch.
    ///
    /// ```
    /// use serde_json::json;
    /// use tomodachi::envelope::{JsonBase, Payload, ServiceIdentity};
    ///
    /// let body = JsonBase.build_message_with(
    ///     &ServiceIdentity::new("svc", "u"),
    ///     "topic",
    ///     &Payload::Json(json!({"å": [1, 2.0]})),
    ///     "a5e9b8f8-7f3c-4ec4-a0a4-dc4ea7c1e2b0",
    ///     1700000000.5,
    /// )?;
    /// assert_eq!(
    ///     body,
    ///     r#"{"service": {"name": "svc", "uuid": "u"}, "metadata": {"message_uuid": "u.a5e9b8f8-7f3c-4ec4-a0a4-dc4ea7c1e2b0", "protocol_version": "tomodachi-json-base--1.0.0", "compatible_protocol_versions": ["json_base-wip"], "timestamp": 1700000000.5, "topic": "topic", "data_encoding": "raw"}, "data": {"\u00e5": [1, 2.0]}}"#
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
        let data_json = data.to_python_json("JsonBase")?;
        let (encoding, data_text) = if data_json.len() >= Self::COMPRESSION_THRESHOLD {
            let compressed = zlib_compress(data_json.as_bytes())?;
            let mut quoted = String::with_capacity(compressed.len() * 4 / 3 + 8);
            write_str(
                &mut quoted,
                &base64::engine::general_purpose::STANDARD.encode(compressed),
            );
            (Self::ENCODING_BASE64_GZIP_JSON, quoted)
        } else {
            (Self::ENCODING_RAW, data_json)
        };

        let mut out = String::with_capacity(data_text.len() + 400);
        out.push_str(r#"{"service": {"name": "#);
        write_str(&mut out, service.name);
        out.push_str(r#", "uuid": "#);
        write_str(&mut out, service.uuid);
        out.push_str(r#"}, "metadata": {"message_uuid": "#);
        write_str(&mut out, &format!("{}.{}", service.uuid, uuid4));
        out.push_str(r#", "protocol_version": "#);
        write_str(&mut out, Self::PROTOCOL_VERSION);
        out.push_str(r#", "compatible_protocol_versions": ["json_base-wip"], "timestamp": "#);
        write_f64(&mut out, timestamp);
        out.push_str(r#", "topic": "#);
        write_str(&mut out, topic);
        out.push_str(r#", "data_encoding": "#);
        write_str(&mut out, encoding);
        out.push_str(r#"}, "data": "#);
        out.push_str(&data_text);
        out.push('}');
        Ok(out)
    }
}

impl Envelope for JsonBase {
    fn name(&self) -> &str {
        "JsonBase"
    }

    /// Builds the message with a fresh uuid4 and the current time; see
    /// [`JsonBase::build_message_with`].
    ///
    /// Fails for [`Payload::Bytes`] (Python's `json.dumps` rejects `bytes` too).
    fn build_message(
        &self,
        service: &ServiceIdentity<'_>,
        topic: &str,
        data: &Payload,
    ) -> Result<String, EnvelopeError> {
        let (uuid4, now) = super::fresh_stamp();
        self.build_message_with(service, topic, data, &uuid4, now)
    }

    /// Parses like Python's `JsonBase.parse_message`: missing keys read as `null`, an unknown
    /// or missing `data_encoding` gives `null` data (no error). Errors: the body is not JSON
    /// or not a JSON object, `service` / `metadata` is present but not an object, or
    /// compressed data is not a string of valid base64 / zlib / UTF-8 / JSON.
    fn parse_message(&self, payload: &str) -> Result<ParsedMessage, EnvelopeError> {
        let parsed = wire::parse(payload).or_else(|e| {
            // Python's `json.dumps` writes NaN / Infinity: read them as null (a second pass
            // only for documents that failed)
            match (
                e.is_data(),
                super::non_finite::nulls_for_non_finite(payload),
            ) {
                (false, Some(text)) => wire::parse(&text).map_err(|_| e),
                _ => Err(e),
            }
        });
        let mut wire = parsed.map_err(|e| {
            if e.is_data() {
                EnvelopeError::parse(e.to_string())
            } else {
                EnvelopeError::parse(format!("JsonBase message is not JSON: {e}"))
            }
        })?;
        let message_uuid = wire.metadata[wire::MESSAGE_UUID]
            .as_str()
            .map(str::to_owned);
        let timestamp = wire.metadata[wire::TIMESTAMP].as_f64();
        let encoding = wire.metadata[wire::DATA_ENCODING].as_str();
        let data = match encoding {
            Some(Self::ENCODING_RAW) => wire.data.take().unwrap_or(Value::Null),
            Some(Self::ENCODING_BASE64_GZIP_JSON) => match &wire.data {
                Some(Value::String(encoded)) => decode_compressed(encoded)?,
                other => {
                    return Err(EnvelopeError::parse(format!(
                    "JsonBase data with data_encoding \"base64_gzip_json\" is not a string but {}",
                    other.as_ref().map_or("missing", json_type)
                )))
                }
            },
            _ => Value::Null,
        };

        let mut parsed = ParsedMessage::json_base(wire.service, wire.metadata, Payload::Json(data));
        parsed.message_uuid = message_uuid;
        parsed.timestamp = timestamp;
        Ok(parsed)
    }
}

/// The whole JsonBase message from its parts (see [`ParsedMessage::message`]).
pub(super) fn assemble_message(
    service_values: &[Value; 2],
    metadata_values: &[Value; 5],
    data: &Payload,
) -> Value {
    let mut service = Map::with_capacity(2);
    for (key, value) in wire::SERVICE_KEYS.into_iter().zip(service_values) {
        service.insert(key.into(), value.clone());
    }
    let mut metadata = Map::with_capacity(wire::METADATA_KEYS.len());
    for (key, value) in wire::METADATA_KEYS.into_iter().zip(metadata_values) {
        metadata.insert(key.into(), value.clone());
    }
    let mut message = Map::with_capacity(3);
    message.insert("service".into(), Value::Object(service));
    message.insert("metadata".into(), Value::Object(metadata));
    message.insert(
        "data".into(),
        data.as_json().cloned().unwrap_or(Value::Null),
    );
    Value::Object(message)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn zlib_compress(bytes: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::new(6));
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| EnvelopeError::build(format!("JsonBase cannot compress data: {e}")))
}

/// base64 → zlib → UTF-8 → JSON, like Python's
/// `json.loads(zlib.decompress(base64.b64decode(data)).decode("utf-8"))`, inflating at most
/// [`max_inflated_size`](super::max_inflated_size) bytes (a decompression bomb is a parse
/// failure, not gigabytes).
fn decode_compressed(encoded: &str) -> Result<Value, EnvelopeError> {
    // `base64.b64decode` (non-strict) skips characters outside the alphabet, e.g. newlines.
    let cleaned: Vec<u8> = encoded
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .collect();
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .map_err(|e| EnvelopeError::parse(format!("JsonBase data is not valid base64: {e}")))?;
    let text = super::inflate::inflate_capped(&compressed, super::max_inflated_size(), "JsonBase")?;
    let text = String::from_utf8(text)
        .map_err(|e| EnvelopeError::parse(format!("JsonBase compressed data is not UTF-8: {e}")))?;
    serde_json::from_str(&text)
        .or_else(|e| match super::non_finite::nulls_for_non_finite(&text) {
            Some(text) => serde_json::from_str(&text).map_err(|_| e),
            None => Err(e),
        })
        .map_err(|e| EnvelopeError::parse(format!("JsonBase compressed data is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SERVICE_UUID: &str = "0d4f9d7a-3c5c-4a8e-9a43-5f2f0ab1c0de";
    const UUID4: &str = "6f1c1b5e-2f4d-4c3a-9e8b-7a6d5c4b3a29";

    fn service() -> ServiceIdentity<'static> {
        ServiceIdentity::new("test-service", SERVICE_UUID)
    }

    fn build(data: Payload) -> String {
        JsonBase
            .build_message_with(&service(), "some-topic", &data, UUID4, 1795330604.854375)
            .unwrap()
    }

    #[test]
    fn builds_the_exact_python_document() {
        let body = build(Payload::Json(
            json!({"b": [1, 2.5, null, true], "a": "åäö 😀"}),
        ));
        let expected = format!(
            concat!(
                r#"{{"service": {{"name": "test-service", "uuid": "{u}"}}, "metadata": "#,
                r#"{{"message_uuid": "{u}.{m}", "protocol_version": "tomodachi-json-base--1.0.0", "#,
                r#""compatible_protocol_versions": ["json_base-wip"], "timestamp": 1795330604.854375, "#,
                r#""topic": "some-topic", "data_encoding": "raw"}}, "#,
                r#""data": {{"b": [1, 2.5, null, true], "a": "\u00e5\u00e4\u00f6 \ud83d\ude00"}}}}"#
            ),
            u = SERVICE_UUID,
            m = UUID4
        );
        assert_eq!(body, expected);
        assert!(body.is_ascii());
    }

    #[test]
    fn text_payloads_are_json_strings_and_bytes_are_rejected() {
        let body = build(Payload::Text("hej \"du\"".into()));
        assert!(body.ends_with(r#""data": "hej \"du\""}"#), "{body}");
        let err = JsonBase
            .build_message_with(&service(), "t", &Payload::Bytes(vec![1].into()), UUID4, 1.0)
            .unwrap_err();
        assert_eq!(err.kind(), super::super::EnvelopeErrorKind::Build);
        assert!(err.to_string().contains("raw bytes"), "{err}");
    }

    #[test]
    fn fresh_message_uuid_is_service_uuid_dot_uuid4() {
        let body = JsonBase
            .build_message(&service(), "t", &Payload::Json(json!(1)))
            .unwrap();
        let parsed = JsonBase.parse_message(&body).unwrap();
        let message_uuid = parsed.message_uuid.unwrap();
        assert_eq!(message_uuid.len(), 73);
        assert_eq!(&message_uuid[..36], SERVICE_UUID);
        assert_eq!(&message_uuid[36..37], ".");
        let uuid4 = uuid::Uuid::parse_str(&message_uuid[37..]).unwrap();
        assert_eq!(uuid4.get_version_num(), 4);
        assert_eq!(uuid4.to_string(), &message_uuid[37..]);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let ts = parsed.timestamp.unwrap();
        assert!(
            (now - ts).abs() < 60.0 && ts.fract() != 0.0,
            "{ts} vs {now}"
        );
        let other = JsonBase
            .build_message(&service(), "t", &Payload::Json(json!(1)))
            .unwrap();
        assert_ne!(
            JsonBase
                .parse_message(&other)
                .unwrap()
                .message_uuid
                .unwrap(),
            message_uuid
        );
    }

    /// A string of `n` ASCII letters serialises to `n + 2` characters.
    fn text_of_serialized_len(len: usize) -> Payload {
        Payload::Json(Value::String("x".repeat(len - 2)))
    }

    #[test]
    fn compression_starts_at_exactly_60000_serialized_chars() {
        let below = build(text_of_serialized_len(59999));
        assert!(below.contains(r#""data_encoding": "raw""#));
        assert!(below.ends_with(&format!("\"data\": \"{}\"}}", "x".repeat(59997))));

        let at = build(text_of_serialized_len(60000));
        assert!(at.contains(r#""data_encoding": "base64_gzip_json""#));
        assert!(at.len() < 2000, "compressed: {} chars", at.len());
        let doc: Value = serde_json::from_str(&at).unwrap();
        let encoded = doc["data"].as_str().unwrap();
        let zlib = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(zlib[0], 0x78, "zlib header, not gzip");
        assert_eq!((u16::from(zlib[0]) << 8 | u16::from(zlib[1])) % 31, 0);
        let parsed = JsonBase.parse_message(&at).unwrap();
        assert_eq!(parsed.data, text_of_serialized_len(60000));

        // Non-ASCII counts escaped: 10000 × "é" is 60002 characters once written as \u00e9.
        let wide = build(Payload::Json(json!("é".repeat(10000))));
        assert!(wide.contains(r#""data_encoding": "base64_gzip_json""#));
        assert_eq!(
            JsonBase.parse_message(&wide).unwrap().data,
            Payload::Json(json!("é".repeat(10000)))
        );
    }

    #[test]
    fn round_trips_all_json_kinds() {
        let values = [
            json!(null),
            json!(true),
            json!(0),
            json!(-17),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.1),
            json!(1e16),
            json!(-1e-7),
            json!("åäö 😀 \u{0} \"\\/"),
            json!([]),
            json!({}),
            json!({"z": {"y": [1, {"x": null}]}, "a": [1.5, "s"]}),
        ];
        for value in values {
            let body = build(Payload::Json(value.clone()));
            let parsed = JsonBase.parse_message(&body).unwrap();
            assert_eq!(parsed.data, Payload::Json(value.clone()));
            assert_eq!(parsed.message()["data"], value);
            assert_eq!(
                parsed.message_uuid.as_deref(),
                Some(&*format!("{SERVICE_UUID}.{UUID4}"))
            );
            assert_eq!(parsed.timestamp, Some(1795330604.854375));
            // Key order of the parsed object survives (preserve_order).
            if let Value::Object(map) = &value {
                let keys: Vec<_> = map.keys().collect();
                let parsed_keys: Vec<_> = parsed.message()["data"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .collect();
                assert_eq!(keys, parsed_keys);
            }
        }
    }

    #[test]
    fn parsed_message_has_exactly_the_python_shape() {
        let body = build(Payload::Json(json!({"k": 1})));
        let parsed = JsonBase.parse_message(&body).unwrap();
        assert_eq!(
            *parsed.message(),
            json!({
                "service": {"name": "test-service", "uuid": SERVICE_UUID},
                "metadata": {
                    "message_uuid": format!("{SERVICE_UUID}.{UUID4}"),
                    "protocol_version": "tomodachi-json-base--1.0.0",
                    "timestamp": 1795330604.854375,
                    "topic": "some-topic",
                    "data_encoding": "raw",
                },
                "data": {"k": 1},
            })
        );
        let keys: Vec<_> = parsed
            .message()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["service", "metadata", "data"]);
        let meta_keys: Vec<_> = parsed.message()["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            meta_keys,
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
    fn parses_documents_with_missing_keys() {
        let parsed = JsonBase
            .parse_message(r#"{"metadata": {"data_encoding": "raw"}, "data": [1]}"#)
            .unwrap();
        assert_eq!(parsed.data, Payload::Json(json!([1])));
        assert_eq!(parsed.message_uuid, None);
        assert_eq!(parsed.timestamp, None);
        assert_eq!(
            *parsed.message(),
            json!({
                "service": {"name": null, "uuid": null},
                "metadata": {"message_uuid": null, "protocol_version": null, "timestamp": null,
                             "topic": null, "data_encoding": "raw"},
                "data": [1],
            })
        );

        let parsed = JsonBase.parse_message("{}").unwrap();
        assert_eq!(parsed.data, Payload::Json(Value::Null));
        assert_eq!(
            parsed.message()["service"],
            json!({"name": null, "uuid": null})
        );

        // raw encoding without data → null data
        let parsed = JsonBase
            .parse_message(
                r#"{"metadata": {"data_encoding": "raw", "message_uuid": "m", "timestamp": 5}}"#,
            )
            .unwrap();
        assert_eq!(parsed.data, Payload::Json(Value::Null));
        assert_eq!(parsed.message_uuid.as_deref(), Some("m"));
        assert_eq!(parsed.timestamp, Some(5.0));
    }

    #[test]
    fn unknown_or_missing_encoding_gives_null_data_without_error() {
        for doc in [
            r#"{"metadata": {"data_encoding": "proto"}, "data": {"a": 1}}"#,
            r#"{"metadata": {"data_encoding": null}, "data": {"a": 1}}"#,
            r#"{"metadata": {"data_encoding": 1}, "data": {"a": 1}}"#,
            r#"{"metadata": {}, "data": {"a": 1}}"#,
            r#"{"data": {"a": 1}}"#,
        ] {
            let parsed = JsonBase.parse_message(doc).unwrap();
            assert_eq!(parsed.data, Payload::Json(Value::Null), "{doc}");
            assert_eq!(parsed.message()["data"], Value::Null, "{doc}");
        }
        // extra keys are dropped, the unknown encoding is reported
        let parsed = JsonBase
            .parse_message(r#"{"x": 1, "metadata": {"data_encoding": "zip", "extra": 2}}"#)
            .unwrap();
        assert_eq!(parsed.message()["metadata"]["data_encoding"], "zip");
        assert!(parsed.message().get("x").is_none());
        assert!(parsed.message()["metadata"].get("extra").is_none());
    }

    #[test]
    fn rejects_non_objects_and_bad_compressed_data() {
        let cases: &[(&str, &str)] = &[
            ("not json", "not JSON"),
            ("", "not JSON"),
            (r#""abc""#, "not a JSON object but a string"),
            ("5", "not a JSON object but a number"),
            ("[1]", "not a JSON object but an array"),
            ("null", "not a JSON object but null"),
            (r#"{"metadata": null}"#, "\"metadata\" is not an object"),
            (r#"{"service": []}"#, "\"service\" is not an object"),
            (
                r#"{"metadata": {"data_encoding": "base64_gzip_json"}, "data": 5}"#,
                "not a string but a number",
            ),
            (
                r#"{"metadata": {"data_encoding": "base64_gzip_json"}}"#,
                "not a string but missing",
            ),
            (
                r#"{"metadata": {"data_encoding": "base64_gzip_json"}, "data": "abc"}"#,
                "not valid base64",
            ),
            (
                r#"{"metadata": {"data_encoding": "base64_gzip_json"}, "data": "aGVsbG8="}"#,
                "not a valid zlib stream",
            ),
        ];
        for (doc, needle) in cases {
            let err = JsonBase.parse_message(doc).unwrap_err();
            assert_eq!(err.kind(), super::super::EnvelopeErrorKind::Parse, "{doc}");
            assert!(err.to_string().contains(needle), "{doc}: {err}");
        }
        // zlib of bytes that are not UTF-8 / not JSON
        for (raw, needle) in [(&b"\xff\xfe"[..], "not UTF-8"), (&b"{nope"[..], "not JSON")] {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(zlib_compress(raw).unwrap());
            let doc = json!({"metadata": {"data_encoding": "base64_gzip_json"}, "data": encoded});
            let err = JsonBase.parse_message(&doc.to_string()).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn compressed_data_tolerates_line_breaks_in_base64_like_python() {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(zlib_compress(br#"{"a": [1, 2]}"#).unwrap());
        let wrapped = format!("{}\n{}", &encoded[..10], &encoded[10..]);
        let doc = json!({"metadata": {"data_encoding": "base64_gzip_json"}, "data": wrapped});
        let parsed = JsonBase.parse_message(&doc.to_string()).unwrap();
        assert_eq!(parsed.data, Payload::Json(json!({"a": [1, 2]})));
    }

    /// A decompression bomb (a JSON string of 200 MiB of spaces, compressed to a few hundred
    /// KiB) is a parse error, and decoding it never holds more than the 64 MiB cap (measured by
    /// the test binary's counting allocator, for this thread only).
    #[test]
    fn a_decompression_bomb_is_a_parse_error_within_the_cap() {
        let mut text = Vec::with_capacity(200 * 1024 * 1024 + 2);
        text.push(b'"');
        text.resize(200 * 1024 * 1024 + 1, b' ');
        text.push(b'"');
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&text).unwrap();
        drop(text);
        let bomb = base64::engine::general_purpose::STANDARD.encode(encoder.finish().unwrap());
        assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
        let doc = json!({"metadata": {"data_encoding": "base64_gzip_json"}, "data": bomb});
        let body = doc.to_string();
        use crate::envelope::MAX_INFLATED_SIZE;
        let (parsed, peak) = crate::test_alloc::peak_during(|| JsonBase.parse_message(&body));
        let err = parsed.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "JsonBase compressed data inflates to more than {MAX_INFLATED_SIZE} bytes \
                 (options.envelope.max_inflated_size)"
            )
        );
        // 200 MiB (and its parsed copy) without the cap; the cap and change with it.
        assert!(
            peak < MAX_INFLATED_SIZE + 8 * 1024 * 1024,
            "the parse held {peak} bytes at once"
        );
    }
}
