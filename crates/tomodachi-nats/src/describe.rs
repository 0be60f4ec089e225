//! The NATS subscriptions as the API documents show them (through tomodachi's public
//! [`Transport::describe`](tomodachi::transport::Transport::describe)): the server, and a
//! `nats` channel per subject with its stream, durable consumer and dead-letter subject.

use serde_json::json;
use tomodachi::transport::{
    ChannelDescription, Description, MessageDescription, ServerDescription, TransportContext,
};

use crate::naming::{dead_letter_subject, durable_name, stream_name};
use crate::{NatsConfig, NatsTransport, NATS_URL_ENV};

pub(crate) fn describe(transport: &NatsTransport, ctx: &TransportContext) -> Vec<Description> {
    let env = std::env::var(NATS_URL_ENV).ok();
    // a section that does not read (a bad config file) is the start's error to report; the
    // document shows the defaults then
    let config = NatsConfig::from_options(ctx.options()).unwrap_or_default();
    let servers = config.resolved_servers(env.as_deref());
    let prefix = config.name_prefix_value();
    let mut out = Vec::new();
    if let Some(first) = servers.first() {
        let host = first.split_once("://").map_or(first.as_str(), |(_, h)| h);
        out.push(Description::Server(
            ServerDescription::new("nats", "nats", host.trim_end_matches('/'))
                .description("NATS with JetStream"),
        ));
    }
    for def in &transport.handlers {
        let s = &def.subscription;
        let name = s.name.clone().unwrap_or_else(|| s.subject.clone());
        let durable = durable_name(ctx.service_name(), &name, &s.subject, prefix);
        let dead_letter = s
            .dead_letter_subject
            .clone()
            .unwrap_or_else(|| dead_letter_subject(&s.subject, &durable));
        let envelope = s.envelope.resolve(ctx.envelope());
        out.push(Description::Channel(
            ChannelDescription::new("nats", s.subject.clone(), name)
                .description(format!(
                    "Messages on the subject `{}`, kept in the JetStream stream `{}` and pulled by \
                     the durable consumer `{durable}`, shared by the service's instances; after \
                     {} failed deliveries a message is published to `{dead_letter}`.",
                    s.subject,
                    stream_name(&s.subject, prefix),
                    s.max_deliver
                ))
                .operation_binding("nats", json!({"queue": durable, "bindingVersion": "0.1.0"}))
                .message(
                    MessageDescription::new()
                        .envelope(envelope.as_ref().map(|e| e.name().to_owned()))
                        .data_schema(s.data_schema.clone()),
                ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tomodachi::envelope::JsonBase;
    use tomodachi::message::Message;

    use crate::{NatsConfig, NatsServiceBuilderExt, NatsSubscription};

    /// An order (the data of `orders.created`).
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Order {
        id: u64,
    }

    #[test]
    fn subjects_are_asyncapi_channels_that_validate() {
        let service = tomodachi::Service::builder("orders", ())
            .message_envelope(JsonBase)
            .nats_config(NatsConfig::new().servers(["nats://10.0.0.1:4222"]))
            .nats(
                NatsSubscription::new("orders.created")
                    .name("on_created")
                    .schema::<Order>(),
                |_s: Arc<()>, _m: Message| async {},
            )
            .nats(
                NatsSubscription::new("orders.>")
                    .name("audit")
                    .max_deliver(2)
                    .raw(),
                |_s: Arc<()>, _m: Message| async {},
            )
            .build();
        let doc = tomodachi::apidoc::asyncapi([&service]);
        assert_eq!(doc["servers"]["nats"]["host"], "10.0.0.1:4222");
        assert_eq!(doc["servers"]["nats"]["protocol"], "nats");
        let channel = &doc["channels"]["on_created"];
        assert_eq!(channel["address"], "orders.created");
        assert_eq!(channel["servers"][0]["$ref"], "#/servers/nats");
        let description = channel["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("`orders.created.dlq`"),
            "{description}"
        );
        assert_eq!(
            doc["operations"]["on_created"]["bindings"]["nats"]["queue"],
            crate::durable_name("orders", "on_created", "orders.created", "")
        );
        assert_eq!(
            doc["components"]["messages"]["on_created"]["payload"]["title"],
            "JsonBase"
        );
        assert_eq!(
            doc["components"]["messages"]["audit"]["payload"]["type"],
            "string"
        );
        // `schema::<Order>()`: the data's schema, referenced from the envelope's payload
        assert_eq!(
            doc["components"]["schemas"]["Order"]["properties"]["id"]["type"],
            "integer"
        );
        assert!(doc["components"]["messages"]["on_created"]["payload"]
            .to_string()
            .contains("#/components/schemas/Order"));
        let audit = doc["channels"]["audit"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(audit.contains("after 2 failed deliveries"), "{audit}");

        // the official AsyncAPI parser accepts it (scripts/test-env.sh installs it)
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let validator = root.join("scripts/asyncapi-validate");
        assert!(
            validator.join("node_modules/@asyncapi/parser").exists(),
            "@asyncapi/parser is missing: source scripts/test-env.sh"
        );
        let file = std::env::temp_dir().join(format!(
            "tomodachi-nats-asyncapi-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, doc.to_string()).expect("write the document");
        let out = std::process::Command::new("node")
            .arg(validator.join("validate.mjs"))
            .arg(&file)
            .output()
            .expect("node is required for the AsyncAPI validation");
        std::fs::remove_file(&file).ok();
        assert!(
            out.status.success(),
            "invalid AsyncAPI: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
