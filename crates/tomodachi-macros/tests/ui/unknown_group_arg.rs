struct S;

#[tomodachi::service(name = "s")]
impl S {
    #[http(GET, r"/item/(?P<id>\d+)/(?P<part>[a-z]+)")]
    async fn item(&self, idd: String) -> String {
        idd
    }
}

fn main() {}
