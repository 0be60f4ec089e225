//! The example binaries the process tests run (`scripts/test.sh` builds them with
//! `cargo build --workspace --examples --bins` before the tests).

use std::path::PathBuf;
use std::process::{Command, Stdio};

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

/// An example binary with `args` and `env`, its stderr piped, stdin and stdout closed, and the
/// logger settings of the test's own environment removed (console logger, info, no colour).
pub fn example_command(name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(example_bin(name));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("TOMODACHI_LOGGER")
        .env_remove("TOMODACHI_LOG_LEVEL")
        .env_remove("TOMODACHI_PRODUCTION")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}
