//! The no-English check: what a user can read in a rendered page must be German — no English words,
//! no Rust `Debug` output, no identifiers. [`assert_german`] is the one checker; every screen's test
//! can call it on its HTML (parser warnings, mailbox problems, …). The test below renders every
//! reason and error kind this crate can show through the real templates and checks each page.
//!
//! What is checked: the text between tags and the attributes a reader sees (`title`, `aria-label`,
//! `placeholder`, `alt`). Not checked: `<details class="technisch">` (a program's own words behind
//! „Details“, on purpose), `<script>`, `<style>`, the rest of the markup.

/// English words that are not also German words (so „die“, „an“, „in“, „will“, „also“, „was“ are
/// missing on purpose). Lower case.
const ENGLISH: &[&str] = &[
    "the",
    "has",
    "have",
    "is",
    "are",
    "not",
    "no",
    "from",
    "error",
    "failed",
    "fails",
    "missing",
    "invalid",
    "licence",
    "license",
    "current",
    "header",
    "headers",
    "unknown",
    "none",
    "null",
    "true",
    "false",
    "with",
    "without",
    "of",
    "to",
    "and",
    "for",
    "this",
    "that",
    "cannot",
    "could",
    "should",
    "found",
    "refused",
    "connection",
    "timed",
    "timeout",
    "address",
    "sender",
    "employee",
    "mailbox",
    "kept",
    "route",
    "row",
    "rows",
    "reason",
    "unverified",
    "automatic",
    "storm",
    "discard",
    "reroute",
    "add",
    "remove",
    "update",
    "save",
    "message",
    "sessions",
    "does",
    "exist",
    "marked",
    "active",
    "nested",
    "angle",
    "brackets",
    "some",
    "ok",
    "err",
    "because",
    "please",
    "lookup",
    "os",
    "failed",
    "permission",
    "denied",
];

/// What an administrator must type as it is: setting names of the configuration file and commands.
/// Add to this list only such words, never a sentence.
const ALLOWED_VERBATIM: &[&str] = &[
    "allow_private_hosts",
    "maildir_root",
    "postkorb mailbox set --protocol maildir",
    "postkorb mailbox oauth",
    "offline_access",
];

/// Removes `<tag …>…</tag>` blocks whose opening tag starts with `open` (case-insensitive).
fn without_blocks(html: &str, open: &str, close: &str) -> String {
    let lower = html.to_lowercase();
    let mut out = String::with_capacity(html.len());
    let mut at = 0;
    while let Some(start) = lower[at..].find(open).map(|i| i + at) {
        out.push_str(&html[at..start]);
        at = match lower[start..].find(close) {
            Some(end) => start + end + close.len(),
            None => html.len(),
        };
    }
    out.push_str(&html[at..]);
    out
}

fn decode(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The text a reader sees: text nodes and the readable attributes, entities decoded.
pub(crate) fn visible_text(html: &str) -> Vec<String> {
    let mut html = html.to_string();
    for (open, close) in
        [("<details class=\"technisch\"", "</details>"), ("<script", "</script>"), ("<style", "</style>")]
    {
        html = without_blocks(&html, open, close);
    }
    let mut texts = Vec::new();
    let mut rest = html.as_str();
    while let Some(lt) = rest.find('<') {
        texts.push(decode(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = &rest[lt..lt + gt];
        for attr in ["title=\"", "aria-label=\"", "placeholder=\"", "alt=\""] {
            if let Some(i) = tag.find(attr) {
                let value = &tag[i + attr.len()..];
                texts.push(decode(&value[..value.find('"').unwrap_or(value.len())]));
            }
        }
        rest = &rest[lt + gt + 1..];
    }
    texts.push(decode(rest));
    texts.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

/// Why `text` is not plain German for a reader, if it is not.
pub(crate) fn problems(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for debug in ["{", "}", "::", "Some(", "None", "[", "]", "\"", "Err(", "Ok("] {
        if text.contains(debug) {
            found.push(format!("Rust-Debug-Ausgabe {debug:?}"));
        }
    }
    let mut cleaned = text.to_string();
    for ok in ALLOWED_VERBATIM {
        cleaned = cleaned.replace(ok, " ");
    }
    for word in cleaned.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.contains('_') && word.chars().any(char::is_alphabetic) {
            found.push(format!("Bezeichner {word:?}"));
        }
        if ENGLISH.contains(&word.to_lowercase().as_str()) {
            found.push(format!("englisches Wort {word:?}"));
        }
    }
    found
}

/// Fails, naming `what` and each offending text, when the page shows English or `Debug` output.
pub(crate) fn assert_german(html: &str, what: &str) {
    let bad: Vec<String> = visible_text(html)
        .into_iter()
        .filter_map(|t| {
            let p = problems(&t);
            (!p.is_empty()).then(|| format!("  {t:?}: {}", p.join(", ")))
        })
        .collect();
    assert!(bad.is_empty(), "{what} is not plain German:\n{}", bad.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::Nav;

    fn nav() -> Nav {
        Nav {
            name: "Anna Admin".into(),
            csrf: "t0k3n".into(),
            can_import: true,
            can_employees: true,
            can_privacy: true,
            active: "kept",
        }
    }

    #[test]
    fn the_checker_finds_english_debug_output_and_identifiers_but_not_german_homographs() {
        assert!(!problems("An: Frank Teilzeit has no active licence").is_empty());
        assert!(!problems("Keep(NoRoute)").is_empty() || !problems("no_route").is_empty());
        assert!(!problems("no_route").is_empty());
        assert!(!problems("Some(\"x\")").is_empty());
        assert!(!problems("nested angle brackets in From").is_empty());
        assert!(problems("Die E-Mail ist an Clara, also will sie was in der Liste sehen.").is_empty());
        assert!(problems("Verbindungen ins eigene Netz sind gesperrt (allow_private_hosts).").is_empty());
        // The technical detail behind „Details“ is not checked; everything else is.
        let html = "<p title=\"the title\">Grund</p><details class=\"technisch\"><summary>Details</summary>no From header</details>";
        assert_eq!(visible_text(html), ["the title", "Grund"]);
    }

    #[test]
    fn every_reason_error_and_message_renders_in_plain_german() {
        let mut pages: Vec<(String, String)> = Vec::new();
        pages.extend(crate::pages::kept::sample_pages(nav()));
        pages.extend(crate::pages::protokoll::sample_pages(nav()));
        pages.extend(crate::pages::employees::sample_pages(nav()));
        pages.extend(crate::pages::absence::sample_pages(nav()));
        pages.extend(crate::pages::webhooks::sample_pages(nav()));
        pages.extend(crate::pages::deliveries::sample_pages(nav()));
        pages.push(("Vorgang with every parser warning".into(), crate::pages::case::sample_page(nav())));
        let confirm = |details: Vec<String>| crate::ui::Confirm {
            nav: nav(),
            title: "Prüfung".into(),
            question: "Alle Meldungen:".into(),
            details,
            action: "/".into(),
            fields: vec![],
            button: "Ja".into(),
            back: "/".into(),
        };
        let notices = crate::ui::Notice::ALL.iter().map(|n| n.german(2)).collect();
        pages.push(("Notice::ALL".into(), confirm(notices).html().unwrap().0));
        let problems = crate::problems::MailboxProblem::ALL.iter().map(|p| p.german().to_string()).collect();
        pages.push(("MailboxProblem::ALL".into(), confirm(problems).html().unwrap().0));
        let record = postkorb_store::MailboxRecord {
            name: "default".into(),
            protocol: "imap".into(),
            host: "imap.example.de".into(),
            port: 993,
            folder: "INBOX".into(),
            ..Default::default()
        };
        let reports = crate::problems::MailboxProblem::ALL
            .iter()
            .map(|p| crate::problems::ProblemReport::new(*p, &record, "").german())
            .collect();
        pages.push(("ProblemReport of every kind".into(), confirm(reports).html().unwrap().0));
        pages.push(("SettingsError".into(), confirm(settings_errors()).html().unwrap().0));
        let route_errors = route_errors().iter().map(|e| e.german()).collect();
        pages.push(("RouteError".into(), confirm(route_errors).html().unwrap().0));
        let employee = postkorb_core::EmployeeError::DuplicateWorkEmail {
            email: "bernd@firma.de".into(),
            other: "Bernd Büro".into(),
        };
        pages.push(("EmployeeError".into(), confirm(vec![employee.german()]).html().unwrap().0));
        for (what, html) in &pages {
            assert_german(html, what);
        }
        assert!(pages.len() >= 8, "{}", pages.len());
    }

    fn route_errors() -> Vec<postkorb_core::RouteError> {
        use postkorb_core::{RouteError, RouteRole};
        vec![
            RouteError::UnknownEmployee { role: RouteRole::Von, id: 7 },
            RouteError::NotCurrent { role: RouteRole::An, name: "Frank Teilzeit".into() },
            RouteError::NoWorkEmail { name: "Clara Chef".into() },
            RouteError::NoLicense { name: "Frank Teilzeit".into() },
            RouteError::Duplicate,
        ]
    }

    fn settings_errors() -> Vec<String> {
        use postkorb_core::mailbox::{Field, Problem, SettingsError};
        let problems = [
            (Field::Protocol, Problem::UnknownProtocol("gopher".into())),
            (Field::Tls, Problem::UnknownTls("maybe".into())),
            (Field::Disposal, Problem::UnknownDisposal("burn".into())),
            (Field::Host, Problem::HostMissing),
            (Field::Host, Problem::HostHasSpace),
            (Field::Host, Problem::GraphHost),
            (Field::Username, Problem::GraphAddress),
            (Field::Port, Problem::PortInvalid),
            (Field::Username, Problem::UsernameMissing),
            (Field::Password, Problem::PasswordMissing),
            (Field::Password, Problem::PasswordForNewEndpoint),
            (Field::MaildirPath, Problem::MaildirMissing),
            (Field::PollSecs, Problem::PollOutOfRange),
            (Field::Verify, Problem::UnknownVerify("dmarc".into())),
            (Field::AuthservIds, Problem::AuthservIdMissing),
            (Field::Since, Problem::BadDate("gestern".into())),
            (Field::MaildirPath, Problem::PathNoRoot),
            (Field::MaildirPath, Problem::PathOutside { root: "/srv/mail".into() }),
            (Field::CaFile, Problem::PathMissing { root: None }),
        ];
        problems.into_iter().map(|(f, p)| SettingsError::new(f, p).german()).collect()
    }
}
