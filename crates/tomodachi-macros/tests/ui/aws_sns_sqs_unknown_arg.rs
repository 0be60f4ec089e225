#[derive(Default)]
struct Svc;

#[tomodachi::service(name = "svc")]
impl Svc {
    #[aws_sns_sqs("orders-created")]
    async fn on_order(&self, topik: String) {
        let _ = topik;
    }
}

fn main() {}
