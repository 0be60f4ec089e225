//! Scheduled functions through `#[tomodachi::service]`: every attribute form, driven by a
//! paused tokio clock; and one real-time heartbeat.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tomodachi::schedule::TokioClock;
use tomodachi::App;

type Trail = Arc<Mutex<Vec<String>>>;

/// 2017-06-15T10:16:50Z
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_497_521_810)
}

#[derive(Default)]
struct Ticker {
    trail: Trail,
}

impl Ticker {
    fn push(&self, s: String) {
        self.trail.lock().unwrap().push(s);
    }
    fn three_seconds() -> &'static str {
        "3s"
    }
}

const EVERY_TWO_MINUTES: &str = "*/2 * * * *";

#[tomodachi::service(name = "ticker")]
impl Ticker {
    #[heartbeat]
    async fn beat(&self, invocation_time: String) {
        self.push(format!("beat {invocation_time}"));
    }

    #[every_second]
    async fn second(&self) {}

    #[schedule(interval = 5, immediately = true)]
    async fn five(&self, invocation_time: &str, interval: Option<String>) {
        self.push(format!("five {invocation_time} {interval:?}"));
    }

    #[schedule(interval = "*/2 * * * *", timezone = "Europe/Stockholm")]
    async fn cron(&self, interval: Option<&str>) -> tomodachi::Result<()> {
        self.push(format!("cron {interval:?}"));
        Ok(())
    }

    #[schedule(timestamp = "10:17:30", timezone = "UTC")]
    async fn stamp(&self, interval: Option<String>, invocation_time: String) {
        self.push(format!("stamp {invocation_time} {interval:?}"));
    }

    #[scheduler(Self::three_seconds())]
    async fn runtime_interval(&self, invocation_time: String) -> Result<(), std::io::Error> {
        self.push(format!("three {invocation_time}"));
        Ok(())
    }

    #[schedule(interval = EVERY_TWO_MINUTES, timezone = String::from("UTC"))]
    async fn runtime_cron(&self, invocation_time: String) {
        self.push(format!("runtime_cron {invocation_time}"));
    }

    #[minutely]
    async fn minute(&self, invocation_time: String) {
        self.push(format!("minute {invocation_time}"));
    }

    #[hourly]
    #[daily]
    #[monthly]
    async fn rarely(&self, invocation_time: String) {
        self.push(format!("rarely {invocation_time}"));
    }
}

fn lines(trail: &Trail, prefix: &str) -> Vec<String> {
    trail
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with(prefix))
        .cloned()
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_attribute_form_fires_on_time() {
    let ticker = Ticker::default();
    let trail = ticker.trail.clone();
    let running = App::new()
        .service(ticker)
        .clock(TokioClock::starting_at(t0()))
        .start()
        .await
        .unwrap();
    // to 10:19:55.5, in no time
    tokio::time::sleep(Duration::from_millis(185_500)).await;
    running.stop().await;

    let beats = lines(&trail, "beat ");
    assert_eq!(beats.len(), 185);
    assert_eq!(beats[0], "beat 2017-06-15T10:16:51Z");
    assert_eq!(
        lines(&trail, "five ")[..3],
        [
            "five 2017-06-15T10:16:50Z Some(\"5\")",
            "five 2017-06-15T10:16:55Z Some(\"5\")",
            "five 2017-06-15T10:17:00Z Some(\"5\")",
        ]
    );
    assert_eq!(lines(&trail, "cron "), ["cron Some(\"*/2 * * * *\")"]);
    assert_eq!(lines(&trail, "stamp "), ["stamp 2017-06-15T10:17:30Z None"]);
    assert_eq!(
        lines(&trail, "three ")[..2],
        ["three 2017-06-15T10:16:53Z", "three 2017-06-15T10:16:56Z"]
    );
    assert_eq!(
        lines(&trail, "runtime_cron "),
        ["runtime_cron 2017-06-15T10:18:00Z"]
    );
    assert_eq!(
        lines(&trail, "minute "),
        [
            "minute 2017-06-15T10:17:00Z",
            "minute 2017-06-15T10:18:00Z",
            "minute 2017-06-15T10:19:00Z",
        ]
    );
    assert!(lines(&trail, "rarely ").is_empty());
}

#[tokio::test(start_paused = true)]
async fn stacked_shorthands_each_schedule_the_function() {
    let ticker = Ticker::default();
    let trail = ticker.trail.clone();
    // 2017-06-30T23:59:00Z: the next hour, day and month all start at 2017-07-01T00:00:00Z
    let start = UNIX_EPOCH + Duration::from_secs(1_498_867_140);
    let running = App::new()
        .service(ticker)
        .clock(TokioClock::starting_at(start))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await;
    running.stop().await;
    assert_eq!(
        lines(&trail, "rarely "),
        [
            "rarely 2017-07-01T00:00:00Z",
            "rarely 2017-07-01T00:00:00Z",
            "rarely 2017-07-01T00:00:00Z",
        ]
    );
}

struct BadAtRunTime;

fn from_config() -> String {
    "every 5 minutes".to_owned()
}

#[tomodachi::service(name = "bad")]
impl BadAtRunTime {
    #[schedule(interval = from_config())]
    async fn never(&self) {}
}

#[tokio::test]
async fn an_invalid_runtime_value_fails_the_start_clearly() {
    let err = App::new()
        .service(BadAtRunTime)
        .start()
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "Invalid interval: \"every 5 minutes\" (Invalid cron notation: invalid values for minute \
         (every)) (scheduled function 'never')"
    );
}

/// The one real-time test: a 1 s heartbeat for about 2.5 s.
#[tokio::test]
async fn real_time_heartbeat() {
    #[derive(Default)]
    struct Live {
        seen: Mutex<Vec<(String, SystemTime)>>,
    }

    #[tomodachi::service(name = "live")]
    impl Live {
        #[heartbeat]
        async fn beat(&self, invocation_time: String) {
            self.seen
                .lock()
                .unwrap()
                .push((invocation_time, SystemTime::now()));
        }
    }

    let live = Live::default();
    let running = App::new().service(live).start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let service = tomodachi::get_service::<Live>(Some("live")).expect("registered");
    let seen = service.seen.lock().unwrap().clone();
    running.stop().await;
    assert!((2..=3).contains(&seen.len()), "{seen:?}");
    let mut previous: Option<u64> = None;
    for (invocation_time, ran_at) in &seen {
        let scheduled: tomodachi_cron::jiff::Timestamp = invocation_time.parse().unwrap();
        let scheduled = UNIX_EPOCH + Duration::from_secs(scheduled.as_second() as u64);
        let late = ran_at.duration_since(scheduled).expect("never early");
        assert!(
            late < Duration::from_millis(500),
            "{invocation_time} ran {late:?} late"
        );
        let secs = scheduled.duration_since(UNIX_EPOCH).unwrap().as_secs();
        if let Some(p) = previous {
            assert_eq!(secs, p + 1, "consecutive seconds");
        }
        previous = Some(secs);
    }
}
