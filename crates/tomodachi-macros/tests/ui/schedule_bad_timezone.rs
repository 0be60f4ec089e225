struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[schedule(timestamp = "22:00", timezone = "Europe/Stockholmm")]
    async fn nightly(&self) {}
}

fn main() {}
