//! AMQP over TLS (`options.amqp.ssl`): the service connects with `amqps` through a TLS
//! terminator in front of the real RabbitMQ, trusting a test CA the way every TLS client on
//! the machine does (`SSL_CERT_FILE`), and handles a message published over the same TLS link.
//! The certificates are made with the `openssl` command for this test only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tomodachi::amqp::{AmqpSubscription, PublishOptions};
use tomodachi::envelope::JsonBase;
use tomodachi::message::Message;
use tomodachi::{App, Error, Options, Service};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl command");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a server certificate for 127.0.0.1 / localhost signed by it.
fn certificates() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tomodachi-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=tomodachi test CA",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
    dir
}

/// Terminates TLS on an ephemeral port and forwards to RabbitMQ on 5672.
async fn tls_terminator(dir: &Path) -> u16 {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut broker) = TcpStream::connect("127.0.0.1:5672").await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
            });
        }
    });
    port
}

/// The trusted test CA: created once, and added to the roots of this process's TLS clients
/// (the machine's roots plus it, through `SSL_CERT_FILE`) before any test connects.
fn trusted() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = certificates();
        let mut bundle = std::fs::read(dir.join("ca.pem")).unwrap();
        if let Ok(system) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
            bundle.extend_from_slice(&system);
        }
        std::fs::write(dir.join("bundle.pem"), bundle).unwrap();
        std::env::set_var("SSL_CERT_FILE", dir.join("bundle.pem"));
        dir
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_and_publish_over_tls() {
    let dir = trusted();
    let port = tls_terminator(dir).await;

    let mut options = Options::default();
    options.http.port = 0;
    options.http.host = "127.0.0.1".into();
    options.amqp.ssl = true;
    options.amqp.port = port;
    let rk = format!("test.tls.{}", uuid::Uuid::new_v4().simple());
    let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let svc = Service::builder("amqp-tls", seen.clone())
        .options(options)
        .message_envelope(JsonBase)
        .amqp(
            AmqpSubscription::new(rk.clone()),
            |seen: Arc<Arc<Mutex<Vec<serde_json::Value>>>>, msg: Message| async move {
                seen.lock().unwrap().push(msg.data()?);
                Ok::<_, Error>(())
            },
        )
        .build();
    let running = App::new().service(svc).start().await.unwrap();
    tomodachi::amqp::publish_with(
        &serde_json::json!({"over": "tls"}),
        &rk,
        PublishOptions::new().service("amqp-tls"),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        if !seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*seen.lock().unwrap(), [serde_json::json!({"over": "tls"})]);
    assert_eq!(running.stop().await, 0);
}

/// A broker certificate the client does not trust fails the start with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_fails_the_start() {
    trusted();
    let dir = certificates(); // another CA, not trusted
    let port = tls_terminator(&dir).await;
    let mut options = Options::default();
    options.http.port = 0;
    options.amqp.ssl = true;
    options.amqp.port = port;
    let svc = Service::builder("amqp-tls-untrusted", ())
        .options(options)
        .amqp(
            AmqpSubscription::new("test.tls.untrusted"),
            |_s: Arc<()>, _m: Message| async {},
        )
        .build();
    let started = tokio::time::timeout(Duration::from_secs(30), App::new().service(svc).start())
        .await
        .expect("the start gives up");
    let err = started
        .err()
        .expect("an untrusted broker certificate is an error");
    assert!(
        err.to_string()
            .starts_with("Unable to connect [amqp] to 127.0.0.1:"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
