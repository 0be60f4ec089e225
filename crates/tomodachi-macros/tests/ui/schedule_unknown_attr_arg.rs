struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[schedule(every = 5)]
    async fn tick(&self) {}
}

fn main() {}
