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

/// A Python tomodachi service from `tests/python/<script>`, run with Python's own
/// `tomodachi run --production` in a fresh temporary folder. The scripts take their settings
/// from environment variables, write each message they receive as a JSON line to `$OUT_FILE`
/// and create `$OUT_FILE.ready` (`received.jsonl.ready`) once started. Stopped (SIGTERM, then
/// killed) on drop.
pub struct PyService {
    child: std::process::Child,
    out: PathBuf,
}

impl PyService {
    /// Starts `script` with `env` on top of `SVC_NAME`-style settings the script reads.
    pub fn start(script: &str, env: &[(&str, String)]) -> PyService {
        let dir = std::env::temp_dir().join(format!("tomodachi-interop-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let out = dir.join("received.jsonl");
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/python")
            .join(script);
        std::fs::copy(&source, dir.join(script)).expect("copy the Python service");
        let python = python();
        let child = Command::new(python.parent().expect("venv bin").join("tomodachi"))
            .current_dir(&dir)
            .args(["run", script, "--production"])
            .env("OUT_FILE", &out)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the Python service");
        PyService { child, out }
    }

    /// Waits (up to 30 s) until the service says it started.
    pub async fn wait_ready(&self) {
        let ready = self.out.with_extension("jsonl.ready");
        for _ in 0..600 {
            if ready.exists() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the Python service did not start");
    }

    /// What the service received so far, one JSON value a message.
    pub fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for PyService {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
