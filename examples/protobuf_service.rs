//! The ProtobufBase envelope (`tomodachi-protobuf-base--1.0.0`, wire-compatible with Python
//! tomodachi's `ProtobufBase`): service `example-protobuf` receives `example.Person` messages
//! and republishes each unchanged:
//!
//! * AMQP routing key `example.protobuf` → `example.protobuf.response`;
//! * SNS topic `example-protobuf` (queue `example-protobuf-queue`) → SNS topic
//!   `example-protobuf-response`, with the message attributes it received.
//!
//! The payload, `person.proto`:
//!
//! ```proto
//! syntax = "proto3";
//! package example;
//! message Person { string id = 1; string first_name = 2; string last_name = 3; int32 age = 4; repeated string tags = 5; }
//! ```
//!
//! [`Person`] below is what `prost-build` generates from it, written out (no build script).
//! Written with the plain builder API; `tests/it/protobuf.rs` runs it against RabbitMQ, moto
//! and the same service in Python tomodachi.
//!
//! ```sh
//! .venv/bin/moto_server -H 127.0.0.1 -p 5000 &      # an SNS+SQS emulator (or use real AWS)
//! cargo run --example protobuf_service --features protobuf -- -c examples/config/aws-moto.json
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use tomodachi::amqp::AmqpSubscription;
use tomodachi::aws_sns_sqs::{MessageAttributes, PublishOptions, SnsSqsSubscription};
use tomodachi::envelope::{Proto, ProtobufBase};
use tomodachi::{Options, Service, ServiceBuilder};

/// `example.Person` (person.proto), as prost-build generates it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Person {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub first_name: String,
    #[prost(string, tag = "3")]
    pub last_name: String,
    #[prost(int32, tag = "4")]
    pub age: i32,
    #[prost(string, repeated, tag = "5")]
    pub tags: Vec<String>,
}

#[derive(Default)]
pub struct ProtobufExample;

/// Republishes a Person received over AMQP to `example.protobuf.response`.
async fn on_amqp_person(
    _service: Arc<ProtobufExample>,
    Proto(person): Proto<Person>,
) -> tomodachi::Result<()> {
    tracing::info!(id = %person.id, age = person.age, "person received over AMQP");
    tomodachi::amqp::publish(&Proto(person), "example.protobuf.response").await
}

/// Republishes a Person received over SNS+SQS to `example-protobuf-response`, with the same
/// message attributes.
async fn on_sns_person(
    _service: Arc<ProtobufExample>,
    Proto(person): Proto<Person>,
    attributes: MessageAttributes,
) -> tomodachi::Result<()> {
    tracing::info!(id = %person.id, age = person.age, "person received over SNS+SQS");
    tomodachi::aws_sns_sqs::publish_with(
        &Proto(person),
        "example-protobuf-response",
        PublishOptions::new().message_attributes(attributes),
    )
    .await?;
    Ok(())
}

/// The service, before its options (the tests set theirs).
pub fn builder() -> ServiceBuilder<ProtobufExample> {
    let mut options = Options::default();
    options.http.port = 0; // no HTTP handlers here
    Service::builder("example-protobuf", ProtobufExample)
        .options(options)
        // what it publishes with; each subscription names the message type it receives
        .message_envelope(ProtobufBase::new())
        .amqp(
            AmqpSubscription::new("example.protobuf")
                .name("on_amqp_person")
                .envelope(ProtobufBase::of::<Person>()),
            on_amqp_person,
        )
        .aws_sns_sqs(
            SnsSqsSubscription::topic("example-protobuf")
                .queue_name("example-protobuf-queue")
                .name("on_sns_person")
                .envelope(ProtobufBase::of::<Person>()),
            on_sns_person,
        )
}

pub fn service() -> Service {
    builder().build()
}

fn main() -> ExitCode {
    tomodachi::launch([service()])
}
