//! The Startmaske and the Vorgang page over HTTP (issue #15 items 5 and 6): opening the Startmaske
//! claims a pooled Vorgang for the first candidate, the filter and its counts, new rows, names as
//! Absender, German counts; the Vorgang page's Text | HTML switch, frame, dates, file kinds, German
//! parser hints, raw 8-bit names, and the notice after „Erledigt“. Hostile input stays inert.

use axum::http::StatusCode;
use postkorb_core::{Decision, EmailAddress, EmployeeId};
use postkorb_store::{ImportItem, NewEmployee};

use crate::web_http::{App, PW, app};

fn item(key: &str, raw: &[u8], decision: Decision) -> ImportItem {
    crate::web_http::import_item(key, raw, decision)
}

fn plain(subject: &str) -> Vec<u8> {
    format!("From: Anna A <anna@mustermail.de>\r\nSubject: {subject}\r\nDate: Tue, 4 Mar 2025 10:15:00 +0100\r\n\r\nText\r\n")
        .into_bytes()
}

struct Office {
    app: App,
    mailbox: i64,
    anna: EmployeeId,
    bernd: EmployeeId,
}

async fn office() -> Office {
    let app = app().await;
    let anna = app.ctx.store.find_employee("anna").await.unwrap().id;
    let bernd = app.ctx.store.find_employee("bernd").await.unwrap().id;
    let mb = postkorb_store::MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() };
    let mailbox = app.ctx.store.save_mailbox(&mb, 1).await.unwrap().id;
    Office { app, mailbox, anna, bernd }
}

impl Office {
    async fn commit(&self, items: &[ImportItem]) {
        self.app.ctx.store.commit_batch(self.mailbox, items, now()).await.unwrap();
    }

    fn assign(&self) -> Decision {
        Decision::Assign { sender: self.anna, to: self.bernd }
    }

    /// A second licensed employee who can receive, with a password.
    async fn clara(&self) -> EmployeeId {
        let new = NewEmployee {
            name: "Clara Chef".into(),
            username: Some("clara".into()),
            is_current: true,
            license: Some("L3".into()),
            work_email: None,
            permissions: vec![],
        };
        let e = self.app.ctx.store.add_employee(&new, 1).await.unwrap();
        self.app.ctx.store.set_password_hash(e.id, &postkorb_web::hash_password(PW)).await.unwrap();
        e.id
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body.find(start).unwrap_or_else(|| panic!("{start:?} not in {body}")) + start.len();
    let rest = &body[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn opening_the_startmaske_claims_a_pooled_vorgang_for_the_first_candidate_only() {
    let o = office().await;
    let clara = o.clara().await;
    // Both are logged in before the mail arrives (the login claims too; here it finds nothing).
    let (bernd_cookie, _) = o.app.login("bernd").await;
    let (clara_cookie, _) = o.app.login("clara").await;
    let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, clara] };
    o.commit(&[item("pool", &plain("Für beide"), pool)]).await;

    // Clara only opens the Startmaske (no login, no „Synchronisieren“): she gets it.
    let page = o.app.get("/", Some(&clara_cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Sie haben 1 neuen Vorgang erhalten, der auf mehrere Empfänger wartete."),
        "{}",
        page.body
    );
    assert!(between(&page.body, "id=\"cases\"", "</table>").contains("Für beide"));
    assert!(!page.body.contains("id=\"waiting\""), "nothing waits any more");
    let case = o.app.ctx.store.case(1).await.unwrap();
    assert_eq!((case.summary.status.as_str(), case.summary.assignee), ("open", Some(clara.0)));

    // Bernd opens his Startmaske afterwards: nothing waits, nothing was received, no Vorgang.
    let page = o.app.get("/", Some(&bernd_cookie)).await;
    assert!(!page.body.contains("erhalten"), "{}", page.body);
    assert!(!page.body.contains("id=\"waiting\"") && !page.body.contains("Für beide"), "{}", page.body);
    assert_eq!(o.app.get("/vorgang/1", Some(&bernd_cookie)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_startmaske_filters_counts_marks_new_rows_and_names_the_sender() {
    let o = office().await;
    let (cookie, csrf) = o.app.login("bernd").await;
    // 26 Vorgänge: one page and one more of open ones; then one is done.
    let items: Vec<ImportItem> =
        (0..26).map(|i| item(&format!("k{i}"), &plain(&format!("Vorgang Nummer {i}")), o.assign())).collect();
    o.commit(&items).await;
    let first = o.app.get("/", Some(&cookie)).await.body;
    assert!(first.contains("id=\"new-count\">26 neue Vorgänge seit Ihrem letzten Besuch"), "{first}");
    assert!(first.contains("class=\"badge calm\""), "a calm badge, not an alarm");
    assert_eq!(first.matches("<tr class=\"open new\">").count(), 25, "new rows are marked");
    // „neu“ as text, not only a colour: screen readers read it too.
    assert_eq!(first.matches("<td><span class=\"tag-new\">neu</span> offen</td>").count(), 25);
    // The employee's name as Absender, never an id; the address in the title.
    let row = between(&first, "<tr class=\"open new\">", "</tr>");
    assert!(row.contains("title=\"anna@mustermail.de\">Anna</td>"), "{row}");
    assert!(!row.contains('#'), "{row}");

    let r = o.app.post("/vorgang/26/status", Some(&cookie), &format!("csrf={csrf}&done=1")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let second = o.app.get("/", Some(&cookie)).await.body;
    assert!(!second.contains("id=\"new-count\""), "nothing new since the last visit");
    assert!(!second.contains(" new\""), "no row is new any more");
    for tab in ["Offen (25)", "Erledigt (1)", "Alle (26)"] {
        assert!(second.contains(tab), "{tab} in {second}");
    }
    assert!(second.contains("id=\"filter-offen\" class=\"current\" aria-current=\"page\""), "offen is the default");
    assert!(second.contains("Seite 1 von 1"), "{second}");
    let done = o.app.get("/?filter=erledigt", Some(&cookie)).await.body;
    let rows = between(&done, "id=\"cases\"", "</table>");
    assert_eq!(rows.matches("<tr class=\"done\">").count(), 1);
    assert!(rows.contains("Vorgang Nummer 25") && !rows.contains("Vorgang Nummer 24"), "{rows}");
    let all = o.app.get("/?filter=alle", Some(&cookie)).await.body;
    assert!(all.contains("Seite 1 von 2"), "{all}");
    assert!(all.contains("href=\"/?filter=alle&amp;seite=2\""), "the pager keeps the filter: {all}");
    let page2 = o.app.get("/?filter=alle&seite=2", Some(&cookie)).await.body;
    assert!(between(&page2, "id=\"cases\"", "</table>").contains("Vorgang Nummer 25"), "done ones last");
    assert!(page2.contains("href=\"/?filter=alle&amp;seite=1\""));

    // One more arrives: „1 neuer Vorgang“.
    o.commit(&[item("one", &plain("Noch einer"), o.assign())]).await;
    let third = o.app.get("/", Some(&cookie)).await.body;
    assert!(third.contains("id=\"new-count\">1 neuer Vorgang seit Ihrem letzten Besuch"), "{third}");
    let sync = o.app.get("/?erhalten=1", Some(&cookie)).await.body;
    assert!(sync.contains("Synchronisiert: Sie haben 1 neuen Vorgang erhalten."), "{sync}");
}

#[tokio::test]
async fn hostile_subjects_and_names_stay_text_on_the_startmaske() {
    let o = office().await;
    let (cookie, _) = o.app.login("bernd").await;
    let raw = b"From: \"<b onmouseover=alert(1)>Evil</b>\" <fremd@evil.example>\r\nSubject: <script>alert(1)</script>\r\n\r\nx\r\n";
    o.commit(&[item("evil", raw, o.assign())]).await;
    let body = o.app.get("/", Some(&cookie)).await.body;
    assert!(!body.contains("<script>alert") && !body.contains("<b onmouseover"), "{body}");
    assert!(body.contains("&#60;script&#62;") || body.contains("&lt;script&gt;"), "{body}");
}

const HTML_MAIL: &[u8] = b"From: J\xf6rg M\xfcller <joerg@kunde.example>\r\n\
Subject: Police =?utf-8?q?f=C3=BCr?= Sie\r\n\
Date: Tue, 4 Mar 2025 10:15:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"M\"\r\n\
\r\n\
--M\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Sehr <b>geehrte</b> Damen und Herren,</p><ul><li>Fotos</li><li>Gutachten</li></ul>\
<p>Siehe <a href=\"https://kunde.example/akte\">die Akte</a> und <a href=\"javascript:alert(1)\">hier</a>.</p>\r\n\
--M\r\n\
Content-Type: application/pdf; name=\"Police.pdf\"\r\n\
Content-Disposition: attachment; filename=\"Police.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--M\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: Kunde <kunde@web.example>\r\n\
Subject: Schaden\r\n\
Date: Mon, 3 Mar 2025 08:05:00 +0000\r\n\
\r\n\
Urtext\r\n\
--M--\r\n";

#[tokio::test]
async fn the_vorgang_page_switches_text_and_html_and_reads_german() {
    let o = office().await;
    let (cookie, csrf) = o.app.login("bernd").await;
    o.commit(&[item("html", HTML_MAIL, o.assign())]).await;

    let page = o.app.get("/vorgang/1", Some(&cookie)).await.body;
    // HTML by default, the switch marks it; the frame may open tabs but runs nothing.
    assert!(page.contains("id=\"view-html\" class=\"current\" aria-current=\"page\""), "{page}");
    assert!(page.contains("sandbox=\"allow-popups allow-popups-to-escape-sandbox\""));
    assert!(!page.contains("allow-scripts") && !page.contains("allow-same-origin"));
    let height: u32 = between(&page, "class=\"mailframe\" style=\"height: ", "px").parse().unwrap();
    assert!((240..=2400).contains(&height), "{height}");
    assert!(!page.contains("id=\"text\""), "one view at a time");
    // The raw 8-bit name read as Windows-1252, the mail's own date, German dates and file kinds.
    assert!(
        page.contains("Jörg Müller &#60;joerg@kunde.example&#62;")
            || page.contains("Jörg Müller &lt;joerg@kunde.example&gt;"),
        "{page}"
    );
    assert!(!page.contains('\u{FFFD}'));
    assert!(page.contains("id=\"sent\">(Gesendet: 04.03.2025 10:15)"), "{page}");
    assert!(page.contains("id=\"forwarded-date\">03.03.2025 09:05"), "{page}");
    assert!(page.contains("(PDF, 9 B)"), "{page}");
    assert!(page.contains("Absendername oder Betreff waren nicht korrekt kodiert"), "a German hint: {page}");
    assert!(!page.contains("Windows-1252") && !page.contains("decoded"), "no English hint: {page}");

    // The frame: every link opens a new tab, a script link is no link.
    let frame = o.app.get("/vorgang/1/html", Some(&cookie)).await;
    assert!(frame.body.contains("href=\"https://kunde.example/akte\""), "{}", frame.body);
    assert!(frame.body.contains("target=\"_blank\"") && frame.body.contains("rel=\"noopener noreferrer\""));
    assert!(!frame.body.to_lowercase().contains("javascript"), "{}", frame.body);
    let csp = frame.headers.get(axum::http::header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.starts_with("sandbox allow-popups allow-popups-to-escape-sandbox;"), "{csp}");
    assert!(!csp.contains("allow-scripts") && !csp.contains("allow-same-origin"), "{csp}");

    // The text view: plain text, no Markdown, links written out.
    let text_page = o.app.get("/vorgang/1?ansicht=text", Some(&cookie)).await.body;
    assert!(text_page.contains("id=\"view-text\" class=\"current\" aria-current=\"page\""));
    let text = between(&text_page, "id=\"text\">", "</pre>");
    assert!(text.contains("Sehr geehrte Damen und Herren,"), "{text}");
    assert!(text.contains("– Fotos") && text.contains("die Akte (https://kunde.example/akte)"), "{text}");
    assert!(!text.contains('*') && !text.contains("[1]"), "{text}");
    assert!(!text_page.contains("class=\"mailframe\""));

    // „Erledigt“: no confirmation (it can be reopened), a notice and the way back.
    let r = o.app.post("/vorgang/1/status", Some(&cookie), &format!("csrf={csrf}&done=1")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.headers.get(axum::http::header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert_eq!(to, "/vorgang/1?ok=erledigt");
    let done = o.app.get(&to, Some(&cookie)).await.body;
    assert!(done.contains("Vorgang als erledigt markiert. <a href=\"/\">Zurück zur Startmaske</a>"), "{done}");
    assert!(done.contains("id=\"reopen\""));
    let r = o.app.post("/vorgang/1/status", Some(&cookie), &format!("csrf={csrf}&done=0")).await;
    let back = r.headers.get(axum::http::header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert!(o.app.get(&back, Some(&cookie)).await.body.contains("Vorgang wieder geöffnet."));
    // An unknown notice code shows nothing.
    assert!(!o.app.get("/vorgang/1?ok=%3Cscript%3E", Some(&cookie)).await.body.contains("role=\"status\""));
}

#[tokio::test]
async fn a_text_mail_has_no_switch_and_parser_hints_are_german() {
    let o = office().await;
    let (cookie, _) = o.app.login("bernd").await;
    let raw = b"From: anna@mustermail.de\r\nSubject: Kodierung\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nGr\xfc\xdfe\r\n";
    o.commit(&[item("cs", raw, o.assign())]).await;
    let page = o.app.get("/vorgang/1", Some(&cookie)).await.body;
    assert!(!page.contains("class=\"tabs\""), "no switch without HTML");
    assert!(page.contains("id=\"text\">"));
    let hints = between(&page, "id=\"hints\">", "</div>");
    assert!(hints.contains("Die Zeichenkodierung des Textes war falsch oder unbekannt"), "{hints}");
    assert!(!hints.contains("charset") && !hints.contains("Latin-1"), "{hints}");
}

#[tokio::test]
async fn a_huge_html_mail_gets_a_bounded_frame() {
    let o = office().await;
    let (cookie, _) = o.app.login("bernd").await;
    let body = "<p>Zeile mit etwas Text.</p>".repeat(40_000);
    let raw = format!(
        "From: anna@mustermail.de\r\nSubject: Lang\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{body}\r\n"
    );
    o.commit(&[item("huge", raw.as_bytes(), o.assign())]).await;
    let page = o.app.get("/vorgang/1", Some(&cookie)).await.body;
    assert!(page.contains("class=\"mailframe\" style=\"height: 2400px\""), "capped; the rest scrolls in the frame");
}

#[tokio::test]
async fn an_employee_sender_is_named_on_the_vorgang_page() {
    let o = office().await;
    let (cookie, _) = o.app.login("bernd").await;
    let anna = o.app.ctx.store.find_employee("anna").await.unwrap();
    assert_eq!(anna.work_email, Some(EmailAddress::parse("anna@mustermail.de").unwrap()));
    o.commit(&[item("p", &plain("Hallo"), o.assign())]).await;
    let page = o.app.get("/vorgang/1", Some(&cookie)).await.body;
    assert!(
        between(&page, "id=\"sender\">", "</dd>").starts_with("Anna &#60;")
            || between(&page, "id=\"sender\">", "</dd>").starts_with("Anna &lt;"),
        "{page}"
    );
}
