//! What can be wrong with mailbox settings, in one place: German for the form, English for the CLI.

/// The setting an error belongs to: a field of the form, an argument of `mailbox set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Protocol,
    Host,
    Port,
    Tls,
    Username,
    Password,
    Disposal,
    MaildirPath,
    PollSecs,
    Verify,
    AuthservIds,
    Since,
    CaFile,
    // The SMTP settings („E-Mail-Versand“).
    SenderAddress,
    SenderName,
    // The Eingangsbestätigung of a mailbox.
    AckText,
    AckHours,
    AckUnassignedText,
}

impl Field {
    /// The name of the form field (and of its error's place in the page).
    pub fn form_name(self) -> &'static str {
        match self {
            Field::Protocol => "protocol",
            Field::Host => "host",
            Field::Port => "port",
            Field::Tls => "tls",
            Field::Username => "username",
            Field::Password => "password",
            Field::Disposal => "disposal",
            Field::MaildirPath => "maildir_path",
            Field::PollSecs => "poll_secs",
            Field::Verify => "verify",
            Field::AuthservIds => "authserv_ids",
            Field::Since => "since",
            Field::CaFile => "ca_file",
            Field::SenderAddress => "sender_address",
            Field::SenderName => "sender_name",
            Field::AckText => "ack_text",
            Field::AckHours => "ack_hours",
            Field::AckUnassignedText => "ack_unassigned_text",
        }
    }

    /// The argument of `mailbox set`.
    pub fn cli_flag(self) -> &'static str {
        match self {
            Field::Protocol => "--protocol",
            Field::Host => "--host",
            Field::Port => "--port",
            Field::Tls => "--tls",
            Field::Username => "--username",
            Field::Password => "--password-stdin",
            Field::Disposal => "--disposal",
            Field::MaildirPath => "--path",
            Field::PollSecs => "--poll-secs",
            Field::Verify | Field::AuthservIds => "--verify",
            Field::Since => "--since",
            Field::CaFile => "--ca-file",
            Field::SenderAddress => "--sender",
            Field::SenderName => "--sender-name",
            Field::AckText => "--ack-text",
            Field::AckHours => "--ack-hours",
            Field::AckUnassignedText => "--ack-unassigned-text",
        }
    }
}

/// What is wrong (the words are in [`SettingsError::german`] and [`SettingsError::english`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    UnknownProtocol(String),
    UnknownTls(String),
    UnknownDisposal(String),
    HostMissing,
    HostHasSpace,
    PortInvalid,
    UsernameMissing,
    PasswordMissing,
    /// Server, port, encryption, protocol or user name changed and the stored secret was not given
    /// anew: it is never sent to another endpoint.
    PasswordForNewEndpoint,
    MaildirMissing,
    PollOutOfRange,
    UnknownVerify(String),
    AuthservIdMissing,
    BadDate(String),
    /// The web may name no path of this kind: no root is configured.
    PathNoRoot,
    /// Outside the root the web may name paths below (whether it exists or not).
    PathOutside {
        root: String,
    },
    /// Not there, or not a directory (Maildir) or file (CA); `root` when the web looked below one.
    PathMissing {
        root: Option<String>,
    },
    /// SMTP: the server is missing.
    SmtpHostMissing,
    /// SMTP: a user name without a password.
    SmtpPasswordMissing,
    /// SMTP: a login without encryption to a server that is not this machine.
    PlainLoginRemote,
    SenderInvalid(crate::AddressError),
    /// A line break, or longer than 100 characters.
    SenderNameInvalid,
    /// A wording or period of the Eingangsbestätigung.
    Ack(crate::ack::AckProblem),
    /// Microsoft Graph: a server other than graph.microsoft.com (over TLS) or a loopback test server.
    GraphHost,
    /// Microsoft Graph: the mailbox's address is not an e-mail address.
    GraphAddress,
}

/// One error of the mailbox settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.english())]
pub struct SettingsError {
    pub field: Field,
    pub problem: Problem,
}

/// The lowest and highest poll interval in seconds.
pub(super) const POLL_SECS: std::ops::RangeInclusive<i64> = 1..=86_400;

impl SettingsError {
    pub fn new(field: Field, problem: Problem) -> SettingsError {
        SettingsError { field, problem }
    }

    /// For the form, next to its field.
    pub fn german(&self) -> String {
        let dir = self.field == Field::MaildirPath;
        let (the, what) = if dir { ("Das", "Maildir-Verzeichnis") } else { ("Die", "Zertifikatsdatei") };
        match &self.problem {
            Problem::UnknownProtocol(_) => "Unbekanntes Protokoll.".into(),
            Problem::UnknownTls(_) => "Unbekannte Verschlüsselung.".into(),
            Problem::UnknownDisposal(_) => "Bitte wählen Sie „verschieben“ oder „löschen“.".into(),
            Problem::HostMissing => "Bitte geben Sie den Server an (z. B. imap.ihr-anbieter.de).".into(),
            Problem::HostHasSpace => "Der Servername darf keine Leerzeichen enthalten.".into(),
            Problem::GraphHost => "Microsoft 365 (Graph) wird immer über graph.microsoft.com mit Verschlüsselung \
                                   erreicht; bitte lassen Sie den Server leer."
                .into(),
            Problem::GraphAddress => {
                "Bitte geben Sie die E-Mail-Adresse des Postfachs an (z. B. vorgaenge@ihr-buero.de).".into()
            }
            Problem::PortInvalid => "Der Port muss eine Zahl zwischen 1 und 65535 sein.".into(),
            Problem::UsernameMissing => {
                "Bitte geben Sie den Benutzernamen an – die eigene E-Mail-Adresse für Postkorb.".into()
            }
            Problem::PasswordMissing => "Bitte geben Sie das Passwort des Postfachs an.".into(),
            Problem::PasswordForNewEndpoint => {
                "Sie haben Server, Port, Verschlüsselung, Protokoll oder Benutzernamen geändert: Bitte geben Sie das \
                 Passwort erneut ein. Ein gespeichertes Passwort wird nur an den Server geschickt, für den es \
                 eingegeben wurde."
                    .into()
            }
            Problem::MaildirMissing => "Bitte geben Sie das Maildir-Verzeichnis an.".into(),
            Problem::PollOutOfRange => format!(
                "Das Abrufintervall muss zwischen {} und {} Sekunden liegen.",
                POLL_SECS.start(),
                POLL_SECS.end()
            ),
            Problem::UnknownVerify(_) => "Unbekannte Art der Absenderprüfung.".into(),
            Problem::AuthservIdMissing => {
                "Bitte tragen Sie die Kennung (authserv-id) Ihres Mailservers ein, z. B. mx.ihr-anbieter.de.".into()
            }
            Problem::BadDate(_) => {
                "Bitte geben Sie das Datum als JJJJ-MM-TT an (z. B. 2026-01-01) oder lassen Sie das Feld leer.".into()
            }
            Problem::PathNoRoot if dir => "Ein Maildir-Verzeichnis auf dem Server kann nur der Betreiber einrichten \
                                           (postkorb mailbox set --protocol maildir) oder dafür ein Verzeichnis \
                                           freigeben (maildir_root)."
                .into(),
            Problem::PathNoRoot => "Eine eigene Zertifizierungsstelle kann nur der Betreiber einrichten (postkorb \
                                    mailbox set --ca-file) oder dafür ein Verzeichnis freigeben (ca_dir)."
                .into(),
            Problem::PathOutside { root } => format!("{the} {what} muss im freigegebenen Verzeichnis {root} liegen."),
            Problem::PathMissing { root } => {
                let this = if dir { "dieses" } else { "diese" };
                match root {
                    Some(root) => format!("Im Verzeichnis {root} gibt es {this} {what} nicht."),
                    None => format!("{the} {what} gibt es nicht."),
                }
            }
            Problem::SmtpHostMissing => {
                "Bitte geben Sie den Server für den Versand an (z. B. smtp.ihr-anbieter.de).".into()
            }
            Problem::SmtpPasswordMissing => "Bitte geben Sie das Passwort des Kontos für den Versand an.".into(),
            Problem::PlainLoginRemote => "Ohne Verschlüsselung darf Postkorb ein Passwort nur an einen Server auf \
                                          diesem Rechner schicken. Bitte wählen Sie STARTTLS oder TLS."
                .into(),
            Problem::SenderInvalid(e) => format!("Die Absenderadresse ist ungültig: {}", e.german()),
            Problem::SenderNameInvalid => {
                "Der Absendername darf höchstens 100 Zeichen und keinen Zeilenumbruch enthalten.".into()
            }
            Problem::Ack(p) => p.german(),
        }
    }

    /// For the CLI: the argument, then what is wrong and what to give instead.
    pub fn english(&self) -> String {
        let flag = self.field.cli_flag();
        let text = match &self.problem {
            Problem::UnknownProtocol(s) => format!("unknown protocol {s:?}: use imap, pop3, maildir or graph"),
            Problem::UnknownTls(s) => format!("unknown encryption {s:?}: use implicit, starttls or none"),
            Problem::UnknownDisposal(s) => format!("unknown disposal {s:?}: use move or delete"),
            Problem::HostMissing => "the server is required for imap and pop3".into(),
            Problem::HostHasSpace => "the server name must not contain spaces".into(),
            Problem::GraphHost => {
                "Microsoft Graph is always reached at graph.microsoft.com over TLS: leave the server empty".into()
            }
            Problem::GraphAddress => "the mailbox's e-mail address is required for Microsoft Graph".into(),
            Problem::PortInvalid => "the port must be a number from 1 to 65535".into(),
            Problem::UsernameMissing => "the user name (the address used only for Postkorb) is required".into(),
            Problem::PasswordMissing => "the mailbox password is required".into(),
            Problem::PasswordForNewEndpoint => "the stored password (or OAuth connection) was entered for another \
                                                server, port, encryption, protocol or user name; it is never sent \
                                                to another server. Enter it again (--password-stdin, or `postkorb \
                                                mailbox oauth`)"
                .into(),
            Problem::MaildirMissing => "a maildir mailbox needs its directory".into(),
            Problem::PollOutOfRange => {
                format!("the poll interval must be from {} to {} seconds", POLL_SECS.start(), POLL_SECS.end())
            }
            Problem::UnknownVerify(s) => {
                format!("unknown verification {s:?}: use dkim, dkim-strict, auth-results:ID or off")
            }
            Problem::AuthservIdMissing => {
                "auth-results needs at least one authserv-id, e.g. auth-results:mx.example.de".into()
            }
            Problem::BadDate(s) => format!("{s:?}: use YYYY-MM-DD or all"),
            Problem::PathNoRoot => "no directory is shared for such paths (maildir_root / ca_dir)".into(),
            Problem::PathOutside { root } => format!("the path must be below {root}"),
            Problem::PathMissing { root: Some(root) } => format!("there is no such path below {root}"),
            Problem::PathMissing { root: None } if self.field == Field::MaildirPath => "no such directory".into(),
            Problem::PathMissing { root: None } => "no such file".into(),
            Problem::SmtpHostMissing => "the SMTP server is required".into(),
            Problem::SmtpPasswordMissing => "a user name needs its password".into(),
            Problem::PlainLoginRemote => {
                "a password is sent without TLS only to a server on this machine (localhost); use starttls or implicit"
                    .into()
            }
            Problem::SenderInvalid(e) => format!("not a valid address: {e}"),
            Problem::SenderNameInvalid => "at most 100 characters, no line break".into(),
            Problem::Ack(p) => p.english(),
        };
        format!("{flag}: {text}")
    }
}
