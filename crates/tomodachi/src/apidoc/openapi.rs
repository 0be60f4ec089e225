//! The OpenAPI 3.1 document: a path per route pattern (named groups as path parameters), an
//! operation per method, the request and response schemas attached to routes, and the HTTP
//! server.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::schema::Schemas;
use super::{describe, info, unique_key};
use crate::transport::{Description, RouteDescription, RouteKind};
use crate::Service;

fn operation(r: &RouteDescription, id: String, schemas: &mut Schemas) -> Value {
    let (_, params) = r.path_template();
    let mut op = json!({
        "operationId": id,
        "summary": r.summary.clone().unwrap_or_else(|| r.handler.clone()),
    });
    let mut description = r.description.clone().unwrap_or_default();
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str(&format!(
        "Route pattern (a full-match regex): `{}`",
        r.pattern
    ));
    op["description"] = json!(description);
    if !params.is_empty() {
        op["parameters"] = params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string", "pattern": format!("^(?:{})$", p.pattern)},
                })
            })
            .collect();
    }
    if let Some(schema) = r.request_schema.clone() {
        op["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schemas.add(schema)}},
        });
    }
    op["responses"] = match r.kind {
        RouteKind::WebSocket => json!({
            "101": {"description": "Switching Protocols: the websocket handshake (see the AsyncAPI document for its messages)"},
            "200": {"description": "a plain GET without the handshake: an empty body"},
        }),
        RouteKind::StaticFiles => json!({
            "200": {
                "description": "the file (ranges and conditional requests are answered too)",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "404": {"description": "no such file in the folder"},
        }),
        _ => match r.response_schema.clone() {
            Some(schema) => json!({
                "200": {
                    "description": "the handler's response",
                    "content": {"application/json": {"schema": schemas.add(schema)}},
                },
            }),
            None => json!({"default": {"description": "the handler's response"}}),
        },
    };
    op
}

/// The OpenAPI 3.1.0 document of `services`' HTTP routes (several services share one
/// document, their names joined in the title). Routes keep their registration order; a
/// method already documented on a path (an earlier route wins, as in routing) is left out.
///
/// ```
/// use std::sync::Arc;
/// use tomodachi::http::{HttpRequest, HttpRoute, Method};
///
/// struct Api;
///
/// let service = tomodachi::Service::builder("api", Api)
///     .http_route(
///         HttpRoute::new(Method::POST, r"/items/?")
///             .name("add_item")
///             .request_schema(serde_json::json!({"type": "object"})),
///         |_a: Arc<Api>, _r: HttpRequest| async { "ok" },
///     )
///     .build();
/// let doc = tomodachi::apidoc::openapi([&service]);
/// assert_eq!(doc["paths"]["/items"]["post"]["operationId"], "add_item");
/// assert_eq!(doc["paths"]["/items"]["post"]["requestBody"]["content"]["application/json"]["schema"]["type"], "object");
/// ```
pub fn openapi<'a>(services: impl IntoIterator<Item = &'a Service>) -> Value {
    let services: Vec<&Service> = services.into_iter().collect();
    let mut paths = Map::new();
    let mut schemas = Schemas::default();
    let mut taken = HashSet::new();
    let mut servers: Vec<Value> = Vec::new();
    for service in &services {
        for d in describe(service) {
            match d {
                Description::Route(r) => {
                    let (path, _) = r.path_template();
                    let several = r.methods.len() > 1;
                    for method in &r.methods {
                        let method = method.to_ascii_lowercase();
                        let item = paths
                            .entry(path.clone())
                            .or_insert_with(|| json!({}))
                            .as_object_mut();
                        let Some(item) = item else { continue };
                        if item.contains_key(&method) {
                            continue;
                        }
                        // a route without a name is named by its pattern: use the path
                        let id = if r.handler == r.pattern {
                            unique_key(&format!("{method}_{path}"), &mut taken)
                        } else if several {
                            unique_key(&format!("{}_{method}", r.handler), &mut taken)
                        } else {
                            unique_key(&r.handler, &mut taken)
                        };
                        item.insert(method, operation(&r, id, &mut schemas));
                    }
                }
                Description::Server(s) if s.protocol == "http" || s.protocol == "https" => {
                    let (host, port) = s.host.rsplit_once(':').unwrap_or((&s.host, ""));
                    let reachable = match host {
                        "0.0.0.0" | "::" | "[::]" | "" => "localhost",
                        other => other,
                    };
                    let url = if port.is_empty() {
                        format!("{}://{reachable}", s.protocol)
                    } else {
                        format!("{}://{reachable}:{port}", s.protocol)
                    };
                    let mut server = json!({"url": url});
                    if let Some(d) = s.description {
                        server["description"] = json!(format!("{d} (listening on {})", s.host));
                    }
                    if !servers.contains(&server) {
                        servers.push(server);
                    }
                }
                _ => {}
            }
        }
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": info(&services, ""),
    });
    if !servers.is_empty() {
        doc["servers"] = Value::Array(servers);
    }
    doc["paths"] = Value::Object(paths);
    if !schemas.map.is_empty() {
        doc["components"] = json!({"schemas": schemas.map});
    }
    doc
}
