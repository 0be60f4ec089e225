#[derive(Default)]
struct Svc;

#[tomodachi::service(name = "svc")]
impl Svc {
    #[nats("orders.created", max_delivr = 3)]
    async fn on_order(&self, data: String) {
        let _ = data;
    }
}

fn main() {}
