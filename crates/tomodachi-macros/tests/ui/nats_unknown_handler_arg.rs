#[derive(Default)]
struct Svc;

#[tomodachi::service(name = "svc")]
impl Svc {
    #[nats("orders.created")]
    async fn on_order(&self, subjct: String) {
        let _ = subjct;
    }
}

fn main() {}
