//! The real Python tomodachi (PyPI 0.29) the interop tests run against, from `.venv`
//! (`scripts/test-env.sh` creates it; `TOMODACHI_TEST_PYTHON` points at its python).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's python; fails the test with a hint when tomodachi cannot be imported.
pub fn python() -> PathBuf {
    let python = std::env::var_os("TOMODACHI_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", "import tomodachi"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import tomodachi: run `. scripts/test-env.sh` (scripts/test.sh does)",
        python.display()
    );
    python
}
