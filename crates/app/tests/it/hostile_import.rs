//! The hostile corpus of the mail crate, delivered through a real Dovecot between normal mails: one
//! importer pass must not fail, every mail must end in exactly one state (a Vorgang or a kept mail
//! with the expected reason), the normal mails must still become Vorgänge, and the INBOX must empty.

use std::time::Instant;

use postkorb_app::clock::Clock;
use postkorb_app::importer;
use postkorb_app::mailbox::source_config;
use postkorb_app::secret::SecretKey;
use postkorb_core::EmailAddress;
use postkorb_store::{MailboxRecord, NewEmployee, Store};
use postkorb_testkit::Dovecot;

#[path = "../../../mail/tests/it/hostile_cases.rs"]
mod hostile_cases;

use hostile_cases::{ANNA, Hostile};

const USER: &str = "vorgaenge@office.test";
const PASSWORD: &str = "geheim";

/// Anna's mails go to Bernd: a mail parsed with Anna as sender becomes a Vorgang.
async fn office(dir: &std::path::Path) -> (Store, SecretKey) {
    let store = Store::open(&format!("sqlite:{}", dir.join("p.db").display())).await.unwrap();
    let key = SecretKey::load_or_create(&dir.join("key")).unwrap();
    let add = |name: &str, license: Option<&str>, email: Option<&str>| NewEmployee {
        name: name.into(),
        username: Some(name.to_lowercase()),
        is_current: true,
        license: license.map(str::to_string),
        work_email: email.map(|e| EmailAddress::parse(e).unwrap()),
        permissions: vec![],
    };
    let anna = store.add_employee(&add("Anna", None, Some(ANNA)), 1).await.unwrap().id;
    let bernd = store.add_employee(&add("Bernd", Some("L2"), None), 1).await.unwrap().id;
    store.add_route(anna, bernd, 1).await.unwrap();
    (store, key)
}

async fn mailbox(store: &Store, key: &SecretKey, port: u16) -> MailboxRecord {
    let m = MailboxRecord {
        name: "hostile".into(),
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
        // Routing of hostile input is under test, not sender verification.
        verify_policy: postkorb_verify::Policy::Off.to_storage(),
        enabled: true,
        ..Default::default()
    };
    let m = postkorb_app::mailbox::with_password(m, key, PASSWORD).unwrap();
    store.save_mailbox(&m, 1).await.unwrap()
}

fn normal(n: usize) -> Vec<u8> {
    hostile_cases::mail(
        &[
            &format!("From: Anna <{ANNA}>"),
            &format!("Subject: Normale Mail {n}"),
            "Content-Type: text/plain; charset=utf-8",
        ],
        format!("Guten Tag, Schaden Nummer {n}.\r\n").as_bytes(),
    )
}

/// Where the importer must put a hostile mail: `None` for a Vorgang, else the kept reason code.
fn expected_state(h: &Hostile) -> Option<&'static str> {
    match (h.expect.malformed, h.expect.sender) {
        (Some(_), _) => Some("malformed"),
        (None, Err(_)) => Some("no_usable_from"),
        (None, Ok(sender)) if sender == ANNA => None,
        (None, Ok(_)) => Some("no_route"),
    }
}

#[tokio::test]
async fn hostile_mails_end_in_one_defined_state_each_and_normal_mails_still_become_vorgaenge() {
    let dovecot = Dovecot::start();
    dovecot.add_user(USER, PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = office(dir.path()).await;
    let m = mailbox(&store, &key, dovecot.imap_port()).await;

    // One 20 MB single-line base64 mail goes through Dovecot too; the text and HTML variants of
    // it (same size class) are covered by the parser test only, to keep this test quick.
    let mut hostile = hostile_cases::small();
    hostile.extend(hostile_cases::big().into_iter().take(1));
    let started = Instant::now();
    let mut delivered = 0;
    for (i, h) in hostile.iter().enumerate() {
        if i % 10 == 0 {
            dovecot.deliver(USER, &normal(delivered));
            delivered += 1;
        }
        dovecot.deliver(USER, &h.raw);
    }
    let normals = delivered;
    eprintln!("delivered {} hostile + {normals} normal mails in {:?}", hostile.len(), started.elapsed());

    let cfg = source_config(&m, &key, Default::default()).unwrap();
    let started = Instant::now();
    let report = importer::run_once(&store, &m, &cfg, 3, &Clock::fixed(1_800_000_000_000))
        .await
        .unwrap_or_else(|e| panic!("the importer failed on hostile input: {e}"));
    eprintln!("imported in {:?}", started.elapsed());

    let total = hostile.len() + normals;
    assert_eq!((report.listed, report.imported.len(), report.deferred), (total, total, 0));
    let expected_cases = normals + hostile.iter().filter(|h| expected_state(h).is_none()).count();
    let (cases, kept, duplicates) = store.mailbox_counts(m.id).await.unwrap();
    assert_eq!(
        (cases as usize, kept as usize, duplicates),
        (expected_cases, total - expected_cases, 0),
        "every mail in exactly one state"
    );
    let mut want: Vec<&str> = hostile.iter().filter_map(expected_state).collect();
    let kept_mails = store.kept(true, 1000, 0).await.unwrap();
    let mut got: Vec<&str> = kept_mails.iter().map(|k| k.reason_code.as_str()).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "kept reasons");
    for k in &kept_mails {
        assert!(!store.raw(k.raw_id).await.unwrap().is_empty(), "raw bytes kept for {:?}", k.subject);
        assert!(k.from_addr.as_deref() != Some(hostile_cases::BOSS), "{k:?}");
    }

    let vorgaenge = store.cases(None, 1000, 0).await.unwrap();
    for n in 0..normals {
        let subject = format!("Normale Mail {n}");
        assert!(vorgaenge.iter().any(|c| c.subject == subject), "no Vorgang {subject:?}");
    }
    assert_eq!(dovecot.count(USER, "INBOX"), 0, "the INBOX is empty");
    assert_eq!(dovecot.count(USER, "Postkorb/Importiert"), total);
    let health = store.mailbox(&m.name).await.unwrap();
    assert!(health.last_error.is_none(), "{:?}", health.last_error);
}
