//! Schedules: what `#[schedule(interval = ..., timestamp = ..., timezone = ...)]` describes, and
//! the next fire time after a given instant.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::cron::{CronError, CronExpr};
use crate::pyint::py_int;
use crate::zone::parse_timezone;

/// An `interval` value: whole seconds, or text (a word form such as `"5 seconds"`,
/// `"every minute"`, `"hourly"`, `"weekdays"`, or a crontab expression).
///
/// ```
/// use tomodachi_cron::Interval;
/// assert_eq!(Interval::from(5), Interval::Seconds(5));
/// assert_eq!(Interval::from("*/5 * * * *").to_string(), "*/5 * * * *");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Interval {
    /// Every `n` seconds, aligned to whole seconds (`n >= 1`).
    Seconds(i64),
    /// A word form or crontab expression.
    Text(String),
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interval::Seconds(n) => write!(f, "{n}"),
            Interval::Text(s) => f.write_str(s),
        }
    }
}

macro_rules! interval_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Interval {
            fn from(n: $t) -> Self {
                Interval::Seconds(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
interval_from_int!(i32, i64, u8, u16, u32, u64, usize);

impl From<&str> for Interval {
    fn from(s: &str) -> Self {
        Interval::Text(s.to_owned())
    }
}

impl From<String> for Interval {
    fn from(s: String) -> Self {
        Interval::Text(s)
    }
}

impl From<&String> for Interval {
    fn from(s: &String) -> Self {
        Interval::Text(s.clone())
    }
}

/// Why a schedule is invalid. The messages start with upstream's texts (`Invalid interval`,
/// `Invalid timestamp`, `Unknown timezone: <tz>`) and say what was wrong.
///
/// ```
/// use tomodachi_cron::ScheduleSpec;
/// let err = ScheduleSpec::interval("5 minutes").parse().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Invalid interval: \"5 minutes\" (Invalid cron notation: invalid values for hour (minutes))"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The interval is neither a positive number of seconds, a word form nor a valid crontab
    /// expression.
    InvalidInterval {
        /// The interval as given.
        interval: Interval,
        /// The crontab error, when the text was read as a crontab expression.
        cron: Option<CronError>,
    },
    /// The interval text is empty or blank. Upstream reads it as a crontab expression with
    /// every field missing, i.e. every minute; a blank interval is almost certainly a mistake
    /// in a config, so it is an error here.
    EmptyInterval,
    /// The timestamp fits none of the four formats, or names a year outside 1970-2099.
    InvalidTimestamp {
        /// The timestamp as given.
        timestamp: String,
        /// The crontab error for a year outside 1970-2099.
        cron: Option<CronError>,
    },
    /// Neither an IANA zone name nor one of upstream's offset aliases.
    UnknownTimezone(String),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::InvalidInterval {
                interval: Interval::Seconds(n),
                ..
            } => write!(
                f,
                "Invalid interval: {n} (an interval in seconds must be at least 1)"
            ),
            ScheduleError::InvalidInterval {
                interval: Interval::Text(s),
                cron,
            } => {
                write!(f, "Invalid interval: {s:?}")?;
                match cron {
                    Some(e) => write!(f, " ({e})"),
                    None => f.write_str(" (an interval in seconds must be at least 1)"),
                }
            }
            ScheduleError::InvalidTimestamp { timestamp, cron } => {
                write!(f, "Invalid timestamp: {timestamp:?}")?;
                match cron {
                    Some(e) => write!(f, " ({e})"),
                    None => f.write_str(
                        " (expected \"YYYY-MM-DD HH:MM:SS\", \"YYYY-MM-DD HH:MM\", \"HH:MM:SS\" or \"HH:MM\")",
                    ),
                }
            }
            ScheduleError::EmptyInterval => f.write_str(
                "Invalid interval: \"\" (empty: give seconds, a word form such as \"minutely\", or a crontab expression)",
            ),
            ScheduleError::UnknownTimezone(tz) => write!(f, "Unknown timezone: {tz}"),
        }
    }
}

impl std::error::Error for ScheduleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScheduleError::InvalidInterval { cron: Some(e), .. }
            | ScheduleError::InvalidTimestamp { cron: Some(e), .. } => Some(e),
            _ => None,
        }
    }
}

/// When a schedule fires: an interval or a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum When {
    Interval(Interval),
    Timestamp(String),
}

/// What a scheduled function declares: `interval` or `timestamp`, `timezone` and
/// `immediately`, unvalidated. [`parse`](Self::parse) checks it and gives a [`Schedule`].
///
/// ```
/// use tomodachi_cron::ScheduleSpec;
///
/// let spec = ScheduleSpec::timestamp("22:00").timezone("Europe/Stockholm");
/// assert!(spec.parse().is_ok());
/// let spec = ScheduleSpec::interval(20).immediately(true);
/// assert!(spec.is_immediate());
/// assert_eq!(spec.interval_value().as_deref(), Some("20"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScheduleSpec {
    when: When,
    timezone: Option<String>,
    immediately: bool,
}

impl ScheduleSpec {
    /// Fires every `interval`: seconds (`5`), a word form (`"5 seconds"`, `"every minute"`,
    /// `"hourly"`, `"daily"`, `"weekly"` (Mondays), `"weekdays"`, ...) or a crontab expression
    /// (`"*/5 * * * *"`).
    pub fn interval(interval: impl Into<Interval>) -> Self {
        Self {
            when: When::Interval(interval.into()),
            timezone: None,
            immediately: false,
        }
    }

    /// Fires at `timestamp`: daily at `"HH:MM"` / `"HH:MM:SS"`, or once at
    /// `"YYYY-MM-DD HH:MM"` / `"YYYY-MM-DD HH:MM:SS"` (never when that is past).
    pub fn timestamp(timestamp: impl Into<String>) -> Self {
        Self {
            when: When::Timestamp(timestamp.into()),
            timezone: None,
            immediately: false,
        }
    }

    /// The zone crontab fields and timestamps are read in: an IANA name or an upstream offset
    /// alias (`"+02:00"`, `"GMT -5"`). Default (and `""`): the host's local zone.
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = Some(timezone.into());
        self
    }

    /// Also run once right when the scheduler starts (after `started_service`).
    pub fn immediately(mut self, immediately: bool) -> Self {
        self.immediately = immediately;
        self
    }

    /// Whether the function also runs once at start.
    pub fn is_immediate(&self) -> bool {
        self.immediately
    }

    /// The declared zone, if any.
    pub fn timezone_name(&self) -> Option<&str> {
        self.timezone.as_deref()
    }

    /// The interval as handlers receive it in their `interval` argument (`None` for
    /// timestamp schedules).
    pub fn interval_value(&self) -> Option<String> {
        match &self.when {
            When::Interval(i) => Some(i.to_string()),
            When::Timestamp(_) => None,
        }
    }

    /// The declared timestamp, if any.
    pub fn timestamp_value(&self) -> Option<&str> {
        match &self.when {
            When::Timestamp(t) => Some(t),
            When::Interval(_) => None,
        }
    }

    /// Validates the declaration: the time zone first, then the interval or timestamp.
    pub fn parse(&self) -> Result<Schedule, ScheduleError> {
        let zone = parse_timezone(self.timezone.as_deref())?;
        let trigger = match &self.when {
            When::Interval(i) => parse_interval(i)?,
            When::Timestamp(t) => parse_timestamp(t)?,
        };
        Ok(Schedule { trigger, zone })
    }
}

/// A validated schedule: computes fire times.
///
/// Fire times are whole seconds. Crontab fields and timestamps are matched against the wall
/// clock of the schedule's zone, correctly across daylight-saving changes: a time that falls
/// in a skipped hour fires at the end of the gap (the first instant after it), and a time in
/// a repeated hour fires once, at its first occurrence. (Upstream computes a fire time with
/// the offset in force at "now", so its fires are an hour off until the next computation
/// after a change.)
///
/// ```
/// use jiff::Timestamp;
/// use tomodachi_cron::ScheduleSpec;
///
/// let schedule = ScheduleSpec::interval("0 12 * * *").timezone("Europe/Stockholm").parse()?;
/// let now: Timestamp = "2017-06-15T10:16:50Z".parse()?;
/// let next = schedule.next_fire(now).unwrap();
/// assert_eq!(next.to_string(), "2017-06-16T10:00:00Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    trigger: Trigger,
    zone: TimeZone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Trigger {
    /// Every `n` seconds.
    Every(i64),
    /// Minutes matching the expression, plus `second` seconds (timestamps with seconds).
    Cron { expr: CronExpr, second: u8 },
}

impl Schedule {
    /// The next fire time strictly after `after`, to the second, as upstream's scheduler
    /// computes it from "now" (`next_call_at`): for intervals in seconds `floor(after) + n`;
    /// otherwise the first matching wall-clock time later than `floor(after)`. The scheduler
    /// computes fire `k + 1` as `next_fire(fire_k)`. `None` when the schedule never fires
    /// again (a past timestamp, a crontab expression without future matches before 2100).
    pub fn next_fire(&self, after: Timestamp) -> Option<Timestamp> {
        let mut a = after.as_second();
        if after.subsec_nanosecond() < 0 {
            a -= 1;
        }
        match &self.trigger {
            Trigger::Every(n) => Timestamp::from_second(a.checked_add(*n)?).ok(),
            Trigger::Cron { expr, second } => {
                let a_ts = Timestamp::from_second(a).ok()?;
                let offset = SignedDuration::from_secs(i64::from(*second));
                let civil_after = self.zone.to_datetime(a_ts);
                // Minutes `t` whose fire time `t + second` is after `civil_after`, in wall
                // clock terms; a fire that maps back before `after` (the second pass of a
                // repeated hour) is skipped.
                let mut from = civil_after
                    .checked_add(SignedDuration::from_secs(1))
                    .ok()?
                    .checked_sub(offset)
                    .ok()?;
                loop {
                    let minute = expr.next_after(from)?;
                    let fire = self.wall_to_instant(minute.checked_add(offset).ok()?)?;
                    if fire > a_ts {
                        return Some(fire);
                    }
                    from = minute.checked_add(SignedDuration::from_mins(1)).ok()?;
                }
            }
        }
    }

    /// The instant of a wall-clock time: in a gap, the end of the gap; in a fold, the first
    /// occurrence.
    fn wall_to_instant(&self, dt: DateTime) -> Option<Timestamp> {
        match self.zone.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
            AmbiguousOffset::Gap { before, after } => {
                // `dt` read with the offset after the gap lies before the transition.
                let early = after.to_timestamp(dt).ok()?;
                match self.zone.following(early).next() {
                    Some(transition) => Some(transition.timestamp()),
                    None => before.to_timestamp(dt).ok(),
                }
            }
        }
    }

    /// The zone crontab fields and timestamps are read in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The interval in seconds, for schedules that fire every `n` seconds.
    pub fn every_seconds(&self) -> Option<u64> {
        match self.trigger {
            Trigger::Every(n) => u64::try_from(n).ok(),
            Trigger::Cron { .. } => None,
        }
    }
}

/// Interval words and their meaning (`Ok(1)` = one second), as upstream's `interval_aliases`.
const INTERVAL_ALIASES: &[(&[&str], Result<i64, &str>)] = &[
    (
        &[
            "every second",
            "1s",
            "1 s",
            "1second",
            "1 second",
            "second",
            "secondly",
            "once per second",
        ],
        Ok(1),
    ),
    (
        &[
            "every minute",
            "1m",
            "1 m",
            "1minute",
            "1 minute",
            "minute",
            "minutely",
            "once per minute",
        ],
        Err("@minutely"),
    ),
    (
        &[
            "every hour",
            "1h",
            "1 h",
            "1hour",
            "1 hour",
            "hour",
            "hourly",
            "once per hour",
        ],
        Err("@hourly"),
    ),
    (
        &[
            "every day",
            "1d",
            "1 d",
            "1day",
            "1 day",
            "day",
            "daily",
            "once per day",
            "nightly",
        ],
        Err("@daily"),
    ),
    (
        &[
            "every month",
            "1month",
            "1 month",
            "month",
            "monthly",
            "once per month",
        ],
        Err("@monthly"),
    ),
    (
        &[
            "every year",
            "1y",
            "1 y",
            "1year",
            "1 year",
            "year",
            "yearly",
            "once per year",
            "annually",
        ],
        Err("@yearly"),
    ),
    (
        &[
            "monday",
            "mondays",
            "mon",
            "every monday",
            "once per monday",
            "weekly",
            "once per week",
            "week",
            "every week",
        ],
        Err("0 0 * * 1"),
    ),
    (
        &[
            "tuesday",
            "tuesdays",
            "tue",
            "every tuesday",
            "once per tuesday",
        ],
        Err("0 0 * * 2"),
    ),
    (
        &[
            "wednesday",
            "wednesdays",
            "wed",
            "every wednesday",
            "once per wednesday",
        ],
        Err("0 0 * * 3"),
    ),
    (
        &[
            "thursday",
            "thursdays",
            "thu",
            "every thursday",
            "once per thursday",
        ],
        Err("0 0 * * 4"),
    ),
    (
        &[
            "friday",
            "fridays",
            "fri",
            "every friday",
            "once per friday",
        ],
        Err("0 0 * * 5"),
    ),
    (
        &[
            "saturday",
            "saturdays",
            "sat",
            "every saturday",
            "once per saturday",
        ],
        Err("0 0 * * 6"),
    ),
    (
        &[
            "sunday",
            "sundays",
            "sun",
            "every sunday",
            "once per sunday",
        ],
        Err("0 0 * * 0"),
    ),
    (
        &["weekday", "weekdays", "every weekday"],
        Err("0 0 * * 1-5"),
    ),
    (
        &["weekend", "weekends", "every weekend"],
        Err("0 0 * * 0,6"),
    ),
];

fn seconds(interval: &Interval, n: i128) -> Result<Trigger, ScheduleError> {
    match i64::try_from(n) {
        Ok(n) if n >= 1 => Ok(Trigger::Every(n)),
        _ => Err(ScheduleError::InvalidInterval {
            interval: interval.clone(),
            cron: None,
        }),
    }
}

fn parse_interval(interval: &Interval) -> Result<Trigger, ScheduleError> {
    let text = match interval {
        Interval::Seconds(n) => return seconds(interval, i128::from(*n)),
        Interval::Text(text) => text.to_lowercase(),
    };
    if text.trim().is_empty() {
        return Err(ScheduleError::EmptyInterval);
    }
    if text.ends_with('s') {
        let digits = text.replace("seconds", "").replace(['s', ' '], "");
        if let Some(n) = py_int(&digits) {
            return seconds(interval, n);
        }
    }
    let meaning = INTERVAL_ALIASES
        .iter()
        .find(|(words, _)| words.contains(&text.as_str()))
        .map(|(_, meaning)| *meaning);
    let expression = match meaning {
        Some(Ok(n)) => return Ok(Trigger::Every(n)),
        Some(Err(expression)) => expression,
        None => &text,
    };
    match CronExpr::parse(expression) {
        Ok(expr) => Ok(Trigger::Cron { expr, second: 0 }),
        Err(e) => Err(ScheduleError::InvalidInterval {
            interval: interval.clone(),
            cron: Some(e),
        }),
    }
}

fn parse_timestamp(timestamp: &str) -> Result<Trigger, ScheduleError> {
    let invalid = |cron| ScheduleError::InvalidTimestamp {
        timestamp: timestamp.to_owned(),
        cron,
    };
    let stamp = crate::timestamp::parse(timestamp).ok_or_else(|| invalid(None))?;
    let expression = match stamp.date {
        Some((y, mo, d)) => format!("{} {} {d} {mo} * {y}", stamp.minute, stamp.hour),
        None => format!("{} {} * * *", stamp.minute, stamp.hour),
    };
    let expr = CronExpr::parse(&expression).map_err(|e| invalid(Some(e)))?;
    Ok(Trigger::Cron {
        expr,
        second: stamp.second.unwrap_or(0),
    })
}

/// Formats an instant as handlers receive `invocation_time`: `YYYY-MM-DDTHH:MM:SSZ` (UTC,
/// whole seconds).
///
/// ```
/// let ts: jiff::Timestamp = "2026-11-22T06:54:22.75Z".parse().unwrap();
/// assert_eq!(tomodachi_cron::format_utc(ts), "2026-11-22T06:54:22Z");
/// ```
pub fn format_utc(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests;
