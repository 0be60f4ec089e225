//! Crontab expressions: an error or an expression whose next fire times can be computed,
//! never a panic or an endless search. (`next_after` counts the current minute when the time
//! has zero seconds, as upstream: the next fire is at or after the time asked for.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tomodachi_cron::jiff::civil::DateTime;
use tomodachi_cron::jiff::Span;
use tomodachi_cron::CronExpr;

fuzz_target!(|expression: &str| {
    if let Ok(expr) = CronExpr::parse(expression) {
        let mut now = DateTime::constant(2026, 12, 3, 13, 33, 0, 0);
        for _ in 0..3 {
            match expr.next_after(now) {
                Some(next) => {
                    assert!(next >= now, "{expression}: {next} is before {now}");
                    let Ok(later) = next.checked_add(Span::new().seconds(1)) else {
                        break;
                    };
                    now = later;
                }
                None => break,
            }
        }
    }
});
