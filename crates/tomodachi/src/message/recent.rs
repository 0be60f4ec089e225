//! Duplicate suppression by `message_uuid`, per handler: a message whose
//! uuid was handled in the last minute is a duplicate delivery (SNS and SQS deliver at least
//! once; a publisher may retry) and is acknowledged/deleted without running the handler again.
//! A duplicate that arrives while the first copy is still being handled waits for it: if that
//! one succeeds the duplicate is dropped, if it fails the duplicate is handled.
//!
//! Upstream leaves duplicates unacknowledged (AMQP) or undeleted (SQS); here a duplicate of a
//! message that was handled is settled like the original, so it is not delivered again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How long a handled message's uuid is remembered.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// Above this many remembered uuids, the ones older than [`WINDOW`] are pruned.
const PRUNE_ABOVE: usize = 100_000;

enum Seen {
    /// Being handled; the value becomes `Some(handled)` when it finishes.
    InFlight(watch::Receiver<Option<bool>>),
    /// Handled at this instant.
    Done(Instant),
}

/// The uuids one handler saw recently.
#[derive(Default)]
pub(crate) struct RecentMessages {
    seen: Mutex<HashMap<String, Seen>>,
}

/// Whether to handle a message.
pub(crate) enum Admission<'a> {
    /// Handle it, then report with [`Ticket::finish`].
    Handle(Ticket<'a>),
    /// A copy was handled in the last minute.
    Duplicate,
}

/// A message being handled; dropping it unfinished forgets the uuid (as a failure would).
pub(crate) struct Ticket<'a> {
    recent: &'a RecentMessages,
    key: String,
    done: watch::Sender<Option<bool>>,
    finished: bool,
}

impl RecentMessages {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a message with this uuid, waiting for a copy in flight to finish first.
    pub(crate) async fn admit(&self, uuid: &str) -> Admission<'_> {
        loop {
            let mut in_flight = {
                let mut seen = self.lock();
                match seen.get(uuid) {
                    Some(Seen::Done(at)) if at.elapsed() < WINDOW => return Admission::Duplicate,
                    Some(Seen::InFlight(rx)) => rx.clone(),
                    _ => {
                        let (done, rx) = watch::channel(None);
                        if seen.len() >= PRUNE_ABOVE {
                            seen.retain(|_, s| match s {
                                Seen::Done(at) => at.elapsed() < WINDOW,
                                Seen::InFlight(_) => true,
                            });
                        }
                        seen.insert(uuid.to_owned(), Seen::InFlight(rx));
                        return Admission::Handle(Ticket {
                            recent: self,
                            key: uuid.to_owned(),
                            done,
                            finished: false,
                        });
                    }
                }
            };
            // the copy in flight finished (or was dropped): look again
            let _ = in_flight.wait_for(Option::is_some).await;
        }
    }
}

impl Ticket<'_> {
    /// Records the outcome: a handled message is remembered for [`WINDOW`], a failed one is
    /// forgotten so its redelivery is handled.
    pub(crate) fn finish(mut self, handled: bool) {
        self.finished = true;
        {
            let mut seen = self.recent.lock();
            if handled {
                seen.insert(std::mem::take(&mut self.key), Seen::Done(Instant::now()));
            } else {
                seen.remove(&self.key);
            }
        }
        self.done.send_replace(Some(handled));
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.recent.lock().remove(&self.key);
            self.done.send_replace(Some(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn handled_uuids_are_duplicates_failed_ones_are_not() {
        let recent = RecentMessages::default();
        let Admission::Handle(t) = recent.admit("a").await else {
            panic!("first copy")
        };
        t.finish(true);
        assert!(matches!(recent.admit("a").await, Admission::Duplicate));
        let Admission::Handle(t) = recent.admit("b").await else {
            panic!("first copy")
        };
        t.finish(false);
        assert!(matches!(recent.admit("b").await, Admission::Handle(_)));
        // dropped unfinished: forgotten
        drop(recent.admit("c").await);
        assert!(matches!(recent.admit("c").await, Admission::Handle(_)));
    }

    #[tokio::test]
    async fn a_copy_in_flight_decides_for_its_duplicate() {
        let recent = Arc::new(RecentMessages::default());
        let Admission::Handle(first) = recent.admit("x").await else {
            panic!("first copy")
        };
        let r = recent.clone();
        let waiting =
            tokio::spawn(async move { matches!(r.admit("x").await, Admission::Duplicate) });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        first.finish(true);
        assert!(waiting.await.unwrap(), "duplicate of a handled copy");

        let Admission::Handle(first) = recent.admit("y").await else {
            panic!("first copy")
        };
        let r = recent.clone();
        let waiting = tokio::spawn(async move {
            match r.admit("y").await {
                Admission::Handle(t) => {
                    t.finish(true);
                    true
                }
                Admission::Duplicate => false,
            }
        });
        tokio::task::yield_now().await;
        first.finish(false);
        assert!(
            waiting.await.unwrap(),
            "handled again after the first copy failed"
        );
    }
}
