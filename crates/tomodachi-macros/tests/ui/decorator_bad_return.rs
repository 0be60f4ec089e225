use std::sync::Arc;

struct S;

#[tomodachi::decorator]
fn guard(_service: &S) -> u32 {
    7
}

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/x")]
    #[decorate(guard)]
    async fn x(&self) -> &'static str {
        "x"
    }
}

fn builder() {
    let _ = tomodachi::Service::builder("b", S).http(
        "GET",
        r"/y",
        tomodachi::decorator::decorate(|_s: Arc<S>| 7u32, |_s: Arc<S>| async { "y" }),
    );
}

fn main() {}
