struct S;

#[tomodachi::decorator]
fn guard(_service: &S) {}

#[tomodachi::service(name = "s")]
impl S {
    #[decorate(guard)]
    async fn helper(&self) {}
}

fn main() {}
