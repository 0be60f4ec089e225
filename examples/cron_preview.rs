//! When does a schedule fire? Prints the next fire times of an interval, crontab expression or
//! timestamp, each computed from the previous fire as the scheduler does.
//!
//! ```sh
//! cron_preview [--timestamp] <interval-or-timestamp> <start RFC 3339> <count> [timezone]
//! cargo run --example cron_preview -- "*/15 8-18 * * mon-fri" 2017-06-16T18:50:00Z 3 UTC
//! 2017-06-19T08:00:00Z
//! 2017-06-19T08:15:00Z
//! 2017-06-19T08:30:00Z
//! ```
//! The first argument takes every form `#[schedule]` does: whole seconds (`5`), words
//! (`"5 seconds"`, `"every minute"`, `"weekdays"`), crontab expressions, or with
//! `--timestamp` a timestamp (`"22:00"`, `"2017-06-15 10:20"`). A bare number is seconds (in
//! the attribute, the string `"5"` would be the crontab minute 5). The time zone is an IANA name
//! or an upstream offset alias; the host's zone by default. Fire times print in UTC, fewer than
//! `count` when the schedule ends (none at all is said on stderr). Exit code 2 on a usage
//! error or an invalid schedule (a range beyond a field's values included).

use std::process::ExitCode;

use tomodachi::schedule::{format_utc, Interval, ScheduleSpec};
use tomodachi_cron::jiff::Timestamp;

const USAGE: &str =
    "usage: cron_preview [--timestamp] <interval-or-timestamp> <start RFC 3339> <count> [timezone]";

/// The fire times, and the start time as given (for the note when there are none).
fn run(args: &[String]) -> Result<(Vec<String>, String), String> {
    let (timestamp, rest) = match args.first().map(String::as_str) {
        Some("--timestamp") => (true, &args[1..]),
        _ => (false, args),
    };
    let [what, start, count, zone @ ..] = rest else {
        return Err(USAGE.to_owned());
    };
    if zone.len() > 1 {
        return Err(USAGE.to_owned());
    }
    let mut spec = if timestamp {
        ScheduleSpec::timestamp(what.as_str())
    } else {
        match what.trim().parse::<i64>() {
            Ok(seconds) => ScheduleSpec::interval(Interval::Seconds(seconds)),
            Err(_) => ScheduleSpec::interval(what.as_str()),
        }
    };
    if let Some(zone) = zone.first() {
        spec = spec.timezone(zone.as_str());
    }
    let schedule = spec.parse().map_err(|e| e.to_string())?;
    let start: Timestamp = start
        .parse()
        .map_err(|e| format!("invalid start time {start:?} (expected RFC 3339): {e}"))?;
    let count: usize = count
        .parse()
        .map_err(|_| format!("invalid count {count:?} (expected a whole number)"))?;
    let fires = std::iter::successors(schedule.next_fire(start), |fire| schedule.next_fire(*fire))
        .take(count)
        .map(format_utc)
        .collect();
    Ok((fires, format_utc(start)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok((fires, start)) => {
            use std::io::Write;
            if fires.is_empty() && !args.is_empty() {
                // Not an error (a schedule can end), but never a silent empty answer.
                eprintln!("cron_preview: the schedule does not fire after {start}");
            }
            let mut out = std::io::stdout().lock();
            for fire in fires {
                // a reader that stopped reading (`| head -1`) ends the listing, not a panic
                if writeln!(out, "{fire}").is_err() {
                    break;
                }
            }
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("cron_preview: {message}");
            ExitCode::from(2)
        }
    }
}
