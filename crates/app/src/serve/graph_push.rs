//! `serve`: change notifications for Microsoft Graph mailboxes (issue 20). When `public_url` is
//! https (Graph calls only such addresses; a loopback test server may call any), the instance that
//! fetches a Graph mailbox keeps a subscription for new mail in its folder: made when missing,
//! renewed twice a day (so one Graph forgot is made anew within half a day). Graph's notifications arrive at
//! `postkorb_web::graph_notify` and wake the mailbox's loop (push.rs); the poll interval and the
//! delta query stay the safety net, so a failed subscription only means polling (logged, retried
//! after a quarter of an hour).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postkorb_source::{Protocol, Session};
use postkorb_store::{MailboxRecord, Store};

use crate::clock::Clock;
use crate::settings::Settings;

/// How often `serve` looks at the subscriptions.
pub const EVERY: Duration = Duration::from_secs(10);

/// How long a subscription is asked for (Graph allows 4230 minutes for messages).
const LIFETIME_MS: i64 = 2 * 24 * 3_600_000;

/// A subscription is renewed when less than this is left: twelve hours after it was made or renewed.
const RENEW_BEFORE_MS: i64 = LIFETIME_MS - 12 * 3_600_000;

/// After a failed attempt, the next waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Runs until `stopping` turns true.
pub fn spawn(store: Store, settings: Settings, clock: Clock, mut stopping: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut failed: HashMap<i64, Instant> = HashMap::new();
        loop {
            if let Err(e) = round(&store, &settings, &clock, &mut failed).await {
                tracing::warn!(error = %format!("{e:#}"), "Graph subscriptions: cannot read the mailboxes");
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    });
}

/// Where Graph is to send the notifications for `m`, if it can reach this instance.
pub fn notification_url(settings: &Settings, m: &MailboxRecord) -> Option<String> {
    let base = settings.public_url.as_deref()?.trim_end_matches('/');
    let test_server = m.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (base.starts_with("https://") || test_server).then(|| format!("{base}{}", postkorb_web::graph_notify::PATH))
}

async fn round(
    store: &Store,
    settings: &Settings,
    clock: &Clock,
    failed: &mut HashMap<i64, Instant>,
) -> anyhow::Result<()> {
    for m in store.mailboxes().await? {
        if !m.enabled || m.protocol != Protocol::Graph.code() {
            continue;
        }
        let Some(url) = notification_url(settings, &m) else { continue };
        // Only the instance fetching the mailbox keeps its subscription.
        let ours = store.lease(m.id).await?.is_some_and(|l| l.holder == crate::service::lease::instance_id());
        if !ours || failed.get(&m.id).is_some_and(|t| t.elapsed() < RETRY_AFTER) {
            continue;
        }
        match keep(store, settings, clock, &m, &url).await {
            Ok(()) => {
                failed.remove(&m.id);
            }
            Err(e) => {
                tracing::warn!(mailbox = %m.name, error = %format!("{e:#}"), "Graph subscription failed; polling only");
                failed.insert(m.id, Instant::now());
            }
        }
    }
    Ok(())
}

/// Makes or renews the subscription of `m` when it is missing or due for renewal.
async fn keep(store: &Store, settings: &Settings, clock: &Clock, m: &MailboxRecord, url: &str) -> anyhow::Result<()> {
    let now = clock.now_ms();
    let stored = store.graph_subscription(m.id).await?;
    if stored.as_ref().is_some_and(|s| s.expires_ms - now > RENEW_BEFORE_MS) {
        return Ok(());
    }
    let key = crate::secret::SecretKey::load_or_create(&settings.key_file())?;
    let cfg = crate::service::oauth::fresh_config(store, m, &key, clock, settings.net()).await?;
    let Session::Graph(graph) = Session::connect(&cfg).await? else {
        anyhow::bail!("not a Microsoft Graph mailbox");
    };
    if let Some(s) = &stored
        && let Some(expires_ms) = graph.renew_subscription(&s.subscription_id, now + LIFETIME_MS).await?
    {
        store.renew_graph_subscription(m.id, expires_ms).await?;
        return Ok(());
    }
    let mut secret = [0u8; 24];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let client_state: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let sub = graph.subscribe(url, &client_state, now + LIFETIME_MS).await?;
    store.save_graph_subscription(m.id, &sub.id, &client_state, sub.expires_ms, clock.now_ms()).await?;
    tracing::info!(mailbox = %m.name, "Graph change notifications subscribed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_is_told_an_https_public_url_or_a_loopback_test_servers_any() {
        let graph = |host: &str| MailboxRecord { host: host.into(), ..Default::default() };
        let with = |url: Option<&str>| Settings { public_url: url.map(str::to_string), ..Settings::default() };
        let cases = [
            (
                Some("https://postkorb.buero.de/"),
                "graph.microsoft.com",
                Some("https://postkorb.buero.de/graph/benachrichtigung"),
            ),
            (Some("http://postkorb.buero.de"), "graph.microsoft.com", None),
            (None, "graph.microsoft.com", None),
            (Some("http://127.0.0.1:8080"), "127.0.0.1", Some("http://127.0.0.1:8080/graph/benachrichtigung")),
        ];
        for (url, host, expected) in cases {
            assert_eq!(notification_url(&with(url), &graph(host)).as_deref(), expected, "{url:?} {host}");
        }
    }
}
