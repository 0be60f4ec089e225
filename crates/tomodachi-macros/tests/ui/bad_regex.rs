struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/(unclosed")]
    async fn x(&self) -> &'static str {
        "x"
    }
}

fn main() {}
