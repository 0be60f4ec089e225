//! A service with 100 scheduled functions that do not fire for a while: measures what waiting
//! costs (BENCHMARKS.md, "Scheduling").
//!
//! ```sh
//! cargo build --release --example schedule_idle
//! target/release/examples/schedule_idle &
//! sleep 5; pid=$!; a=$(awk '{print $14+$15}' /proc/$pid/stat); sleep 60
//! b=$(awk '{print $14+$15}' /proc/$pid/stat); echo "$((b - a)) ticks in 60 s"; kill -INT $pid
//! ```
//! Set `SCHEDULE_IDLE_INTERVAL` (e.g. `"* * * * *"`) to make them fire instead.

use std::sync::Arc;

use tomodachi::schedule::{Invocation, ScheduleSpec};
use tomodachi::Service;

fn main() -> std::process::ExitCode {
    let interval = std::env::var("SCHEDULE_IDLE_INTERVAL").ok();
    let mut builder = Service::builder("schedule-idle", ());
    for i in 0..100 {
        // daily at different minutes past 03:00 in a few zones: nothing fires for hours
        let spec = match &interval {
            Some(interval) => ScheduleSpec::interval(interval.as_str()),
            None => ScheduleSpec::interval(format!("{} 3 * * *", i % 60))
                .timezone(["UTC", "Europe/Stockholm", "America/New_York", "Asia/Tokyo"][i % 4]),
        };
        builder = builder.schedule(
            format!("job_{i}"),
            spec,
            |_s: Arc<()>, _run: Invocation| async {},
        );
    }
    tomodachi::launch([builder.build()])
}
