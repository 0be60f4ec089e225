//! `options.nats.credentials_file` against a nats-server of its own in operator mode
//! (decentralized JWT authentication): the test makes an operator, an account with JetStream
//! and a user as NATS JWTs signed with nkeys, preloads the account into the server's memory
//! resolver, and writes the user's `.creds` file as `nsc` does.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{eventually, unique, TestNats};
use nkeys::KeyPair;
use serde_json::{json, Value};
use sha2::Digest as _;
use tomodachi::{App, ServiceBuilder};
use tomodachi_nats::{NatsConfig, NatsServiceBuilderExt, NatsSubscription};

/// A NATS v2 JWT of `claims` (`sub`, `name` and `nats` set by the caller) issued by `issuer`,
/// encoded as nats-io/jwt's `ClaimsData.doEncode`: `iss` and `iat` set, `jti` the unpadded
/// base32 of the SHA-512/256 of the claims without it, signed with ed25519 over
/// `header.payload`.
fn encode(issuer: &KeyPair, mut claims: Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    claims["iss"] = json!(issuer.public_key());
    claims["iat"] = json!(now);
    let without_jti = serde_json::to_vec(&claims).expect("claims json");
    claims["jti"] =
        json!(data_encoding::BASE32_NOPAD.encode(&sha2::Sha512_256::digest(without_jti)));
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims json"));
    let signed = format!("{header}.{payload}");
    let signature = issuer.sign(signed.as_bytes()).expect("signed");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims of a JWT of `kind` for `subject` named `name`, with `nats` fields besides
/// `type` and `version`.
fn claims(subject: &KeyPair, name: &str, kind: &str, mut nats: Value) -> Value {
    nats["type"] = json!(kind);
    nats["version"] = json!(2);
    json!({"sub": subject.public_key(), "name": name, "nats": nats})
}

/// An account's JWT issued by `operator`: no limits, and JetStream enabled without limits when
/// `jetstream` (the system account has none).
fn account_jwt(operator: &KeyPair, account: &KeyPair, name: &str, jetstream: bool) -> String {
    let mut limits = json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1,
    });
    if jetstream {
        for limit in ["mem_storage", "disk_storage", "streams", "consumer"] {
            limits[limit] = json!(-1);
        }
    }
    let nats = json!({"limits": limits, "default_permissions": {"pub": {}, "sub": {}}});
    encode(operator, claims(account, name, "account", nats))
}

/// A user's `.creds` file text: its JWT issued by `account` (no limits), then its seed, with
/// the markers `nsc generate creds` writes.
fn user_creds(account: &KeyPair, user: &KeyPair, name: &str) -> String {
    let nats = json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1});
    let jwt = encode(account, claims(user, name, "user", nats));
    let seed = user.seed().expect("a user seed");
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}

/// An operator-mode nats-server of its own and the files for it.
struct OperatorMode {
    nats: TestNats,
    dir: PathBuf,
    /// the creds file of a user of the preloaded account
    creds: PathBuf,
    /// the creds file of a user of an account the server does not know
    stranger_creds: PathBuf,
}

impl Drop for OperatorMode {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes the operator, account and user, the server config and the creds files, starts the
/// server and waits until JetStream answers a client with the user's credentials.
async fn operator_mode() -> OperatorMode {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tomodachi-nats-creds-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a temp dir");

    let operator = KeyPair::new_operator();
    let operator_jwt = encode(
        &operator,
        claims(&operator, "tomodachi-test-operator", "operator", json!({})),
    );
    let account = KeyPair::new_account();
    // JetStream needs the server's system account (in the resolver too)
    let system = KeyPair::new_account();
    let (account_jwt, system_jwt) = (
        account_jwt(&operator, &account, "tomodachi-test-account", true),
        account_jwt(&operator, &system, "SYS", false),
    );
    std::fs::write(
        dir.join("server.conf"),
        format!(
            "operator: {operator_jwt}\nsystem_account: {system_key}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {system_key}: {system_jwt}\n  {}: {account_jwt}\n}}\n",
            account.public_key(),
            system_key = system.public_key(),
        ),
    )
    .expect("the server config");
    let creds = dir.join("user.creds");
    std::fs::write(
        &creds,
        user_creds(&account, &KeyPair::new_user(), "tomodachi-test-user"),
    )
    .expect("the creds file");
    // a user of an account signed by the same operator but not in the resolver
    let stranger_creds = dir.join("stranger.creds");
    std::fs::write(
        &stranger_creds,
        user_creds(&KeyPair::new_account(), &KeyPair::new_user(), "stranger"),
    )
    .expect("the creds file");

    let config = dir.join("server.conf").to_string_lossy().into_owned();
    // the port, loopback address and JetStream store come from TestNats's arguments
    let nats = TestNats::start_own_with(&["-c", &config]).await;
    let setup = OperatorMode {
        nats,
        dir,
        creds,
        stranger_creds,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(client) = creds_client(&setup.nats.url, &setup.creds).await {
            if let Ok(reply) = client.request("$JS.API.INFO", "".into()).await {
                let reply = String::from_utf8_lossy(&reply.payload).into_owned();
                if !reply.contains("\"error\"") {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the operator-mode nats-server did not answer JetStream requests"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    setup
}

/// A plain async-nats client authenticated with the creds file.
async fn creds_client(url: &str, creds: &Path) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::with_credentials_file(creds)
        .await
        .map_err(|e| e.to_string())?
        .connect(url)
        .await
        .map_err(|e| e.to_string())
}

/// The error of starting a service with `config` and a subscription (which must fail).
async fn start_error(config: NatsConfig, subject: &str) -> String {
    let service = ServiceBuilder::new("nats-creds-refused", ())
        .nats_config(config)
        .nats(NatsSubscription::new(subject), |_s: Arc<()>| async {})
        .build();
    match App::new().service(service).start().await {
        Ok(app) => {
            app.stop().await;
            panic!("the service started");
        }
        Err(e) => {
            println!("start error: {e}");
            e.to_string()
        }
    }
}

#[tokio::test]
async fn a_service_authenticates_with_a_credentials_file_in_operator_mode() {
    let setup = operator_mode().await;
    let url = setup.nats.url.clone();
    let subject = unique("creds.in");

    // without credentials the operator-mode server refuses the service: the start fails
    let message = start_error(NatsConfig::new().servers([url.clone()]), &subject).await;
    assert!(message.contains(&url), "{message}");
    assert!(
        message.to_lowercase().contains("authorization violation"),
        "{message}"
    );

    let handled = Arc::new(AtomicU32::new(0));
    let service = ServiceBuilder::from_arc("nats-creds", handled.clone())
        .nats_config(
            NatsConfig::new()
                .servers([url.clone()])
                .credentials_file(&setup.creds),
        )
        .nats(
            NatsSubscription::new(subject.clone()).raw(),
            |n: Arc<AtomicU32>, text: tomodachi::message::Data<String>| async move {
                assert_eq!(text.0, "with a creds file");
                n.fetch_add(1, Ordering::SeqCst);
            },
        )
        .build();
    let app = App::new()
        .service(service)
        .start()
        .await
        .expect("started with the credentials file");

    // published through JetStream by another client of the same user
    let client = creds_client(&url, &setup.creds)
        .await
        .expect("a client with the creds file");
    async_nats::jetstream::new(client)
        .publish(subject.clone(), "with a creds file".into())
        .await
        .expect("published")
        .await
        .expect("stored in the service's stream");
    eventually("handled", || handled.load(Ordering::SeqCst) == 1).await;
    assert_eq!(app.stop().await, 0);
}

#[tokio::test]
async fn a_user_of_an_unknown_account_is_refused_at_start() {
    let setup = operator_mode().await;
    let url = setup.nats.url.clone();
    let message = start_error(
        NatsConfig::new()
            .servers([url.clone()])
            .credentials_file(&setup.stranger_creds),
        &unique("creds.stranger"),
    )
    .await;
    assert!(message.contains(&url), "{message}");
    assert!(
        message.to_lowercase().contains("authorization violation"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreadable_credentials_file_fails_the_start_naming_option_and_file() {
    let setup = operator_mode().await;
    let missing = setup.dir.join("missing.creds");
    let message = start_error(
        NatsConfig::new()
            .servers([setup.nats.url.clone()])
            .credentials_file(&missing),
        &unique("creds.missing"),
    )
    .await;
    assert!(message.contains("nats.credentials_file"), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
}
