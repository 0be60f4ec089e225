struct S;

#[tomodachi::decorator]
fn guard(_service: &S, request: &mut tomodachi::http::HttpRequest) {}

fn main() {}
