//! What can go wrong when Postkorb talks to a mailbox, as kinds, and the German words for each —
//! in one place. The app maps its errors (connection, TLS, login, the stored secret) to a kind; the
//! screens show the words, naming the server, port or folder ([`ProblemReport`]). Never the server's
//! own text: a „Verbindung testen“ against a foreign host must not echo its banner. The technical
//! detail behind „Details“ is our own error text, and only for kinds whose text never quotes the
//! server ([`MailboxProblem::detail_is_ours`]).

use postkorb_store::MailboxRecord;

/// Why „Verbindung testen“ or „Probelauf“ failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailboxProblem {
    /// The host name does not resolve.
    NotFound,
    /// Nothing listens on that port.
    Refused,
    /// No answer in time.
    TimedOut,
    /// A loopback/private address while `allow_private_hosts` is off.
    Blocked,
    /// Reached, but the server refused us at its greeting.
    Rejected,
    Tls,
    Login,
    /// XOAUTH2 with an access token the server refused.
    OAuthRejected,
    /// The OAuth token could not be refreshed (revoked, expired).
    OAuthRefresh,
    FolderMissing,
    Protocol,
    ConnectionLost,
    /// The stored password or token belongs to other connection settings.
    SecretNotBound,
    /// Settings incomplete or wrong (e.g. no password, not a Maildir).
    Settings,
    /// Something on our side (database, disk).
    Internal,
    /// Microsoft 365 slows the fetching down (too many requests); it is tried again later.
    Throttled,
    /// Signed in, but the account may not open the mailbox (Graph permissions, shared mailbox).
    Denied,
    /// An OAuth2 mailbox (Microsoft 365 through Graph) that nobody connected yet.
    NotConnected,
}

impl MailboxProblem {
    pub const ALL: [MailboxProblem; 18] = [
        MailboxProblem::NotFound,
        MailboxProblem::Refused,
        MailboxProblem::TimedOut,
        MailboxProblem::Blocked,
        MailboxProblem::Rejected,
        MailboxProblem::Tls,
        MailboxProblem::Login,
        MailboxProblem::OAuthRejected,
        MailboxProblem::OAuthRefresh,
        MailboxProblem::FolderMissing,
        MailboxProblem::Protocol,
        MailboxProblem::ConnectionLost,
        MailboxProblem::SecretNotBound,
        MailboxProblem::Settings,
        MailboxProblem::Internal,
        MailboxProblem::Throttled,
        MailboxProblem::Denied,
        MailboxProblem::NotConnected,
    ];

    pub fn german(self) -> &'static str {
        match self {
            MailboxProblem::NotFound => {
                "Der Server ist unter diesem Namen nicht zu finden. Ist der Name richtig geschrieben?"
            }
            MailboxProblem::Refused => {
                "Der Server nimmt auf diesem Port keine Verbindung an. Stimmen Port und Verschlüsselung?"
            }
            MailboxProblem::TimedOut => {
                "Der Server antwortet nicht. Stimmen Servername und Port, oder sperrt eine Firewall die Verbindung?"
            }
            MailboxProblem::Blocked => {
                "Verbindungen zu Adressen im eigenen Netz oder auf diesem Rechner sind in den Einstellungen von \
                 Postkorb gesperrt (allow_private_hosts)."
            }
            MailboxProblem::Rejected => "Der Server hat die Verbindung abgelehnt.",
            MailboxProblem::Tls => {
                "Die verschlüsselte Verbindung ist fehlgeschlagen: Das Zertifikat des Servers ist nicht \
                 vertrauenswürdig, oder er spricht auf diesem Port kein TLS."
            }
            MailboxProblem::Login => "Anmeldung fehlgeschlagen: Benutzername oder Passwort falsch.",
            MailboxProblem::OAuthRejected => {
                "Anmeldung mit OAuth2 fehlgeschlagen: Zugriffstoken abgelehnt. Bitte verbinden Sie das Konto neu."
            }
            MailboxProblem::OAuthRefresh => {
                "Das OAuth2-Konto ist nicht mehr verbunden (Token abgelaufen oder widerrufen). Bitte verbinden Sie \
                 das Konto neu."
            }
            MailboxProblem::FolderMissing => "Den Ordner gibt es im Postfach nicht.",
            MailboxProblem::Protocol => {
                "Der Server hat unerwartet geantwortet. Stimmen Protokoll (IMAP, POP3 oder Microsoft 365) und Port?"
            }
            MailboxProblem::ConnectionLost => "Die Verbindung zum Server ist abgebrochen.",
            MailboxProblem::SecretNotBound => {
                "Das gespeicherte Passwort gehört zu anderen Verbindungsdaten. Bitte geben Sie es erneut ein."
            }
            MailboxProblem::Settings => "Die Einstellungen des Postfachs sind unvollständig oder fehlerhaft.",
            MailboxProblem::Internal => {
                "Postkorb konnte den Test nicht ausführen (Datenbank oder Speicher). Details stehen im Protokoll \
                 des Servers."
            }
            MailboxProblem::Throttled => {
                "Microsoft 365 bremst den Abruf gerade (zu viele Anfragen). Postkorb versucht es später von selbst \
                 wieder; die anderen Postfächer laufen weiter."
            }
            MailboxProblem::Denied => {
                "Microsoft 365 verweigert den Zugriff auf dieses Postfach: Das angemeldete Konto oder die App hat \
                 nicht die nötige Berechtigung (Mail.ReadWrite, bei freigegebenen Postfächern \
                 Mail.ReadWrite.Shared), das Postfach ist nicht freigegeben, oder die Adresse stimmt nicht."
            }
            MailboxProblem::NotConnected => {
                "Das Postfach ist noch nicht verbunden: Bitte unten „Konto verbinden“ (oder bei Microsoft 365 über \
                 Graph „Anwendung verbinden“)."
            }
        }
    }
}

impl MailboxProblem {
    /// The kind's stable word for the API.
    pub fn code(self) -> &'static str {
        match self {
            MailboxProblem::NotFound => "not_found",
            MailboxProblem::Refused => "refused",
            MailboxProblem::TimedOut => "timed_out",
            MailboxProblem::Blocked => "blocked",
            MailboxProblem::Rejected => "rejected",
            MailboxProblem::Tls => "tls",
            MailboxProblem::Login => "login",
            MailboxProblem::OAuthRejected => "oauth_rejected",
            MailboxProblem::OAuthRefresh => "oauth_refresh",
            MailboxProblem::FolderMissing => "folder_missing",
            MailboxProblem::Protocol => "protocol",
            MailboxProblem::ConnectionLost => "connection_lost",
            MailboxProblem::SecretNotBound => "secret_not_bound",
            MailboxProblem::Settings => "settings",
            MailboxProblem::Internal => "internal",
            MailboxProblem::Throttled => "throttled",
            MailboxProblem::Denied => "denied",
            MailboxProblem::NotConnected => "not_connected",
        }
    }

    /// True when our error text of this kind never quotes the server (a name lookup, a refused
    /// or timed-out connection, a lost connection, the network policy, the stored secret, the
    /// settings), so it may be shown behind „Details“. A login, greeting, TLS or protocol error
    /// may carry the server's own words.
    pub fn detail_is_ours(self) -> bool {
        matches!(
            self,
            MailboxProblem::NotFound
                | MailboxProblem::Refused
                | MailboxProblem::TimedOut
                | MailboxProblem::Blocked
                | MailboxProblem::ConnectionLost
                | MailboxProblem::SecretNotBound
                | MailboxProblem::Settings
        )
    }

    /// The kind of a fetch error as the importer records it in the mailbox's health
    /// (`mailboxes.last_error`: the English text of the error and its causes, `a: b: c`): the first
    /// part that starts with a known error's words decides; what follows may be the server's.
    pub fn of_recorded(text: &str) -> MailboxProblem {
        const KNOWN: [(&str, MailboxProblem); 18] = [
            ("server not found", MailboxProblem::NotFound),
            ("connection refused", MailboxProblem::Refused),
            ("no answer", MailboxProblem::TimedOut),
            ("refused by the network policy", MailboxProblem::Blocked),
            ("server not reachable", MailboxProblem::Rejected),
            ("TLS failed", MailboxProblem::Tls),
            ("login failed: XOAUTH2", MailboxProblem::OAuthRejected),
            ("login failed: access token refused", MailboxProblem::OAuthRejected),
            ("throttled", MailboxProblem::Throttled),
            ("access denied", MailboxProblem::Denied),
            ("not connected", MailboxProblem::NotConnected),
            ("login failed", MailboxProblem::Login),
            ("folder missing", MailboxProblem::FolderMissing),
            ("protocol error", MailboxProblem::Protocol),
            ("I/O error", MailboxProblem::ConnectionLost),
            ("configuration error", MailboxProblem::Settings),
            ("the stored secret was entered for other connection settings", MailboxProblem::SecretNotBound),
            ("OAuth", MailboxProblem::OAuthRefresh),
        ];
        let mut rest = text;
        loop {
            if let Some((_, kind)) = KNOWN.iter().find(|(words, _)| rest.starts_with(words)) {
                return *kind;
            }
            match rest.split_once(": ") {
                Some((_, tail)) => rest = tail,
                None => return MailboxProblem::Internal,
            }
        }
    }
}

/// A problem with what it concerns: the kind, the server (host and port) or Maildir, the folder,
/// and our own technical detail when it is safe to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProblemReport {
    pub kind: MailboxProblem,
    pub host: String,
    /// 0: the protocol's usual port.
    pub port: u16,
    pub folder: String,
    /// Our own error text (e.g. `connection refused: … Connection refused (os error 111)`), only for
    /// kinds where it never quotes the server.
    pub detail: Option<String>,
}

impl ProblemReport {
    /// The problem `kind` of the mailbox `m` (its server and folder as context); `detail` is our
    /// error text, kept only when the kind allows it.
    pub fn new(kind: MailboxProblem, m: &MailboxRecord, detail: &str) -> ProblemReport {
        let maildir = m.protocol == "maildir";
        ProblemReport {
            kind,
            host: if maildir { String::new() } else { m.host.clone() },
            port: if maildir { 0 } else { u16::try_from(m.port).unwrap_or(0) },
            folder: if maildir { String::new() } else { m.folder.clone() },
            detail: Some(detail.trim().to_string()).filter(|d| kind.detail_is_ours() && !d.is_empty()),
        }
    }

    /// The last error recorded in the mailbox's health, if the last fetch failed.
    pub fn of_health(m: &MailboxRecord) -> Option<ProblemReport> {
        let text = m.last_error.as_deref()?;
        Some(ProblemReport::new(MailboxProblem::of_recorded(text), m, text))
    }

    /// The German words, naming the server, port or folder where the kind is about them.
    pub fn german(&self) -> String {
        let server = if self.host.is_empty() { "Der Server".to_string() } else { format!("Der Server {}", self.host) };
        let port = if self.port == 0 { "diesem Port".to_string() } else { format!("Port {}", self.port) };
        let to = if self.host.is_empty() { "zum Server".to_string() } else { format!("zu {}", self.host) };
        match self.kind {
            MailboxProblem::NotFound if !self.host.is_empty() => {
                format!("{server} ist unter diesem Namen nicht zu finden. Ist der Name richtig geschrieben?")
            }
            MailboxProblem::Refused => {
                format!("{server} nimmt auf {port} keine Verbindung an. Stimmen Port und Verschlüsselung?")
            }
            MailboxProblem::TimedOut => format!(
                "{server} antwortet nicht auf {port}. Stimmen Servername und Port, oder sperrt eine Firewall die \
                 Verbindung?"
            ),
            MailboxProblem::Rejected => format!("{server} hat die Verbindung abgelehnt."),
            MailboxProblem::Tls if !self.host.is_empty() => format!(
                "Die verschlüsselte Verbindung {to} ist fehlgeschlagen: Das Zertifikat des Servers ist nicht \
                 vertrauenswürdig, oder er spricht auf {port} kein TLS."
            ),
            MailboxProblem::Login if !self.host.is_empty() => {
                format!("Anmeldung bei {} fehlgeschlagen: Benutzername oder Passwort falsch.", self.host)
            }
            MailboxProblem::FolderMissing if !self.folder.is_empty() => {
                format!("Den Ordner „{}“ gibt es im Postfach nicht.", self.folder)
            }
            MailboxProblem::Protocol => {
                format!(
                    "{server} hat unerwartet geantwortet. Stimmen Protokoll (IMAP, POP3 oder Microsoft 365) und Port?"
                )
            }
            MailboxProblem::ConnectionLost => format!("Die Verbindung {to} ist abgebrochen."),
            kind => kind.german().to_string(),
        }
    }
}

impl std::fmt::Display for MailboxProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.german())
    }
}

#[cfg(test)]
mod tests {
    use super::{MailboxProblem, ProblemReport};
    use postkorb_store::MailboxRecord;

    fn imap() -> MailboxRecord {
        MailboxRecord {
            name: "büro".into(),
            protocol: "imap".into(),
            host: "imap.example.de".into(),
            port: 993,
            folder: "Eingang".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_words_name_the_server_port_and_folder() {
        let m = imap();
        let words = |kind| ProblemReport::new(kind, &m, "").german();
        assert_eq!(
            words(MailboxProblem::NotFound),
            "Der Server imap.example.de ist unter diesem Namen nicht zu finden. Ist der Name richtig geschrieben?"
        );
        assert!(words(MailboxProblem::Refused).starts_with("Der Server imap.example.de nimmt auf Port 993 keine"));
        assert_eq!(words(MailboxProblem::FolderMissing), "Den Ordner „Eingang“ gibt es im Postfach nicht.");
        let maildir = MailboxRecord { protocol: "maildir".into(), ..imap() };
        assert_eq!(
            ProblemReport::new(MailboxProblem::FolderMissing, &maildir, "").german(),
            MailboxProblem::FolderMissing.german()
        );
        for kind in MailboxProblem::ALL {
            let w = words(kind);
            assert!(w.ends_with('.') || w.ends_with('?'), "{kind:?}: {w}");
        }
    }

    #[test]
    fn a_recorded_error_is_classified_and_its_detail_shown_only_when_it_is_our_own_text() {
        let m = |e: &str| MailboxRecord { last_error: Some(e.into()), ..imap() };
        let refused = m("connection refused: imap.example.de:993 (127.0.0.1:993): Connection refused (os error 111)");
        let p = ProblemReport::of_health(&refused).unwrap();
        assert_eq!(p.kind, MailboxProblem::Refused);
        assert!(p.detail.unwrap().contains("os error 111"));
        let login = ProblemReport::of_health(&m("login failed: * NO [AUTHENTICATIONFAILED] intern-dc01")).unwrap();
        assert_eq!((login.kind, login.detail), (MailboxProblem::Login, None), "the server's words stay out");
        let chained = m("mailbox \"x\": password: the stored secret was entered for other connection settings (…)");
        assert_eq!(ProblemReport::of_health(&chained).unwrap().kind, MailboxProblem::SecretNotBound);
        assert_eq!(MailboxProblem::of_recorded("login failed: XOAUTH2 refused: {…}"), MailboxProblem::OAuthRejected);
        assert_eq!(MailboxProblem::of_recorded("database error: disk full"), MailboxProblem::Internal);
        assert_eq!(ProblemReport::of_health(&imap()), None);
    }

    #[test]
    fn every_problem_has_german_words_without_english_or_debug_text() {
        for p in MailboxProblem::ALL {
            let words = p.german();
            assert!(words.ends_with('.') || words.ends_with('?'), "{p:?}: {words}");
            for english in ["error", "failed", "refused", "connection", "server not", "os error", "{", "::"] {
                assert!(!words.to_lowercase().contains(english), "{p:?}: {words}");
            }
        }
    }
}
