//! The German text of notification mails (issue 17), pure and plain text (no HTML, nothing
//! escaped): [`mail_for`] for one event, [`digest_mail`] for the daily summary. They say who sent
//! the mail (Absender), what (Betreff), when, „in Vertretung für …“ where it applies, and link to
//! the Vorgang (`{public_url}/vorgang/{id}`). The mail's text only when the office allows it
//! (`Settings::notify_include_text`; the caller then passes it in [`CaseFacts::text`]), and only
//! its first lines; never attachments. Subjects lose control characters (no header injection).

use postkorb_core::notify::NotifyKind;

use crate::util::german_time;

/// Lines of the mail's text a notification may quote (when the office allows it).
pub const PREVIEW_LINES: usize = 5;
/// Characters of those lines at most.
const PREVIEW_CHARS: usize = 600;

/// What a notification says about one Vorgang (the caller reads it from `Store::case`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFacts {
    pub case_id: i64,
    pub subject: String,
    pub from_name: Option<String>,
    pub from_addr: String,
    pub received_ms: i64,
    /// The receiver gets it as Vertreter(in) for this person.
    pub on_behalf_of: Option<String>,
    /// „An mich weitergegeben“: who handed it over.
    pub handed_over_by: Option<String>,
    /// „Wiedervorlage fällig“: the date and reason.
    pub due_ms: Option<i64>,
    pub due_reason: Option<String>,
    /// The mail's plain text, only when the office setting includes it; quoted as its first lines.
    pub text: Option<String>,
}

/// `{public_url}/vorgang/{id}` (the Vorgang page of crates/web/src/pages/case.rs).
pub fn case_link(public_url: &str, case_id: i64) -> String {
    format!("{}/vorgang/{case_id}", public_url.trim_end_matches('/'))
}

/// One line without control characters (CR/LF/TAB become spaces), at most `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max { flat } else { format!("{}…", flat.chars().take(max).collect::<String>()) }
}

fn betreff(facts: &CaseFacts) -> String {
    match one_line(&facts.subject, 120) {
        s if s.is_empty() => "(ohne Betreff)".to_string(),
        s => s,
    }
}

fn absender(facts: &CaseFacts) -> String {
    let addr = one_line(&facts.from_addr, 200);
    match facts.from_name.as_deref().map(|n| one_line(n, 100)).filter(|n| !n.is_empty()) {
        Some(name) if !addr.is_empty() => format!("{name} <{addr}>"),
        Some(name) => name,
        None if addr.is_empty() => "(unbekannt)".to_string(),
        None => addr,
    }
}

/// The first [`PREVIEW_LINES`] non-empty lines of the text, control characters removed.
fn preview(text: &str) -> String {
    let lines: Vec<String> =
        text.lines().map(|l| one_line(l, PREVIEW_CHARS)).filter(|l| !l.is_empty()).take(PREVIEW_LINES).collect();
    let joined = lines.join("\n");
    if joined.chars().count() <= PREVIEW_CHARS {
        joined
    } else {
        format!("{}…", joined.chars().take(PREVIEW_CHARS).collect::<String>())
    }
}

fn lead(kind: NotifyKind, facts: &CaseFacts) -> String {
    let mut s = match kind {
        NotifyKind::NewCase => "Ein neuer Vorgang ist für Sie eingegangen".to_string(),
        NotifyKind::Pool => {
            "Ein Vorgang wartet in einem Pool auf Sie (wer ihn zuerst öffnet, übernimmt ihn)".to_string()
        }
        NotifyKind::FollowUpDue => "Die Wiedervorlage eines Vorgangs ist fällig".to_string(),
        NotifyKind::HandedOver => match &facts.handed_over_by {
            Some(by) => format!("{} hat Ihnen einen Vorgang weitergegeben", one_line(by, 100)),
            None => "Ein Vorgang wurde an Sie weitergegeben".to_string(),
        },
    };
    if let Some(absent) = &facts.on_behalf_of {
        s.push_str(&format!(" – in Vertretung für {}", one_line(absent, 100)));
    }
    s.push('.');
    s
}

/// The mail's subject for one kind: „Neuer Vorgang: {Betreff}“ and so on.
fn subject_for(kind: NotifyKind, facts: &CaseFacts) -> String {
    let what = match kind {
        NotifyKind::NewCase => "Neuer Vorgang",
        NotifyKind::Pool => "Wartet im Pool",
        NotifyKind::FollowUpDue => "Wiedervorlage fällig",
        NotifyKind::HandedOver => "An Sie weitergegeben",
    };
    format!("{what}: {}", betreff(facts))
}

/// The lines about one Vorgang: Betreff, Absender, Eingang, Wiedervorlage, link.
fn case_block(facts: &CaseFacts, public_url: &str) -> String {
    let mut s = format!(
        "Betreff: {}\nAbsender: {}\nEingegangen: {}\n",
        betreff(facts),
        absender(facts),
        german_time(facts.received_ms)
    );
    if let Some(due) = facts.due_ms {
        s.push_str(&format!("Wiedervorlage: {}", german_time(due)));
        if let Some(r) = facts.due_reason.as_deref().map(|r| one_line(r, 200)).filter(|r| !r.is_empty()) {
            s.push_str(&format!(" – Grund: {r}"));
        }
        s.push('\n');
    }
    s.push_str(&format!("Zum Vorgang: {}\n", case_link(public_url, facts.case_id)));
    s
}

fn footer(public_url: &str) -> String {
    format!(
        "\n-- \nDiese Nachricht hat Postkorb automatisch gesendet. Ihre Benachrichtigungen stellen Sie unter \
         „Mein Konto“ → „Benachrichtigungen“ ein: {}/konto/benachrichtigungen\n",
        public_url.trim_end_matches('/')
    )
}

/// (subject, text) of the mail telling about one event of `kind` („sofort“).
pub fn mail_for(kind: NotifyKind, facts: &CaseFacts, public_url: &str) -> (String, String) {
    let mut text = format!("Guten Tag,\n\n{}\n\n{}", lead(kind, facts), case_block(facts, public_url));
    if let Some(t) = facts.text.as_deref().map(preview).filter(|p| !p.is_empty()) {
        text.push_str(&format!("\nAnfang der E-Mail:\n{t}\n"));
    }
    text.push_str(&footer(public_url));
    (subject_for(kind, facts), text)
}

/// (subject, text) of the daily summary: the items grouped by kind, each with its Vorgang.
pub fn digest_mail(items: &[(NotifyKind, CaseFacts)], public_url: &str) -> (String, String) {
    let n = items.len();
    let subject =
        if n == 1 { "Postkorb: 1 Benachrichtigung".to_string() } else { format!("Postkorb: {n} Benachrichtigungen") };
    let mut text = String::from("Guten Tag,\n\nhier ist Ihre tägliche Zusammenfassung aus Postkorb.\n");
    for kind in NotifyKind::ALL {
        let of_kind: Vec<&CaseFacts> = items.iter().filter(|(k, _)| *k == kind).map(|(_, f)| f).collect();
        if of_kind.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{} ({})\n", kind.german(), of_kind.len()));
        for f in of_kind {
            let behalf = f.on_behalf_of.as_deref().map(|a| format!(" (in Vertretung für {})", one_line(a, 100)));
            text.push_str(&format!("\n– {}{}\n", betreff(f), behalf.unwrap_or_default()));
            for line in case_block(f, public_url).lines().skip(1) {
                text.push_str(&format!("  {line}\n"));
            }
        }
    }
    text.push_str(&footer(public_url));
    (subject, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::german::assert_german;

    fn facts() -> CaseFacts {
        CaseFacts {
            case_id: 42,
            subject: "Schaden\r\nBcc: boese@example.org Kfz".into(),
            from_name: Some("Anna Außendienst".into()),
            from_addr: "anna@mustermail.de".into(),
            received_ms: 1_790_000_000_000,
            text: None,
            ..Default::default()
        }
    }

    /// Plain text through the page checker: `<`, `>` and `&` escaped, as a page would show them.
    fn check_german(text: &str, what: &str) {
        assert_german(&text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"), what);
    }

    #[test]
    fn each_kind_says_who_what_when_and_links_the_vorgang_in_german() {
        for kind in NotifyKind::ALL {
            let f = CaseFacts {
                on_behalf_of: Some("Bernd Büro".into()),
                handed_over_by: (kind == NotifyKind::HandedOver).then(|| "Clara Czerny".into()),
                due_ms: (kind == NotifyKind::FollowUpDue).then_some(1_790_100_000_000),
                due_reason: (kind == NotifyKind::FollowUpDue).then(|| "Rückruf\nvereinbart".into()),
                ..facts()
            };
            let (subject, text) = mail_for(kind, &f, "https://postkorb.buero.de/");
            assert!(!subject.chars().any(char::is_control), "{subject:?}");
            assert!(subject.ends_with("Schaden Bcc: boese@example.org Kfz"), "{subject}");
            for part in [
                "Betreff: Schaden Bcc: boese@example.org Kfz",
                "Absender: Anna Außendienst <anna@mustermail.de>",
                "Eingegangen: 21.09.2026 16:13",
                "in Vertretung für Bernd Büro",
                "Zum Vorgang: https://postkorb.buero.de/vorgang/42\n",
            ] {
                assert!(text.contains(part), "{kind:?}: {part:?} missing in\n{text}");
            }
            check_german(&subject, "Betreff der Benachrichtigung");
            check_german(&text, "Text der Benachrichtigung");
            assert!(!text.contains("Anfang der E-Mail"), "no mail text unless the office allows it");
        }
        let (subject, text) =
            mail_for(NotifyKind::FollowUpDue, &CaseFacts { due_ms: Some(1_790_100_000_000), ..facts() }, "http://x");
        assert!(subject.starts_with("Wiedervorlage fällig: "));
        assert!(text.contains("Wiedervorlage: 22.09.2026 20:00"), "{text}");
        let (_, text) = mail_for(
            NotifyKind::HandedOver,
            &CaseFacts { handed_over_by: Some("Clara".into()), ..facts() },
            "http://x",
        );
        assert!(text.contains("Clara hat Ihnen einen Vorgang weitergegeben."), "{text}");
    }

    #[test]
    fn the_mail_text_only_as_its_first_lines_and_only_when_given() {
        let body = "Zeile 1\n\nZeile 2\u{7}\nZeile 3\nZeile 4\nZeile 5\nZeile 6 geheim\n";
        let (_, text) = mail_for(NotifyKind::NewCase, &CaseFacts { text: Some(body.into()), ..facts() }, "http://x");
        assert!(text.contains("Anfang der E-Mail:\nZeile 1\nZeile 2\nZeile 3\nZeile 4\nZeile 5\n"), "{text}");
        assert!(!text.contains("geheim"), "{text}");
        assert!(!text.contains('\u{7}'));
        check_german(&text, "Benachrichtigung mit Textanfang");
        let long = "x".repeat(5_000);
        let (_, text) = mail_for(NotifyKind::NewCase, &CaseFacts { text: Some(long), ..facts() }, "http://x");
        assert!(text.len() < 2_000, "{}", text.len());
    }

    #[test]
    fn the_summary_groups_by_kind_and_links_each_vorgang() {
        let items = vec![
            (NotifyKind::Pool, CaseFacts { case_id: 1, subject: "Erste".into(), ..facts() }),
            (
                NotifyKind::NewCase,
                CaseFacts { case_id: 2, subject: "Zweite".into(), on_behalf_of: Some("Bernd".into()), ..facts() },
            ),
            (NotifyKind::Pool, CaseFacts { case_id: 3, subject: "".into(), ..facts() }),
        ];
        let (subject, text) = digest_mail(&items, "http://buero:8080");
        assert_eq!(subject, "Postkorb: 3 Benachrichtigungen");
        let new = text.find("Neuer Vorgang für mich (1)").unwrap();
        let pool = text.find("Wartet auf mich in einem Pool (2)").unwrap();
        assert!(new < pool, "{text}");
        for part in [
            "– Zweite (in Vertretung für Bernd)",
            "– (ohne Betreff)",
            "http://buero:8080/vorgang/1\n",
            "http://buero:8080/vorgang/3\n",
        ] {
            assert!(text.contains(part), "{part:?} missing in\n{text}");
        }
        check_german(&text, "Zusammenfassung");
        assert_eq!(digest_mail(&items[..1], "http://x").0, "Postkorb: 1 Benachrichtigung");
    }
}
