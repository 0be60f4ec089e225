//! What the server reads from a request head before routing: the percent-decoded path, the
//! client IP behind a trusted proxy (`X-Forwarded-For`), keep-alive (`Connection`) and the
//! `Authorization: Basic` login of the access log. Input: four `\n`-separated parts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let mut parts = input.splitn(4, |b| *b == b'\n');
    let path = std::str::from_utf8(parts.next().unwrap_or_default()).unwrap_or("/");
    let forwarded = parts.next().unwrap_or_default();
    let connection = parts.next().unwrap_or_default();
    let authorization = parts.next().unwrap_or_default();
    tomodachi::http::fuzzing::request_head(path, forwarded, connection, authorization);
});
