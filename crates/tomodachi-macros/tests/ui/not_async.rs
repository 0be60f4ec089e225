struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/x")]
    fn x(&self) -> &'static str {
        "x"
    }
}

fn main() {}
