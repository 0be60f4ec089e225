struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/x", ignore_loging = true)]
    async fn x(&self) -> &'static str {
        "x"
    }
}

fn main() {}
