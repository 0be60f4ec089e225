//! Cost of one next-fire computation (`cargo bench -p tomodachi-cron --bench next_fire`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use jiff::Timestamp;
use tomodachi_cron::{CronExpr, ScheduleSpec};

fn next_fire(c: &mut Criterion) {
    let now: Timestamp = "2017-06-15T10:16:50Z".parse().unwrap();
    let cases = [
        (
            "every 5 seconds (interval 5)",
            ScheduleSpec::interval(5).timezone("UTC"),
        ),
        (
            "*/15 8-18 * * mon-fri, UTC",
            ScheduleSpec::interval("*/15 8-18 * * mon-fri").timezone("UTC"),
        ),
        (
            "0 12 * * *, Europe/Stockholm",
            ScheduleSpec::interval("0 12 * * *").timezone("Europe/Stockholm"),
        ),
        (
            "30 5 * jan,mar Ltue, UTC",
            ScheduleSpec::interval("30 5 * jan,mar Ltue").timezone("UTC"),
        ),
        (
            "* * 29 2 * (leap day, years ahead), UTC",
            ScheduleSpec::interval("* * 29 2 *").timezone("UTC"),
        ),
        (
            "timestamp 22:15:30, America/New_York",
            ScheduleSpec::timestamp("22:15:30").timezone("America/New_York"),
        ),
    ];
    let mut group = c.benchmark_group("next_fire");
    for (name, spec) in cases {
        let schedule = spec.parse().unwrap();
        group.bench_function(name, |b| b.iter(|| schedule.next_fire(black_box(now))));
    }
    group.finish();

    c.bench_function("parse 3-20/2 5 7-15 feb-may wed,tue,sat,mon", |b| {
        b.iter(|| CronExpr::parse(black_box("3-20/2 5 7-15 feb-may wed,tue,sat,mon")))
    });
}

criterion_group!(benches, next_fire);
criterion_main!(benches);
