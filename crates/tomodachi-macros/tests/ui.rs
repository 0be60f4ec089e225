//! Compile-fail diagnostics of `#[tomodachi::service]`: each case in `tests/ui/` must fail with
//! the message in its `.stderr` file, pointing at the user's code.
//!
//! Regenerate the expectations with `TRYBUILD=overwrite cargo test -p tomodachi-macros --test ui`
//! (then read them).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
