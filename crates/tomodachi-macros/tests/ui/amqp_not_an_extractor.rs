#[derive(Default)]
struct Svc;

struct Token;

#[tomodachi::service(name = "svc")]
impl Svc {
    #[amqp("orders.created")]
    async fn on_order(&self, token: Token) {
        let _ = token;
    }
}

fn main() {}
