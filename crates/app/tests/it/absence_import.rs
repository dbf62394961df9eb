//! Abwesenheit through the real importer and a real Dovecot: Bernd is away with Clara as
//! Vertreter; Anna's mail (row Anna → Bernd) ends with Clara „in Vertretung für Bernd“, and after
//! Bernd's return the next one is his again.

use postkorb_core::Absence;

use crate::office::{NOW, Office, PASSWORD, USER};

fn mail(subject: &str) -> Vec<u8> {
    format!(
        "From: Anna <anna@mustermail.de>\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\n\
         Date: Thu, 26 Nov 2026 08:00:00 +0100\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBitte um Rückruf.\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

#[tokio::test]
async fn annas_mail_for_the_absent_bernd_ends_with_clara_in_vertretung() {
    let o = Office::start().await;
    let m = o.mailbox("imap", o.dovecot.imap_port(), PASSWORD).await;
    let hour = 3_600_000;
    let away = Absence {
        id: 0,
        employee: o.bernd,
        from_ms: NOW - hour,
        until_ms: Some(NOW + hour),
        substitute: Some(o.clara),
    };
    o.store.add_absence(&away, "bernd", NOW - hour).await.unwrap().unwrap();

    o.dovecot.deliver(USER, &mail("Kfz Schaden Meier"));
    let report = o.pass_at(&m, NOW).await.unwrap();
    assert_eq!(report.imported.len(), 1);
    let cases = o.store.cases(None, 10, 0).await.unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].assignee, Some(o.clara.0), "Clara, Bernd's Vertreterin");
    assert_eq!(cases[0].on_behalf_of_name.as_deref(), Some("Bernd"));
    let detail = o.store.case(cases[0].id).await.unwrap();
    let kinds: Vec<(&str, &str)> = detail.events.iter().map(|e| (e.kind.as_str(), e.detail.as_str())).collect();
    assert_eq!(kinds, [("created", ""), ("assigned", format!("{}:{}", o.clara.0, o.bernd.0).as_str())]);
    // Clara may work it during the absence; Bernd's Vertretung ends with the absence.
    assert_eq!(o.store.covering(o.clara, NOW).await.unwrap(), vec![o.bernd]);
    assert!(o.store.covering(o.clara, NOW + hour).await.unwrap().is_empty());

    // Back: the next mail is Bernd's again.
    o.dovecot.deliver(USER, &mail("Termin verschoben"));
    o.pass_at(&m, NOW + 2 * hour).await.unwrap();
    let cases = o.store.cases(Some(o.bernd), 10, 0).await.unwrap();
    assert_eq!(
        cases.iter().map(|c| (c.subject.as_str(), c.on_behalf_of)).collect::<Vec<_>>(),
        [("Termin verschoben", None)]
    );
}
