//! Raw mode: no envelope, the body is the data.

use super::{Envelope, EnvelopeError, ParsedMessage, Payload, ServiceIdentity};
use serde_json::Value;

/// No envelope (Python tomodachi's "raw mode", `message_envelope=None`): the body is the data.
///
/// * Building: [`Payload::Text`] (or a [`Payload::Json`] string) is sent as-is; any other
///   JSON value is sent as its Python `json.dumps` text (what a Python service publishing raw
///   JSON would write by hand); [`Payload::Bytes`] must be UTF-8 text, since every transport
///   body is a string.
/// * Parsing: `message` is the body as a JSON string, `data` is [`Payload::Text`] of the body,
///   there is no message uuid (so no de-duplication) and no timestamp.
///
/// ```
/// use serde_json::json;
/// use tomodachi::envelope::{Envelope, Payload, Raw, ServiceIdentity};
///
/// let service = ServiceIdentity::new("svc", "uuid");
/// assert_eq!(Raw.build_message(&service, "t", &Payload::Text("hi".into()))?, "hi");
/// assert_eq!(Raw.build_message(&service, "t", &Payload::Json(json!({"a": [1, 2.0]})))?, r#"{"a": [1, 2.0]}"#);
///
/// let parsed = Raw.parse_message("hi")?;
/// assert_eq!(parsed.data, Payload::Text("hi".into()));
/// assert_eq!(*parsed.message(), json!("hi"));
/// assert_eq!(parsed.message_uuid, None);
/// # Ok::<(), tomodachi::envelope::EnvelopeError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Raw;

impl Envelope for Raw {
    fn name(&self) -> &str {
        "Raw"
    }

    fn build_message(
        &self,
        _service: &ServiceIdentity<'_>,
        _topic: &str,
        data: &Payload,
    ) -> Result<String, EnvelopeError> {
        match data {
            Payload::Text(text) | Payload::Json(Value::String(text)) => Ok(text.clone()),
            Payload::Json(_) => data.to_python_json("Raw"),
            Payload::Bytes(bytes) => std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
                EnvelopeError::build(format!(
                    "a raw message body must be UTF-8 text, the bytes are not: {e}"
                ))
            }),
        }
    }

    fn parse_message(&self, payload: &str) -> Result<ParsedMessage, EnvelopeError> {
        Ok(ParsedMessage::raw(payload.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SERVICE: ServiceIdentity<'static> = ServiceIdentity::new("svc", "uuid");

    #[test]
    fn builds_text_as_is_and_json_as_python_text() {
        let b = |p: Payload| Raw.build_message(&SERVICE, "topic", &p);
        assert_eq!(b(Payload::Text("åäö {".into())).unwrap(), "åäö {");
        assert_eq!(b(Payload::Json(json!("åäö"))).unwrap(), "åäö");
        assert_eq!(
            b(Payload::Json(json!({"x": "å", "y": [1e16, null]}))).unwrap(),
            r#"{"x": "\u00e5", "y": [1e+16, null]}"#
        );
        assert_eq!(b(Payload::Json(json!(5))).unwrap(), "5");
        assert_eq!(b(Payload::Bytes("ok".into())).unwrap(), "ok");
        let err = b(Payload::Bytes(vec![0xff].into())).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn parses_anything_as_text() {
        for body in ["", "plain", r#"{"metadata": {}}"#, "5"] {
            let parsed = Raw.parse_message(body).unwrap();
            assert_eq!(*parsed.message(), Value::String(body.into()));
            assert_eq!(parsed.data, Payload::Text(body.into()));
            assert_eq!(parsed.message_uuid, None);
            assert_eq!(parsed.timestamp, None);
        }
    }
}
