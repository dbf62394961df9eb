//! Two `postkorb serve` instances on one PostgreSQL database reading one Dovecot mailbox with
//! 2,000 mails: every mail is imported exactly once, one instance fetches at a time (the lease),
//! and when the fetching instance is killed the other takes over and imports the rest.

use crate::scale_support;

use std::time::{Duration, Instant};

use crate::common::HANG_GUARD;
use scale_support::{Cluster, Instance, tail};

const MAILS: usize = 2000;

/// An office with Anna (sends from her phone) whose mails go to Bernd.
fn office(c: &Cluster) {
    c.env("cli").office();
    // A login exists, so neither instance creates a first admin at start.
    c.postkorb(&["employee", "set", "bernd", "--password-stdin"], Some("bernd-passwort-2026"));
}

/// Every tenth mail comes from a stranger (kept), the rest from Anna (a Vorgang for Bernd).
fn sender(i: usize) -> String {
    if i.is_multiple_of(10) { format!("fremd{i}@example.org") } else { "Anna <anna@mustermail.de>".into() }
}

/// Waits until some instance holds the mailbox's lease; returns its holder id.
async fn holder(c: &Cluster, mailbox: i64, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        if let Some(lease) = c.store.lease(mailbox).await.unwrap()
            && lease.expires_ms > now
        {
            return lease.holder;
        }
        assert!(Instant::now() < deadline, "no instance took the fetch lease within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn which<'a>(holder: &str, instances: [&'a Instance; 2]) -> (&'a Instance, &'a Instance) {
    match instances {
        [a, b] if a.holds(holder) => (a, b),
        [a, b] if b.holds(holder) => (b, a),
        _ => panic!("the lease holder {holder} is neither instance"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_one_database_import_two_thousand_mails_exactly_once() {
    let Some(c) = Cluster::new(5, 100).await else { return };
    office(&c);
    let ids = c.deliver(MAILS, "eins", sender);
    let a = c.start("a");
    let b = c.start("b");
    let mailbox = c.mailbox_id().await;
    let first = holder(&c, mailbox, Duration::from_secs(30)).await;
    let taken = c.store.lease(mailbox).await.unwrap().expect("the lease is held").taken_ms;
    c.wait_imported(MAILS as i64, Duration::from_secs(300), &[&a, &b]).await;
    c.assert_exactly_once(&ids).await;
    assert_eq!(c.count("SELECT COUNT(*) FROM kept").await, (MAILS / 10) as i64, "mails from strangers kept");
    assert_eq!(
        c.dovecot.count(scale_support::USER, "Postkorb/Importiert"),
        MAILS,
        "moved to the import folder once each"
    );

    // One instance held the lease the whole time (same holder, same taken time) and the other
    // never fetched.
    let lease = c.store.lease(mailbox).await.unwrap().expect("the lease is held");
    assert_eq!((lease.holder.as_str(), lease.taken_ms), (first.as_str(), taken), "the lease changed hands");
    let (_, waiting) = which(&first, [&a, &b]);
    assert!(!waiting.log().contains(" imported"), "the waiting instance imported too:\n{}", waiting.log());

    // A clean stop gives the lease back at once; the other instance takes it and fetches new mail.
    let (mut holding, waiting) = if a.holds(&first) { (a, b) } else { (b, a) };
    holding.terminate();
    let next = holder(&c, mailbox, Duration::from_secs(5)).await;
    assert!(waiting.holds(&next), "after a clean stop the lease went to {next}");
    let more = c.deliver(10, "zwei", sender);
    c.wait_imported((MAILS + 10) as i64, Duration::from_secs(60), &[&waiting]).await;
    c.assert_exactly_once(&[ids, more].concat()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_fetching_instance_is_killed_mid_import_the_other_takes_over_and_imports_the_rest() {
    let lease = Duration::from_secs(3);
    let Some(c) = Cluster::new(lease.as_secs(), 20).await else { return };
    office(&c);
    let ids = c.deliver(MAILS, "kill", sender);
    let a = c.start("a");
    let b = c.start("b");
    let mailbox = c.mailbox_id().await;
    let first = holder(&c, mailbox, Duration::from_secs(30)).await;

    // Kill the fetching instance (SIGKILL: no clean-up at all) at a random moment in the middle of
    // the import (anywhere from the first batches to three quarters).
    let at =
        50 + (std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8) % 1450) as i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = c.count("SELECT COUNT(*) FROM ledger").await;
        if done >= at {
            assert!(done < MAILS as i64, "the import finished before the kill");
            break;
        }
        assert!(Instant::now() < deadline, "the import does not start\n{}\n{}", tail(&a.log()), tail(&b.log()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (mut killed, survivor) = if a.holds(&first) { (a, b) } else { (b, a) };
    killed.kill();
    let killed_at = Instant::now();
    let before = c.count("SELECT COUNT(*) FROM ledger").await;

    // The survivor takes the lease over: at once (the holder id names a process of this host that
    // no longer runs), at the latest when it expires. How soon is a number for bench/, not asserted.
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        if let Some(l) = c.store.lease(mailbox).await.unwrap()
            && l.holder != first
            && l.expires_ms > now
        {
            assert!(survivor.holds(&l.holder), "the lease went to {}", l.holder);
            break;
        }
        assert!(
            killed_at.elapsed() < HANG_GUARD,
            "no takeover after the kill (lease {lease:?})\n{}",
            tail(&survivor.log())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took_over = killed_at.elapsed();
    eprintln!("killed with {before} of {MAILS} imported; taken over after {took_over:?}");

    c.wait_imported(MAILS as i64, Duration::from_secs(300), &[&survivor]).await;
    c.assert_exactly_once(&ids).await;
    assert_eq!(c.count("SELECT COUNT(*) FROM kept").await, (MAILS / 10) as i64, "mails from strangers kept");
}
