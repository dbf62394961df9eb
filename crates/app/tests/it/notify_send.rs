//! Issue 17 end to end through the dispatcher: the e-mail notifications and the
//! Eingangsbestätigung leave through a real Postfix (testkit) into the test Dovecot, where they
//! are counted over IMAP and read back. A new Vorgang tells its Bearbeiter once; a pool mail goes
//! into Clara's daily summary, which comes at her time on the office's clock (the clock is an
//! argument) and once; the acknowledgement goes once per period to a verified sender, and never to
//! a forged or automatic one.

use postkorb_app::service::dispatch::{Deps, Dispatcher};
use postkorb_app::service::smtp;
use postkorb_core::EmailAddress;
use postkorb_core::notify::{NotifyPrefs, Timing};
use postkorb_testkit::{Dovecot, Postfix};

use crate::office::{ANNA_EMAIL, NOW, Office, PASSWORD, USER};
use crate::smtp_send::{SENDER, SENDER_PASSWORD, record};

const BERND_EMAIL: &str = "bernd@office.test";
const CLARA_EMAIL: &str = "clara@office.test";
const HOUR: i64 = 3_600_000;

/// The office with a Postfix delivering to `recipients` and its SMTP settings saved.
async fn office_sending(recipients: &[&str]) -> (Office, Postfix) {
    let o = Office::start().await;
    o.dovecot.add_user(SENDER, SENDER_PASSWORD);
    for r in recipients {
        o.dovecot.add_user(r, "x");
    }
    let postfix = Postfix::start(&o.dovecot, recipients);
    let sealed = smtp::with_password(record(&postfix), &o.key, SENDER_PASSWORD).unwrap();
    o.store.save_smtp_by(&sealed, 1, "admin").await.unwrap();
    (o, postfix)
}

/// The mails in `user`'s INBOX (read from the Maildir, which is what IMAP serves), parsed.
fn inbox(dovecot: &Dovecot, user: &str) -> Vec<(postkorb_mail::InboundMail, String)> {
    let root = dovecot.maildir(user);
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(dir) = std::fs::read_dir(root.join(sub)) else { continue };
        for f in dir {
            let raw = std::fs::read(f.unwrap().path()).unwrap();
            out.push((postkorb_mail::parse(&raw), String::from_utf8_lossy(&raw).into_owned()));
        }
    }
    out
}

fn count(dovecot: &Dovecot, user: &str) -> usize {
    dovecot.count(user, "INBOX")
}

/// A mail from `from` with `subject`, a Message-ID and the extra `headers`.
fn mail(from: &str, subject: &str, headers: &str) -> Vec<u8> {
    format!(
        "{headers}From: {from}\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{}@kunde.test>\r\n\
         Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n\r\nDer Text der E-Mail bleibt im Büro.\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

async fn set_work_email(o: &Office, who: postkorb_core::EmployeeId, email: &str) {
    let mut e = o.store.employee(who).await.unwrap();
    e.work_email = Some(EmailAddress::parse(email).unwrap());
    o.store.update_employee(&e).await.unwrap();
}

fn wait_for(dovecot: &Dovecot, postfix: &Postfix, user: &str, n: usize) {
    postfix.wait_delivered(dovecot, user, n);
    assert_eq!(count(dovecot, user), n, "{user}");
}

#[tokio::test]
async fn a_new_vorgang_tells_its_bearbeiter_once_and_the_pool_comes_in_claras_daily_summary() {
    let (o, postfix) = office_sending(&[BERND_EMAIL, CLARA_EMAIL]).await;
    set_work_email(&o, o.bernd, BERND_EMAIL).await;
    set_work_email(&o, o.clara, CLARA_EMAIL).await;
    // Clara: pool Vorgänge in her summary at 07:30 on the office's clock; Bernd keeps the defaults
    // (new ones at once, pool ones not at all).
    let clara = NotifyPrefs { pool: Timing::Daily, digest_minute: 7 * 60 + 30, ..NotifyPrefs::default() };
    o.store.set_notify_prefs(o.clara, &clara, NOW - HOUR).await.unwrap();
    let dispatcher = Dispatcher::new(Deps::of(&o.ctx).unwrap());
    // A channel starts at the end of the log: the first round only places its cursor.
    dispatcher.once(NOW - HOUR).await.unwrap();

    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    o.dovecot.deliver(USER, &mail(&format!("Anna <{ANNA_EMAIL}>"), "Schadenmeldung Müller", ""));
    o.dovecot.deliver(USER, &mail("Info <info@mustermail.de>", "Rückfrage Vertrag", ""));
    o.pass(&m).await.unwrap();
    let anna_case = o.store.cases(Some(o.bernd), 10, 0).await.unwrap()[0].id;

    let round = dispatcher.once(NOW + 1000).await.unwrap();
    assert_eq!(round.delivered, 2, "{round:?}: Bernd's mail and Clara's summary item");
    wait_for(&o.dovecot, &postfix, BERND_EMAIL, 1);
    let (told, raw) = inbox(&o.dovecot, BERND_EMAIL).remove(0);
    assert!(told.subject.contains("Schadenmeldung Müller"), "{}", told.subject);
    assert!(told.text.contains(&format!("/vorgang/{anna_case}")), "{}", told.text);
    assert!(!told.text.contains("bleibt im Büro"), "no mail text by default: {}", told.text);
    assert!(raw.contains("Auto-Submitted: auto-generated"), "{raw}");
    // Once: another round sends nothing again.
    dispatcher.once(NOW + 2000).await.unwrap();
    assert_eq!(count(&o.dovecot, BERND_EMAIL), 1);
    assert_eq!(count(&o.dovecot, CLARA_EMAIL), 0, "Clara's pool mail waits for her summary");

    // 2027-01-16 07:30 in Berlin is 06:30 UTC: 22.5 hours after NOW (08:00 UTC).
    let summary_at = NOW + 22 * HOUR + HOUR / 2;
    assert_eq!(dispatcher.once(summary_at - 60_000).await.unwrap().digests, 0, "not before 07:30");
    assert_eq!(dispatcher.once(summary_at + 60_000).await.unwrap().digests, 1);
    wait_for(&o.dovecot, &postfix, CLARA_EMAIL, 1);
    let (summary, _) = inbox(&o.dovecot, CLARA_EMAIL).remove(0);
    assert!(summary.text.contains("Rückfrage Vertrag"), "{}", summary.text);
    assert_eq!(dispatcher.once(summary_at + 120_000).await.unwrap().digests, 0, "once a day");
    assert_eq!(count(&o.dovecot, CLARA_EMAIL), 1);
    assert_eq!(count(&o.dovecot, BERND_EMAIL), 1, "Bernd's pool setting is „aus“");
}

#[tokio::test]
async fn the_eingangsbestaetigung_goes_once_per_period_to_a_verified_sender_and_never_to_a_forged_or_automatic_one() {
    const FREMD: &str = "fremd@mustermail.de";
    const BERT: &str = "bert@mustermail.de";
    const ROBOT: &str = "robot@mustermail.de";
    let (o, postfix) = office_sending(&[ANNA_EMAIL, FREMD, BERT, ROBOT]).await;
    let mut m = o.mailbox_record("imap", o.dovecot.imap_port());
    // Verified: the topmost Authentication-Results of the office's own receiving server.
    m.verify_policy = postkorb_verify::Policy::AuthResults { authserv_ids: vec!["mx.office.test".into()] }.to_storage();
    m.ack = postkorb_core::ack::AckSettings { enabled: true, unassigned: true, ..Default::default() };
    let m = o.save(m, PASSWORD).await;
    let dispatcher = Dispatcher::new(Deps::of(&o.ctx).unwrap());
    dispatcher.once(NOW - HOUR).await.unwrap();

    let pass = "Authentication-Results: mx.office.test; dmarc=pass header.from=mustermail.de\r\n";
    let fail = "Authentication-Results: mx.office.test; dmarc=fail header.from=mustermail.de\r\n";
    for raw in [
        mail(ANNA_EMAIL, "Schaden Keller", pass),
        mail(ANNA_EMAIL, "Nachtrag Keller", pass),
        // No row for this sender: kept, and answered with the „nicht zugeordnet“ wording.
        mail(FREMD, "Anfrage", pass),
        // Forged: would be answered if its sender were believed.
        mail(BERT, "Gefälscht", fail),
        // Automatic, though verified.
        mail(ROBOT, "Abwesend", &format!("{pass}Auto-Submitted: auto-replied\r\n")),
    ] {
        o.dovecot.deliver(USER, &raw);
    }
    o.pass(&m).await.unwrap();
    dispatcher.once(NOW + 1000).await.unwrap();
    wait_for(&o.dovecot, &postfix, ANNA_EMAIL, 1);
    wait_for(&o.dovecot, &postfix, FREMD, 1);
    let (ack, raw) = inbox(&o.dovecot, ANNA_EMAIL).remove(0);
    assert_eq!(ack.subject, "Eingangsbestätigung: Schaden Keller");
    assert!(ack.text.contains("wird von Bernd bearbeitet"), "{}", ack.text);
    assert!(raw.contains("Auto-Submitted: auto-replied"), "{raw}");
    assert!(raw.contains("In-Reply-To: <Schaden-Keller@kunde.test>"), "{raw}");
    let (unassigned, _) = inbox(&o.dovecot, FREMD).remove(0);
    assert!(unassigned.text.contains("konnte nicht zugeordnet werden"), "{}", unassigned.text);

    // Later rounds send nothing more: Anna's second mail fell within the period, and the forged
    // and the automatic sender get nothing at all.
    dispatcher.once(NOW + 60_000).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let counts = [ANNA_EMAIL, FREMD, BERT, ROBOT].map(|u| count(&o.dovecot, u));
    assert_eq!(counts, [1, 1, 0, 0], "Anna, the unassigned sender, the forged one, the robot");
    let (log, _) = o.store.deliveries(Some("delivered"), 100, 0).await.unwrap();
    let acks: Vec<_> = log.iter().filter(|d| d.channel == "ack").map(|d| d.last_status.as_str()).collect();
    assert_eq!(acks.len(), 3, "{acks:?}");
    assert!(acks.iter().any(|s| s.contains("schon bestätigt")), "{acks:?}");
}

#[tokio::test]
async fn nothing_about_a_restricted_vorgang_is_sent() {
    let (o, postfix) = office_sending(&[BERND_EMAIL]).await;
    set_work_email(&o, o.bernd, BERND_EMAIL).await;
    let dispatcher = Dispatcher::new(Deps::of(&o.ctx).unwrap());
    dispatcher.once(NOW - HOUR).await.unwrap();
    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    o.dovecot.deliver(USER, &mail(&format!("Anna <{ANNA_EMAIL}>"), "Arztbericht", ""));
    o.dovecot.deliver(USER, &mail(&format!("Anna <{ANNA_EMAIL}>"), "Adressänderung", ""));
    o.pass(&m).await.unwrap();
    let cases = o.store.cases(Some(o.bernd), 10, 0).await.unwrap();
    let arzt = cases.iter().find(|c| c.subject == "Arztbericht").unwrap().id;
    // Art. 18: restricted after it arrived, before the dispatcher's round.
    o.store
        .set_hold(
            postkorb_store::HoldTarget::Case(arzt),
            postkorb_core::retention::HoldKind::Restriction,
            "Widerspruch der Kundin",
            NOW + 365 * 24 * HOUR,
            "datenschutz",
            NOW,
        )
        .await
        .unwrap();
    dispatcher.once(NOW + 1000).await.unwrap();
    wait_for(&o.dovecot, &postfix, BERND_EMAIL, 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let told: Vec<String> = inbox(&o.dovecot, BERND_EMAIL).into_iter().map(|(m, _)| m.subject).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("Adressänderung") && !told[0].contains("Arzt"), "{told:?}");
    let (log, _) = o.store.deliveries(None, 100, 0).await.unwrap();
    let held = log.iter().find(|d| d.case_id == Some(arzt)).expect("its delivery is in the log");
    assert_eq!(
        (held.status.as_str(), held.last_status.as_str()),
        ("failed", "Einschränkung der Verarbeitung: nicht gesendet")
    );
}
