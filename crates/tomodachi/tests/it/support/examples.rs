//! The example binaries the process tests run (`scripts/test.sh` builds them with
//! `cargo build --workspace --examples --bins` before the tests).

use std::path::PathBuf;

/// `target/<profile>/examples/<name>`, found from this test binary's own path
/// (`target/<profile>/deps/<test>-<hash>`); fails the test with a hint when it is missing.
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --examples --bins` (scripts/test.sh does)",
        bin.display()
    );
    bin
}
