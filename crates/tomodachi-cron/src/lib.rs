//! # tomodachi-cron
//!
//! The schedule dialect of [tomodachi](https://docs.rs/tomodachi) (and of the Python library it
//! ports): intervals in seconds, interval words (`"5 seconds"`, `"every minute"`, `"hourly"`,
//! `"weekdays"`, ...), upstream's crontab notation (six fields with years, `L`, names, steps),
//! timestamps (`"22:00"`, `"2017-06-15 10:20:00"`) and time zones (IANA names and upstream's
//! offset aliases, the host's zone by default). Pure: no runtime, no I/O beyond reading the
//! host's zone; time zone data is bundled, so IANA names work without system tzdata.
//!
//! ```
//! use jiff::Timestamp;
//! use tomodachi_cron::ScheduleSpec;
//!
//! let schedule = ScheduleSpec::interval("*/15 8-18 * * mon-fri").timezone("UTC").parse()?;
//! let mut fire: Timestamp = "2017-06-16T18:50:00Z".parse()?; // a Friday
//! let mut fires = Vec::new();
//! for _ in 0..2 {
//!     fire = schedule.next_fire(fire).unwrap();
//!     fires.push(tomodachi_cron::format_utc(fire));
//! }
//! assert_eq!(fires, ["2017-06-19T08:00:00Z", "2017-06-19T08:15:00Z"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Differences from upstream
//! - Fire times across daylight-saving changes follow the wall clock (see [`Schedule`]).
//! - The next crontab match is always the earliest one. Upstream's search skips a day or a
//!   month in two corner cases (a search starting at 23:59:01-23:59:59 on the second-to-last
//!   day of a month, or in November, can miss the last day of the month or December); every
//!   other result is the same.
//! - An interval of zero or fewer seconds is an error (upstream runs it about once a
//!   second).

#![warn(missing_docs)]

mod cron;
mod pyint;
mod schedule;
mod timestamp;
mod zone;

pub use cron::{CronError, CronExpr, CronField};
pub use jiff;
pub use schedule::{format_utc, Interval, Schedule, ScheduleError, ScheduleSpec};
pub use zone::parse_timezone;
