//! The wall clock transports read "now" from (the scheduler's fire times), replaceable so
//! tests can drive time.

use std::time::{Duration, SystemTime};

/// The wall clock the scheduler reads "now" from. Fire times are computed from it; the
/// waiting itself uses tokio's timer, so a clock that advances with tokio's (paused) time makes
/// schedules fully deterministic in tests.
///
/// ```
/// use std::time::SystemTime;
/// use tomodachi::schedule::Clock;
///
/// /// A clock stuck at one instant.
/// struct Frozen(SystemTime);
/// impl Clock for Frozen {
///     fn now(&self) -> SystemTime {
///         self.0
///     }
/// }
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock (the default).
///
/// ```
/// use tomodachi::schedule::{Clock, SystemClock};
/// assert!(SystemClock.now() > std::time::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A wall clock that starts at a chosen time and advances with tokio's clock: under
/// `tokio::time::pause()` (or `#[tokio::test(start_paused = true)]`) a scheduled service runs
/// through hours of fires in milliseconds, exactly on time.
///
/// Create it inside the runtime, after pausing time.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tomodachi::schedule::{Clock, TokioClock};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = UNIX_EPOCH + Duration::from_secs(1_497_521_810); // 2017-06-15T10:16:50Z
/// let clock = TokioClock::starting_at(start);
/// tokio::time::sleep(Duration::from_secs(10)).await;
/// assert_eq!(clock.now(), start + Duration::from_secs(10));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: SystemTime,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        let elapsed: Duration = tokio::time::Instant::now() - self.origin;
        self.start + elapsed
    }
}

/// The clock an app hands its transports (the system clock unless [`App::clock`] set one).
///
/// [`App::clock`]: crate::App::clock
#[derive(Clone)]
pub(crate) struct SharedClock(pub(crate) std::sync::Arc<dyn Clock>);

impl Default for SharedClock {
    fn default() -> Self {
        Self(std::sync::Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedClock")
    }
}
