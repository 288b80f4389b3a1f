//! The client's address, for the per_ip limit.
//!
//! On TCP it is the peer's address, unless the peer is one of `[limits] trusted_proxies`:
//! then it is the rightmost address of `X-Forwarded-For` that is not a trusted proxy (each
//! proxy appends the address it got the request from, so everything left of the first
//! untrusted hop could have been written by the client and proves nothing). A header that does
//! not parse, whole, as a list of addresses is ignored: the peer counts. An untrusted peer's
//! header is ignored too. On the Unix socket there is no address: per_ip does not apply.

use super::AppState;
use super::auth::Transport;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client's address; `None` on the Unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<Arc<AppState>> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Infallible> {
        if parts.extensions.get::<Transport>() != Some(&Transport::Tcp) {
            return Ok(ClientIp(None));
        }
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientIp(None));
        };
        let live = state.live.get();
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().ok());
        Ok(ClientIp(Some(client_ip(
            peer.ip(),
            forwarded,
            &live.limits.trusted_proxies,
        ))))
    }
}

/// The client of a request from `peer` carrying the `X-Forwarded-For` header values
/// `forwarded` (in order; `None` for a value that is not text).
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl IntoIterator<Item = Option<&'a str>>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several header lines are one list, in order.
    let mut hops = Vec::new();
    for value in forwarded {
        let Some(value) = value else { return peer };
        for hop in value.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip.to_canonical()),
                Err(_) => return peer,
            }
        }
    }
    // If every hop is a proxy of ours, the leftmost is the farthest address known.
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| {
                s.parse::<IpNet>()
                    .unwrap_or_else(|_| IpNet::from(s.parse::<IpAddr>().unwrap()))
            })
            .collect()
    }

    #[test]
    fn the_client_behind_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8", "::1", "192.168.0.1"]);
        // (peer, X-Forwarded-For lines, expected client)
        let cases: &[(&str, &[&str], &str)] = &[
            // No proxy in between: the peer, whatever it claims.
            ("203.0.113.9", &[], "203.0.113.9"),
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // A trusted peer without the header: the peer.
            ("10.1.2.3", &[], "10.1.2.3"),
            // A trusted peer: the rightmost untrusted hop.
            ("10.1.2.3", &["198.51.100.1"], "198.51.100.1"),
            ("10.1.2.3", &["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
            (
                "10.1.2.3",
                &["1.1.1.1, 198.51.100.1, 10.9.9.9"],
                "198.51.100.1",
            ),
            // Several lines are one list.
            (
                "10.1.2.3",
                &["1.1.1.1", "198.51.100.1, 10.0.0.7"],
                "198.51.100.1",
            ),
            ("::1", &[" 2001:db8::7 ,192.168.0.1 "], "2001:db8::7"),
            // Every hop trusted: the leftmost.
            ("10.1.2.3", &["10.0.0.5, 192.168.0.1"], "10.0.0.5"),
            // Malformed: ignored whole, the peer counts.
            ("10.1.2.3", &["198.51.100.1:443"], "10.1.2.3"),
            ("10.1.2.3", &["1.1.1.1,, 198.51.100.1"], "10.1.2.3"),
            ("10.1.2.3", &["unknown"], "10.1.2.3"),
            ("10.1.2.3", &["198.51.100.1", ""], "10.1.2.3"),
            ("10.1.2.3", &["[2001:db8::1]"], "10.1.2.3"),
            // IPv4-mapped IPv6 is IPv4, for the peer and the hops.
            ("::ffff:10.1.2.3", &["::ffff:198.51.100.1"], "198.51.100.1"),
            ("::ffff:203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
        ];
        for (peer, lines, want) in cases {
            let got = client_ip(
                peer.parse().unwrap(),
                lines.iter().map(|l| Some(*l)),
                &trusted,
            );
            assert_eq!(got, want.parse::<IpAddr>().unwrap(), "{peer} {lines:?}");
        }
    }

    #[test]
    fn a_header_that_is_not_text_is_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(client_ip(peer, [Some("1.1.1.1"), None], &trusted), peer);
    }

    #[test]
    fn without_trusted_proxies_the_header_is_never_used() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(peer, [Some("1.1.1.1")], &[]), peer);
    }
}
