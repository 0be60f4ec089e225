struct S;

#[tomodachi::service(name = "s")]
impl S {
    async fn stop_service(&self) -> Option<()> {
        None
    }
}

fn main() {}
