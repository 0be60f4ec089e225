//! What happens to a message once its handler chain ran: the one decision every message
//! transport settles in its own terms.

/// The outcome of handling one message, which the transport that delivered it carries out:
///
/// | verdict | AMQP | SQS |
/// |---|---|---|
/// | [`Ack`](Self::Ack) | `basic.ack` | `DeleteMessage` |
/// | [`Retry`](Self::Retry) | republished with `x-tomodachi-attempt` + 1, dead-lettered after `max_attempts` | left for redelivery after the visibility timeout (the queue's redrive policy dead-letters it) |
/// | [`DeadLetter`](Self::DeadLetter) | moved to `<queue>.dlq` at once | left for the redrive policy |
/// | [`Discard`](Self::Discard) | acknowledged, reason logged | deleted, reason logged |
///
/// A handler picks one through its error: any error retries, [`Error::discard`] discards,
/// [`Error::dead_letter`] dead-letters; success acknowledges.
///
/// ```
/// use tomodachi::message::Verdict;
/// assert_eq!(tomodachi::Error::msg("db down").verdict(), Verdict::Retry("db down".into()));
/// assert!(matches!(tomodachi::Error::discard("stale").verdict(), Verdict::Discard(_)));
/// ```
///
/// [`Error::discard`]: crate::Error::discard
/// [`Error::dead_letter`]: crate::Error::dead_letter
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Handled: acknowledge (AMQP) or delete (SQS).
    Ack,
    /// The handler failed: deliver it again, within the transport's retry bounds.
    Retry(String),
    /// It can never be handled (undecodable, or the handler said so): dead-letter it without
    /// retrying.
    DeadLetter(String),
    /// Drop it on purpose (the handler's [`Error::discard`](crate::Error::discard), a
    /// duplicate, or a middleware that did not call the handler): settle it as handled and
    /// log why.
    Discard(String),
}

impl Verdict {
    /// Whether the message is settled for good (acknowledged or discarded).
    pub fn is_settled(&self) -> bool {
        matches!(self, Verdict::Ack | Verdict::Discard(_))
    }

    /// The reason of a verdict other than [`Ack`](Self::Ack).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Ack => None,
            Verdict::Retry(r) | Verdict::DeadLetter(r) | Verdict::Discard(r) => Some(r),
        }
    }
}
