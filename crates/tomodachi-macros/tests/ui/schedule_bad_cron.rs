struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[schedule(interval = "*/0 * * * *")]
    async fn tick(&self) {}
}

fn main() {}
