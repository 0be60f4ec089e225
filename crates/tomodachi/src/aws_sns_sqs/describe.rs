//! The SNS+SQS handlers as the API documents show them: an `sns` channel per topic (the queue
//! subscribed to it, its filter policy and dead-letter queue in the operation's bindings) or an
//! `sqs` channel per queue without a topic.

use serde_json::json;

use super::{naming, DeadLetter, SnsSqsHandlerDef};
use crate::transport::{
    ChannelDescription, Description, MessageDescription, ServerDescription, TransportContext,
};

/// `host` of an endpoint URL (`http://localhost:4566` → `localhost:4566`).
fn endpoint_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.trim_end_matches('/').to_owned()
}

fn server(name: &str, url: Option<&str>, region: Option<&str>) -> Description {
    let (host, description) = match (url, region) {
        (Some(url), _) => (
            endpoint_host(url),
            format!("AWS {} at {url}", name.to_uppercase()),
        ),
        (None, Some(region)) => (
            format!("{name}.{region}.amazonaws.com"),
            format!("AWS {} in {region}", name.to_uppercase()),
        ),
        (None, None) => (
            format!("{name}.amazonaws.com"),
            format!(
                "AWS {} (the region comes from the environment)",
                name.to_uppercase()
            ),
        ),
    };
    Description::Server(ServerDescription::new(name, name, host).description(description))
}

pub(super) fn describe(handlers: &[SnsSqsHandlerDef], ctx: &TransportContext) -> Vec<Description> {
    let options = ctx.options();
    let o = &options.aws_sns_sqs;
    let region = o.region_name.as_deref();
    let mut out = Vec::new();
    let uses_topics = handlers.iter().any(|h| h.subscription.topic.is_some());
    if uses_topics {
        out.push(server(
            "sns",
            options.aws_endpoint_urls.sns.as_deref(),
            region,
        ));
    }
    if !handlers.is_empty() {
        out.push(server(
            "sqs",
            options.aws_endpoint_urls.sqs.as_deref(),
            region,
        ));
    }
    for h in handlers {
        let s = &h.subscription;
        let name = s
            .name
            .clone()
            .or_else(|| s.topic.clone())
            .or_else(|| s.queue_name.clone())
            .unwrap_or_default();
        let competing = s.competing == Some(true) || s.queue_name.is_some();
        let queue = if competing {
            naming::queue_name(
                s.topic.as_deref(),
                &name,
                ctx.service_uuid(),
                s.competing,
                s.queue_name.as_deref(),
                &o.queue_name_prefix,
                s.fifo,
            )
            .unwrap_or_else(|e| e)
        } else {
            format!(
                "{}sha256(<topic><handler><instance uuid>){}",
                o.queue_name_prefix,
                if s.fifo { ".fifo" } else { "" }
            )
        };
        let queue_text = if competing {
            format!("the queue `{queue}`, shared by the service's instances")
        } else {
            "a queue of each service instance (named from the topic, the handler and the \
             instance's uuid)"
                .to_owned()
        };
        let mut sqs_queue = json!({"name": queue, "fifoQueue": s.fifo});
        if let Some(seconds) = s.visibility_timeout {
            sqs_queue["visibilityTimeout"] = json!(seconds);
        }
        if let DeadLetter::Queue {
            name: dlq,
            max_receive_count,
        } = &s.dead_letter
        {
            let dlq = if naming::is_queue_arn(dlq) {
                json!({"arn": dlq})
            } else {
                json!({"name": format!("{}{dlq}", o.queue_name_prefix)})
            };
            sqs_queue["redrivePolicy"] =
                json!({"deadLetterQueue": dlq, "maxReceiveCount": max_receive_count});
        }
        let envelope = s.envelope.resolve(ctx.envelope());
        let message = MessageDescription::new()
            .envelope(envelope.as_ref().map(|e| e.name().to_owned()))
            .data_schema(s.data_schema.clone());
        let channel = match &s.topic {
            Some(topic) => {
                let wire =
                    naming::encode_topic(&naming::topic_name(topic, s.fifo, &o.topic_prefix));
                let mut consumer = json!({
                    "protocol": "sqs",
                    "endpoint": {"name": queue},
                    "rawMessageDelivery": false,
                });
                if let Some(policy) = &s.filter_policy {
                    consumer["filterPolicy"] = policy.clone();
                    consumer["filterPolicyScope"] = json!("MessageAttributes");
                }
                let filter = match &s.filter_policy {
                    Some(policy) => format!(" with the filter policy `{policy}`"),
                    None => String::new(),
                };
                ChannelDescription::new("sns", wire.clone(), name)
                    .description(format!(
                        "Messages published to the SNS topic `{wire}`{}, delivered to {queue_text}{filter}.",
                        if s.fifo { " (FIFO)" } else { "" }
                    ))
                    .channel_binding(
                        "sns",
                        json!({
                            "name": wire,
                            "ordering": {"type": if s.fifo { "FIFO" } else { "standard" }},
                            "bindingVersion": "0.1.0",
                        }),
                    )
                    .operation_binding(
                        "sns",
                        json!({"consumers": [consumer], "bindingVersion": "0.1.0"}),
                    )
                    .operation_binding(
                        "sqs",
                        json!({"queues": [sqs_queue], "bindingVersion": "0.2.0"}),
                    )
            }
            None => ChannelDescription::new("sqs", queue.clone(), name)
                .description(format!(
                    "Messages sent straight to {queue_text}{}.",
                    if s.fifo { " (FIFO)" } else { "" }
                ))
                .channel_binding(
                    "sqs",
                    json!({"queue": sqs_queue.clone(), "bindingVersion": "0.2.0"}),
                )
                .operation_binding(
                    "sqs",
                    json!({"queues": [sqs_queue], "bindingVersion": "0.2.0"}),
                ),
        };
        out.push(Description::Channel(
            channel
                .documented(s.description.as_deref())
                .message(message),
        ));
    }
    out
}
