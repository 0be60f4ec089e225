//! SNS/SQS message attributes, typed as upstream encodes and decodes them:
//! strings, numbers (integers and floats), binary values and `String.Array` JSON values (lists,
//! booleans, null).
//!
//! ```
//! use tomodachi::aws_sns_sqs::attributes::{AttributeValue, MessageAttributes};
//!
//! let mut attributes = MessageAttributes::new();
//! attributes.insert("currency".into(), "SEK".into());
//! attributes.insert("amount".into(), 1338.into());
//! attributes.insert("tags".into(), AttributeValue::list(["a", "b"]));
//! assert_eq!(attributes["amount"].data_type(), "Number");
//! ```

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

/// One message attribute value, typed as upstream sends and receives it.
///
/// Conversions follow upstream's encoding of Python values: text is `String`, integers and
/// floats are `Number`, bytes are `Binary`, and booleans, `None` and lists travel as
/// `String.Array` JSON.
///
/// ```
/// use tomodachi::aws_sns_sqs::attributes::{AttributeValue, MessageAttributes};
///
/// let mut attributes = MessageAttributes::new();
/// attributes.insert("currency".into(), "SEK".into());
/// attributes.insert("amount".into(), 4711.into());
/// attributes.insert("rate".into(), 99.5.into());
/// attributes.insert("blob".into(), b"xy".as_slice().into());
/// attributes.insert("flag".into(), true.into());
/// attributes.insert("codes".into(), AttributeValue::list(["CNY", "USD"]));
/// assert_eq!(attributes["amount"], AttributeValue::Int(4711));
/// assert_eq!(attributes["flag"].data_type(), "String.Array");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// `String`.
    String(String),
    /// `Number` without a decimal point (upstream's `int`).
    Int(i64),
    /// `Number` with a decimal point (upstream's `float`).
    Float(f64),
    /// `Binary`.
    Binary(Vec<u8>),
    /// `String.Array`: a JSON list, a boolean or null (upstream sends `list`, `bool` and
    /// `None` so).
    Array(Value),
}

/// Message attributes by name (sorted by name; the order carries no meaning on the wire).
///
/// ```
/// use tomodachi::aws_sns_sqs::attributes::{AttributeValue, MessageAttributes};
///
/// let attributes = MessageAttributes::from([("currency".to_owned(), AttributeValue::from("SEK"))]);
/// assert_eq!(attributes["currency"].as_str(), Some("SEK"));
/// ```
pub type MessageAttributes = BTreeMap<String, AttributeValue>;

/// An attribute value as the AWS APIs carry it: the `StringValue` or the `BinaryValue` of an
/// SNS/SQS `MessageAttributeValue`.
///
/// ```
/// use tomodachi::aws_sns_sqs::attributes::{AttributeValue, WireValue};
///
/// assert_eq!(AttributeValue::from(4711).wire_value(), WireValue::String("4711".into()));
/// assert_eq!(AttributeValue::from(vec![1u8, 2]).wire_value(), WireValue::Binary(vec![1, 2]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum WireValue {
    /// `StringValue`.
    String(String),
    /// `BinaryValue` (the raw bytes; the SDK base64-encodes them on the HTTP wire).
    Binary(Vec<u8>),
}

impl From<&str> for AttributeValue {
    fn from(v: &str) -> Self {
        AttributeValue::String(v.to_owned())
    }
}
impl From<String> for AttributeValue {
    fn from(v: String) -> Self {
        AttributeValue::String(v)
    }
}
impl From<&String> for AttributeValue {
    fn from(v: &String) -> Self {
        AttributeValue::String(v.clone())
    }
}
impl From<i64> for AttributeValue {
    fn from(v: i64) -> Self {
        AttributeValue::Int(v)
    }
}
impl From<i32> for AttributeValue {
    fn from(v: i32) -> Self {
        AttributeValue::Int(v.into())
    }
}
impl From<u32> for AttributeValue {
    fn from(v: u32) -> Self {
        AttributeValue::Int(v.into())
    }
}
/// Values above `i64::MAX` become floats (sent as e.g. `1.8446744073709552e+19`, where Python
/// would send the exact digits of its arbitrary-precision `int`).
impl From<u64> for AttributeValue {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(AttributeValue::Float(v as f64), AttributeValue::Int)
    }
}
impl From<f64> for AttributeValue {
    fn from(v: f64) -> Self {
        AttributeValue::Float(v)
    }
}
/// Like upstream, a boolean travels as `String.Array` JSON (`true`/`false`).
impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        AttributeValue::Array(Value::Bool(v))
    }
}
impl From<Vec<u8>> for AttributeValue {
    fn from(v: Vec<u8>) -> Self {
        AttributeValue::Binary(v)
    }
}
impl From<&[u8]> for AttributeValue {
    fn from(v: &[u8]) -> Self {
        AttributeValue::Binary(v.to_vec())
    }
}

/// A number as Python's `str()` writes it: `4711`, `99.5`, `1.0`, `1e+16`, `nan`, `inf`.
fn number_text(v: &AttributeValue) -> Option<String> {
    match v {
        AttributeValue::Int(i) => Some(i.to_string()),
        AttributeValue::Float(f) if f.is_nan() => Some("nan".to_owned()),
        AttributeValue::Float(f) if f.is_infinite() => {
            Some(if *f > 0.0 { "inf" } else { "-inf" }.to_owned())
        }
        AttributeValue::Float(f) => Some(crate::envelope::python_float_repr(*f)),
        _ => None,
    }
}

/// Python's (non-validating) `base64.b64decode`: characters outside the alphabet are skipped,
/// the data ends at the padding that completes a quantum, leftover bits are ignored; missing
/// padding is an error.
fn python_b64decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut quad = 0usize;
    let mut pads = 0usize;
    for b in text.bytes() {
        if b == b'=' {
            pads += 1;
            if quad >= 2 && quad + pads >= 4 {
                return Some(out);
            }
            continue;
        }
        let sextet = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        pads = 0;
        acc = (acc << 6) | u32::from(sextet);
        quad += 1;
        // the casts keep the low 8 bits: the byte just completed
        match quad {
            2 => out.push((acc >> 4) as u8),
            3 => out.push((acc >> 2) as u8),
            4 => {
                out.push(acc as u8);
                quad = 0;
                acc = 0;
            }
            _ => {}
        }
    }
    (quad == 0).then_some(out)
}

impl AttributeValue {
    /// A `String.Array` list.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// let v = AttributeValue::list(["CNY", "USD"]);
    /// assert_eq!(v.body_value(), r#"["CNY", "USD"]"#);
    /// ```
    pub fn list<I, T>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Value>,
    {
        AttributeValue::Array(Value::Array(items.into_iter().map(Into::into).collect()))
    }

    /// `null` (upstream's `None`), sent as `String.Array`.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// let v = AttributeValue::null();
    /// assert_eq!((v.data_type(), v.body_value().as_str()), ("String.Array", "null"));
    /// ```
    pub fn null() -> Self {
        AttributeValue::Array(Value::Null)
    }

    /// The attribute's `DataType`: `String`, `Number`, `Binary` or `String.Array`.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// assert_eq!(AttributeValue::from("SEK").data_type(), "String");
    /// assert_eq!(AttributeValue::from(1.5).data_type(), "Number");
    /// assert_eq!(AttributeValue::from(b"xy".as_slice()).data_type(), "Binary");
    /// assert_eq!(AttributeValue::from(false).data_type(), "String.Array");
    /// ```
    pub fn data_type(&self) -> &'static str {
        match self {
            AttributeValue::String(_) => "String",
            AttributeValue::Int(_) | AttributeValue::Float(_) => "Number",
            AttributeValue::Binary(_) => "Binary",
            AttributeValue::Array(_) => "String.Array",
        }
    }

    /// The `StringValue` or `BinaryValue` sent to AWS: numbers as Python's `str()` writes
    /// them (`4711`, `99.5`, `1e+16`), arrays as Python's `json.dumps` text (`["CNY", "USD"]`,
    /// `true`, `null`).
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::{AttributeValue, WireValue};
    /// assert_eq!(AttributeValue::from(1338.42).wire_value(), WireValue::String("1338.42".into()));
    /// assert_eq!(AttributeValue::from(true).wire_value(), WireValue::String("true".into()));
    /// ```
    pub fn wire_value(&self) -> WireValue {
        match self {
            AttributeValue::String(s) => WireValue::String(s.clone()),
            AttributeValue::Binary(b) => WireValue::Binary(b.clone()),
            AttributeValue::Array(v) => WireValue::String(crate::envelope::to_python_json(v)),
            number => WireValue::String(number_text(number).unwrap_or_default()),
        }
    }

    /// The `Value` of the attribute in a message body's `MessageAttributes` (what SNS puts in
    /// its notification and `sqs_send_message` in its body): the wire value, binary as base64.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// let v = AttributeValue::from(b"00000001 00000011 robo-boogie".as_slice());
    /// assert_eq!(v.body_value(), "MDAwMDAwMDEgMDAwMDAwMTEgcm9iby1ib29naWU=");
    /// ```
    pub fn body_value(&self) -> String {
        match self.wire_value() {
            WireValue::String(s) => s,
            WireValue::Binary(b) => base64::engine::general_purpose::STANDARD.encode(b),
        }
    }

    /// Decodes a received attribute as upstream does:
    ///
    /// * `String` → text;
    /// * `Number` → [`Int`](AttributeValue::Int) when the text has no `.` and parses as an
    ///   `i64`, else [`Float`](AttributeValue::Float); text that is neither stays a `String`
    ///   (upstream fails the message on e.g. `1e+16`, and keeps integers beyond 64 bits exact);
    /// * `Binary` → bytes; a text value (the form inside an SNS notification) is base64 as
    ///   Python's lenient `b64decode` reads it, and dropped if that fails;
    /// * `String.Array` → the JSON value (invalid JSON is kept as a `String`; upstream fails);
    /// * any other type, including custom ones (`String.x`, `Number.x`) → `None` (dropped).
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::{AttributeValue, WireValue};
    /// let text = |s: &str| WireValue::String(s.into());
    /// assert_eq!(AttributeValue::decode("Number", text("4711")), Some(AttributeValue::Int(4711)));
    /// assert_eq!(AttributeValue::decode("Number", text("1338.42")), Some(AttributeValue::Float(1338.42)));
    /// assert_eq!(AttributeValue::decode("Binary", text("eHk=")), Some(AttributeValue::Binary(b"xy".to_vec())));
    /// assert_eq!(AttributeValue::decode("String.Array", text("true")), Some(AttributeValue::from(true)));
    /// assert_eq!(AttributeValue::decode("String.custom", text("x")), None);
    /// ```
    pub fn decode(data_type: &str, value: WireValue) -> Option<Self> {
        match (data_type, value) {
            ("String", WireValue::String(s)) => Some(AttributeValue::String(s)),
            ("String", WireValue::Binary(b)) => Some(AttributeValue::String(
                String::from_utf8_lossy(&b).into_owned(),
            )),
            ("Number", WireValue::String(s)) => Some(decode_number(s)),
            ("Number", WireValue::Binary(b)) => {
                Some(decode_number(String::from_utf8_lossy(&b).into_owned()))
            }
            ("Binary", WireValue::Binary(b)) => Some(AttributeValue::Binary(b)),
            ("Binary", WireValue::String(s)) => python_b64decode(&s).map(AttributeValue::Binary),
            ("String.Array", WireValue::String(s)) => Some(
                serde_json::from_str(&s)
                    .map(AttributeValue::Array)
                    .unwrap_or(AttributeValue::String(s)),
            ),
            ("String.Array", WireValue::Binary(b)) => Some(
                serde_json::from_slice(&b)
                    .map(AttributeValue::Array)
                    .unwrap_or_else(|_| {
                        AttributeValue::String(String::from_utf8_lossy(&b).into_owned())
                    }),
            ),
            _ => None,
        }
    }

    /// The value as natural JSON: a string, a number, base64 text for binary, the array
    /// value as it is (a non-finite float becomes `null`).
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// use serde_json::json;
    /// assert_eq!(AttributeValue::from(4711).to_json(), json!(4711));
    /// assert_eq!(AttributeValue::from(b"xy".as_slice()).to_json(), json!("eHk="));
    /// assert_eq!(AttributeValue::list(["SEK"]).to_json(), json!(["SEK"]));
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            AttributeValue::String(s) => Value::String(s.clone()),
            AttributeValue::Int(i) => Value::from(*i),
            AttributeValue::Float(f) => Value::from(*f),
            AttributeValue::Binary(_) => Value::String(self.body_value()),
            AttributeValue::Array(v) => v.clone(),
        }
    }

    /// The text of a `String` attribute.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// assert_eq!(AttributeValue::from("SEK").as_str(), Some("SEK"));
    /// assert_eq!(AttributeValue::from(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// An integer `Number`.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// assert_eq!(AttributeValue::from(1338).as_i64(), Some(1338));
    /// assert_eq!(AttributeValue::from(1338.0).as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttributeValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Any `Number` as a float.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// assert_eq!(AttributeValue::from(2).as_f64(), Some(2.0));
    /// assert_eq!(AttributeValue::from(1.5).as_f64(), Some(1.5));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttributeValue::Int(i) => Some(*i as f64),
            AttributeValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The bytes of a `Binary` attribute.
    ///
    /// ```
    /// use tomodachi::aws_sns_sqs::attributes::AttributeValue;
    /// assert_eq!(AttributeValue::from(vec![0u8, 1]).as_bytes(), Some(&[0u8, 1][..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            AttributeValue::Binary(b) => Some(b),
            _ => None,
        }
    }
}

/// Upstream: `int(value) if "." not in value else float(value)`.
fn decode_number(s: String) -> AttributeValue {
    let t = s.trim();
    if !t.contains('.') {
        if let Ok(i) = t.parse::<i64>() {
            return AttributeValue::Int(i);
        }
    }
    match t.parse::<f64>() {
        Ok(f) => AttributeValue::Float(f),
        Err(_) => AttributeValue::String(s),
    }
}

fn first<'a>(entry: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| entry.get(*k))
}

/// Decodes the `MessageAttributes` object of a message body: the SNS notification form
/// `{"name": {"Type": .., "Value": ..}}`, the SQS API form (`DataType`, `StringValue`,
/// `BinaryValue`) or their camelCase variants. The type comes from the first present key of
/// `DataType`, `Type`, `dataType`, `type`, the value from the first present of `StringValue`,
/// `BinaryValue`, `Value`, `stringValue`, `binaryValue`, `value`; entries lacking either
/// (or with a `null` value) are skipped, the rest decoded with [`AttributeValue::decode`].
///
/// ```
/// use tomodachi::aws_sns_sqs::attributes::{decode_body_attributes, AttributeValue};
/// let attributes = decode_body_attributes(&serde_json::json!({
///     "b": {"Type": "Binary", "Value": "eHk="},
///     "n": {"Type": "Number", "Value": "4711"},
/// }));
/// assert_eq!(attributes["b"], AttributeValue::Binary(b"xy".to_vec()));
/// assert_eq!(attributes["n"], AttributeValue::Int(4711));
/// ```
pub fn decode_body_attributes(value: &Value) -> MessageAttributes {
    let Some(map) = value.as_object() else {
        return MessageAttributes::new();
    };
    map.iter()
        .filter_map(|(name, entry)| {
            let entry = entry.as_object()?;
            let data_type = first(entry, &["DataType", "Type", "dataType", "type"])?.as_str()?;
            let value = first(
                entry,
                &[
                    "StringValue",
                    "BinaryValue",
                    "Value",
                    "stringValue",
                    "binaryValue",
                    "value",
                ],
            )?;
            let wire = match value {
                Value::Null => return None,
                Value::String(s) => WireValue::String(s.clone()),
                other => WireValue::String(other.to_string()),
            };
            AttributeValue::decode(data_type, wire).map(|v| (name.clone(), v))
        })
        .collect()
}

/// Attributes in the body-metadata form `{"name": {"Type": .., "Value": ..}}` (as in an SNS
/// notification and in the body `sqs_send_message` writes), names in sorted order.
///
/// ```
/// use tomodachi::aws_sns_sqs::attributes::{body_attributes_json, AttributeValue, MessageAttributes};
/// let mut attributes = MessageAttributes::new();
/// attributes.insert("n".into(), AttributeValue::from(2));
/// assert_eq!(
///     body_attributes_json(&attributes),
///     serde_json::json!({"n": {"Type": "Number", "Value": "2"}})
/// );
/// ```
pub fn body_attributes_json(attributes: &MessageAttributes) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(name, v)| {
                let mut entry = serde_json::Map::new();
                entry.insert("Type".into(), v.data_type().into());
                entry.insert("Value".into(), v.body_value().into());
                (name.clone(), Value::Object(entry))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(s: &str) -> WireValue {
        WireValue::String(s.into())
    }

    fn wire(v: impl Into<AttributeValue>) -> (&'static str, WireValue) {
        let v = v.into();
        (v.data_type(), v.wire_value())
    }

    #[test]
    fn conversions() {
        assert_eq!(
            AttributeValue::from("a"),
            AttributeValue::String("a".into())
        );
        assert_eq!(
            AttributeValue::from("a".to_owned()),
            AttributeValue::String("a".into())
        );
        assert_eq!(AttributeValue::from(-5i64), AttributeValue::Int(-5));
        assert_eq!(AttributeValue::from(-5i32), AttributeValue::Int(-5));
        assert_eq!(AttributeValue::from(5u32), AttributeValue::Int(5));
        assert_eq!(AttributeValue::from(5u64), AttributeValue::Int(5));
        assert_eq!(
            AttributeValue::from(u64::MAX),
            AttributeValue::Float(u64::MAX as f64)
        );
        assert_eq!(AttributeValue::from(0.5), AttributeValue::Float(0.5));
        assert_eq!(
            AttributeValue::from(true),
            AttributeValue::Array(json!(true))
        );
        assert_eq!(
            AttributeValue::from(vec![1u8]),
            AttributeValue::Binary(vec![1])
        );
        assert_eq!(
            AttributeValue::from(&[1u8][..]),
            AttributeValue::Binary(vec![1])
        );
        assert_eq!(AttributeValue::null(), AttributeValue::Array(Value::Null));
        assert_eq!(
            AttributeValue::list(Vec::<String>::new()),
            AttributeValue::Array(json!([]))
        );
        let v = AttributeValue::Int(3);
        assert_eq!(
            (v.as_i64(), v.as_f64(), v.as_str(), v.as_bytes()),
            (Some(3), Some(3.0), None, None)
        );
        let v = AttributeValue::Float(0.5);
        assert_eq!((v.as_i64(), v.as_f64()), (None, Some(0.5)));
        let v = AttributeValue::from("x");
        assert_eq!((v.as_str(), v.as_f64()), (Some("x"), None));
        assert_eq!(AttributeValue::from(true).as_str(), None);
    }

    /// Values checked against Python tomodachi 0.29's
    /// `transform_message_attributes_to_botocore`.
    #[test]
    fn wire_encoding_as_upstream() {
        assert_eq!(wire(1), ("Number", text("1")));
        assert_eq!(wire(4711), ("Number", text("4711")));
        assert_eq!(wire(-5), ("Number", text("-5")));
        assert_eq!(wire(1.5), ("Number", text("1.5")));
        assert_eq!(wire(99.5), ("Number", text("99.5")));
        assert_eq!(wire(1338.42), ("Number", text("1338.42")));
        assert_eq!(wire(1.0), ("Number", text("1.0")));
        assert_eq!(wire(0.1), ("Number", text("0.1")));
        assert_eq!(wire(1e16), ("Number", text("1e+16")));
        assert_eq!(wire(1e300), ("Number", text("1e+300")));
        assert_eq!(wire(1e-7), ("Number", text("1e-07")));
        // Python's str(): nan / inf (AWS rejects them either way)
        assert_eq!(wire(f64::NAN), ("Number", text("nan")));
        assert_eq!(wire(f64::INFINITY), ("Number", text("inf")));
        assert_eq!(wire(f64::NEG_INFINITY), ("Number", text("-inf")));
        assert_eq!(wire("SEK"), ("String", text("SEK")));
        assert_eq!(wire("åäö"), ("String", text("åäö")));
        assert_eq!(wire(true), ("String.Array", text("true")));
        assert_eq!(wire(false), ("String.Array", text("false")));
        assert_eq!(wire(AttributeValue::null()), ("String.Array", text("null")));
        assert_eq!(
            wire(AttributeValue::list(["CNY", "USD"])),
            ("String.Array", text(r#"["CNY", "USD"]"#))
        );
        assert_eq!(
            wire(AttributeValue::list([json!("x"), json!(1)])),
            ("String.Array", text(r#"["x", 1]"#))
        );
        assert_eq!(
            wire(AttributeValue::list([
                json!("ä"),
                json!(1.0),
                json!(1e-5),
                json!({"x": null})
            ])),
            (
                "String.Array",
                text(r#"["\u00e4", 1.0, 1e-05, {"x": null}]"#)
            )
        );
        assert_eq!(
            wire(AttributeValue::list(["😀", "a\"b"])),
            ("String.Array", text(r#"["\ud83d\ude00", "a\"b"]"#))
        );
        assert_eq!(
            wire(b"xy".as_slice()),
            ("Binary", WireValue::Binary(b"xy".to_vec()))
        );
    }

    /// The body-metadata form (`transform_message_attributes_to_message_body_metadata`).
    #[test]
    fn body_values_as_upstream() {
        let bytes: &[u8] = b"00000001 00000011 robo-boogie";
        assert_eq!(
            AttributeValue::from(bytes).body_value(),
            "MDAwMDAwMDEgMDAwMDAwMTEgcm9iby1ib29naWU="
        );
        assert_eq!(AttributeValue::from(b"xy".as_slice()).body_value(), "eHk=");
        assert_eq!(AttributeValue::from(Vec::new()).body_value(), "");
        assert_eq!(AttributeValue::from(1).body_value(), "1");
        assert_eq!(AttributeValue::from(99.5).body_value(), "99.5");
        assert_eq!(AttributeValue::from(1338.42).body_value(), "1338.42");
        assert_eq!(AttributeValue::from(1.5).body_value(), "1.5");
        assert_eq!(AttributeValue::from(true).body_value(), "true");
        assert_eq!(AttributeValue::null().body_value(), "null");
        assert_eq!(
            AttributeValue::list(["CNY", "USD"]).body_value(),
            r#"["CNY", "USD"]"#
        );
        assert_eq!(AttributeValue::from("v").body_value(), "v");

        let mut attrs = MessageAttributes::new();
        attrs.insert("service.app.attribute1".into(), 1.into());
        attrs.insert("b".into(), bytes.into());
        attrs.insert("l".into(), AttributeValue::list(["CNY", "USD"]));
        attrs.insert("t".into(), true.into());
        attrs.insert("f".into(), 1.5.into());
        assert_eq!(
            crate::envelope::to_python_json(&body_attributes_json(&attrs)),
            concat!(
                r#"{"b": {"Type": "Binary", "Value": "MDAwMDAwMDEgMDAwMDAwMTEgcm9iby1ib29naWU="}, "#,
                r#""f": {"Type": "Number", "Value": "1.5"}, "#,
                r#""l": {"Type": "String.Array", "Value": "[\"CNY\", \"USD\"]"}, "#,
                r#""service.app.attribute1": {"Type": "Number", "Value": "1"}, "#,
                r#""t": {"Type": "String.Array", "Value": "true"}}"#
            )
        );
        assert_eq!(body_attributes_json(&MessageAttributes::new()), json!({}));
    }

    #[test]
    fn to_json_values() {
        assert_eq!(AttributeValue::from("s").to_json(), json!("s"));
        assert_eq!(AttributeValue::from(-3).to_json(), json!(-3));
        assert_eq!(AttributeValue::from(1.5).to_json(), json!(1.5));
        assert_eq!(AttributeValue::from(f64::NAN).to_json(), Value::Null);
        assert_eq!(AttributeValue::from(vec![0u8, 1]).to_json(), json!("AAE="));
        assert_eq!(AttributeValue::from(false).to_json(), json!(false));
        assert_eq!(AttributeValue::null().to_json(), Value::Null);
        assert_eq!(
            AttributeValue::list([json!("x"), json!(1)]).to_json(),
            json!(["x", 1])
        );
    }

    /// Checked against Python tomodachi 0.29's
    /// `transform_message_attributes_from_response`.
    #[test]
    fn decoding_as_upstream() {
        let d = AttributeValue::decode;
        assert_eq!(d("Number", text("4711")), Some(AttributeValue::Int(4711)));
        assert_eq!(d("Number", text("1")), Some(AttributeValue::Int(1)));
        assert_eq!(d("Number", text("-17")), Some(AttributeValue::Int(-17)));
        assert_eq!(d("Number", text("-0")), Some(AttributeValue::Int(0)));
        assert_eq!(d("Number", text(" 12 ")), Some(AttributeValue::Int(12)));
        assert_eq!(
            d("Number", text("1338.42")),
            Some(AttributeValue::Float(1338.42))
        );
        assert_eq!(d("Number", text("1.5")), Some(AttributeValue::Float(1.5)));
        assert_eq!(d("Number", text("1.0")), Some(AttributeValue::Float(1.0)));
        assert_eq!(
            d("String", text("9001.00")),
            Some(AttributeValue::String("9001.00".into()))
        );
        assert_eq!(
            d("String", text("")),
            Some(AttributeValue::String("".into()))
        );
        // custom and unknown types are dropped
        assert_eq!(d("String.custom", text("x")), None);
        assert_eq!(d("Number.int", text("1")), None);
        assert_eq!(d("Binary.jpeg", text("eHk=")), None);
        assert_eq!(d("string", text("x")), None);
        // binary: bytes as they are, text as base64
        assert_eq!(
            d(
                "Binary",
                WireValue::Binary(b"abcdef\x00\x01 12345".to_vec())
            ),
            Some(AttributeValue::Binary(b"abcdef\x00\x01 12345".to_vec()))
        );
        assert_eq!(
            d("Binary", text("eHk=")),
            Some(AttributeValue::Binary(b"xy".to_vec()))
        );
        assert_eq!(
            d("Binary", text("MDAwMDAwMDEgMDAwMDAwMTEgcm9iby1ib29naWU=")),
            Some(AttributeValue::Binary(
                b"00000001 00000011 robo-boogie".to_vec()
            ))
        );
        // arrays: JSON lists, booleans, null
        assert_eq!(
            d("String.Array", text(r#"["SEK"]"#)),
            Some(AttributeValue::list(["SEK"]))
        );
        assert_eq!(
            d("String.Array", text(r#"["x", 1]"#)),
            Some(AttributeValue::list([json!("x"), json!(1)]))
        );
        assert_eq!(
            d("String.Array", text("true")),
            Some(AttributeValue::from(true))
        );
        assert_eq!(
            d("String.Array", text("null")),
            Some(AttributeValue::null())
        );
    }

    /// Where upstream raises (and fails the message), the value is kept as well as possible.
    #[test]
    fn decoding_beyond_upstream() {
        let d = AttributeValue::decode;
        assert_eq!(
            d("Number", text("1e+16")),
            Some(AttributeValue::Float(1e16))
        );
        assert_eq!(
            d("Number", text("99999999999999999999999")),
            Some(AttributeValue::Float(1e23))
        );
        assert_eq!(
            d("Number", text("12abc")),
            Some(AttributeValue::String("12abc".into()))
        );
        assert_eq!(
            d("Number", text("")),
            Some(AttributeValue::String("".into()))
        );
        assert_eq!(
            d("String.Array", text("[not json")),
            Some(AttributeValue::String("[not json".into()))
        );
        assert_eq!(d("Binary", text("eHk")), None);
        assert_eq!(d("Binary", text("e")), None);
    }

    /// Python's non-validating `base64.b64decode` (outputs taken from CPython 3.11).
    #[test]
    fn lenient_base64_as_python() {
        let ok = |s: &str, b: &[u8]| assert_eq!(python_b64decode(s).as_deref(), Some(b), "{s:?}");
        ok("eHk=", b"xy");
        ok("eH k=", b"xy");
        ok("eHl=", b"xy");
        ok("eHk==", b"xy");
        ok("eHk=junk", b"xy");
        ok("eHk=\n", b"xy");
        ok("eHk=eHk=", b"xy");
        ok("", b"");
        ok("eA==", b"x");
        ok("e=A==", b"x");
        ok("AAE=", &[0, 1]);
        ok("eHl4", b"xyx");
        ok("eHl4=", b"xyx");
        for bad in ["eHk", "e", "eA=", "eA"] {
            assert_eq!(python_b64decode(bad), None, "{bad:?}");
        }
        for bytes in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            b"\x00\xff\x10\x80\x7f",
        ] {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            assert_eq!(python_b64decode(&encoded).as_deref(), Some(bytes));
        }
    }

    #[test]
    fn body_attributes_as_upstream() {
        // the notification's MessageAttributes
        let received = json!({
            "b": {"Type": "Binary", "Value": "eHk="},
            "f": {"Type": "Number", "Value": "1.5"},
            "l": {"Type": "String.Array", "Value": "[\"x\", 1]"},
            "t": {"Type": "String.Array", "Value": "true"},
            "currency": {"Type": "String", "Value": "SEK"},
            "n": {"Type": "Number", "Value": "4711"}
        });
        let a = decode_body_attributes(&received);
        let mut expected = MessageAttributes::new();
        expected.insert("b".into(), b"xy".as_slice().into());
        expected.insert("f".into(), 1.5.into());
        expected.insert("l".into(), AttributeValue::list([json!("x"), json!(1)]));
        expected.insert("t".into(), true.into());
        expected.insert("currency".into(), "SEK".into());
        expected.insert("n".into(), 4711.into());
        assert_eq!(a, expected);
        // encoding and decoding the body-metadata form round-trips
        assert_eq!(decode_body_attributes(&body_attributes_json(&a)), a);
    }

    #[test]
    fn body_attribute_key_variants() {
        let received = json!({
            "n": {"DataType": "Number", "StringValue": "-17"},
            "s": {"dataType": "String", "stringValue": "camel"},
            "b": {"type": "Binary", "value": "AAE="},
            "x": {"Type": "String.Array", "Value": "null"},
            "y": {"Type": "String.Array", "Value": "[\"SEK\"]"},
            // StringValue comes first
            "z": {"Type": "String", "StringValue": "first", "Value": "second"},
            // DataType comes first
            "w": {"DataType": "Number", "Type": "String", "Value": "5"},
            "c": {"Type": "String.custom", "Value": "dropped"},
            "no-value": {"Type": "String"},
            "no-type": {"Value": "x"},
            "null-value": {"Type": "String", "Value": null},
            "not-an-object": "x"
        });
        let a = decode_body_attributes(&received);
        let mut expected = MessageAttributes::new();
        expected.insert("n".into(), AttributeValue::Int(-17));
        expected.insert("s".into(), "camel".into());
        expected.insert("b".into(), AttributeValue::Binary(vec![0, 1]));
        expected.insert("x".into(), AttributeValue::null());
        expected.insert("y".into(), AttributeValue::list(["SEK"]));
        expected.insert("z".into(), "first".into());
        expected.insert("w".into(), AttributeValue::Int(5));
        assert_eq!(a, expected);
        assert!(decode_body_attributes(&json!(null)).is_empty());
        assert!(decode_body_attributes(&json!([1])).is_empty());
        // a non-text value is read from its JSON text
        assert_eq!(
            decode_body_attributes(&json!({"n": {"Type": "Number", "Value": 5}}))["n"],
            AttributeValue::Int(5)
        );
    }

    #[test]
    fn round_trips() {
        let mut attrs = MessageAttributes::new();
        attrs.insert("currency".into(), AttributeValue::list(["SEK"]));
        attrs.insert("amount".into(), 1338.into());
        attrs.insert(
            "this-is-a-binary-attribute".into(),
            b"abcdef\x00\x01 12345".as_slice().into(),
        );
        attrs.insert("f".into(), 0.1.into());
        attrs.insert("nothing".into(), AttributeValue::null());
        attrs.insert("s".into(), "9001.00".into());
        // through the SQS API form
        for (name, v) in &attrs {
            assert_eq!(
                AttributeValue::decode(v.data_type(), v.wire_value()).as_ref(),
                Some(v),
                "{name}"
            );
        }
        // through the body form
        assert_eq!(decode_body_attributes(&body_attributes_json(&attrs)), attrs);
    }
}
