struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/x")]
    async fn x(&self) -> Vec<String> {
        vec![]
    }
}

fn main() {}
