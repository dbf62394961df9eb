//! reqwest for HTTP APIs (the Graph source, token endpoints, webhooks): rustls, no redirects (a
//! server that redirects is refused, so nobody can bounce our tokens or requests elsewhere), short
//! timeouts, and the host resolved once here, checked against the [`NetPolicy`] and pinned, so the
//! request goes to exactly the addresses that were checked.

use std::time::Duration;

use crate::stream::resolve_checked;
use crate::{NetPolicy, SourceError};

/// How long a name lookup or a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take.
#[derive(Clone, Copy, Debug)]
pub enum HttpLimit {
    /// The whole request, answer included (token endpoints, webhooks).
    Total(Duration),
    /// Each read may wait this long; a large answer may take as long as it keeps arriving.
    Idle(Duration),
}

/// A client for requests to the origin of `url` (and only there: see the module doc).
pub async fn pinned_client(url: &str, net: NetPolicy, limit: HttpLimit) -> Result<reqwest::Client, SourceError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| SourceError::Config(format!("not a URL: {url:?}: {e}")))?;
    let host = parsed.host_str().ok_or_else(|| SourceError::Config(format!("the URL {url:?} has no host")))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = resolve_checked(bare, port, CONNECT_TIMEOUT, net).await?;
    let mut builder =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).connect_timeout(CONNECT_TIMEOUT);
    builder = match limit {
        HttpLimit::Total(d) => builder.timeout(d),
        HttpLimit::Idle(d) => builder.read_timeout(d),
    };
    if parsed.domain().is_some() {
        builder = builder.resolve_to_addrs(host, &addrs);
    }
    builder.build().map_err(|e| SourceError::Config(format!("cannot build the HTTP client: {e}")))
}
