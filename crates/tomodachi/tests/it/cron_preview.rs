//! The `cron_preview` example binary as a process (built before the tests; the test
//! script does that).

use crate::support::examples;

use std::process::{Command, Output};

use examples::example_bin;

fn preview(args: &[&str]) -> Output {
    let bin = example_bin("cron_preview");
    Command::new(bin)
        .args(args)
        .output()
        .expect("run cron_preview")
}

fn lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn prints_the_next_fires_in_utc() {
    let out = preview(&["*/15 8-18 * * mon-fri", "2017-06-16T18:50:00Z", "3", "UTC"]);
    assert_eq!(
        lines(&out),
        [
            "2017-06-19T08:00:00Z",
            "2017-06-19T08:15:00Z",
            "2017-06-19T08:30:00Z"
        ]
    );
    // seconds, words, zones and offsets in the start time
    let out = preview(&["5", "2017-06-15T10:16:50Z", "3"]);
    assert_eq!(
        lines(&out),
        [
            "2017-06-15T10:16:55Z",
            "2017-06-15T10:17:00Z",
            "2017-06-15T10:17:05Z"
        ]
    );
    let out = preview(&[
        "weekdays",
        "2017-06-15T12:16:50+02:00",
        "2",
        "Europe/Stockholm",
    ]);
    assert_eq!(
        lines(&out),
        ["2017-06-15T22:00:00Z", "2017-06-18T22:00:00Z"]
    );
    let out = preview(&["0 12 * * *", "2017-06-15T10:16:50Z", "1", "GMT +2"]);
    assert_eq!(lines(&out), ["2017-06-16T10:00:00Z"]);
    // across the spring-forward gap in Stockholm
    let out = preview(&[
        "30 2 * * *",
        "2024-03-30T12:00:00Z",
        "2",
        "Europe/Stockholm",
    ]);
    assert_eq!(
        lines(&out),
        ["2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"]
    );
}

#[test]
fn timestamps_and_schedules_that_end() {
    let out = preview(&["--timestamp", "22:00", "2017-06-15T10:16:50Z", "2", "UTC"]);
    assert_eq!(
        lines(&out),
        ["2017-06-15T22:00:00Z", "2017-06-16T22:00:00Z"]
    );
    let out = preview(&[
        "--timestamp",
        "2017-06-15 10:20",
        "2017-06-15T10:16:50Z",
        "5",
        "UTC",
    ]);
    assert_eq!(lines(&out), ["2017-06-15T10:20:00Z"]);
    let out = preview(&[
        "0 0 1 jan/2 * 2011-2013",
        "2017-06-15T10:16:50Z",
        "5",
        "UTC",
    ]);
    assert_eq!(lines(&out), Vec::<String>::new());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "cron_preview: the schedule does not fire after 2017-06-15T10:16:50Z\n"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["5 minutes", "2017-06-15T10:16:50Z", "3"],
            "cron_preview: Invalid interval: \"5 minutes\" (Invalid cron notation: invalid values for hour (minutes))",
        ),
        (
            &["--timestamp", "25:00", "2017-06-15T10:16:50Z", "3"],
            "cron_preview: Invalid timestamp: \"25:00\"",
        ),
        (
            &["hourly", "2017-06-15T10:16:50Z", "3", "Mars/Olympus"],
            "cron_preview: Unknown timezone: Mars/Olympus",
        ),
        (&["hourly", "yesterday", "3"], "cron_preview: invalid start time \"yesterday\""),
        (&["hourly", "2017-06-15T10:16:50Z", "many"], "cron_preview: invalid count \"many\""),
        (&["hourly"], "usage: cron_preview"),
        (
            &["0 0 1-100000000000 * *", "2017-06-15T10:16:50Z", "3"],
            "cron_preview: Invalid interval: \"0 0 1-100000000000 * *\" (Invalid cron notation: invalid values for day (1-100000000000))",
        ),
    ];
    for (args, message) in cases {
        let out = preview(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// `cron_preview ... | head -1`: a reader that closes the pipe ends the listing quietly (it
/// panicked on the broken pipe).
#[test]
fn a_closed_pipe_ends_the_listing_without_a_panic() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let mut child = Command::new(example_bin("cron_preview"))
        // far more output than a pipe buffers
        .args(["every second", "2017-06-16T18:50:00Z", "200000", "UTC"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cron_preview");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a first line");
    // the reader is dropped here: the pipe is closed
    assert_eq!(first.trim_end(), "2017-06-16T18:50:01Z");
    let out = child.wait_with_output().expect("cron_preview exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?} {stderr}", out.status);
}
