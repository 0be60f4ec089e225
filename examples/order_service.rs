//! A service on every transport at once, and its end-to-end test with `tomodachi::testing`
//! only — no RabbitMQ, no AWS, no open port (`cargo test --example order_service`).
//!
//! - HTTP: `POST /orders` takes `{"id": 1, "amount": 250}` and publishes it on AMQP
//!   (`order.created`); `GET /orders/<id>` answers the order's status.
//! - AMQP: `order.created` records the order and announces it on the SNS topic `order-events`.
//! - SNS+SQS: `payment-events` (published by a payment service) marks orders paid.
//! - Schedule: every minute, orders unpaid for 10 minutes expire.
//!
//! The types carry `schemars::JsonSchema`, and `body = `, `response = ` and `schema = ` attach
//! them to the handlers: `--openapi` and `--asyncapi` print documents with their schemas.
//!
//! ```sh
//! cargo run --example order_service -- -c examples/config/aws-moto.json   # RabbitMQ + moto running
//! cargo run --example order_service -- --asyncapi                          # the AsyncAPI document
//! cargo test --example order_service                                       # the test below
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tomodachi::envelope::JsonBase;
use tomodachi::prelude::*;

/// How long an order may stay unpaid.
const PAYMENT_WINDOW: Duration = Duration::from_secs(600);

/// An order as it is placed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Order {
    pub id: u64,
    pub amount: u64,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Paid,
    Expired,
}

#[derive(Default)]
pub struct Orders {
    orders: Mutex<HashMap<u64, (Status, SystemTime)>>,
}

/// A payment service's event.
#[derive(Deserialize, schemars::JsonSchema)]
struct Payment {
    order_id: u64,
}

#[tomodachi::service(name = "orders", message_envelope = JsonBase)]
impl Orders {
    /// Places an order: it is published on `order.created` and answered 202.
    #[http(POST, r"/orders", body = Order)]
    async fn create(&self, Json(order): Json<Order>) -> tomodachi::Result<(u16, String)> {
        tomodachi::amqp::publish(&order, "order.created").await?;
        Ok((202, format!("order {} accepted", order.id)))
    }

    #[http(GET, r"/orders/(?P<id>\d+)", response = Status)]
    async fn status(&self, id: u64) -> tomodachi::Result<Json<Status>> {
        let orders = self.orders.lock().map_err(|_| Error::msg("poisoned"))?;
        let (status, _) = orders.get(&id).ok_or_else(|| Error::http(404))?;
        Ok(Json(*status))
    }

    /// Records a new order and announces it on the SNS topic `order-events`.
    #[amqp("order.created", schema = Order)]
    async fn on_order_created(&self, data: Order) -> tomodachi::Result<()> {
        let now = std::time::SystemTime::now();
        if let Ok(mut orders) = self.orders.lock() {
            orders.entry(data.id).or_insert((Status::Created, now));
        }
        let event =
            serde_json::json!({"order_id": data.id, "amount": data.amount, "status": "created"});
        tomodachi::aws_sns_sqs::publish(&event, "order-events").await?;
        Ok(())
    }

    /// Marks an order paid; a payment for an unknown order fails (and is retried).
    #[aws_sns_sqs("payment-events", schema = Payment)]
    async fn on_payment(&self, data: serde_json::Value) -> tomodachi::Result<()> {
        let payment: Payment = serde_json::from_value(data)?;
        let mut orders = self.orders.lock().map_err(|_| Error::msg("poisoned"))?;
        match orders.get_mut(&payment.order_id) {
            Some((status @ Status::Created, _)) => *status = Status::Paid,
            Some(_) => {}
            None => return Err(Error::msg("payment for an unknown order; retried")),
        }
        Ok(())
    }

    #[minutely]
    async fn expire_unpaid(&self, invocation_time: String) {
        let Ok(now) = chrono::DateTime::parse_from_rfc3339(&invocation_time) else {
            return;
        };
        let now = SystemTime::from(now);
        if let Ok(mut orders) = self.orders.lock() {
            for (status, created) in orders.values_mut() {
                let unpaid_for = now.duration_since(*created).unwrap_or_default();
                if *status == Status::Created && unpaid_for >= PAYMENT_WINDOW {
                    *status = Status::Expired;
                }
            }
        }
    }
}

tomodachi::main!(Orders);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use tomodachi::testing::TestKit;
    use tomodachi::IntoService;

    use super::Orders;

    #[tokio::test(start_paused = true)]
    async fn orders_are_created_paid_and_expired() {
        let kit = TestKit::new();
        let app = kit.start(Orders::default().into_service()).await.unwrap();
        let http = app.http();

        // HTTP -> AMQP -> the AMQP handler -> SNS
        for (id, amount) in [(1, 250), (2, 99)] {
            let res = http
                .post("/orders")
                .json(&json!({"id": id, "amount": amount}))
                .send()
                .await;
            assert_eq!(res.status(), 202, "{}", res.text());
        }
        kit.settle().await;
        assert_eq!(http.get("/orders/1").send().await.text(), r#""created""#);
        assert_eq!(
            kit.amqp_messages("order.created"),
            [
                json!({"id": 1, "amount": 250}),
                json!({"id": 2, "amount": 99})
            ]
        );
        assert_eq!(
            kit.sns_messages("order-events"),
            [
                json!({"order_id": 1, "amount": 250, "status": "created"}),
                json!({"order_id": 2, "amount": 99, "status": "created"}),
            ]
        );

        // a payment service (Python or Rust) publishes on SNS
        kit.publish_sns("payment-events", &json!({"order_id": 1}))
            .unwrap();
        kit.settle().await;
        assert_eq!(http.get("/orders/1").send().await.text(), r#""paid""#);

        // the minutely schedule expires the unpaid order once ten minutes have passed
        kit.advance(Duration::from_secs(9 * 60)).await;
        assert_eq!(http.get("/orders/2").send().await.text(), r#""created""#);
        kit.advance(Duration::from_secs(2 * 60)).await;
        assert_eq!(http.get("/orders/2").send().await.text(), r#""expired""#);
        assert_eq!(http.get("/orders/1").send().await.text(), r#""paid""#);
        assert_eq!(http.get("/orders/3").send().await.status(), 404);

        assert_eq!(app.stop().await, 0);
    }
}
