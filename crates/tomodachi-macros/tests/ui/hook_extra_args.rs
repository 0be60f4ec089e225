struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/x")]
    async fn x(&self) -> &'static str {
        "x"
    }

    async fn start_service(&self, delay: u64) {
        let _ = delay;
    }
}

fn main() {}
