struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http_static("public", r"/(static/")]
    async fn files(&self) {}
}

fn main() {}
