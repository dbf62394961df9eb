//! Issue 13 item 6: anyone who can send mail signed for a domain whose DNS never answers must not
//! stall the importer. Real Dovecot, real SQLite, and a real name server on loopback that swallows
//! every query (this process's resolver asks only it; the good sender's DKIM key is pinned).

use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use postkorb_app::clock::Clock;
use postkorb_app::importer::{self, RunReport};
use postkorb_app::mailbox::source_config;
use postkorb_app::secret::SecretKey;
use postkorb_core::EmailAddress;
use postkorb_store::{MailboxRecord, NewEmployee, Store};
use postkorb_testkit::Dovecot;

const USER: &str = "vorgaenge@office.test";
const PASSWORD: &str = "geheim";
/// Only a guard against a hang; no test here asserts how long a pass took.
const HANG_GUARD: Duration = Duration::from_secs(300);
const T0: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

/// The signing key of mustermail.de, and the silent name server (kept open for the process).
struct Dns {
    pkcs8: Vec<u8>,
    _silent: UdpSocket,
}

fn dns() -> &'static Dns {
    static DNS: OnceLock<Dns> = OnceLock::new();
    DNS.get_or_init(|| {
        let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let resolver = postkorb_verify::Resolver::with_name_server(silent.local_addr().unwrap())
            .unwrap()
            .with_lookup_timeout(Duration::from_secs(2));
        let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
        let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
        resolver.add_dkim_key("s1", "mustermail.de", &format!("v=DKIM1; k=ed25519; p={public}")).unwrap();
        assert!(importer::set_resolver(resolver), "the test's resolver must be the first one in use");
        Dns { pkcs8, _silent: silent }
    })
}

/// A mail from `from` signed for the domain of `from` (selector s1).
fn signed(from: &str, subject: &str) -> Vec<u8> {
    let domain = from.rsplit('@').next().unwrap();
    let mail = format!(
        "From: {from}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0100\r\n\r\nText: {subject}\r\n",
        subject.replace(' ', "-")
    );
    let key = Ed25519Key::from_pkcs8_der(&dns().pkcs8).unwrap();
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector("s1")
        .headers(["From", "To", "Subject", "Message-ID", "Date"])
        .sign(mail.as_bytes())
        .unwrap();
    let mut raw = signature.to_header().into_bytes();
    raw.extend_from_slice(mail.as_bytes());
    raw
}

struct Office {
    store: Store,
    key: SecretKey,
    _dir: tempfile::TempDir,
}

async fn office() -> Office {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("p.db").display())).await.unwrap();
    let key = SecretKey::load_or_create(&dir.path().join("key")).unwrap();
    let add = |name: &str, license: Option<&str>, email: Option<&str>| NewEmployee {
        name: name.into(),
        username: Some(name.to_lowercase()),
        is_current: true,
        license: license.map(str::to_string),
        work_email: email.map(|e| EmailAddress::parse(e).unwrap()),
        permissions: vec![],
    };
    let anna = store.add_employee(&add("Anna", None, Some("anna@mustermail.de")), 1).await.unwrap().id;
    let bernd = store.add_employee(&add("Bernd", Some("L2"), None), 1).await.unwrap().id;
    store.add_route(anna, bernd, 1).await.unwrap();
    Office { store, key, _dir: dir }
}

async fn mailbox(o: &Office, port: u16) -> MailboxRecord {
    let m = MailboxRecord {
        name: "dns".into(),
        protocol: "imap".into(),
        host: "127.0.0.1".into(),
        port: port.into(),
        tls: "none".into(),
        username: USER.into(),
        secret: None,
        folder: "INBOX".into(),
        disposal: "move".into(),
        target_folder: "Postkorb/Importiert".into(),
        poll_secs: 60,
        // The default policy: an aligned DKIM signature, checked here.
        verify_policy: String::new(),
        enabled: true,
        ..Default::default()
    };
    let m = postkorb_app::mailbox::with_password(m, &o.key, PASSWORD).unwrap();
    o.store.save_mailbox(&m, 1).await.unwrap()
}

async fn pass(o: &Office, m: &MailboxRecord, now_ms: i64) -> RunReport {
    let cfg = source_config(m, &o.key, Default::default()).unwrap();
    tokio::time::timeout(HANG_GUARD, importer::run_once(&o.store, m, &cfg, 3, &Clock::fixed(now_ms)))
        .await
        .expect("a pass must return although a sender domain's DNS never answers")
        .unwrap()
}

#[tokio::test]
async fn a_flood_from_a_domain_whose_dns_never_answers_does_not_hold_up_other_mail_and_is_kept_after_a_day() {
    dns();
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, PASSWORD);
    let o = office().await;
    let m = mailbox(&o, dovecot.imap_port()).await;
    for i in 0..6 {
        dovecot.deliver(USER, &signed("spam@stall.test", &format!("Haengt {i}")));
        if i % 2 == 0 {
            dovecot.deliver(USER, &signed("anna@mustermail.de", &format!("Echt {i}")));
        }
    }

    // The pass returns, Anna's mails are Bernd's Vorgänge, the stalled ones wait on the server.
    let report = pass(&o, &m, T0).await;
    let cases = o.store.cases(None, 100, 0).await.unwrap();
    let mut subjects: Vec<&str> = cases.iter().map(|c| c.subject.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, ["Echt 0", "Echt 2", "Echt 4"], "{report:?}");
    assert!(cases.iter().all(|c| c.assignee_name.as_deref() == Some("Bernd")), "{cases:?}");
    assert_eq!(report.deferred, 6, "{report:?}");
    assert_eq!(dovecot.count(USER, "INBOX"), 6, "the stalled mails stay on the server for a retry");
    assert!(o.store.kept(true, 10, 0).await.unwrap().is_empty());
    let retries = o.store.dns_retries(m.id).await.unwrap();
    assert_eq!(retries.len(), 6);
    assert!(retries.values().all(|r| r.first_ms == T0 && r.tries == 1 && r.next_ms > T0), "{retries:?}");

    // A minute later they are not fetched and checked again (back-off): still one try each.
    let report = pass(&o, &m, T0 + 60_000).await;
    assert_eq!((report.deferred, report.imported.len()), (6, 0), "{report:?}");
    assert!(o.store.dns_retries(m.id).await.unwrap().values().all(|r| r.tries == 1));

    // After the give-up time (24 h by default) the next failure keeps them, with the reason.
    let report = pass(&o, &m, T0 + 25 * HOUR).await;
    assert_eq!(report.deferred, 0, "{report:?}");
    let kept = o.store.kept(true, 10, 0).await.unwrap();
    assert_eq!(kept.len(), 6, "{kept:?}");
    for k in &kept {
        assert_eq!(k.reason_code, "unverified_dns");
        let german = k.reason().unwrap().german();
        assert!(german.starts_with("Absender nicht verifiziert (DNS nicht erreichbar)"), "{german}");
    }
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "kept and disposed of");
    assert!(o.store.dns_retries(m.id).await.unwrap().is_empty(), "stored mails wait for nothing");
    assert_eq!(o.store.cases(None, 100, 0).await.unwrap().len(), 3, "no forged mail reached a person");
}
