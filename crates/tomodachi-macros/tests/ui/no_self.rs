struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/x")]
    async fn x() -> &'static str {
        "x"
    }
}

fn main() {}
