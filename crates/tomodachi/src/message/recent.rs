//! Duplicate suppression by `message_uuid`, per handler: a message whose
//! uuid was handled in the last minute is a duplicate delivery (SNS and SQS deliver at least
//! once; a publisher may retry) and is acknowledged/deleted without running the handler again.
//! A duplicate that arrives while the first copy is still being handled waits for it: if that
//! one succeeds the duplicate is dropped, if it fails the duplicate is handled.
//!
//! Upstream leaves duplicates unacknowledged (AMQP) or undeleted (SQS); here a duplicate of a
//! message that was handled is settled like the original, so it is not delivered again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// How long a handled message's uuid is remembered.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// Most handled uuids remembered per handler: past it the oldest are forgotten early (their
/// duplicates would be handled again), so the memory stays bounded whatever the traffic.
pub(crate) const MAX_REMEMBERED: usize = 100_000;

/// uuids longer than this are remembered by their SHA-256 digest.
const MAX_KEY_LEN: usize = 96;

/// How a uuid is remembered: itself when short (upstream's are 73 bytes), else its digest, so
/// an entry never takes more than about a hundred bytes whatever the message carries.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Short(Arc<str>),
    Digest([u8; 32]),
}

impl Key {
    fn of(uuid: &str) -> Self {
        if uuid.len() <= MAX_KEY_LEN {
            Key::Short(Arc::from(uuid))
        } else {
            Key::Digest(Sha256::digest(uuid.as_bytes()).into())
        }
    }
}

enum Seen {
    /// Being handled (a copy that arrives meanwhile waits for [`RecentMessages::finished`]).
    InFlight,
    /// Handled at this instant.
    Done(Instant),
}

/// The uuids' hasher: foldhash (seeded per process) is a fraction of SipHash's cost on
/// 73-byte uuids, and a uuid is hashed two or three times per message.
type Hasher = foldhash::fast::RandomState;

#[derive(Default)]
struct Memory {
    seen: HashMap<Key, Seen, Hasher>,
    /// Handled uuids in the order they finished, for pruning from the oldest.
    done: VecDeque<(Instant, Key)>,
}

impl Memory {
    /// Forgets handled uuids older than [`WINDOW`], and the oldest beyond [`MAX_REMEMBERED`].
    fn prune(&mut self, now: Instant) {
        while let Some((at, _)) = self.done.front() {
            let expired = now.saturating_duration_since(*at) >= WINDOW;
            if !expired && self.done.len() <= MAX_REMEMBERED {
                break;
            }
            let Some((at, key)) = self.done.pop_front() else {
                break;
            };
            // Only if the entry is still this record (it may have been handled again since).
            if matches!(self.seen.get(&key), Some(Seen::Done(t)) if *t == at) {
                self.seen.remove(&key);
            }
        }
    }
}

/// The uuids one handler saw recently.
#[derive(Default)]
pub(crate) struct RecentMessages {
    memory: Mutex<Memory>,
    /// Woken whenever a copy finishes, for the duplicates waiting on one in flight.
    finished: Notify,
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
    key: Key,
    finished: bool,
}

impl RecentMessages {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many uuids are remembered (handled and in flight).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Admits a message with this uuid, waiting for a copy in flight to finish first.
    pub(crate) async fn admit(&self, uuid: &str) -> Admission<'_> {
        let key = Key::of(uuid);
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            {
                let mut memory = self.lock();
                match memory.seen.get(&key) {
                    Some(Seen::Done(at)) if at.elapsed() < WINDOW => return Admission::Duplicate,
                    // registered while the memory is locked: the copy's finish wakes it
                    Some(Seen::InFlight) => {
                        finished.as_mut().enable();
                    }
                    _ => {
                        memory.seen.insert(key.clone(), Seen::InFlight);
                        return Admission::Handle(Ticket {
                            recent: self,
                            key,
                            finished: false,
                        });
                    }
                }
            }
            // the copy in flight finished (or was dropped): look again
            finished.await;
        }
    }
}

impl Ticket<'_> {
    /// Records the outcome: a handled message is remembered for [`WINDOW`], a failed one is
    /// forgotten so its redelivery is handled.
    pub(crate) fn finish(mut self, handled: bool) {
        self.finished = true;
        {
            let mut memory = self.recent.lock();
            if handled {
                let now = Instant::now();
                memory.seen.insert(self.key.clone(), Seen::Done(now));
                memory.done.push_back((now, self.key.clone()));
                memory.prune(now);
            } else {
                memory.seen.remove(&self.key);
            }
        }
        self.recent.finished.notify_waiters();
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.recent.lock().seen.remove(&self.key);
            self.recent.finished.notify_waiters();
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

    #[tokio::test]
    async fn huge_uuids_are_remembered_by_digest() {
        let recent = RecentMessages::default();
        let huge = "u".repeat(1024 * 1024);
        let Admission::Handle(t) = recent.admit(&huge).await else {
            panic!("first copy")
        };
        t.finish(true);
        assert!(matches!(recent.admit(&huge).await, Admission::Duplicate));
        let other = format!("{huge}v");
        assert!(matches!(recent.admit(&other).await, Admission::Handle(_)));
        // 20 handled messages with 1 MiB uuids keep a few hundred bytes, not 20 MiB.
        for i in 0..20 {
            let Admission::Handle(t) = recent.admit(&format!("{i}{huge}")).await else {
                panic!("first copy")
            };
            t.finish(true);
        }
        let memory = recent.lock();
        assert!(memory.seen.keys().all(|k| matches!(k, Key::Digest(_))));
        let retained: usize = memory
            .seen
            .keys()
            .chain(memory.done.iter().map(|(_, k)| k))
            .map(|k| match k {
                Key::Short(s) => s.len(),
                Key::Digest(d) => d.len(),
            })
            .sum();
        assert!(retained <= 2 * 22 * 32, "{retained} bytes of keys");
    }

    #[tokio::test]
    async fn the_memory_is_bounded_whatever_the_traffic() {
        let recent = RecentMessages::default();
        for i in 0..MAX_REMEMBERED + 5_000 {
            let Admission::Handle(t) = recent.admit(&format!("m-{i}")).await else {
                panic!("first copy")
            };
            t.finish(true);
        }
        assert_eq!(recent.len(), MAX_REMEMBERED);
        assert_eq!(recent.lock().done.len(), MAX_REMEMBERED);
        // The newest are remembered, the oldest forgotten.
        assert!(matches!(
            recent.admit(&format!("m-{}", MAX_REMEMBERED + 4_999)).await,
            Admission::Duplicate
        ));
        assert!(matches!(recent.admit("m-0").await, Admission::Handle(_)));
    }

    #[test]
    fn expired_uuids_are_pruned_by_age() {
        let mut memory = Memory::default();
        let start = Instant::now();
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            let at = start + Duration::from_secs(i as u64 * 30);
            memory.seen.insert(Key::of(key), Seen::Done(at));
            memory.done.push_back((at, Key::of(key)));
        }
        memory.prune(start + Duration::from_secs(61));
        let mut left: Vec<bool> = ["a", "b", "c"]
            .into_iter()
            .map(|k| memory.seen.contains_key(&Key::of(k)))
            .collect();
        assert_eq!(left, [false, true, true]);
        memory.prune(start + Duration::from_secs(200));
        left = ["a", "b", "c"]
            .into_iter()
            .map(|k| memory.seen.contains_key(&Key::of(k)))
            .collect();
        assert_eq!(left, [false, false, false]);
        assert!(memory.done.is_empty());
    }
}
