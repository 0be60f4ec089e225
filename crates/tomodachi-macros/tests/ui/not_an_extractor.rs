struct S;

struct Token;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/x")]
    async fn x(&self, token: Token) -> &'static str {
        let _ = token;
        "x"
    }
}

fn main() {}
