//! A sender domain whose DNS never answers must not stall the verification of other mail: a real
//! UDP socket on loopback that swallows every query is the name server here.

use crate::signer::Signer;
use std::net::UdpSocket;
use std::time::Duration;

use postkorb_verify::{Checked, DnsBudget, Policy, Resolver, verify_all};

/// Only a guard against a hang; nothing here asserts how long anything took.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// A mail of `domain` numbered `n`, signed by `signer`.
fn signed_mail(signer: &Signer, domain: &str, n: usize) -> Vec<u8> {
    let mail = format!(
        "From: Absender <info@{domain}>\r\nTo: postkorb@kanzlei.de\r\nSubject: Nr. {n}\r\n\
         Message-ID: <{n}@{domain}>\r\n\r\nText {n}\r\n"
    );
    signer.sign_headers(&mail, domain, &["From", "To", "Subject", "Message-ID"])
}

/// A name server that receives every query and never answers (kept open by the returned socket),
/// and a resolver asking only it, with `good.de`'s key pinned.
fn silent_dns(signer: &Signer, lookup: Duration) -> (UdpSocket, Resolver) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = Resolver::with_name_server(socket.local_addr().unwrap()).unwrap().with_lookup_timeout(lookup);
    resolver.add_dkim_key("s1", "good.de", &signer.dns_record()).unwrap();
    (socket, resolver)
}

fn mails(signer: &Signer) -> Vec<(Vec<u8>, &'static str)> {
    let mut out = Vec::new();
    for n in 0..5 {
        out.push((signed_mail(signer, "stall.de", n), "stall.de"));
        out.push((signed_mail(signer, "good.de", n), "good.de"));
    }
    out
}

async fn check_all(mails: &[(Vec<u8>, &'static str)], resolver: &Resolver, budget: &DnsBudget) -> Vec<Checked> {
    let refs: Vec<(&[u8], &str)> = mails.iter().map(|(raw, d)| (raw.as_slice(), *d)).collect();
    let policy = Policy::DkimAligned { relaxed: true };
    tokio::time::timeout(HANG_GUARD, verify_all(&refs, &policy, resolver, budget))
        .await
        .expect("verification must return although one domain's DNS never answers")
}

fn verdict(c: &Checked) -> &postkorb_verify::Verdict {
    match c {
        Checked::Verdict(v) => v,
        Checked::NotTried => panic!("expected a verdict, got NotTried"),
    }
}

#[tokio::test]
async fn a_domain_whose_dns_never_answers_is_asked_once_per_pass_and_other_mail_verifies() {
    let signer = Signer::new();
    let (_server, resolver) = silent_dns(&signer, Duration::from_millis(500));
    let mails = mails(&signer);
    let budget = DnsBudget::new(Duration::from_secs(60));
    let checked = check_all(&mails, &resolver, &budget).await;
    let mut stalled_details = Vec::new();
    for ((_, domain), c) in mails.iter().zip(&checked) {
        let v = verdict(c);
        if *domain == "good.de" {
            assert!(v.verified, "{v:?}");
        } else {
            assert!(!v.verified && v.temporary, "a DNS timeout is temporary: {v:?}");
            stalled_details.push(v.detail.clone());
        }
    }
    let not_asked = stalled_details.iter().filter(|d| d.contains("did not answer in this pass")).count();
    assert_eq!(not_asked, 4, "only the first mail of stall.de waited for its DNS: {stalled_details:?}");
    // The next batch of the same pass does not ask stall.de again either.
    let again = check_all(&mails[..1], &resolver, &budget).await;
    assert!(verdict(&again[0]).detail.contains("did not answer in this pass"), "{again:?}");
}

#[tokio::test]
async fn a_lookup_that_never_ends_is_cut_by_the_pass_budget_and_cached_keys_still_verify() {
    let signer = Signer::new();
    // A lookup alone could wait an hour; the pass's budget is what ends it.
    let (_server, resolver) = silent_dns(&signer, Duration::from_secs(3600));
    let mails = mails(&signer);
    let budget = DnsBudget::new(Duration::from_millis(500));
    let checked = check_all(&mails, &resolver, &budget).await;
    for ((_, domain), c) in mails.iter().zip(&checked) {
        match (*domain, c) {
            ("good.de", c) => assert!(verdict(c).verified, "{c:?}"),
            (_, Checked::NotTried) => {}
            (_, Checked::Verdict(v)) => assert!(v.temporary && !v.verified, "{v:?}"),
        }
    }
    // With the budget used up, nothing waits for DNS at all: untried, not failed.
    let late = check_all(&mails[..2], &resolver, &budget).await;
    assert!(matches!(late[0], Checked::NotTried | Checked::Verdict(postkorb_verify::Verdict { temporary: true, .. })));
    assert!(verdict(&late[1]).verified, "{late:?}");
}
