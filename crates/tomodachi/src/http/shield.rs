//! Handlers are not cancelled when the client goes away (upstream shields them). Instead of
//! spawning a task per request, the request future runs inline; only if hyper drops it before
//! it finished does `Drop` move the rest of it onto its own task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

/// A future that finishes even when dropped, counted by a [`TaskTracker`] while it runs.
pub(crate) struct Shielded<F: Future + Send + 'static>
where
    F::Output: Send,
{
    inner: Option<Pin<Box<F>>>,
    /// Counts the future while it runs; its tracker takes the rest of a dropped future.
    token: TaskTrackerToken,
}

impl<F: Future + Send + 'static> Shielded<F>
where
    F::Output: Send,
{
    pub(crate) fn new(future: F, tracker: &TaskTracker) -> Self {
        Self {
            inner: Some(Box::pin(future)),
            token: tracker.token(),
        }
    }
}

impl<F: Future + Send + 'static> Future for Shielded<F>
where
    F::Output: Send,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Pending;
        };
        let out = inner.as_mut().poll(cx);
        if out.is_ready() {
            this.inner = None;
        }
        out
    }
}

impl<F: Future + Send + 'static> Drop for Shielded<F>
where
    F::Output: Send,
{
    fn drop(&mut self) {
        if let Some(rest) = self.inner.take() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let _enter = handle.enter();
                self.token.task_tracker().spawn(rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_dropped_future_still_completes_and_is_tracked() {
        let tracker = TaskTracker::new();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let shielded = Shielded::new(
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                d.store(true, Ordering::SeqCst);
            },
            &tracker,
        );
        // poll once, then drop it as hyper does when the client disconnects
        let _ = tokio::time::timeout(Duration::from_millis(5), shielded).await;
        assert!(!done.load(Ordering::SeqCst));
        assert_eq!(tracker.len(), 1, "the rest runs on a tracked task");
        tracker.close();
        tracker.wait().await;
        assert!(done.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn an_inline_future_counts_while_it_runs() {
        let tracker = TaskTracker::new();
        let shielded = Shielded::new(async { 7 }, &tracker);
        assert_eq!(tracker.len(), 1);
        assert_eq!(shielded.await, 7);
        assert_eq!(tracker.len(), 0);
    }
}
