//! Upstream's AWS SNS+SQS example: service `aws-example` with the JsonBase envelope, consuming
//! the topic `example-topic` through the queue `example-queue` and republishing the data to
//! `another-example-topic`. Region, credentials and endpoints come from `-c` config files (or
//! the standard AWS environment variables and files).
//!
//! ```sh
//! .venv/bin/moto_server -H 127.0.0.1 -p 5000 &      # an emulator (or use real AWS)
//! cargo run --example aws_sns_sqs_service -- -c examples/config/aws-moto.json
//! ```

use tomodachi::envelope::JsonBase;
use tomodachi::Options;

#[derive(Default)]
struct AwsExample;

fn options() -> Options {
    let mut options = Options::default();
    options.http.port = 0; // no HTTP handlers here
    options
}

#[tomodachi::service(name = "aws-example", options = options(), message_envelope = JsonBase)]
impl AwsExample {
    /// Republishes the received data to `another-example-topic`.
    #[aws_sns_sqs("example-topic", queue_name = "example-queue")]
    async fn route1a(&self, data: serde_json::Value, topic: String) -> tomodachi::Result<()> {
        tracing::info!(%data, topic = %topic, "received");
        tomodachi::aws_sns_sqs::publish(&data, "another-example-topic").await?;
        Ok(())
    }

    async fn started_service(&self) -> tomodachi::Result<()> {
        // something to handle: one message to our own topic
        tomodachi::aws_sns_sqs::publish(&serde_json::json!({"hello": "world"}), "example-topic")
            .await?;
        Ok(())
    }
}

tomodachi::main!(AwsExample);
