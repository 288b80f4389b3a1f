//! A small HTTP/1.1 client over hyper, on the daemon's Unix socket or TCP, plus the helpers
//! that read the simulated handset and check problem+json errors.

use crate::support::DEADLINE;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Debug)]
enum Target {
    Unix(PathBuf),
    /// The daemon's address, and the local address to connect from (any when `None`).
    Tcp(SocketAddr, Option<IpAddr>),
}

/// One daemon endpoint, with headers (an API key) added to every request.
#[derive(Clone, Debug)]
pub struct Client {
    target: Target,
    headers: Vec<(String, String)>,
}

/// A response: status, headers, and the body as JSON (`Value::Null` if it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body field `name` as a string.
    pub fn str(&self, name: &str) -> &str {
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no string {name:?} in {}", self.text))
    }
}

impl Client {
    pub fn unix(path: PathBuf) -> Client {
        Client {
            target: Target::Unix(path),
            headers: Vec::new(),
        }
    }

    pub fn tcp(addr: SocketAddr) -> Client {
        Client {
            target: Target::Tcp(addr, None),
            headers: Vec::new(),
        }
    }

    /// The same TCP endpoint, connecting from `source` (e.g. 127.0.0.2: every 127/8 address is
    /// the loopback), so the daemon sees another peer.
    pub fn connecting_from(&self, source: IpAddr) -> Client {
        let mut c = self.clone();
        if let Target::Tcp(addr, _) = c.target {
            c.target = Target::Tcp(addr, Some(source));
        }
        c
    }

    /// The same endpoint with `name: value` on every request.
    pub fn with_header(&self, name: &str, value: &str) -> Client {
        let mut c = self.clone();
        c.headers.push((name.to_string(), value.to_string()));
        c
    }

    /// The same endpoint with an API key as X-API-Key + X-API-Secret.
    pub fn with_key(&self, (key, secret): &(String, String)) -> Client {
        self.with_header("x-api-key", key)
            .with_header("x-api-secret", secret)
    }

    /// One request on a new connection. `body` is (content type, bytes).
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Reply, BoxError> {
        let mut sender = match &self.target {
            Target::Unix(path) => {
                let io = TokioIo::new(tokio::net::UnixStream::connect(path).await?);
                let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
                tokio::spawn(conn);
                sender
            }
            Target::Tcp(addr, source) => {
                let stream = match source {
                    None => tokio::net::TcpStream::connect(addr).await?,
                    Some(ip) => {
                        let socket = if ip.is_ipv4() {
                            tokio::net::TcpSocket::new_v4()?
                        } else {
                            tokio::net::TcpSocket::new_v6()?
                        };
                        socket.bind(SocketAddr::new(*ip, 0))?;
                        socket.connect(*addr).await?
                    }
                };
                let io = TokioIo::new(stream);
                let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
                tokio::spawn(conn);
                sender
            }
        };
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header("content-type", content_type);
                bytes
            }
            None => Vec::new(),
        };
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(bytes)))?)
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = response.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
            text,
        })
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        self.try_call(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, &[], None).await
    }

    /// POST of a JSON body (any JSON value; other bodies go through [`Client::call`]).
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        let bytes = body.to_string().into_bytes();
        self.call("POST", path, &[], Some(("application/json", bytes)))
            .await
    }

    pub async fn send(&self, body: Value) -> Reply {
        self.post("/otp/send", &body).await
    }

    /// POST /otp/send that must be answered 201; returns the verification id.
    pub async fn send_ok(&self, body: Value) -> String {
        let reply = self.send(body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.str("verification_id").to_string()
    }

    pub async fn verify(&self, id: &str, code: &str) -> Reply {
        let body = json!({ "verification_id": id, "otp_code": code });
        self.post("/otp/verify", &body).await
    }

    pub async fn resend(&self, id: &str) -> Reply {
        self.post("/otp/resend", &json!({ "verification_id": id }))
            .await
    }

    pub async fn cancel(&self, id: &str) -> Reply {
        self.post("/otp/cancel", &json!({ "verification_id": id }))
            .await
    }

    pub async fn status(&self, id: &str) -> Reply {
        self.get(&format!("/otp/status?verification_id={}", encode(id)))
            .await
    }

    /// The texts the simulated handset of `recipient` has received, oldest first.
    pub async fn messages(&self, recipient: &str) -> Vec<String> {
        let reply = self
            .get(&format!("/sim/messages?recipient={}", encode(recipient)))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(m["recipient"], recipient, "{m}");
                m["text"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// Waits until `recipient` has received `n` messages; returns the code of the `n`th.
    pub async fn wait_code(&self, recipient: &str, n: usize) -> String {
        let text = eventually(&format!("message {n} for {recipient}"), || async {
            self.messages(recipient).await.into_iter().nth(n - 1)
        })
        .await;
        code_of(&text)
    }

    /// Waits until the status of `id` satisfies `pred`; returns that status.
    pub async fn wait_status(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        eventually(what, || async {
            let reply = self.status(id).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            pred(&reply.body).then_some(reply.body)
        })
        .await
    }
}

/// Percent-encodes a query value (enough for numbers with '+' and for odd ids).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The code in a message text: its first run of at least four digits ("Your otpd code is
/// 123456. It expires in 5 min.").
pub fn code_of(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() >= 4)
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_string()
}

/// A code that is not `code`: same length, every digit changed.
pub fn wrong(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}

/// Polls `f` until it gives `Some`, or panics after [`DEADLINE`]. For things that happen
/// asynchronously inside the daemon (delivery, expiry), where no event reaches the test.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(found) = f().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

static NEXT_RECIPIENT: AtomicU32 = AtomicU32::new(0);

/// A Tanzanian mobile number no other test of this run uses.
pub fn recipient() -> String {
    let n = NEXT_RECIPIENT.fetch_add(1, Ordering::Relaxed);
    format!("+255713{n:06}")
}

/// Checks that `reply` is an RFC 9457 problem with `status` and `code`; returns its detail.
pub fn assert_problem(reply: &Reply, status: u16, code: &str) -> String {
    let context = format!("{status} {code}: got {} {}", reply.status, reply.text);
    assert_eq!(reply.status, status, "{context}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{context}"
    );
    let body = reply.body.as_object().expect(&context);
    assert_eq!(body["type"], "about:blank", "{context}");
    assert_eq!(body["status"], status, "{context}");
    assert_eq!(body["code"], code, "{context}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{context}"
    );
    let detail = body["detail"].as_str().expect(&context);
    assert!(!detail.is_empty(), "{context}");
    detail.to_string()
}
