use std::sync::Arc;

use tomodachi::amqp::AmqpSubscription;

struct Token;

fn main() {
    let _ = tomodachi::Service::builder("svc", ())
        .amqp(AmqpSubscription::new("orders.created"), |_s: Arc<()>, token: Token| async move {
            let _ = token;
        })
        .build();
}
