//! A NATS server with JetStream for the tests: `TOMODACHI_TEST_NATS_URL` when set, else a
//! `nats-server -js` of its own on a free loopback port with a temporary store, stopped (and
//! its store removed) when dropped.

pub mod process;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct TestNats {
    pub url: String,
    port: u16,
    extra: Vec<String>,
    child: Option<Child>,
    store: Option<PathBuf>,
}

impl TestNats {
    /// The shared server (`TOMODACHI_TEST_NATS_URL`) when set, else one of its own.
    #[allow(dead_code)]
    pub async fn start() -> TestNats {
        if let Ok(url) = std::env::var("TOMODACHI_TEST_NATS_URL") {
            if !url.trim().is_empty() {
                return TestNats {
                    url,
                    port: 0,
                    extra: Vec::new(),
                    child: None,
                    store: None,
                };
            }
        }
        Self::start_own().await
    }

    /// A `nats-server -js` of its own (for tests that stop or restart it, or need a clean one).
    #[allow(dead_code)]
    pub async fn start_own() -> TestNats {
        Self::start_own_with(&[]).await
    }

    /// [`TestNats::start_own`] with extra server arguments (TLS, ...).
    pub async fn start_own_with(extra: &[&str]) -> TestNats {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        static N: AtomicU32 = AtomicU32::new(0);
        let store = std::env::temp_dir().join(format!(
            "tomodachi-nats-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&store).expect("a store dir");
        let mut server = TestNats {
            url: format!("nats://127.0.0.1:{port}"),
            port,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
            store: Some(store),
        };
        server.spawn();
        if server.extra.is_empty() {
            server.wait_ready().await;
        } else {
            wait_port(port).await;
        }
        server
    }

    fn spawn(&mut self) {
        let bin = ["/usr/sbin/nats-server", "nats-server"]
            .into_iter()
            .find(|b| !b.starts_with('/') || std::path::Path::new(b).exists())
            .unwrap_or("nats-server");
        let store = self.store.clone().expect("an own server");
        let child = Command::new(bin)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&store)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (install the nats-server package or set TOMODACHI_TEST_NATS_URL)");
        self.child = Some(child);
    }

    /// Waits until JetStream answers.
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(client) = async_nats::connect(&self.url).await {
                // JetStream answers once the server is fully up
                if let Ok(reply) = client.request("$JS.API.INFO", "".into()).await {
                    if !String::from_utf8_lossy(&reply.payload).contains("\"error\"") {
                        break;
                    }
                }
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops its own server (SIGKILL: no goodbye to the clients) and starts it again on the
    /// same port and store; returns when JetStream answers again.
    #[allow(dead_code)]
    pub async fn restart(&mut self) {
        let mut child = self.child.take().expect("an own server");
        let _ = child.kill();
        let _ = child.wait();
        self.spawn();
        self.wait_ready().await;
    }

    #[allow(dead_code)]
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(&self.url).await.expect("connect")
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(store) = self.store.take() {
            let _ = std::fs::remove_dir_all(store);
        }
    }
}

#[allow(dead_code)]
/// A name no other test (nor an earlier run against a shared server) uses.
pub fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "t{}x{}x{}.{label}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[allow(dead_code)]
/// Polls `check` every 20 ms until it holds, failing after 20 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until something listens on the loopback `port`.
async fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nats-server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
