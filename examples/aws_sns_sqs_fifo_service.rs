//! A FIFO SNS+SQS service: the FIFO topic `example-fifo-topic.fifo` consumed through a FIFO
//! queue, one message at a time in order per message group; publishing with a group id (and a
//! deduplication id) goes to the FIFO topic.
//!
//! ```sh
//! .venv/bin/moto_server -H 127.0.0.1 -p 5000 &
//! cargo run --example aws_sns_sqs_fifo_service -- -c examples/config/aws-moto.json
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use tomodachi::aws_sns_sqs::PublishOptions;
use tomodachi::envelope::JsonBase;
use tomodachi::Options;

#[derive(Default)]
struct FifoExample {
    handled: AtomicU64,
}

fn options() -> Options {
    let mut options = Options::default();
    options.http.port = 0;
    options
}

#[tomodachi::service(name = "aws-fifo-example", options = options(), message_envelope = JsonBase)]
impl FifoExample {
    #[aws_sns_sqs(
        "example-fifo-topic",
        queue_name = "example-fifo-queue.fifo",
        fifo = true
    )]
    async fn in_order(
        &self,
        data: serde_json::Value,
        message_group_id: Option<String>,
        message_deduplication_id: Option<String>,
    ) {
        let n = self.handled.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(%data, group = ?message_group_id, dedup = ?message_deduplication_id,
            handled = n, "in order");
    }

    async fn started_service(&self) -> tomodachi::Result<()> {
        for step in 1..=3 {
            tomodachi::aws_sns_sqs::publish_with(
                &serde_json::json!({"step": step}),
                "example-fifo-topic",
                PublishOptions::new()
                    .group_id("order-4711")
                    .deduplication_id(format!("order-4711-step-{step}")),
            )
            .await?;
        }
        Ok(())
    }
}

tomodachi::main!(FifoExample);
