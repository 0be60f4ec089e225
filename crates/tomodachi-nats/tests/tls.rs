//! `options.nats.tls_*` against a nats-server of its own that requires TLS and verifies client
//! certificates (a CA, a server and a client certificate made with `openssl` for the test).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::{eventually, TestNats};
use tomodachi::{App, ServiceBuilder};
use tomodachi_nats::{NatsConfig, NatsServiceBuilderExt, NatsSubscription};

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

/// A key and a certificate `name.pem` signed by the test CA, valid for 127.0.0.1.
fn signed(dir: &Path, name: &str, usage: &str) {
    let (key, csr, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::write(
        dir.join(format!("{name}.cnf")),
        format!(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
        ),
    )
    .expect("extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "1",
            "-extfile",
            &format!("{name}.cnf"),
        ],
    );
}

/// A CA, a server and a client certificate in a new temporary directory.
fn certificates() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tomodachi-nats-tls-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a cert dir");
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
            "/CN=tomodachi nats test CA",
        ],
    );
    signed(&dir, "server", "serverAuth");
    signed(&dir, "client", "clientAuth");
    dir
}

#[tokio::test]
async fn a_service_connects_over_tls_with_a_client_certificate() {
    let certs = certificates();
    let path = |f: &str| certs.join(f).to_string_lossy().into_owned();
    let nats = TestNats::start_own_with(&[
        "--tlsverify",
        "--tlscert",
        &path("server.pem"),
        "--tlskey",
        &path("server.key"),
        "--tlscacert",
        &path("ca.pem"),
    ])
    .await;
    let tls = || {
        NatsConfig::new()
            .servers([nats.url.clone()])
            .tls_ca_file(certs.join("ca.pem"))
            .tls_required(true)
    };

    // without the client certificate the server refuses the service: the start fails
    let refused = ServiceBuilder::new("nats-tls-refused", ())
        .nats_config(tls())
        .nats(NatsSubscription::new("tls.refused"), |_s: Arc<()>| async {})
        .build();
    match App::new().service(refused).start().await {
        Ok(app) => {
            app.stop().await;
            panic!("connected without a client certificate");
        }
        Err(e) => assert!(e.to_string().contains(&nats.url), "{e}"),
    }

    let handled = Arc::new(AtomicU32::new(0));
    let service = ServiceBuilder::from_arc("nats-tls", handled.clone())
        .nats_config(
            tls().tls_client_certificate(certs.join("client.pem"), certs.join("client.key")),
        )
        .nats(
            NatsSubscription::new("tls.in").raw(),
            |n: Arc<AtomicU32>, text: tomodachi::message::Data<String>| async move {
                assert_eq!(text.0, "over tls");
                n.fetch_add(1, Ordering::SeqCst);
            },
        )
        .build();
    let app = App::new()
        .service(service)
        .start()
        .await
        .expect("started over TLS");
    tomodachi_nats::publish_with(
        "over tls",
        "tls.in",
        tomodachi_nats::PublishOptions::new()
            .raw()
            .acknowledged()
            .service("nats-tls"),
    )
    .await
    .expect("published over the service's TLS connection");
    eventually("handled", || handled.load(Ordering::SeqCst) == 1).await;
    assert_eq!(app.stop().await, 0);
    let _ = std::fs::remove_dir_all(&certs);
}
