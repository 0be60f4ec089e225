struct S;

#[tomodachi::service(nme = "x")]
impl S {
    #[http(GET, r"/x")]
    async fn x(&self) -> &'static str {
        "x"
    }
}

fn main() {}
