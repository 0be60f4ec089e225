//! A real moto server (the AWS SNS+SQS emulator from PyPI, installed into `.venv` by
//! `scripts/test-env.sh`) on an ephemeral loopback port, stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The region the tests use.
pub const REGION: &str = "eu-west-1";

pub struct Moto {
    child: Option<Child>,
    pub port: u16,
}

fn moto_server() -> PathBuf {
    let path = std::env::var_os("TOMODACHI_TEST_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server")
        });
    assert!(
        path.exists(),
        "{} is missing: run `. scripts/test-env.sh` (scripts/test.sh does)",
        path.display()
    );
    path
}

impl Moto {
    /// Starts a fresh moto server and waits until it answers.
    pub async fn start() -> Moto {
        let mut moto = Moto {
            child: None,
            port: super::free_port(),
        };
        moto.spawn().await;
        moto
    }

    async fn spawn(&mut self) {
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        self.child = Some(child);
        let started = Instant::now();
        while !self.is_up().await {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not come up on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn is_up(&self) -> bool {
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let req = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).await.is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        matches!(s.read(&mut buf).await, Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200"))
    }

    /// The endpoint URL for every AWS service.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (all its state is gone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts the server on the same port (with empty state).
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Service options pointing every AWS client at this server.
    pub fn options(&self) -> tomodachi::Options {
        let mut o = tomodachi::Options::default();
        o.http.port = 0;
        o.http.host = "127.0.0.1".into();
        o.aws_sns_sqs.region_name = Some(REGION.into());
        o.aws_sns_sqs.aws_access_key_id = Some("testing".into());
        o.aws_sns_sqs.aws_secret_access_key = Some("testing".into());
        o.aws_endpoint_urls.sns = Some(self.url());
        o.aws_endpoint_urls.sqs = Some(self.url());
        o.aws_endpoint_urls.sts = Some(self.url());
        o
    }

    /// SDK clients for inspecting the emulator from a test.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&self.sdk_config().await)
                .endpoint_url(self.url())
                .build(),
        )
    }

    /// An SNS client for the emulator.
    pub async fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&self.sdk_config().await)
                .endpoint_url(self.url())
                .build(),
        )
    }

    async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
