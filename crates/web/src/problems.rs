//! What can go wrong when Postkorb talks to a mailbox, as kinds, and the German words for each —
//! in one place. The app maps its errors (connection, TLS, login, the stored secret) to a kind; the
//! screens show the words. Never the server's own text: a „Verbindung testen“ against a foreign
//! host must not echo its banner.

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
}

impl MailboxProblem {
    pub const ALL: [MailboxProblem; 15] = [
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
                "Der Server hat unerwartet geantwortet. Stimmen Protokoll (IMAP oder POP3) und Port?"
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
    use super::MailboxProblem;

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
