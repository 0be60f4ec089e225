//! The stderr log writer as processes see it: records go out through a background thread, and
//! every one of them is on stderr, in order, whichever way the process ends (a graceful stop
//! by signal, returning from `main`, `std::process::exit`, a panic); a closed stderr does not
//! stop the service. Uses the example binaries (`hello`, `log_exit`).

use crate::support;
use crate::support::examples::example_command;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

/// `hello` with the access log on and keep-alive, on a free port: the child, its stderr (read
/// up to the `accepting http requests` line, which `seen` holds) and its address.
fn hello_with_access_log(seen: &mut String) -> (Child, BufReader<ChildStderr>, SocketAddr) {
    let mut child = example_command(
        "hello",
        &["--production"],
        &[
            ("HTTP_PORT", "0"),
            ("HTTP_KEEPALIVE_TIMEOUT", "30"),
            ("HTTP_ACCESS_LOG", "1"),
        ],
    )
    .spawn()
    .expect("spawn hello");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let addr = http_addr(&mut stderr, seen);
    (child, stderr, addr)
}

/// Reads stderr up to the console `accepting http requests` line; the address it names.
fn http_addr(stderr: &mut BufReader<ChildStderr>, seen: &mut String) -> SocketAddr {
    let mut line = String::new();
    loop {
        line.clear();
        let n = stderr.read_line(&mut line).expect("read stderr");
        assert!(n > 0, "no `accepting http requests` line in:\n{seen}");
        seen.push_str(&line);
        if line.contains("accepting http requests") {
            let port = line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("listen_port="))
                .and_then(|p| p.parse::<u16>().ok())
                .expect("listen_port");
            return SocketAddr::from(([127, 0, 0, 1], port));
        }
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
}

/// The `log_exit` program's stderr and exit code after logging `n` records from each of 4
/// threads and leaving `how`.
fn log_exit(how: &str, n: u32) -> (String, i32) {
    let out = example_command("log_exit", &[how, &n.to_string()], &[])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run log_exit");
    (
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
        out.status.code().unwrap_or(-1),
    )
}

/// Every record of the 4 threads, each thread's in order, then `last record`.
fn assert_all_records(stderr: &str, n: u32) {
    let records: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" [fixture]"))
        .collect();
    assert_eq!(
        records.len() as u32,
        4 * n + 1,
        "every record is written; the tail of stderr:\n{}",
        &stderr[stderr.len().saturating_sub(2000)..]
    );
    let mut next = [0u32; 4];
    for line in &records[..records.len() - 1] {
        let field = |key: &str| -> u32 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        };
        let (thread, seq) = (field("thread=") as usize, field("seq="));
        assert_eq!(seq, next[thread], "thread {thread}'s records in order");
        next[thread] += 1;
    }
    assert!(records[records.len() - 1].contains("] last record "));
    assert!(
        stderr
            .lines()
            .take_while(|l| !l.contains("] last record "))
            .all(|l| l.contains(" [fixture]")),
        "no torn record"
    );
}

#[test]
fn every_record_is_written_when_main_returns() {
    let (stderr, code) = log_exit("return", 20_000);
    assert_eq!(code, 0);
    assert_all_records(&stderr, 20_000);
}

#[test]
fn every_record_is_written_when_the_process_calls_exit() {
    let (stderr, code) = log_exit("exit", 20_000);
    assert_eq!(code, 3);
    assert_all_records(&stderr, 20_000);
}

#[test]
fn every_record_is_written_before_a_panic_message() {
    let (stderr, code) = log_exit("panic", 20_000);
    assert_eq!(code, 101);
    assert_all_records(&stderr, 20_000);
    let last = stderr.find("] last record ").expect("last record");
    let panic = stderr
        .find("the end of log_exit")
        .expect("the panic message");
    assert!(last < panic, "the panic message follows the records");
}

// Keep-alive clients send requests back to back, one of them numbering its requests in the
// query string, when SIGTERM comes: the access log has one line per answered request, the
// numbered ones in order, and the service's last records after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_a_burst_loses_no_access_log_line() {
    let mut output = String::new();
    let (mut child, mut stderr, addr) = hello_with_access_log(&mut output);
    let reader = std::thread::spawn(move || {
        let _ = stderr.read_to_string(&mut output);
        output
    });

    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..16u64)
        .map(|client| {
            let (answered, stop) = (answered.clone(), stop.clone());
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let request = if client == 0 {
                        format!("GET /?i={i} HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    } else {
                        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned()
                    };
                    if stream.write_all(request.as_bytes()).await.is_err() {
                        break;
                    }
                    match support::read_response(&mut stream, false).await {
                        Some(resp) => {
                            assert_eq!(resp.status, 200);
                            answered.fetch_add(1, Ordering::Relaxed);
                            i += 1;
                            if resp.header("connection") == Some("close") {
                                break;
                            }
                        }
                        None => break,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sigterm(&child);
    for client in clients {
        tokio::time::timeout(Duration::from_secs(20), client)
            .await
            .expect("every client ends")
            .expect("client task");
    }
    stop.store(true, Ordering::Relaxed);
    let code = tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(40)))
        .await
        .unwrap();
    let output = tokio::task::spawn_blocking(move || reader.join().expect("stderr reader"))
        .await
        .unwrap();
    assert_eq!(code, 0, "{output}");

    let lines: Vec<&str> = output.lines().collect();
    let access: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("[tomodachi.http.response]"))
        .collect();
    let answered = answered.load(Ordering::Relaxed);
    assert!(answered > 16, "the clients were busy");
    assert_eq!(
        access.len() as u64,
        answered,
        "one access-log line per answered request; the tail:\n{}",
        lines[lines.len().saturating_sub(20)..].join("\n")
    );
    let numbered: Vec<u64> = access
        .iter()
        .filter_map(|&i| {
            lines[i]
                .split_whitespace()
                // `=` in a value makes the console quote it
                .find_map(|kv| kv.strip_prefix("request_query_string=\"i="))
                .and_then(|v| v.trim_end_matches('"').parse().ok())
        })
        .collect();
    assert!(!numbered.is_empty());
    assert_eq!(
        numbered,
        (0..numbered.len() as u64).collect::<Vec<_>>(),
        "one connection's requests in order"
    );
    let last_access = access[access.len() - 1];
    let stopped = lines
        .iter()
        .rposition(|l| l.contains("[tomodachi.lifecycle]"))
        .expect("a lifecycle record");
    assert!(
        stopped > last_access,
        "the service's last record follows the access log:\n{}",
        lines[last_access..].join("\n")
    );
}

// The service's stderr is a pipe whose reader goes away: the records fail to be written, the
// requests are answered all the same, and SIGTERM still stops the service with exit code 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_pipe_does_not_stop_the_service() {
    let mut seen = String::new();
    let (mut child, stderr, addr) = hello_with_access_log(&mut seen);
    drop(stderr);

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    for _ in 0..500 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let resp = support::read_response(&mut stream, false)
            .await
            .expect("an answer");
        assert_eq!(resp.status, 200);
    }
    drop(stream);
    sigterm(&child);
    let code = tokio::task::spawn_blocking(move || wait_exit(&mut child, Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(code, 0);
}
