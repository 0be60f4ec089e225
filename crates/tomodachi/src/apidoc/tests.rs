//! Documents built from services defined with the builder API (no macros).

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::transport::{
    BoxFuture, ChannelDescription, DeclaredTransport, MessageDescription, PathParameter,
    RouteDescription, ServerDescription, Transport,
};

struct S;

async fn ok(_s: Arc<S>) -> &'static str {
    "ok"
}

fn template(pattern: &str) -> (String, Vec<(String, String)>) {
    let (path, params) = RouteDescription::new(["GET"], pattern, "h").path_template();
    let params = params
        .into_iter()
        .map(|PathParameter { name, pattern, .. }| (name, pattern))
        .collect();
    (path, params)
}

#[test]
fn route_patterns_become_path_templates() {
    assert_eq!(template(r"/health/?").0, "/health");
    assert_eq!(template(r"^/a$").0, "/a");
    assert_eq!(
        template(r"/resource/(?P<id>\d+)/?"),
        ("/resource/{id}".into(), vec![("id".into(), r"\d+".into())])
    );
    assert_eq!(
        template(r"/static/(?<filename>(?:[^/]+/)*[^/]+?)\.png"),
        (
            "/static/{filename}.png".into(),
            vec![("filename".into(), r"(?:[^/]+/)*[^/]+?".into())]
        )
    );
    // a quantifier is not a template; a lookbehind is not a named group
    assert_eq!(template(r"/x/\d{3}").0, r"/x/\d");
    assert_eq!(template(r"/x/(?<=a)b").1, vec![]);
    assert_eq!(template(r"").0, "/");
    // a character class holding a parenthesis does not end the group
    assert_eq!(
        template(r"/(?P<a>[)]+)/b").1,
        vec![("a".into(), "[)]+".into())]
    );
}

#[cfg(feature = "http")]
mod http_routes {
    use super::*;
    use crate::http::{HttpRoute, Method, WebSocket, WebSocketCallbacks};

    fn api() -> crate::Service {
        crate::Service::builder("api", S)
            .configure(|o| {
                o.http.host = "127.0.0.1".into();
                o.http.port = 8080;
            })
            .http(Method::GET, r"/items/(?P<id>\d+)/?", ok)
            .http_route(
                HttpRoute::new([Method::PUT, Method::PATCH], r"/items/(?P<id>\d+)")
                    .name("update")
                    .description("Replaces an item.\nAll of it.")
                    .request_schema(json!({
                        "title": "Item", "type": "object",
                        "properties": {"tag": {"$ref": "#/$defs/Tag"}},
                        "$defs": {"Tag": {"type": "string"}},
                    }))
                    .response_schema(json!({"type": "integer"})),
                ok,
            )
            // the same method on the same path again: routing never reaches it
            .http_route(
                HttpRoute::new(Method::GET, r"/items/(?P<id>\d+)").name("shadowed"),
                ok,
            )
            .websocket(r"/ws/(?P<room>[^/]+)", |_s: Arc<S>, _w: WebSocket| async {
                WebSocketCallbacks::new()
            })
            .http_static(".", r"/static/")
            .http_error(404, ok)
            .build()
    }

    #[test]
    fn openapi_paths_methods_parameters_and_schemas() {
        let doc = openapi([&api()]);
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "api");
        assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:8080");
        let item = &doc["paths"]["/items/{id}"];
        let get = &item["get"];
        assert_eq!(get["operationId"], "get_items_id");
        assert!(
            item.get("head").is_none(),
            "the HEAD implied by GET is left out"
        );
        assert_eq!(
            get["parameters"],
            json!([{"name": "id", "in": "path", "required": true,
                    "schema": {"type": "string", "pattern": r"^(?:\d+)$"}}])
        );
        assert_eq!(item["put"]["operationId"], "update_put");
        assert_eq!(item["put"]["summary"], "Replaces an item.");
        assert!(item["put"]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Replaces an item.\nAll of it.\n\nRoute pattern")));
        assert_eq!(get["summary"], r"/items/(?P<id>\d+)/?");
        assert_eq!(item["patch"]["operationId"], "update_patch");
        assert_eq!(
            item["put"]["requestBody"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/Item"})
        );
        assert_eq!(
            item["put"]["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"type": "integer"})
        );
        assert_eq!(
            doc["components"]["schemas"]["Item"]["properties"]["tag"]["$ref"],
            "#/components/schemas/Tag"
        );
        assert_eq!(
            doc["components"]["schemas"]["Tag"],
            json!({"type": "string"})
        );
        assert!(!doc.to_string().contains("shadowed"));
        let ws = &doc["paths"]["/ws/{room}"]["get"];
        assert!(ws["responses"]["101"].is_object());
        let files = &doc["paths"]["/static/{filename}"]["get"];
        assert_eq!(
            files["responses"]["200"]["content"]["*/*"]["schema"]["format"],
            "binary"
        );
        assert_eq!(files["parameters"][0]["name"], "filename");
    }

    #[test]
    fn websockets_are_asyncapi_channels_on_the_ws_server() {
        let doc = asyncapi([&api()]);
        let channel = &doc["channels"]["ws_room"];
        assert_eq!(channel["address"], "/ws/{room}");
        assert!(channel["parameters"]["room"].is_object());
        assert_eq!(channel["bindings"]["ws"]["method"], "GET");
        assert_eq!(channel["servers"][0]["$ref"], "#/servers/ws");
        assert_eq!(doc["servers"]["ws"]["host"], "127.0.0.1:8080");
        assert!(
            doc["servers"].get("http").is_none(),
            "only servers channels use"
        );
        assert_eq!(doc["operations"]["ws_room"]["action"], "receive");
    }

    #[test]
    fn a_wildcard_host_is_documented_as_localhost() {
        let svc = crate::Service::builder("api", S)
            .http(Method::GET, r"/x", ok)
            .build();
        assert_eq!(
            openapi([&svc])["servers"][0]["url"],
            "http://localhost:9700"
        );
    }
}

#[cfg(feature = "amqp")]
#[test]
fn amqp_channels_queues_exchanges_and_envelopes() {
    use crate::amqp::AmqpSubscription;
    let svc = crate::Service::builder("orders", S)
        .message_envelope(crate::envelope::JsonBase)
        .configure(|o| o.amqp.routing_key_prefix = "pre.".into())
        .amqp(
            AmqpSubscription::new("order.created")
                .name("on_order")
                .competing(true)
                .max_attempts(3)
                .description("Records new orders.\n\nOnce each.")
                .data_schema(json!({"title": "Order", "type": "object"})),
            |_s: Arc<S>| async {},
        )
        .amqp(
            AmqpSubscription::new("order.#")
                .name("audit")
                .exchange_name("events")
                .raw(),
            |_s: Arc<S>| async {},
        )
        .build();
    let doc = asyncapi([&svc]);
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["servers"]["amqp"]["host"], "127.0.0.1:5672");
    assert_eq!(doc["servers"]["amqp"]["protocolVersion"], "0.9.1");
    let on_order = &doc["channels"]["on_order"];
    assert_eq!(on_order["address"], "pre.order.created");
    let binding = &on_order["bindings"]["amqp"];
    assert_eq!(binding["exchange"]["name"], "amq.topic");
    assert_eq!(binding["exchange"]["type"], "topic");
    let queue = crate::amqp::queue_name("order.created", "on_order", "", Some(true), None, "");
    let description = on_order["description"].as_str().unwrap_or_default();
    assert!(
        description.contains(&format!("the queue `{queue}`")),
        "{description}"
    );
    assert!(
        description.contains("after 3 failed deliveries"),
        "{description}"
    );
    let payload = &doc["components"]["messages"]["on_order"]["payload"];
    assert_eq!(payload["title"], "JsonBase");
    assert_eq!(
        payload["properties"]["data"],
        json!({"$ref": "#/components/schemas/Order"})
    );
    assert_eq!(
        doc["components"]["messages"]["on_order"]["contentType"],
        "application/json"
    );
    // non-competing: a queue per instance, not named in the document
    let audit = &doc["channels"]["audit"];
    assert_eq!(audit["bindings"]["amqp"]["exchange"]["name"], "events");
    assert!(audit["description"]
        .as_str()
        .is_some_and(|d| d.contains("a queue of each service instance")));
    assert_eq!(
        doc["components"]["messages"]["audit"]["payload"]["type"],
        "string"
    );
    assert_eq!(
        doc["operations"]["on_order"]["messages"][0]["$ref"],
        "#/channels/on_order/messages/on_order"
    );
    assert_eq!(
        doc["operations"]["on_order"]["bindings"]["amqp"]["ack"],
        true
    );
}

#[cfg(feature = "aws")]
#[test]
fn sns_topics_sqs_queues_filter_policies_and_fifo() {
    use crate::aws_sns_sqs::SnsSqsSubscription;
    let svc = crate::Service::builder("payments", S)
        .configure(|o| {
            o.aws_sns_sqs.region_name = Some("eu-west-1".into());
            o.aws_sns_sqs.queue_name_prefix = "dev-".into();
        })
        .aws_sns_sqs(
            SnsSqsSubscription::topic("payment.done")
                .name("on_payment")
                .queue_name("payments")
                .filter_policy(json!({"currency": ["SEK"]}))
                .visibility_timeout(45)
                .dead_letter_queue("payments-dlq", 3)
                .fifo(true),
            |_s: Arc<S>| async {},
        )
        .aws_sns_sqs(
            SnsSqsSubscription::queue("direct").name("on_direct"),
            |_s: Arc<S>| async {},
        )
        .build();
    let doc = asyncapi([&svc]);
    assert_eq!(doc["servers"]["sns"]["host"], "sns.eu-west-1.amazonaws.com");
    assert_eq!(doc["servers"]["sqs"]["host"], "sqs.eu-west-1.amazonaws.com");
    let channel = &doc["channels"]["on_payment"];
    assert_eq!(channel["address"], "payment___2e_done.fifo");
    assert_eq!(channel["bindings"]["sns"]["ordering"]["type"], "FIFO");
    assert_eq!(channel["servers"][0]["$ref"], "#/servers/sns");
    let op = &doc["operations"]["on_payment"]["bindings"];
    let consumer = &op["sns"]["consumers"][0];
    assert_eq!(consumer["protocol"], "sqs");
    assert_eq!(consumer["endpoint"]["name"], "dev-payments");
    assert_eq!(consumer["filterPolicy"], json!({"currency": ["SEK"]}));
    assert_eq!(consumer["rawMessageDelivery"], false);
    let queue = &op["sqs"]["queues"][0];
    assert_eq!(queue["fifoQueue"], true);
    assert_eq!(queue["visibilityTimeout"], 45);
    assert_eq!(
        queue["redrivePolicy"],
        json!({"deadLetterQueue": {"name": "dev-payments-dlq"}, "maxReceiveCount": 3})
    );
    let direct = &doc["channels"]["on_direct"];
    assert_eq!(direct["address"], "dev-direct");
    assert_eq!(direct["servers"][0]["$ref"], "#/servers/sqs");
    assert_eq!(direct["bindings"]["sqs"]["queue"]["name"], "dev-direct");
}

#[test]
fn schedules_are_documentation() {
    use crate::schedule::{Invocation, ScheduleSpec};
    let svc = crate::Service::builder("jobs", S)
        .schedule(
            "tick",
            ScheduleSpec::interval(5).immediately(true),
            |_s: Arc<S>, _i: Invocation| async {},
        )
        .schedule(
            "nightly",
            ScheduleSpec::interval("0 3 * * *"),
            |_s: Arc<S>, _i: Invocation| async {},
        )
        .attribute("version", "2.1.0")
        .build();
    let doc = asyncapi([&svc]);
    assert_eq!(doc["info"]["version"], "2.1.0");
    assert_eq!(
        doc["x-tomodachi-schedules"],
        json!([
            {"handler": "tick", "interval": "5", "immediately": true},
            {"handler": "nightly", "interval": "0 3 * * *", "immediately": false},
        ])
    );
    let description = doc["info"]["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("`nightly` runs on the interval `0 3 * * *`"),
        "{description}"
    );
    assert_eq!(doc["channels"], json!({}));
    assert_eq!(openapi([&svc])["paths"], json!({}));
}

/// A transport of "another crate", described through the public seam.
#[derive(Default)]
struct Pigeons(Vec<&'static str>);

impl Transport for Pigeons {
    fn name(&self) -> &'static str {
        "pigeons"
    }
    fn declare(
        self: Box<Self>,
        _ctx: TransportContext,
    ) -> BoxFuture<'static, crate::Result<Box<dyn DeclaredTransport>>> {
        Box::pin(async { Err(crate::Error::msg("not in this test")) })
    }
    fn describe(&self, ctx: &TransportContext) -> Vec<Description> {
        let envelope = ctx.envelope().map(|e| e.name().to_owned());
        let mut out = vec![Description::Server(ServerDescription::new(
            "loft", "pigeon", "roof:1",
        ))];
        out.extend(self.0.iter().map(|subject| {
            Description::Channel(
                ChannelDescription::new("pigeon", *subject, "on_pigeon")
                    .summary("a pigeon lands")
                    .message(MessageDescription::new().envelope(envelope.clone())),
            )
        }));
        out
    }
}

#[test]
fn a_transport_of_another_crate_describes_itself() {
    let mut builder =
        crate::Service::builder("loft", S).message_envelope(crate::envelope::JsonBase);
    builder.transport_mut::<Pigeons>().0 = vec!["north", "south"];
    let svc = builder.build();
    let doc = asyncapi([&svc]);
    assert_eq!(doc["servers"]["loft"]["protocol"], "pigeon");
    assert_eq!(doc["channels"]["on_pigeon"]["address"], "north");
    // handler names are made unique
    assert_eq!(doc["channels"]["on_pigeon_2"]["address"], "south");
    assert_eq!(
        doc["operations"]["on_pigeon_2"]["summary"],
        "a pigeon lands"
    );
    assert_eq!(
        doc["components"]["messages"]["on_pigeon"]["payload"]["title"],
        "JsonBase"
    );
}

#[test]
fn several_services_share_one_document() {
    use crate::schedule::{Invocation, ScheduleSpec};
    let job = |name: &str| {
        crate::Service::builder(name.to_owned(), S)
            .schedule(
                "tick",
                ScheduleSpec::interval(1),
                |_s: Arc<S>, _i: Invocation| async {},
            )
            .build()
    };
    let (a, b) = (job("a"), job("b"));
    let doc = asyncapi([&a, &b]);
    assert_eq!(doc["info"]["title"], "a, b");
    assert_eq!(doc["info"]["version"], "0.1.0");
    assert_eq!(
        doc["x-tomodachi-schedules"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn keys_are_sanitized_and_unique() {
    let mut taken = HashSet::new();
    assert_eq!(
        unique_key("on order/created", &mut taken),
        "on_order_created"
    );
    assert_eq!(
        unique_key("on order/created", &mut taken),
        "on_order_created_2"
    );
    assert_eq!(unique_key("^/$", &mut taken), "handler");
}

#[test]
fn the_flags_pick_a_document() {
    assert_eq!(DocumentKind::from_flags(false, false), None);
    assert_eq!(
        DocumentKind::from_flags(true, false),
        Some(DocumentKind::AsyncApi)
    );
    assert_eq!(
        DocumentKind::from_flags(false, true),
        Some(DocumentKind::OpenApi)
    );
}

#[cfg(feature = "schemars")]
#[test]
fn schemars_schemas_and_their_definitions_go_to_components() {
    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Line {
        sku: String,
    }
    #[allow(dead_code)]
    #[derive(schemars::JsonSchema)]
    struct Order {
        id: u64,
        lines: Vec<Line>,
    }
    let mut schemas = schema::Schemas::default();
    let order = schemas.add(schema_of::<Order>());
    assert_eq!(order, json!({"$ref": "#/components/schemas/Order"}));
    assert_eq!(
        schemas.map["Order"]["properties"]["lines"]["items"]["$ref"],
        "#/components/schemas/Line"
    );
    assert!(schemas.map["Order"].get("$schema").is_none());
    assert_eq!(schemas.map["Line"]["properties"]["sku"]["type"], "string");
}
