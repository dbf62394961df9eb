//! Why a mail is kept for the admin („Nicht zugeordnete E-Mails“), typed, with its words.
//!
//! A [`KeepReason`] carries typed details (which rule, which person), never free text meant for the
//! user: what the parser or the verifier said in their own words is kept only as [`Technical`]
//! detail, shown behind „Details“. The German words of every kind and detail are here and nowhere
//! else: the label ([`KeepReason::label`]), the sentence ([`KeepReason::explanation`]) and what the
//! admin can do about it ([`KeepReason::hint`]). The store keeps the typed reason as JSON; rows from
//! before that have a free English detail, which [`KeepReason::from_legacy`] turns back into a kind.

use serde::{Deserialize, Serialize};

use crate::RouteError;

/// Why a mail is kept for the admin instead of becoming someone's Vorgang.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeepReason {
    /// From is missing, holds several addresses, or is not a strict addr-spec.
    NoUsableFrom(FromProblem),
    /// No row in „E-Mail-Adressen verwalten“ has this sender.
    NoRoute,
    /// Rows exist, but none is active any more (Von or An lost eligibility): each rule broken.
    RouteInactive(Vec<RouteError>),
    /// Auto-reply, out-of-office, bounce, mailing list.
    Automatic(AutoKind),
    /// The sender could not be verified (the verifier's own words as technical detail).
    Unverified(Technical),
    /// The message could not be understood.
    Malformed(Unreadable),
    /// A pooled Vorgang whose candidates all lost eligibility.
    NoCandidateLeft,
    /// Too many mails from one sender in a short time: held instead of flooding a Startmaske.
    Storm(StormLimit),
    /// The sender could not be verified because its domain's DNS stayed unreachable for longer
    /// than the importer retries (default 24 h).
    UnverifiedDns(Technical),
}

/// What a program said in its own (English) words: never shown as the reason, only behind „Details“.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Technical(pub String);

impl From<&str> for Technical {
    fn from(s: &str) -> Self {
        Technical(s.to_string())
    }
}

impl From<String> for Technical {
    fn from(s: String) -> Self {
        Technical(s)
    }
}

/// What is wrong with the From of a mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromProblem {
    Missing,
    Duplicate,
    NoAddress,
    Several,
    Group,
    EncodedWord,
    NotUtf8,
    Whitespace,
    TextAfter,
    AngleBrackets,
    Quoted,
    Invalid(Technical),
}

/// Why a mail counts as sent by a machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutoKind {
    AutoReply,
    Bulk,
    MailingList,
    Report,
    Bounce,
    OutOfOffice,
    Other(Technical),
}

/// Why a mail could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unreadable {
    Empty,
    NoHeaders,
    TooLarge,
    TooComplex,
    Other(Technical),
}

/// The storm limit that held a mail: more than `max` mails within `minutes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StormLimit {
    pub max: i64,
    pub minutes: i64,
}

impl FromProblem {
    /// The parser's words (crates/mail, sender.rs) as a kind; unknown words stay technical detail.
    pub fn classify(text: &str) -> FromProblem {
        let t = text.trim();
        match t {
            "no From header" => FromProblem::Missing,
            "duplicate From header" => FromProblem::Duplicate,
            "no address in From" => FromProblem::NoAddress,
            "several addresses in From" => FromProblem::Several,
            "group syntax in From" => FromProblem::Group,
            "From address is inside an encoded word" => FromProblem::EncodedWord,
            "invalid From address: not valid UTF-8" => FromProblem::NotUtf8,
            "From address contains whitespace" => FromProblem::Whitespace,
            "text after the address in From" => FromProblem::TextAfter,
            "nested angle brackets in From" | "unclosed angle bracket in From" => FromProblem::AngleBrackets,
            "From address has a quoted part" => FromProblem::Quoted,
            _ => FromProblem::Invalid(t.into()),
        }
    }

    fn german(&self) -> &'static str {
        match self {
            FromProblem::Missing => "Die E-Mail nennt keinen Absender.",
            FromProblem::Duplicate => "Die E-Mail nennt den Absender mehrmals.",
            FromProblem::NoAddress => "Beim Absender steht keine E-Mail-Adresse.",
            FromProblem::Several => "Beim Absender stehen mehrere Adressen; es darf nur eine sein.",
            FromProblem::Group => "Als Absender ist eine Gruppe angegeben statt einer Adresse.",
            FromProblem::EncodedWord => {
                "Die Absenderadresse ist verschleiert (kodiert) angegeben, wie es bei Fälschungen vorkommt."
            }
            FromProblem::NotUtf8 => "Die Absenderadresse enthält unlesbare Zeichen.",
            FromProblem::Whitespace => "Die Absenderadresse enthält Leerzeichen.",
            FromProblem::TextAfter => "Hinter der Absenderadresse steht weiterer Text.",
            FromProblem::AngleBrackets => "Die spitzen Klammern um die Absenderadresse sind fehlerhaft.",
            FromProblem::Quoted => "Die Absenderadresse enthält einen Teil in Anführungszeichen.",
            FromProblem::Invalid(_) => "Die Absenderadresse ist keine gültige E-Mail-Adresse.",
        }
    }

    fn english(&self) -> &'static str {
        match self {
            FromProblem::Missing => "no From header",
            FromProblem::Duplicate => "duplicate From header",
            FromProblem::NoAddress => "no address in From",
            FromProblem::Several => "several addresses in From",
            FromProblem::Group => "group syntax in From",
            FromProblem::EncodedWord => "From address is inside an encoded word",
            FromProblem::NotUtf8 => "From address is not valid UTF-8",
            FromProblem::Whitespace => "From address contains whitespace",
            FromProblem::TextAfter => "text after the address in From",
            FromProblem::AngleBrackets => "broken angle brackets in From",
            FromProblem::Quoted => "From address has a quoted part",
            FromProblem::Invalid(_) => "invalid From address",
        }
    }

    fn technical(&self) -> Option<&str> {
        match self {
            FromProblem::Invalid(t) => Some(&t.0),
            _ => None,
        }
    }
}

impl AutoKind {
    /// The parser's words (crates/mail, auto.rs) as a kind; unknown words stay technical detail.
    pub fn classify(text: &str) -> AutoKind {
        let t = text.trim();
        if t.starts_with("Auto-Submitted:") || t.starts_with("X-Auto") {
            AutoKind::AutoReply
        } else if t.starts_with("Precedence:") {
            AutoKind::Bulk
        } else if t.ends_with("(mailing list)") {
            AutoKind::MailingList
        } else if t.starts_with("Content-Type: multipart/report") {
            AutoKind::Report
        } else if t.starts_with("bounce") {
            AutoKind::Bounce
        } else if t.starts_with("out-of-office") {
            AutoKind::OutOfOffice
        } else {
            AutoKind::Other(t.into())
        }
    }

    fn german(&self) -> &'static str {
        match self {
            AutoKind::AutoReply => "Die E-Mail ist als automatische Antwort gekennzeichnet.",
            AutoKind::Bulk => "Die E-Mail ist als Massen-E-Mail gekennzeichnet.",
            AutoKind::MailingList => "Die E-Mail kommt über einen Verteiler (Newsletter oder Mailingliste).",
            AutoKind::Report => "Die E-Mail ist eine automatische Zustell- oder Lesebestätigung.",
            AutoKind::Bounce => "Die E-Mail ist eine Unzustellbarkeitsnachricht eines Mailservers.",
            AutoKind::OutOfOffice => "Die E-Mail ist eine Abwesenheitsnotiz.",
            AutoKind::Other(_) => "Die E-Mail wurde von einem Programm verschickt, nicht von einem Menschen.",
        }
    }

    fn english(&self) -> &'static str {
        match self {
            AutoKind::AutoReply => "auto-reply",
            AutoKind::Bulk => "bulk mail",
            AutoKind::MailingList => "mailing list",
            AutoKind::Report => "delivery or read report",
            AutoKind::Bounce => "bounce",
            AutoKind::OutOfOffice => "out of office",
            AutoKind::Other(_) => "sent by a program",
        }
    }

    fn technical(&self) -> Option<&str> {
        match self {
            AutoKind::Other(t) => Some(&t.0),
            _ => None,
        }
    }
}

impl Unreadable {
    /// The parser's words (crates/mail, pipeline.rs) as a kind; the words stay technical detail.
    pub fn classify(text: &str) -> Unreadable {
        let t = text.trim();
        if t == "empty message" {
            Unreadable::Empty
        } else if t == "no headers" {
            Unreadable::NoHeaders
        } else if t.starts_with("too large") || t.starts_with("header too large") {
            Unreadable::TooLarge
        } else if t.starts_with("too many") || t.starts_with("MIME nesting") {
            Unreadable::TooComplex
        } else {
            Unreadable::Other(t.into())
        }
    }

    fn german(&self) -> &'static str {
        match self {
            Unreadable::Empty => "Die E-Mail ist leer.",
            Unreadable::NoHeaders => "Der E-Mail fehlen die Angaben zu Absender, Betreff und Datum.",
            Unreadable::TooLarge => "Die E-Mail ist größer als erlaubt.",
            Unreadable::TooComplex => "Die E-Mail ist zu verschachtelt aufgebaut, um sie sicher zu lesen.",
            Unreadable::Other(_) => "Die E-Mail ist beschädigt und ließ sich nicht lesen.",
        }
    }

    fn english(&self) -> &'static str {
        match self {
            Unreadable::Empty => "empty message",
            Unreadable::NoHeaders => "no headers",
            Unreadable::TooLarge => "too large",
            Unreadable::TooComplex => "too deeply nested or too many parts",
            Unreadable::Other(_) => "damaged",
        }
    }

    fn technical(&self) -> Option<&str> {
        match self {
            Unreadable::Other(t) => Some(&t.0),
            _ => None,
        }
    }
}

impl KeepReason {
    /// Every kind once (with sample details), for tests that render each kind.
    pub fn samples() -> Vec<KeepReason> {
        vec![
            KeepReason::NoUsableFrom(FromProblem::Missing),
            KeepReason::NoUsableFrom(FromProblem::AngleBrackets),
            KeepReason::NoUsableFrom(FromProblem::Invalid("invalid From address: the domain".into())),
            KeepReason::NoRoute,
            KeepReason::RouteInactive(vec![
                RouteError::NotCurrent { role: crate::RouteRole::Von, name: "Frank Teilzeit".into() },
                RouteError::NoLicense { name: "Frank Teilzeit".into() },
                RouteError::NoWorkEmail { name: "Frank Teilzeit".into() },
                RouteError::UnknownEmployee { role: crate::RouteRole::An, id: 9 },
            ]),
            KeepReason::Automatic(AutoKind::AutoReply),
            KeepReason::Automatic(AutoKind::MailingList),
            KeepReason::Automatic(AutoKind::Other("X-Strange header".into())),
            KeepReason::Unverified("no DKIM signature from the From domain".into()),
            KeepReason::Malformed(Unreadable::TooLarge),
            KeepReason::Malformed(Unreadable::Other("parser panicked".into())),
            KeepReason::NoCandidateLeft,
            KeepReason::Storm(StormLimit { max: 20, minutes: 10 }),
            KeepReason::UnverifiedDns("DNS lookup timed out".into()),
        ]
    }

    pub fn code(&self) -> &'static str {
        match self {
            KeepReason::NoUsableFrom(_) => "no_usable_from",
            KeepReason::NoRoute => "no_route",
            KeepReason::RouteInactive(_) => "route_inactive",
            KeepReason::Automatic(_) => "automatic",
            KeepReason::Unverified(_) => "unverified",
            KeepReason::Malformed(_) => "malformed",
            KeepReason::NoCandidateLeft => "no_candidate_left",
            KeepReason::Storm(_) => "storm",
            KeepReason::UnverifiedDns(_) => "unverified_dns",
        }
    }

    /// Kept because the sender could not be verified (for whatever reason).
    pub fn is_unverified(&self) -> bool {
        matches!(self, KeepReason::Unverified(_) | KeepReason::UnverifiedDns(_))
    }

    /// A row written before reasons were typed: its code and free English detail. The detail is
    /// classified where the words are known; the old text is returned to be shown behind „Details“.
    pub fn from_legacy(code: &str, detail: &str) -> Option<(KeepReason, Option<String>)> {
        let old = (!detail.trim().is_empty()).then(|| detail.trim().to_string());
        let reason = match code {
            "no_usable_from" => KeepReason::NoUsableFrom(FromProblem::classify(detail)),
            "no_route" => KeepReason::NoRoute,
            "route_inactive" => KeepReason::RouteInactive(Vec::new()),
            "automatic" => KeepReason::Automatic(AutoKind::classify(detail)),
            "unverified" => KeepReason::Unverified(detail.into()),
            "malformed" => KeepReason::Malformed(Unreadable::classify(detail)),
            "no_candidate_left" => KeepReason::NoCandidateLeft,
            "storm" => KeepReason::Storm(StormLimit { max: 0, minutes: 0 }),
            "unverified_dns" => KeepReason::UnverifiedDns(detail.into()),
            _ => return None,
        };
        Some((reason, old))
    }

    /// What a program said in its own words, for „Details“ (never the reason itself).
    pub fn technical(&self) -> Option<&str> {
        let t = match self {
            KeepReason::NoUsableFrom(p) => p.technical(),
            KeepReason::Automatic(a) => a.technical(),
            KeepReason::Malformed(u) => u.technical(),
            KeepReason::Unverified(t) | KeepReason::UnverifiedDns(t) => Some(t.0.as_str()),
            KeepReason::NoRoute | KeepReason::RouteInactive(_) | KeepReason::NoCandidateLeft | KeepReason::Storm(_) => {
                None
            }
        };
        t.filter(|t| !t.trim().is_empty())
    }

    /// The short label of the kind (the list's column „Grund“).
    pub fn label(&self) -> &'static str {
        match self {
            KeepReason::NoUsableFrom(_) => "Kein gültiger Absender",
            KeepReason::NoRoute => "Absender unbekannt",
            KeepReason::RouteInactive(_) => "Zuordnung inaktiv",
            KeepReason::Automatic(_) => "Automatische E-Mail",
            KeepReason::Unverified(_) => "Absender nicht verifiziert",
            KeepReason::Malformed(_) => "E-Mail nicht lesbar",
            KeepReason::NoCandidateLeft => "Kein Empfänger mehr berechtigt",
            KeepReason::Storm(_) => "Zurückgehalten: zu viele E-Mails dieses Absenders in kurzer Zeit",
            KeepReason::UnverifiedDns(_) => "Absender nicht verifiziert (DNS nicht erreichbar)",
        }
    }

    /// What happened, in one or more plain German sentences, with the names of the people meant.
    pub fn explanation(&self) -> String {
        match self {
            KeepReason::NoUsableFrom(p) => p.german().to_string(),
            KeepReason::NoRoute => {
                "Für diese Absenderadresse gibt es keine Zuordnung unter „E-Mail-Adressen verwalten“.".into()
            }
            KeepReason::RouteInactive(problems) if problems.is_empty() => {
                "Für diesen Absender gibt es Zuordnungen, aber keine davon ist gerade aktiv.".into()
            }
            KeepReason::RouteInactive(problems) => {
                let mut words: Vec<String> = problems.iter().map(RouteError::german).collect();
                words.dedup();
                format!("Für diesen Absender gibt es Zuordnungen, aber keine ist aktiv: {}", words.join(" "))
            }
            KeepReason::Automatic(a) => a.german().to_string(),
            KeepReason::Unverified(_) => "Es ließ sich nicht bestätigen, dass die E-Mail wirklich von der \
                                          angegebenen Absenderadresse stammt. Sie könnte gefälscht sein."
                .into(),
            KeepReason::Malformed(u) => u.german().to_string(),
            KeepReason::NoCandidateLeft => "Die E-Mail wartete auf einen von mehreren Empfängern; inzwischen \
                                            darf keiner von ihnen sie mehr erhalten."
                .into(),
            KeepReason::Storm(StormLimit { max, minutes }) if *max > 0 => format!(
                "Von diesem Absender kamen mehr als {max} E-Mails innerhalb von {minutes} Minuten. Damit keine \
                 Startmaske überläuft, wurden die weiteren zurückgehalten."
            ),
            KeepReason::Storm(_) => "Von diesem Absender kamen in kurzer Zeit sehr viele E-Mails. Damit keine \
                                     Startmaske überläuft, wurden die weiteren zurückgehalten."
                .into(),
            KeepReason::UnverifiedDns(_) => "Der Absender ließ sich nicht prüfen, weil der Namensdienst (DNS) \
                                             seiner Domain über längere Zeit nicht erreichbar war."
                .into(),
        }
    }

    /// What the admin can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            KeepReason::NoUsableFrom(_) => {
                "Prüfen Sie die E-Mail im Original. Ist sie echt, weisen Sie sie von Hand einem Mitarbeiter zu; \
                 sonst verwerfen Sie sie."
            }
            KeepReason::NoRoute => {
                "Ist der Absender ein Mitarbeiter, legen Sie eine Zuordnung an (hier oder unter „E-Mail-Adressen \
                 verwalten“). Fehlt der Mitarbeiter oder seine E-Mail-Adresse unter Fenster › Mitarbeiter, \
                 tragen Sie sie dort zuerst ein."
            }
            KeepReason::RouteInactive(_) => {
                "Setzen Sie unter Fenster › Mitarbeiter wieder „Aktuell“, den Lizenzstring oder die \
                 E-Mail-Adresse, oder legen Sie eine Zuordnung an einen anderen Empfänger an."
            }
            KeepReason::Automatic(_) => {
                "Automatische E-Mails werden absichtlich niemandem zugeordnet. Ist diese doch wichtig, weisen \
                 Sie sie von Hand zu; sonst verwerfen Sie sie."
            }
            KeepReason::Unverified(_) | KeepReason::UnverifiedDns(_) => {
                "Prüfen Sie die E-Mail im Original, bevor Sie sie zuweisen. Ist sie echt, weisen Sie sie von Hand \
                 zu; der Vorgang trägt dann den Hinweis, dass der Absender nicht bestätigt war."
            }
            KeepReason::Malformed(_) => {
                "Laden Sie die Original-E-Mail herunter und öffnen Sie sie mit Ihrem E-Mail-Programm. Bitten Sie \
                 den Absender bei Bedarf, sie erneut zu schicken."
            }
            KeepReason::NoCandidateLeft => {
                "Weisen Sie die E-Mail von Hand einem berechtigten Mitarbeiter zu, oder legen Sie eine neue \
                 Zuordnung an."
            }
            KeepReason::Storm(_) => {
                "Sehen Sie nach, ob die E-Mails echt sind. Echte E-Mails können Sie erneut zuordnen; die Grenze \
                 steht in den Einstellungen des Postfachs."
            }
        }
    }

    /// Label and sentence in one line (CLI's German, dry run tallies use the label before „:“).
    pub fn german(&self) -> String {
        format!("{}: {}", self.label(), self.explanation())
    }

    /// A short English sentence for the CLI.
    pub fn english(&self) -> String {
        let base = match self {
            KeepReason::NoUsableFrom(_) => "no usable sender address in From",
            KeepReason::NoRoute => "sender has no row in the sender list",
            KeepReason::RouteInactive(_) => "sender's rows are all inactive",
            KeepReason::Automatic(_) => "automatic mail (auto-reply, bounce, list)",
            KeepReason::Unverified(_) => "sender not verified",
            KeepReason::Malformed(_) => "message could not be read",
            KeepReason::NoCandidateLeft => "no recipient of the pool is eligible any more",
            KeepReason::Storm(_) => "held: too many mails from this sender in a short time",
            KeepReason::UnverifiedDns(_) => "sender not verified (DNS unreachable)",
        };
        let detail = match self {
            KeepReason::RouteInactive(p) => p.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "),
            KeepReason::NoUsableFrom(p) => p.english().into(),
            KeepReason::Automatic(a) => a.english().into(),
            KeepReason::Malformed(u) => u.english().into(),
            KeepReason::Storm(StormLimit { max, minutes }) if *max > 0 => {
                format!("more than {max} within {minutes} minutes")
            }
            _ => String::new(),
        };
        let detail = self.technical().map(str::to_string).unwrap_or(detail);
        if detail.is_empty() { base.to_string() } else { format!("{base}: {detail}") }
    }
}
