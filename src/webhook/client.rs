//! One HTTP/1.1 POST to a webhook URL, over TCP or TLS.
//!
//! Built on hyper's connection-level client and tokio-rustls, which otpd already has (the CLI
//! client and SMPP over TLS use them), rather than reqwest: no new dependency tree, and a
//! webhook needs no more than "connect, POST, read the status". TLS trusts the Mozilla roots
//! (webpki-roots, as SMPP does), so the daemon behaves the same on every host whatever its CA
//! bundle, or only the webhook's `tls_ca_file`. One connection per try: deliveries are few per second at most, and a fresh
//! connection cannot be a stale pooled one.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Response bodies are read (so the exchange completes cleanly) up to this size and dropped.
const MAX_RESPONSE: usize = 64 * 1024;

static MOZILLA: LazyLock<Result<Arc<rustls::ClientConfig>, String>> =
    LazyLock::new(|| tls_config(None));

/// A TLS client setup that trusts the Mozilla roots, or only the CAs in `ca_file` (a PEM file)
/// when given: receivers on a private network often have a private CA.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("unusable CA in {}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("no certificate in {}", path.display()));
            }
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| format!("TLS setup failed: {e}"))
}

/// POSTs `body` with `headers` to `url` within `timeout`; the response's status, or why none
/// came. `tls`: the setup for https (`None`: the Mozilla roots).
pub async fn post(
    url: &Uri,
    tls: Option<&Arc<rustls::ClientConfig>>,
    headers: &[(&str, String)],
    body: Bytes,
    timeout: Duration,
) -> Result<u16, String> {
    match tokio::time::timeout(timeout, exchange(url, tls, headers, body)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no response within {}",
            humantime::format_duration(timeout)
        )),
    }
}

async fn exchange(
    url: &Uri,
    tls_config: Option<&Arc<rustls::ClientConfig>>,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<u16, String> {
    let tls = url.scheme_str() == Some("https");
    let host = url.host().ok_or("the URL has no host")?;
    let port = url.port_u16().unwrap_or(if tls { 443 } else { 80 });
    // An IPv6 literal comes bracketed ("[::1]"); the socket wants it bare.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if tls {
        let config = match tls_config {
            Some(config) => config.clone(),
            None => MOZILLA.as_ref().map_err(Clone::clone)?.clone(),
        };
        let name = rustls::pki_types::ServerName::try_from(bare.to_string())
            .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {host} failed: {e}"))?;
        send(stream, url, headers, body).await
    } else {
        send(tcp, url, headers, body).await
    }
}

async fn send<S>(
    stream: S,
    url: &Uri,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    // The connection task ends when the exchange does (the sender is dropped below).
    tokio::spawn(connection);
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    // The config refuses credentials in the URL, so the authority is host[:port].
    let authority = url.authority().map_or("", |a| a.as_str());
    let mut request = Request::post(path)
        .header("host", authority)
        .header("content-type", "application/json")
        .header("user-agent", concat!("otpd/", env!("CARGO_PKG_VERSION")));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("bad request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let _ = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await;
    Ok(status)
}
