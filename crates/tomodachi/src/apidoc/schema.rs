//! JSON Schemas in the documents: the envelope around a message's data, and the definitions of
//! attached schemas moved to `components.schemas`.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

/// The JSON Schema of `T` (with `schemars`, JSON Schema 2020-12): what
/// `AmqpSubscription::schema::<T>()`, `HttpRoute::body::<T>()` and the macros' `schema = T`
/// attach.
///
/// ```
/// #[derive(schemars::JsonSchema)]
/// struct Order { id: u64 }
/// let schema = tomodachi::apidoc::schema_of::<Order>();
/// assert_eq!(schema["title"], "Order");
/// assert_eq!(schema["properties"]["id"]["type"], "integer");
/// ```
#[cfg(feature = "schemars")]
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    schemars::schema_for!(T).to_value()
}

/// The schema of a message body: the data's schema (`data`, or any value when `None`) inside
/// the envelope named `envelope` (`None` or `"Raw"`: no envelope).
///
/// ```
/// use tomodachi::apidoc::envelope_payload_schema;
/// let data = serde_json::json!({"type": "object"});
/// let body = envelope_payload_schema(Some("JsonBase"), Some(data.clone()));
/// assert_eq!(body["properties"]["data"], data);
/// assert_eq!(envelope_payload_schema(None, Some(data.clone())), data);
/// ```
pub fn envelope_payload_schema(envelope: Option<&str>, data: Option<Value>) -> Value {
    match envelope {
        None | Some("Raw") => data.unwrap_or_else(
            || json!({"type": "string", "description": "the message body, without an envelope"}),
        ),
        Some("JsonBase") => {
            let data = data.unwrap_or_else(|| json!({"description": "the message data"}));
            json!({
                "type": "object",
                "title": "JsonBase",
                "description": "tomodachi's JsonBase envelope (tomodachi-json-base--1.0.0), as Python tomodachi writes it. With data_encoding base64_gzip_json, data is a base64 string of the zlib-compressed JSON data.",
                "required": ["service", "metadata", "data"],
                "properties": {
                    "service": {
                        "type": "object",
                        "description": "the publishing service",
                        "properties": {"name": {"type": "string"}, "uuid": {"type": "string"}},
                    },
                    "metadata": {
                        "type": "object",
                        "required": ["message_uuid", "protocol_version", "timestamp", "topic", "data_encoding"],
                        "properties": {
                            "message_uuid": {"type": "string", "description": "<service uuid>.<uuid4>"},
                            "protocol_version": {"type": "string", "const": "tomodachi-json-base--1.0.0"},
                            "compatible_protocol_versions": {"type": "array", "items": {"type": "string"}},
                            "timestamp": {"type": "number", "description": "seconds since the Unix epoch"},
                            "topic": {"type": "string", "description": "the topic or routing key it was published to"},
                            "data_encoding": {"type": "string", "enum": ["raw", "base64_gzip_json"]},
                        },
                    },
                    "data": data,
                },
            })
        }
        Some("ProtobufBase") => json!({
            "type": "string",
            "title": "ProtobufBase",
            "contentEncoding": "base64",
            "description": "tomodachi's ProtobufBase envelope (tomodachi-protobuf-base--1.0.0): the base64 of a protobuf message with the service, the metadata and the data (protobuf bytes of the handler's message type, optionally zlib-compressed).",
        }),
        Some(other) => json!({
            "description": format!("a message in the {other} envelope"),
        }),
    }
}

/// The content type of a message body in `envelope`.
pub(crate) fn envelope_content_type(envelope: Option<&str>) -> Option<&'static str> {
    match envelope {
        Some("JsonBase") => Some("application/json"),
        None | Some("Raw") | Some("ProtobufBase") => Some("text/plain"),
        Some(_) => None,
    }
}

/// The schemas of a document: definitions of attached schemas (`$defs` or `definitions`)
/// are moved here and references to them rewritten to `#/components/schemas/...`; titled
/// schemas are stored here too and referenced.
#[derive(Default)]
pub(crate) struct Schemas {
    pub(crate) map: Map<String, Value>,
    taken: HashSet<String>,
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref" {
                    if let Value::String(r) = v {
                        for prefix in ["#/$defs/", "#/definitions/"] {
                            if let Some(rest) = r.strip_prefix(prefix) {
                                *r = format!("#/components/schemas/{rest}");
                            }
                        }
                    }
                } else {
                    rewrite_refs(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

impl Schemas {
    /// `schema` with its definitions moved to the components; a titled object schema becomes
    /// a reference to its component.
    pub(crate) fn add(&mut self, mut schema: Value) -> Value {
        if let Value::Object(map) = &mut schema {
            map.remove("$schema");
            for key in ["$defs", "definitions"] {
                if let Some(Value::Object(defs)) = map.remove(key) {
                    for (name, mut def) in defs {
                        rewrite_refs(&mut def);
                        if self.taken.insert(name.clone()) {
                            self.map.insert(name, def);
                        }
                    }
                }
            }
        }
        rewrite_refs(&mut schema);
        let title = schema
            .get("title")
            .and_then(Value::as_str)
            .filter(|t| {
                !t.is_empty()
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            })
            .map(str::to_owned);
        match title {
            Some(title) => {
                if self.taken.insert(title.clone()) {
                    self.map.insert(title.clone(), schema);
                } else if self.map.get(&title) != Some(&schema) {
                    // another schema of the same title: keep this one inline
                    return schema;
                }
                json!({"$ref": format!("#/components/schemas/{title}")})
            }
            None => schema,
        }
    }
}
