struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http_error(status_code = 404)]
    async fn not_found(&self) -> u32 {
        404
    }
}

fn main() {}
