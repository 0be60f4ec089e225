struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http_error(status_code = 42)]
    async fn odd(&self) -> &'static str {
        "odd"
    }
}

fn main() {}
