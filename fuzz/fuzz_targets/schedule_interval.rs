//! Every form `#[schedule]` takes (intervals, words, crontab, timestamps, time zones): an
//! error or a schedule whose next fire is after the time asked for, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tomodachi_cron::jiff::Timestamp;
use tomodachi_cron::ScheduleSpec;

fuzz_target!(|input: &str| {
    let (what, zone) = input.split_once('|').unwrap_or((input, ""));
    let now = Timestamp::from_second(1_796_300_000).unwrap_or(Timestamp::UNIX_EPOCH);
    for spec in [ScheduleSpec::interval(what), ScheduleSpec::timestamp(what)] {
        let spec = if zone.is_empty() { spec } else { spec.timezone(zone) };
        if let Ok(schedule) = spec.parse() {
            if let Some(next) = schedule.next_fire(now) {
                assert!(next > now, "{input}: {next} is not after {now}");
            }
        }
    }
});
