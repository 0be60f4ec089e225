#[derive(Default)]
struct Svc;

#[tomodachi::service(name = "svc")]
impl Svc {
    #[amqp("orders.created")]
    async fn on_order(&self, dta: String) {
        let _ = dta;
    }
}

fn main() {}
