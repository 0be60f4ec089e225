//! A fault-injecting HTTP proxy in front of the real moto server: it forwards every AWS call
//! to the emulator, records each call (its action, the access key id and region it was signed
//! with, its body), and answers chosen calls with a failure instead of forwarding them
//! (throttling, 503, a dropped connection). moto itself never throttles nor fails, so this is
//! how the tests make the AWS calls of a running service fail.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the proxy answers a call instead of forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 with the service's throttling error code.
    Throttle,
    /// HTTP 503 with an empty body.
    Unavailable,
    /// The connection is closed without an answer.
    Drop,
}

/// One call the proxy saw.
#[derive(Debug, Clone)]
pub struct Call {
    /// `Publish`, `ReceiveMessage`, `GetCallerIdentity`, …
    pub action: String,
    /// The access key id of the request's signature.
    pub access_key_id: String,
    /// The region of the request's signature.
    pub region: String,
    /// The request body (form or JSON text).
    pub body: String,
    /// The fault the proxy answered with, if it did not forward the call.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    faults: HashMap<String, VecDeque<Fault>>,
}

/// The proxy; stops with its last handle.
pub struct AwsProxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl AwsProxy {
    /// Starts a proxy on an ephemeral loopback port in front of `upstream_port`.
    pub async fn start(upstream_port: u16) -> AwsProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, upstream_port, state.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        AwsProxy { port, state, task }
    }

    /// The endpoint URL to give the clients.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers the next calls of `action` with `faults`, one each, in order.
    pub fn fail(&self, action: &str, faults: &[Fault]) {
        let mut state = self.state.lock().unwrap();
        state
            .faults
            .entry(action.to_owned())
            .or_default()
            .extend(faults.iter().copied());
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls of one action so far.
    pub fn calls_of(&self, action: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.action == action)
            .collect()
    }

    /// Forgets the calls seen so far.
    pub fn clear(&self) {
        self.state.lock().unwrap().calls.clear();
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The action of a call: `X-Amz-Target: AmazonSQS.ReceiveMessage` (JSON protocol) or the
/// `Action=` field of a query-protocol form body (SNS, STS).
fn action_of(req: &hyper::http::request::Parts, body: &str) -> String {
    if let Some(target) = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    body.split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("")
        .to_owned()
}

/// Access key id and region of `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/…`.
fn credential_of(req: &hyper::http::request::Parts) -> (String, String) {
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let credential = auth
        .split("Credential=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or("");
    let mut parts = credential.split('/');
    let key = parts.next().unwrap_or("").to_owned();
    let region = parts.nth(1).unwrap_or("").to_owned();
    (key, region)
}

fn fault_response(fault: Fault, json_protocol: bool) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (fault, json_protocol) {
        (Fault::Unavailable, _) => (StatusCode::SERVICE_UNAVAILABLE, "text/plain", String::new()),
        (_, true) => (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"#
                .to_owned(),
        ),
        (_, false) => (
            StatusCode::BAD_REQUEST,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
             <Message>Rate exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
                .to_owned(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn handle(
    req: Request<Incoming>,
    upstream_port: u16,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    let action = action_of(&parts, &text);
    let (access_key_id, region) = credential_of(&parts);
    let fault = {
        let mut state = state.lock().unwrap();
        let fault = state.faults.get_mut(&action).and_then(VecDeque::pop_front);
        state.calls.push(Call {
            action,
            access_key_id,
            region,
            body: text,
            fault,
        });
        fault
    };
    match fault {
        // an error ends the connection without a response
        Some(Fault::Drop) => Err(std::io::Error::other("fault: connection dropped")),
        Some(f) => Ok(fault_response(
            f,
            parts.headers.contains_key("x-amz-target"),
        )),
        None => forward(parts, body, upstream_port).await,
    }
}

async fn forward(
    parts: hyper::http::request::Parts,
    body: Bytes,
    upstream_port: u16,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let stream = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
