//! The AsyncAPI 3.0 document: a channel and a `receive` operation per message handler, the
//! servers their transports connect to, messages with the envelope around the data, and the
//! scheduled functions as documentation (`x-tomodachi-schedules` and the description).

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::schema::{envelope_content_type, envelope_payload_schema, Schemas};
use super::{describe, info, unique_key};
use crate::transport::{Description, ScheduleDescription, ServerDescription};
use crate::Service;

/// The `{name}` parameters of a channel address.
fn address_parameters(address: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let mut rest = address;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start + 1..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        out.insert(
            name.to_owned(),
            json!({"description": format!("the `{name}` part of the address")}),
        );
        rest = &rest[start + 2 + len..];
    }
    out
}

fn schedule_text(s: &ScheduleDescription) -> String {
    let when = match &s.interval {
        Some(interval) => format!("on the interval `{interval}`"),
        None => "at a timestamp".to_owned(),
    };
    let immediately = if s.immediately {
        ", and once right after start"
    } else {
        ""
    };
    format!("\n- `{}` runs {when}{immediately}", s.handler)
}

/// The AsyncAPI 3.0.0 document of `services` (one document; several services share it, their
/// names joined in the title).
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::amqp::AmqpSubscription;
/// use tomodachi::envelope::JsonBase;
/// use tomodachi::message::Message;
///
/// struct Orders;
///
/// let service = tomodachi::Service::builder("orders", Orders)
///     .message_envelope(JsonBase)
///     .amqp(
///         AmqpSubscription::new("order.created").name("on_order").competing(true),
///         |_s: Arc<Orders>, _m: Message| async {},
///     )
///     .build();
/// let doc = tomodachi::apidoc::asyncapi([&service]);
/// assert_eq!(doc["channels"]["on_order"]["address"], "order.created");
/// assert_eq!(doc["operations"]["on_order"]["action"], "receive");
/// assert_eq!(doc["servers"]["amqp"]["protocol"], "amqp");
/// ```
pub fn asyncapi<'a>(services: impl IntoIterator<Item = &'a Service>) -> Value {
    let services: Vec<&Service> = services.into_iter().collect();
    let mut servers: Vec<ServerDescription> = Vec::new();
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let mut schemas = Schemas::default();
    let mut schedules = Vec::new();
    let mut used_protocols = Vec::new();
    let mut taken = HashSet::new();
    let mut channel_list = Vec::new();
    for service in &services {
        for d in describe(service) {
            match d {
                Description::Channel(c) => channel_list.push(c),
                Description::Server(s) if !servers.iter().any(|known| known.name == s.name) => {
                    servers.push(s);
                }
                Description::Schedule(s) => schedules.push(s),
                _ => {}
            }
        }
    }
    for c in channel_list {
        let id = unique_key(&c.handler, &mut taken);
        let envelope = c.message.envelope.as_deref();
        let data = c.message.data_schema.clone().map(|s| schemas.add(s));
        let mut message = json!({
            "name": id,
            "title": format!("{} message", c.handler),
            "payload": envelope_payload_schema(envelope, data),
        });
        if let Some(content_type) = envelope_content_type(envelope) {
            message["contentType"] = json!(content_type);
        }
        if let Some(envelope) = envelope {
            message["summary"] = json!(format!("data in the {envelope} envelope"));
        }
        messages.insert(id.clone(), message);
        let mut channel = json!({
            "address": c.address,
            "messages": {id.clone(): {"$ref": format!("#/components/messages/{id}")}},
        });
        if let Some(address) = &c.address {
            let parameters = address_parameters(address);
            if !parameters.is_empty() {
                channel["parameters"] = Value::Object(parameters);
            }
        }
        if let Some(description) = &c.description {
            channel["description"] = json!(description);
        }
        if !c.channel_bindings.is_empty() {
            channel["bindings"] = Value::Object(c.channel_bindings.clone());
        }
        if let Some(server) = servers.iter().find(|s| s.protocol == c.protocol) {
            channel["servers"] = json!([{"$ref": format!("#/servers/{}", server.name)}]);
            if !used_protocols.contains(&server.protocol) {
                used_protocols.push(server.protocol.clone());
            }
        }
        channels.insert(id.clone(), channel);
        let mut operation = json!({
            "action": "receive",
            "channel": {"$ref": format!("#/channels/{id}")},
            "messages": [{"$ref": format!("#/channels/{id}/messages/{id}")}],
            "summary": c.summary.clone().unwrap_or_else(|| format!("handled by {}", c.handler)),
        });
        if let Some(description) = &c.description {
            operation["description"] = json!(description);
        }
        if !c.operation_bindings.is_empty() {
            operation["bindings"] = Value::Object(c.operation_bindings);
        }
        operations.insert(id, operation);
    }
    let mut server_map = Map::new();
    for s in servers
        .into_iter()
        .filter(|s| used_protocols.contains(&s.protocol))
    {
        let mut server = json!({"host": s.host, "protocol": s.protocol});
        if let Some(v) = s.protocol_version {
            server["protocolVersion"] = json!(v);
        }
        if let Some(p) = s.pathname {
            server["pathname"] = json!(p);
        }
        if let Some(d) = s.description {
            server["description"] = json!(d);
        }
        server_map.insert(s.name, server);
    }
    let schedule_lines: String = schedules.iter().map(schedule_text).collect();
    let extra = if schedules.is_empty() {
        String::new()
    } else {
        format!("\n\nScheduled functions:{schedule_lines}")
    };
    let mut doc = json!({
        "asyncapi": "3.0.0",
        "info": info(&services, &extra),
        "defaultContentType": "application/json",
    });
    if !server_map.is_empty() {
        doc["servers"] = Value::Object(server_map);
    }
    doc["channels"] = Value::Object(channels);
    doc["operations"] = Value::Object(operations);
    let mut components = json!({"messages": messages});
    if !schemas.map.is_empty() {
        components["schemas"] = Value::Object(schemas.map);
    }
    doc["components"] = components;
    if !schedules.is_empty() {
        doc["x-tomodachi-schedules"] = schedules
            .iter()
            .map(|s| {
                json!({"handler": s.handler, "interval": s.interval, "immediately": s.immediately})
            })
            .collect();
    }
    doc
}
