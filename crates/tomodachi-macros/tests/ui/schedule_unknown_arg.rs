struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[heartbeat]
    async fn beat(&self, invocation: String) {}
}

fn main() {}
