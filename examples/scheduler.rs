//! Upstream's scheduler example: functions run on intervals, crontab expressions and
//! timestamps.
//!
//! ```sh
//! cargo run --example scheduler
//! ```
//! It logs a heartbeat every second, "every 20 seconds" right away and then every 20 seconds,
//! and the others at their times.

#[derive(Default)]
struct SchedulerService;

#[tomodachi::service(name = "example-scheduler-service")]
impl SchedulerService {
    #[schedule(interval = "every second")]
    async fn every_second(&self) {
        tracing::info!("Heartbeat");
    }

    #[minutely] // #[schedule(interval = "minutely")]
    async fn every_minute(&self) {
        tracing::info!("Heartbeat (every minute)");
    }

    #[hourly] // #[schedule(interval = "hourly")]
    async fn every_hour(&self) {
        tracing::info!("Heartbeat (every hour)");
    }

    #[schedule(interval = "*/2 * * * *")] // crontab notation
    async fn every_second_minute(&self) {
        tracing::info!("Heartbeat (every 2nd minute)");
    }

    #[schedule(interval = "1/2 8-18 * * mon-fri")] // advanced crontab notation
    async fn work_hours(&self) {
        tracing::info!("Heartbeat (every odd minute between 8-18 on weekdays)");
    }

    #[schedule(interval = "30 5 * jan,mar Ltue")] // the last Tuesday of January and March at 05:30
    async fn advanced_cron_notation_scheduling(&self) {
        tracing::info!("Heartbeat (the last Tuesday of January and March at 05:30 AM)");
    }

    #[schedule(timestamp = "22:15:30")] // as a time of day
    async fn as_timestamp(&self) {
        tracing::info!("Heartbeat (22:15:30)");
    }

    #[schedule(timestamp = "00:00:00", timezone = "Europe/Stockholm")] // with a time zone
    async fn midnight_in_sweden(&self) {
        tracing::info!("Heartbeat (midnight in Sweden)");
    }

    #[schedule(interval = 20)]
    async fn every_twenty_seconds(&self) {
        tracing::info!("Every 20 seconds");
    }

    #[schedule(interval = 20, immediately = true)]
    async fn every_twenty_seconds_and_immediately(&self, invocation_time: String) {
        tracing::info!(invocation_time = %invocation_time, "Every 20 seconds and immediately");
    }
}

tomodachi::main!(SchedulerService);
