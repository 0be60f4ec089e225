//! Waiting for something a service does in the background.

use std::time::Duration;

/// Waits until `check` holds, checking every 50 ms for up to `secs` seconds; panics with
/// `what` when it never does.
pub async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..secs * 20 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
