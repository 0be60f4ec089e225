struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http_static("public", r"/static/", method = "POST")]
    async fn files(&self) {}
}

fn main() {}
