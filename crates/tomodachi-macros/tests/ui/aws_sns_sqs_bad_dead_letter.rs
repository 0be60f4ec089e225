#[derive(Default)]
struct Svc;

#[tomodachi::service(name = "svc")]
impl Svc {
    #[aws_sns_sqs("orders-created", dead_letter_queue_name = "dlq")]
    async fn on_order(&self) {}
}

fn main() {}
