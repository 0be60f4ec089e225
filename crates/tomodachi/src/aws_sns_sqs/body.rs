//! SQS message bodies: the SNS notification wrapper a subscribed
//! queue receives (raw message delivery is off), and the body `sqs_send_message` writes, which
//! has the same shape with `"Type": "Message"`.

use serde_json::{Map, Value};

use super::attributes::{body_attributes_json, MessageAttributes};

/// Upstream's internal drain marker: a message whose `Message` is this text is deleted without
/// running a handler.
pub const DRAIN_MARKER: &str = "__TOMODACHI_DRAIN__cdab4416-1727-4603-87c9-0ff8dddf1f22__";

/// The parts of a received body tomodachi reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notification {
    /// `Type`: `Notification` (SNS) or `Message` (`sqs_send_message`).
    pub kind: Option<String>,
    /// `TopicArn` (SNS notifications only).
    pub topic_arn: Option<String>,
    /// `Message`: the envelope text. A non-text value that Python would call truthy (a
    /// number, a non-empty object or list, `true`) is kept as its JSON text, since upstream
    /// hands it to the envelope too; `null`, `false`, `0`, `[]` and `{}` count as missing.
    pub message: Option<String>,
    /// `MessageId`: the SNS message id (or the one `sqs_send_message` bodies lack).
    pub message_id: Option<String>,
    /// `Timestamp`: ISO 8601 text.
    pub timestamp: Option<String>,
    /// `MessageAttributes`: the notification form, decoded with
    /// [`decode_body_attributes`](super::attributes::decode_body_attributes).
    pub message_attributes: Option<Value>,
}

/// Why a body is not a tomodachi message body.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyError {
    /// Not JSON (the parser's error text). Upstream deletes such a message with the warning
    /// `unsupported format of message body`.
    NotJson(String),
    /// JSON, but not an object (upstream fails the whole receive batch there).
    NotObject,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::NotJson(e) => write!(f, "the message body is not JSON: {e}"),
            BodyError::NotObject => f.write_str("the message body is not a JSON object"),
        }
    }
}

impl std::error::Error for BodyError {}

fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Python's truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Reads a received SQS body: `Type`, `TopicArn`, `Message`, `MessageId`, `Timestamp` and
/// `MessageAttributes` of the JSON object.
pub fn unwrap_body(body: &str) -> Result<Notification, BodyError> {
    let value: Value = serde_json::from_str(body).map_err(|e| BodyError::NotJson(e.to_string()))?;
    let Value::Object(m) = value else {
        return Err(BodyError::NotObject);
    };
    let message = match m.get("Message") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) if truthy(other) => Some(crate::envelope::to_python_json(other)),
        _ => None,
    };
    Ok(Notification {
        kind: text(&m, "Type"),
        topic_arn: text(&m, "TopicArn"),
        message,
        message_id: text(&m, "MessageId"),
        timestamp: text(&m, "Timestamp"),
        message_attributes: m.get("MessageAttributes").cloned(),
    })
}

impl Notification {
    /// An SNS delivery: a non-empty `TopicArn` and `Type` `Notification`. Only then do
    /// handlers get a `topic` and an `sns_message_id`.
    pub fn is_sns_notification(&self) -> bool {
        self.topic_arn.as_deref().is_some_and(|a| !a.is_empty())
            && self.kind.as_deref() == Some("Notification")
    }

    /// The text to hand to the envelope: `None` if missing, empty or the drain marker (the
    /// message is then deleted without running a handler).
    pub fn payload(&self) -> Option<&str> {
        self.message
            .as_deref()
            .filter(|m| !m.is_empty() && *m != DRAIN_MARKER)
    }
}

/// ISO 8601 UTC with milliseconds (truncated, as Python's `isoformat(timespec="milliseconds")`)
/// and `Z`, e.g. `2024-02-20T10:00:00.123Z`.
pub fn iso_timestamp_millis(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The body `sqs_send_message` sends (upstream's default formatter), as Python's
/// `json.dumps` writes it: `{"Type": "Message", "QueueUrl": .., "Version": "0", "Message": ..,
/// "Timestamp": .., "MessageAttributes": {<name>: {"Type": .., "Value": ..}}}`.
///
/// The attributes appear sorted by name (upstream keeps the caller's dict order; JSON readers
/// do not care).
pub fn sqs_message_body(
    queue_url: &str,
    message: &str,
    timestamp: chrono::DateTime<chrono::Utc>,
    attributes: &MessageAttributes,
) -> String {
    let mut m = Map::new();
    m.insert("Type".into(), "Message".into());
    m.insert("QueueUrl".into(), queue_url.into());
    m.insert("Version".into(), "0".into());
    m.insert("Message".into(), message.into());
    m.insert("Timestamp".into(), iso_timestamp_millis(timestamp).into());
    m.insert("MessageAttributes".into(), body_attributes_json(attributes));
    crate::envelope::to_python_json(&Value::Object(m))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::attributes::{decode_body_attributes, AttributeValue};
    use super::*;

    fn at(millis: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 22, 7, 11, 41)
            .unwrap()
            + chrono::Duration::milliseconds(millis)
    }

    /// the typical body SNS delivers to a subscribed queue.
    #[test]
    fn sns_notifications() {
        let body = r#"{"Type": "Notification", "MessageId": "6bd1c5e4-8ac4-5f43-95e4-5d2b4f6a8c1e", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:pre-test___2e_topic", "Message": "{\"service\": {\"name\": \"awsprobe\"}, \"data\": \"\\u00e5\"}", "Timestamp": "2023-08-13T17:44:09.176Z", "SignatureVersion": "1", "Signature": "EXAMPLE==", "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem", "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe", "MessageAttributes": {"currency": {"Type": "String", "Value": "SEK"}, "b": {"Type": "Binary", "Value": "eHk="}}}"#;
        let n = unwrap_body(body).unwrap();
        assert!(n.is_sns_notification());
        assert_eq!(n.kind.as_deref(), Some("Notification"));
        assert_eq!(
            n.topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:123456789012:pre-test___2e_topic")
        );
        assert_eq!(
            n.payload(),
            Some(r#"{"service": {"name": "awsprobe"}, "data": "\u00e5"}"#)
        );
        assert_eq!(
            n.message_id.as_deref(),
            Some("6bd1c5e4-8ac4-5f43-95e4-5d2b4f6a8c1e")
        );
        assert_eq!(n.timestamp.as_deref(), Some("2023-08-13T17:44:09.176Z"));
        let attrs = decode_body_attributes(n.message_attributes.as_ref().unwrap());
        assert_eq!(attrs["currency"], AttributeValue::from("SEK"));
        assert_eq!(attrs["b"], AttributeValue::Binary(b"xy".to_vec()));

        // FIFO topics add SequenceNumber; signature fields may be absent
        let fifo = r#"{"Type": "Notification", "MessageId": "m", "SequenceNumber": "10000000000000003000", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:fifo-topic.fifo", "Message": "hello", "Timestamp": "2026-11-22T07:11:41.406Z", "UnsubscribeURL": "http://localhost"}"#;
        let n = unwrap_body(fifo).unwrap();
        assert!(n.is_sns_notification());
        assert_eq!(n.payload(), Some("hello"));
        assert_eq!(n.message_attributes, None);
    }

    #[test]
    fn not_notifications() {
        let n =
            unwrap_body(r#"{"Type": "Message", "TopicArn": "arn:aws:sns:r:1:t", "Message": "m"}"#)
                .unwrap();
        assert!(!n.is_sns_notification());
        let n = unwrap_body(r#"{"Type": "Notification", "Message": "m"}"#).unwrap();
        assert!(!n.is_sns_notification());
        assert_eq!(n.payload(), Some("m"));
        let n = unwrap_body(r#"{"Type": "Notification", "TopicArn": "", "Message": "m"}"#).unwrap();
        assert!(!n.is_sns_notification());
        let n = unwrap_body(r#"{"TopicArn": "arn:aws:sns:r:1:t", "Message": "m"}"#).unwrap();
        assert!(!n.is_sns_notification());
        assert_eq!(n.kind, None);
    }

    #[test]
    fn bad_bodies() {
        match unwrap_body("nope") {
            Err(BodyError::NotJson(e)) => assert!(!e.is_empty()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(unwrap_body(""), Err(BodyError::NotJson(_))));
        assert!(matches!(
            unwrap_body(r#"{"Message": "x""#),
            Err(BodyError::NotJson(_))
        ));
        assert_eq!(unwrap_body("[1, 2]"), Err(BodyError::NotObject));
        assert_eq!(unwrap_body("5"), Err(BodyError::NotObject));
        assert_eq!(unwrap_body(r#""text""#), Err(BodyError::NotObject));
        assert_eq!(unwrap_body("null"), Err(BodyError::NotObject));
        assert_eq!(
            BodyError::NotObject.to_string(),
            "the message body is not a JSON object"
        );
        assert!(
            BodyError::NotJson("expected value at line 1 column 1".into())
                .to_string()
                .ends_with(": expected value at line 1 column 1")
        );
        let as_error: &dyn std::error::Error = &BodyError::NotObject;
        assert!(as_error.source().is_none());
    }

    #[test]
    fn payloads() {
        let n = unwrap_body(r#"{"Type": "Notification"}"#).unwrap();
        assert_eq!(n.payload(), None);
        assert_eq!(
            n,
            Notification {
                kind: Some("Notification".into()),
                ..Notification::default()
            }
        );
        assert_eq!(unwrap_body(r#"{"Message": ""}"#).unwrap().payload(), None);
        assert_eq!(unwrap_body(r#"{"Message": null}"#).unwrap().payload(), None);
        let drain = format!(
            r#"{{"Type": "Notification", "TopicArn": "arn:aws:sns:r:1:t", "Message": "{DRAIN_MARKER}"}}"#
        );
        let n = unwrap_body(&drain).unwrap();
        assert_eq!(n.message.as_deref(), Some(DRAIN_MARKER));
        assert_eq!(n.payload(), None);
        // non-text messages as upstream's truthiness sees them
        assert_eq!(unwrap_body(r#"{"Message": {}}"#).unwrap().payload(), None);
        assert_eq!(unwrap_body(r#"{"Message": 0}"#).unwrap().payload(), None);
        assert_eq!(
            unwrap_body(r#"{"Message": false}"#).unwrap().payload(),
            None
        );
        assert_eq!(
            unwrap_body(r#"{"Message": {"a": "ä"}}"#).unwrap().payload(),
            Some(r#"{"a": "\u00e4"}"#)
        );
        assert_eq!(
            unwrap_body(r#"{"Message": 5}"#).unwrap().payload(),
            Some("5")
        );
        // other non-text fields are ignored
        let n =
            unwrap_body(r#"{"Type": 1, "TopicArn": 2, "MessageId": 3, "Timestamp": 4}"#).unwrap();
        assert_eq!(n, Notification::default());
    }

    #[test]
    fn timestamps() {
        assert_eq!(iso_timestamp_millis(at(406)), "2026-11-22T07:11:41.406Z");
        assert_eq!(iso_timestamp_millis(at(0)), "2026-11-22T07:11:41.000Z");
        // truncated like Python's isoformat(timespec="milliseconds")
        let t = at(406) + chrono::Duration::microseconds(999);
        assert_eq!(iso_timestamp_millis(t), "2026-11-22T07:11:41.406Z");
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(iso_timestamp_millis(t), "2026-01-02T03:04:05.000Z");
    }

    /// the body of `sqs_send_message(self, "hello", "direct", message_attributes={"k":
    /// "v", "n": 2})`.
    #[test]
    fn send_message_body_as_upstream() {
        let mut attrs = MessageAttributes::new();
        attrs.insert("n".into(), 2.into());
        attrs.insert("k".into(), "v".into());
        let body = sqs_message_body(
            "http://127.0.0.1:5000/123456789012/qp-direct",
            r#"{"x": "y"}"#,
            at(406),
            &attrs,
        );
        assert_eq!(
            body,
            r#"{"Type": "Message", "QueueUrl": "http://127.0.0.1:5000/123456789012/qp-direct", "Version": "0", "Message": "{\"x\": \"y\"}", "Timestamp": "2026-11-22T07:11:41.406Z", "MessageAttributes": {"k": {"Type": "String", "Value": "v"}, "n": {"Type": "Number", "Value": "2"}}}"#
        );
        let n = unwrap_body(&body).unwrap();
        assert_eq!(n.kind.as_deref(), Some("Message"));
        assert!(!n.is_sns_notification());
        assert_eq!(n.payload(), Some(r#"{"x": "y"}"#));
        assert_eq!(n.timestamp.as_deref(), Some("2026-11-22T07:11:41.406Z"));
        assert_eq!(n.message_id, None);
        assert_eq!(
            decode_body_attributes(n.message_attributes.as_ref().unwrap()),
            attrs
        );
    }

    /// Compared with the text Python tomodachi 0.29's formatter writes for the same values.
    #[test]
    fn send_message_body_escapes_as_python() {
        let mut attrs = MessageAttributes::new();
        attrs.insert("n".into(), 2.into());
        attrs.insert("k".into(), "v".into());
        attrs.insert("b".into(), b"xy".as_slice().into());
        attrs.insert("t".into(), true.into());
        attrs.insert("l".into(), AttributeValue::list(["å"]));
        let body = sqs_message_body(
            "http://localhost:5000/123456789012/qp-direct",
            "{\"data\": \"åäö 😀\", \"x\": \"\\n\"}",
            at(406) + chrono::Duration::microseconds(999),
            &attrs,
        );
        assert_eq!(
            body,
            r#"{"Type": "Message", "QueueUrl": "http://localhost:5000/123456789012/qp-direct", "Version": "0", "Message": "{\"data\": \"\u00e5\u00e4\u00f6 \ud83d\ude00\", \"x\": \"\\n\"}", "Timestamp": "2026-11-22T07:11:41.406Z", "MessageAttributes": {"b": {"Type": "Binary", "Value": "eHk="}, "k": {"Type": "String", "Value": "v"}, "l": {"Type": "String.Array", "Value": "[\"\\u00e5\"]"}, "n": {"Type": "Number", "Value": "2"}, "t": {"Type": "String.Array", "Value": "true"}}}"#
        );
        assert_eq!(
            unwrap_body(&body).unwrap().payload(),
            Some("{\"data\": \"åäö 😀\", \"x\": \"\\n\"}")
        );
        let empty = sqs_message_body("u", "", at(0), &MessageAttributes::new());
        assert_eq!(
            empty,
            r#"{"Type": "Message", "QueueUrl": "u", "Version": "0", "Message": "", "Timestamp": "2026-11-22T07:11:41.000Z", "MessageAttributes": {}}"#
        );
    }
}
