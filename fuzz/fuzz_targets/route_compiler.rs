//! The route compiler and router: `methods pattern` lines registered through the builder, then
//! a `METHOD path` routed (percent-decoded as the server does). Never a panic, the route index and
//! the one-by-one scan agree, and the groups of a
//! match are parts of the path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let mut lines = input.lines();
    let Some(request) = lines.next() else { return };
    let (method, path) = request.split_once(' ').unwrap_or(("GET", request));
    let routes: Vec<(&str, &str)> = lines
        .take(16)
        .map(|line| line.split_once(' ').unwrap_or(("GET", line)))
        .collect();
    let _ = tomodachi::http::fuzzing::route(&routes, method, path);
});
