//! Form bodies over a real socket, encoded by a real client (`curl --data-urlencode`, `curl -F`):
//! `Form<T>` and `Multipart`, with their limits and bad input.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use tomodachi::http::{Form, Method, Multipart, MultipartLimits};
use tomodachi::{App, Error, Service};

use crate::support::{raw, test_options};

#[derive(serde::Deserialize)]
struct Signup {
    name: String,
    age: u8,
    tags: Option<String>,
}

fn service() -> Service {
    Service::builder("forms", ())
        .options({
            let mut o = test_options();
            o.http.client_max_size = 4 << 20;
            o
        })
        .http(
            [Method::GET, Method::POST],
            r"/signup",
            |_s: Arc<()>, Form(form): Form<Signup>| async move {
                format!("{} is {} ({:?})", form.name, form.age, form.tags)
            },
        )
        .http(Method::POST, r"/upload", |_s: Arc<()>, form: Multipart| async move {
            upload(form, MultipartLimits::default()).await
        })
        .http(
            Method::POST,
            r"/upload-small",
            |_s: Arc<()>, form: Multipart| async move {
                upload(form, MultipartLimits::default().max_parts(2).max_part_size(1024)).await
            },
        )
        .build()
}

/// One line per part: name, file name, content type, size and a checksum of the bytes.
async fn upload(form: Multipart, limits: MultipartLimits) -> Result<String, Error> {
    let mut form = form.limits(limits);
    let mut lines = Vec::new();
    while let Some(part) = form.next_part().await? {
        let head = format!(
            "{} {} {}",
            part.name().unwrap_or("-"),
            part.file_name().unwrap_or("-"),
            part.content_type().unwrap_or("-")
        );
        let bytes = part.bytes().await?;
        let sum = bytes
            .iter()
            .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(*b as u64));
        lines.push(format!("{head} {} {sum}", bytes.len()));
    }
    Ok(lines.join("\n"))
}

/// `curl` with `args` against `path`: (status, body).
fn curl(addr: SocketAddr, path: &str, args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("curl must be installed (scripts/test-env.sh installs it)");
    assert!(out.status.success(), "curl failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urlencoded_forms_from_a_real_client() {
    let running = App::new().service(service()).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let r = tokio::task::spawn_blocking(move || {
        [
            curl(
                addr,
                "/signup",
                &[
                    "--data-urlencode",
                    "name=Zoë & co",
                    "--data-urlencode",
                    "age=41",
                ],
            ),
            curl(addr, "/signup?name=q&age=7&tags=a%2Cb", &[]),
            curl(addr, "/signup", &["--data-urlencode", "name=x"]),
            curl(
                addr,
                "/signup",
                &["--data-urlencode", "name=x", "--data-urlencode", "age=300"],
            ),
            curl(
                addr,
                "/signup",
                &[
                    "-H",
                    "content-type: application/json",
                    "-d",
                    r#"{"name":"x","age":1}"#,
                ],
            ),
        ]
    })
    .await
    .unwrap();
    assert_eq!(r[0], (200, "Zoë & co is 41 (None)".into()));
    assert_eq!(r[1], (200, r#"q is 7 (Some("a,b"))"#.into()));
    assert_eq!(r[2].0, 400, "a missing field");
    assert_eq!(r[3].0, 400, "a field that does not fit");
    assert_eq!(r[4].0, 415, "not a form");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_from_a_real_client() {
    let dir = std::env::temp_dir().join(format!("tomodachi-forms-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sheep.bin");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    let sum = content
        .iter()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(*b as u64));

    let running = App::new().service(service()).start().await.unwrap();
    let addr = running.http_addr(0).unwrap();
    let upload = format!("file=@{};type=application/x-sheep", file.display());
    let r = tokio::task::spawn_blocking(move || {
        [
            curl(addr, "/upload", &["-F", "name=dolly", "-F", &upload]),
            curl(addr, "/upload-small", &["-F", "a=1", "-F", &upload]),
            curl(
                addr,
                "/upload-small",
                &["-F", "a=1", "-F", "b=2", "-F", "c=3"],
            ),
            curl(addr, "/upload", &["--data-urlencode", "name=x"]),
        ]
    })
    .await
    .unwrap();
    assert_eq!(
        r[0],
        (
            200,
            format!(
                "name - - 5 {}\nfile sheep.bin application/x-sheep 300000 {sum}",
                {
                    b"dolly"
                        .iter()
                        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(*b as u64))
                }
            )
        )
    );
    assert_eq!(r[1].0, 413, "a part over max_part_size: {r:?}");
    assert_eq!(r[2].0, 413, "more parts than max_parts: {r:?}");
    assert_eq!(r[3].0, 415, "not multipart: {r:?}");

    // a body that is not multipart inside: 400, and the server goes on
    let body = "--xyz\r\nno headers end here";
    let req = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(raw(addr, req.as_bytes()).await.status, 400);
    let req = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
    assert_eq!(raw(addr, req.as_bytes()).await.status, 415, "no boundary");
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
