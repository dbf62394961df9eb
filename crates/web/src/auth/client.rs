//! The client's address, for the login limit. It is the TCP peer (axum's `ConnectInfo`, present
//! when the server is started with `into_make_service_with_connect_information`). Only when the
//! peer is one of the configured `trusted_proxies` is `X-Forwarded-For` read: its right-most entry
//! that is not itself a trusted proxy (what the nearest proxy saw). Anything else a client sends in
//! that header is ignored, so it cannot pick its own bucket. Without `ConnectInfo` (a router driven
//! by `oneshot` in tests) all requests share the bucket "unknown".

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::WebState;
use crate::error::WebError;

/// The login limit's bucket for the request's client: an IPv4 address, an IPv6 /64 network (one
/// host usually holds a whole /64), or "unknown".
pub struct ClientAddress(pub String);

impl FromRequestParts<WebState> for ClientAddress {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let forwarded = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        Ok(ClientAddress(bucket(client_ip(peer, forwarded, &state.trusted_proxies))))
    }
}

fn client_ip<'a>(peer: Option<IpAddr>, forwarded: impl Iterator<Item = &'a str>, trusted: &[IpAddr]) -> Option<IpAddr> {
    // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.
    let peer = peer?.to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> =
        forwarded.flat_map(|v| v.split(',')).filter_map(|h| h.trim().parse::<IpAddr>().ok()).collect();
    Some(hops.into_iter().rev().map(|ip| ip.to_canonical()).find(|ip| !trusted.contains(ip)).unwrap_or(peer))
}

fn bucket(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(peer: Option<&str>, xff: &[&str], trusted: &[&str], expected: &str) {
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        let got = bucket(client_ip(peer.map(|p| p.parse().unwrap()), xff.iter().copied(), &trusted));
        assert_eq!(got, expected, "peer {peer:?}, X-Forwarded-For {xff:?}, trusted {trusted:?}");
    }

    #[test]
    fn a_client_cannot_choose_its_bucket_by_a_forwarded_header_unless_it_comes_through_a_trusted_proxy() {
        check(Some("203.0.113.7"), &["198.51.100.1"], &[], "203.0.113.7");
        check(Some("127.0.0.1"), &["198.51.100.1"], &[], "127.0.0.1");
        check(Some("127.0.0.1"), &["198.51.100.1"], &["127.0.0.1"], "198.51.100.1");
        // A forged entry the client put in front is not the one the proxy appended.
        check(Some("127.0.0.1"), &["10.9.9.9, 198.51.100.1"], &["127.0.0.1"], "198.51.100.1");
        check(Some("127.0.0.1"), &["198.51.100.1", "10.0.0.2"], &["127.0.0.1", "10.0.0.2"], "198.51.100.1");
        check(Some("127.0.0.1"), &["nonsense"], &["127.0.0.1"], "127.0.0.1");
        check(Some("::ffff:192.0.2.4"), &[], &[], "192.0.2.4");
        check(Some("2001:db8:1:2:3:4:5:6"), &[], &[], "2001:db8:1:2::/64");
        check(None, &["198.51.100.1"], &["127.0.0.1"], "unknown");
    }
}
