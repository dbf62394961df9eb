//! The Protokoll's „Änderungen“: who did what to whom, typed.
//!
//! Every audited action is an [`AuditEntry`] with the ids *and the names at the time* of the people,
//! mails and mailboxes it touched; the store keeps its action word ([`AuditEntry::code`]) and the entry
//! as JSON. The German sentence of each kind is here ([`AuditEntry::german`]); rows written before
//! entries were typed (an action word and a free detail with ids) get a German sentence for the known
//! word ([`legacy_german`]) and their old text behind „Details“.

use serde::{Deserialize, Serialize};

/// A person as named when the entry was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
}

impl Person {
    pub fn of(e: &crate::Employee) -> Person {
        Person { id: e.id.0, name: e.name.clone() }
    }
}

/// One audited action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AuditEntry {
    /// A row Von → An was created (`kept`: from the page of that kept mail).
    AddRoute {
        row: i64,
        from: Person,
        to: Person,
        kept: Option<i64>,
    },
    RemoveRoute {
        row: i64,
        from: Person,
        to: Person,
    },
    DiscardKept {
        kept: i64,
        subject: String,
    },
    /// A kept mail routed again by the rules (after a row was added).
    RerouteKept {
        kept: i64,
        subject: String,
        case: i64,
        unverified: bool,
    },
    /// A kept mail given to one person by hand, without creating a row.
    RouteOnce {
        kept: i64,
        subject: String,
        to: Person,
        case: i64,
        unverified: bool,
    },
    AddEmployee {
        employee: Person,
    },
    /// `inactive`: rows that became inactive by this save.
    UpdateEmployee {
        employee: Person,
        inactive: i64,
    },
    RevokeAll {
        employee: Person,
        sessions: i64,
        tokens: i64,
    },
    CreateToken {
        employee: Person,
        label: String,
    },
    RevokeToken {
        employee: Person,
        label: String,
    },
    EndSessions {
        employee: Person,
        count: i64,
    },
    ChangePassword {
        employee: Person,
    },
    SaveMailbox {
        mailbox: String,
    },
    /// The connection of a mailbox changed: `changes` in German words („Server a → b“, made in one
    /// place, the store's `endpoint.rs`); `dropped`: stored credentials were removed with it.
    MailboxEndpoint {
        mailbox: String,
        changes: Vec<String>,
        dropped: bool,
    },
    MailboxOauth {
        mailbox: String,
        provider: String,
    },
    DeleteMailbox {
        mailbox: String,
    },
    DisableMailbox {
        mailbox: String,
    },
    EnableMailbox {
        mailbox: String,
    },
    /// The SMTP settings („E-Mail-Versand“) were saved; `changes` of the connection in German
    /// words (empty when only the sender changed); `dropped`: the stored password was removed.
    SaveSmtp {
        changes: Vec<String>,
        dropped: bool,
    },
    /// The upgrade found the same work e-mail at several employees and removed it here (kept at `kept_by`).
    ClearDuplicateEmail {
        employee: Person,
        email: String,
        kept_by: Person,
    },
    /// An absence was entered (`until_ms` None: open end), with its Vertreter if any.
    AddAbsence {
        absence: i64,
        employee: Person,
        from_ms: i64,
        until_ms: Option<i64>,
        substitute: Option<Person>,
    },
    /// An absence was ended early (`ended_ms`), or cancelled before it began (`cancelled`).
    EndAbsence {
        absence: i64,
        employee: Person,
        ended_ms: i64,
        cancelled: bool,
    },
    /// A webhook endpoint created or changed (issue 17).
    SaveWebhook {
        webhook: i64,
        name: String,
    },
    DeleteWebhook {
        webhook: i64,
        name: String,
    },
    /// „Neues Geheimnis“.
    WebhookSecret {
        webhook: i64,
        name: String,
    },
    /// Paused — by an admin, or (actor `postkorb`) after days without a successful delivery.
    WebhookPaused {
        webhook: i64,
        name: String,
    },
    /// „Fortsetzen“.
    ResumeWebhook {
        webhook: i64,
        name: String,
    },
    /// A Vorgang's original mail (.eml) was downloaded (page or API), with its subject then.
    DownloadCase {
        case: i64,
        subject: String,
    },
    /// An attachment of a Vorgang was downloaded, with its file name then.
    DownloadAttachment {
        case: i64,
        attachment: i64,
        name: String,
    },
    /// The original (.eml) of a kept mail („Nicht zugeordnete E-Mails“) was downloaded.
    DownloadKept {
        kept: i64,
        subject: String,
    },
    /// Issue 18: a Sperre set on a Vorgang (`case`) or a kept mail (`kept`); `kind` is
    /// `retention::HoldKind`'s code, `until_ms` its end or review date.
    SetHold {
        hold: i64,
        case: Option<i64>,
        kept: Option<i64>,
        kind: String,
        until_ms: i64,
    },
    /// A Sperre lifted.
    LiftHold {
        hold: i64,
        case: Option<i64>,
        kept: Option<i64>,
        kind: String,
    },
    /// The Aufbewahrungsfristen saved: what changed, in German („Erledigte Vorgänge: 6 → 8 Jahre“).
    SaveRetention {
        changes: Vec<String>,
    },
    /// Issue 18, Auskunft (Art. 15/20 DSGVO): a person's data exported as a ZIP; `items` is how
    /// many Vorgänge, kept mails and audit entries it held (never the person's address).
    PrivacyExport {
        items: i64,
    },
    /// Löschen auf Antrag (Art. 17 DSGVO): a Vorgang (`case`) or a kept mail (`kept`) deleted
    /// completely, with the reason given.
    EraseOnRequest {
        case: Option<i64>,
        kept: Option<i64>,
        reason: String,
    },
    /// Issue 18 item 7: „Inhalte verschlüsselt speichern“ switched on or off (new mails).
    MailEncryption {
        on: bool,
    },
    /// Stored mails converted to encrypted storage (`items`: how many raw mails, attachments,
    /// texts and search entries).
    MailSealed {
        items: i64,
    },
}

/// The kinds, for the Protokoll's filter: (action word, German name).
pub const KINDS: [(&str, &str); 37] = [
    ("add_route", "Zuordnung angelegt"),
    ("remove_route", "Zuordnung gelöscht"),
    ("discard_kept", "E-Mail verworfen"),
    ("reroute_kept", "E-Mail erneut zugeordnet"),
    ("route_once", "E-Mail von Hand zugewiesen"),
    ("add_employee", "Mitarbeiter angelegt"),
    ("update_employee", "Mitarbeiter geändert"),
    ("revoke_all", "Sitzungen und Tokens beendet"),
    ("create_token", "API-Token erstellt"),
    ("revoke_token", "API-Token widerrufen"),
    ("end_sessions", "Andere Sitzungen beendet"),
    ("change_password", "Passwort geändert"),
    ("save_mailbox", "Postfach gespeichert"),
    ("mailbox_endpoint", "Verbindung eines Postfachs geändert"),
    ("mailbox_oauth", "Postfach mit OAuth verbunden"),
    ("delete_mailbox", "Postfach gelöscht"),
    ("disable_mailbox", "Postfach angehalten"),
    ("enable_mailbox", "Postfach wieder eingeschaltet"),
    ("clear_duplicate_email", "Doppelte E-Mail-Adresse entfernt"),
    ("add_absence", "Abwesenheit eingetragen"),
    ("end_absence", "Abwesenheit beendet"),
    ("save_webhook", "Webhook gespeichert"),
    ("delete_webhook", "Webhook gelöscht"),
    ("webhook_secret", "Neues Geheimnis eines Webhooks"),
    ("webhook_paused", "Webhook pausiert"),
    ("resume_webhook", "Webhook fortgesetzt"),
    ("save_smtp", "E-Mail-Versand gespeichert"),
    ("download_case", "Original eines Vorgangs heruntergeladen"),
    ("download_attachment", "Anhang heruntergeladen"),
    ("download_kept", "Original einer nicht zugeordneten E-Mail heruntergeladen"),
    ("set_hold", "Sperre gesetzt"),
    ("lift_hold", "Sperre aufgehoben"),
    ("save_retention", "Aufbewahrungsfristen gespeichert"),
    ("privacy_export", "Auskunft erteilt"),
    ("erase_on_request", "Auf Antrag gelöscht"),
    ("mail_encryption", "Verschlüsselung der Inhalte geändert"),
    ("mail_sealed", "Gespeicherte E-Mails verschlüsselt"),
];

/// `TT.MM.JJJJ HH:MM` on the office's clock.
fn when(ms: i64) -> String {
    let (y, m, d, hh, mm) = crate::time::berlin_civil(ms);
    format!("{d:02}.{m:02}.{y:04} {hh:02}:{mm:02}")
}

fn quoted(s: &str) -> String {
    if s.trim().is_empty() { "(ohne Betreff)".to_string() } else { format!("„{}“", s.trim()) }
}

fn label(s: &str) -> String {
    if s.trim().is_empty() { "ohne Bezeichnung".to_string() } else { format!("„{}“", s.trim()) }
}

/// „Vorgang 12“ / „nicht zugeordnete E-Mail 4“.
fn held_thing(case: Option<i64>, kept: Option<i64>) -> String {
    match (case, kept) {
        (Some(c), _) => format!("Vorgang {c}"),
        (None, Some(k)) => format!("die nicht zugeordnete E-Mail {k}"),
        (None, None) => "einen gelöschten Eintrag".to_string(),
    }
}

fn hold_kind(code: &str) -> &'static str {
    crate::retention::HoldKind::from_code(code).map_or("Sperre", crate::retention::HoldKind::german)
}

impl AuditEntry {
    /// The action word stored in its own column (filterable), the same as the JSON's `action`.
    pub fn code(&self) -> &'static str {
        match self {
            AuditEntry::AddRoute { .. } => "add_route",
            AuditEntry::RemoveRoute { .. } => "remove_route",
            AuditEntry::DiscardKept { .. } => "discard_kept",
            AuditEntry::RerouteKept { .. } => "reroute_kept",
            AuditEntry::RouteOnce { .. } => "route_once",
            AuditEntry::AddEmployee { .. } => "add_employee",
            AuditEntry::UpdateEmployee { .. } => "update_employee",
            AuditEntry::RevokeAll { .. } => "revoke_all",
            AuditEntry::CreateToken { .. } => "create_token",
            AuditEntry::RevokeToken { .. } => "revoke_token",
            AuditEntry::EndSessions { .. } => "end_sessions",
            AuditEntry::ChangePassword { .. } => "change_password",
            AuditEntry::SaveMailbox { .. } => "save_mailbox",
            AuditEntry::MailboxEndpoint { .. } => "mailbox_endpoint",
            AuditEntry::MailboxOauth { .. } => "mailbox_oauth",
            AuditEntry::DeleteMailbox { .. } => "delete_mailbox",
            AuditEntry::DisableMailbox { .. } => "disable_mailbox",
            AuditEntry::EnableMailbox { .. } => "enable_mailbox",
            AuditEntry::SaveSmtp { .. } => "save_smtp",
            AuditEntry::ClearDuplicateEmail { .. } => "clear_duplicate_email",
            AuditEntry::AddAbsence { .. } => "add_absence",
            AuditEntry::EndAbsence { .. } => "end_absence",
            AuditEntry::SaveWebhook { .. } => "save_webhook",
            AuditEntry::DeleteWebhook { .. } => "delete_webhook",
            AuditEntry::WebhookSecret { .. } => "webhook_secret",
            AuditEntry::WebhookPaused { .. } => "webhook_paused",
            AuditEntry::ResumeWebhook { .. } => "resume_webhook",
            AuditEntry::DownloadCase { .. } => "download_case",
            AuditEntry::DownloadAttachment { .. } => "download_attachment",
            AuditEntry::DownloadKept { .. } => "download_kept",
            AuditEntry::SetHold { .. } => "set_hold",
            AuditEntry::LiftHold { .. } => "lift_hold",
            AuditEntry::SaveRetention { .. } => "save_retention",
            AuditEntry::PrivacyExport { .. } => "privacy_export",
            AuditEntry::EraseOnRequest { .. } => "erase_on_request",
            AuditEntry::MailEncryption { .. } => "mail_encryption",
            AuditEntry::MailSealed { .. } => "mail_sealed",
        }
    }

    /// What was done, after the actor's name: „hat die Zuordnung Von Bernd Büro → An Clara Chef angelegt“.
    pub fn german(&self) -> String {
        match self {
            AuditEntry::AddRoute { from, to, kept: None, .. } => {
                format!("hat die Zuordnung Von {} → An {} angelegt", from.name, to.name)
            }
            AuditEntry::AddRoute { from, to, kept: Some(_), .. } => format!(
                "hat die Zuordnung Von {} → An {} angelegt (bei einer nicht zugeordneten E-Mail)",
                from.name, to.name
            ),
            AuditEntry::RemoveRoute { from, to, .. } => {
                format!("hat die Zuordnung Von {} → An {} gelöscht", from.name, to.name)
            }
            AuditEntry::DiscardKept { subject, .. } => format!("hat die E-Mail {} verworfen", quoted(subject)),
            AuditEntry::RerouteKept { subject, unverified, .. } => format!(
                "hat die E-Mail {} erneut zugeordnet{}",
                quoted(subject),
                if *unverified { " (Absender nicht verifiziert)" } else { "" }
            ),
            AuditEntry::RouteOnce { subject, to, unverified, .. } => format!(
                "hat die E-Mail {} von Hand {} zugewiesen, ohne Zuordnung{}",
                quoted(subject),
                to.name,
                if *unverified { " (Absender nicht verifiziert)" } else { "" }
            ),
            AuditEntry::AddEmployee { employee } => format!("hat den Mitarbeiter {} angelegt", employee.name),
            AuditEntry::UpdateEmployee { employee, inactive: 0 } => {
                format!("hat den Mitarbeiter {} geändert", employee.name)
            }
            AuditEntry::UpdateEmployee { employee, inactive: 1 } => {
                format!("hat den Mitarbeiter {} geändert; 1 Zuordnung ist dadurch inaktiv", employee.name)
            }
            AuditEntry::UpdateEmployee { employee, inactive } => {
                format!("hat den Mitarbeiter {} geändert; {inactive} Zuordnungen sind dadurch inaktiv", employee.name)
            }
            AuditEntry::RevokeAll { employee, sessions, tokens } => format!(
                "hat {} überall abgemeldet ({sessions} Sitzungen und {tokens} API-Tokens beendet)",
                employee.name
            ),
            AuditEntry::CreateToken { employee, label: l } => {
                format!("hat für {} ein API-Token {} erstellt", employee.name, label(l))
            }
            AuditEntry::RevokeToken { employee, label: l } => {
                format!("hat das API-Token {} von {} widerrufen", label(l), employee.name)
            }
            AuditEntry::EndSessions { employee, count } => {
                format!("hat {count} andere Sitzungen von {} beendet", employee.name)
            }
            AuditEntry::ChangePassword { employee } => format!("hat das Passwort von {} geändert", employee.name),
            AuditEntry::SaveMailbox { mailbox } => {
                format!("hat die Einstellungen des Postfachs „{mailbox}“ gespeichert")
            }
            AuditEntry::MailboxEndpoint { mailbox, changes, dropped } => format!(
                "hat die Einstellungen des Postfachs „{mailbox}“ gespeichert: {}{}",
                changes.join(", "),
                if *dropped {
                    " (gespeicherte Zugangsdaten entfernt: sie galten nur für die alte Verbindung)"
                } else {
                    ""
                }
            ),
            AuditEntry::SaveSmtp { changes, dropped } => format!(
                "hat die Einstellungen für den E-Mail-Versand gespeichert{}{}",
                if changes.is_empty() { String::new() } else { format!(": {}", changes.join(", ")) },
                if *dropped { " (gespeichertes Passwort entfernt: es galt nur für die alte Verbindung)" } else { "" }
            ),
            AuditEntry::MailboxOauth { mailbox, provider } => {
                format!("hat das Postfach „{mailbox}“ über {provider} angemeldet (OAuth)")
            }
            AuditEntry::DeleteMailbox { mailbox } => format!("hat das Postfach „{mailbox}“ gelöscht"),
            AuditEntry::DisableMailbox { mailbox } => format!("hat das Postfach „{mailbox}“ angehalten"),
            AuditEntry::EnableMailbox { mailbox } => format!("hat das Postfach „{mailbox}“ wieder eingeschaltet"),
            AuditEntry::ClearDuplicateEmail { employee, email, kept_by } => format!(
                "hat die E-Mail-Adresse {email} bei {} entfernt, weil sie auch bei {} eingetragen war; \
                 Zuordnungen Von {} sind dadurch inaktiv",
                employee.name, kept_by.name, employee.name
            ),
            AuditEntry::AddAbsence { employee, from_ms, until_ms, substitute, .. } => format!(
                "hat eine Abwesenheit von {} eingetragen: ab {}{}{}",
                employee.name,
                when(*from_ms),
                until_ms.map(|u| format!(" bis {}", when(u))).unwrap_or_else(|| " ohne Ende".into()),
                substitute
                    .as_ref()
                    .map(|s| format!(", Vertretung: {}", s.name))
                    .unwrap_or_else(|| ", ohne Vertretung".into())
            ),
            AuditEntry::EndAbsence { employee, cancelled: true, .. } => {
                format!("hat eine geplante Abwesenheit von {} gestrichen", employee.name)
            }
            AuditEntry::EndAbsence { employee, ended_ms, .. } => {
                format!("hat die Abwesenheit von {} am {} beendet", employee.name, when(*ended_ms))
            }
            AuditEntry::SaveWebhook { name, .. } => format!("hat den Webhook {} gespeichert", label(name)),
            AuditEntry::DeleteWebhook { name, .. } => format!("hat den Webhook {} gelöscht", label(name)),
            AuditEntry::WebhookSecret { name, .. } => {
                format!("hat dem Webhook {} ein neues Geheimnis gegeben", label(name))
            }
            AuditEntry::WebhookPaused { name, .. } => format!("hat den Webhook {} pausiert", label(name)),
            AuditEntry::ResumeWebhook { name, .. } => format!("hat den Webhook {} fortgesetzt", label(name)),
            AuditEntry::DownloadCase { case, subject } => {
                format!("hat das Original der E-Mail {} (Vorgang {case}) heruntergeladen", quoted(subject))
            }
            AuditEntry::DownloadAttachment { case, name, .. } => {
                format!("hat den Anhang {} aus Vorgang {case} heruntergeladen", label(name))
            }
            AuditEntry::DownloadKept { subject, .. } => {
                format!("hat das Original der nicht zugeordneten E-Mail {} heruntergeladen", quoted(subject))
            }
            AuditEntry::SetHold { case, kept, kind, until_ms, .. } => format!(
                "hat {} mit einer Sperre „{}“ bis {} belegt",
                held_thing(*case, *kept),
                hold_kind(kind),
                when(*until_ms)
            ),
            AuditEntry::LiftHold { case, kept, kind, .. } => {
                format!("hat die Sperre „{}“ von {} aufgehoben", hold_kind(kind), held_thing(*case, *kept))
            }
            AuditEntry::SaveRetention { changes } if changes.is_empty() => {
                "hat die Aufbewahrungsfristen unverändert gespeichert".to_string()
            }
            AuditEntry::SaveRetention { changes } => {
                format!("hat die Aufbewahrungsfristen geändert: {}", changes.join(", "))
            }
            AuditEntry::PrivacyExport { items } => {
                format!("hat eine Auskunft über eine Person mit {items} Einträgen heruntergeladen")
            }
            AuditEntry::EraseOnRequest { case, kept, reason } => {
                format!("hat {} auf Antrag gelöscht (Grund: {})", held_thing(*case, *kept), label(reason))
            }
            AuditEntry::MailEncryption { on: true } => {
                "hat „Inhalte verschlüsselt speichern“ eingeschaltet: neue E-Mails werden verschlüsselt gespeichert"
                    .to_string()
            }
            AuditEntry::MailEncryption { on: false } => {
                "hat „Inhalte verschlüsselt speichern“ ausgeschaltet: neue E-Mails werden unverschlüsselt gespeichert"
                    .to_string()
            }
            AuditEntry::MailSealed { items } => format!("hat {items} gespeicherte Inhalte verschlüsselt"),
        }
    }

    /// Every kind once, for tests that render each kind.
    pub fn samples() -> Vec<AuditEntry> {
        let p = |id, name: &str| Person { id, name: name.into() };
        let mb = || "default".to_string();
        let hook = || "Maklerverwaltung".to_string();
        vec![
            AuditEntry::SetHold {
                hold: 1,
                case: Some(9),
                kept: None,
                kind: "retention".into(),
                until_ms: 1_785_571_200_000,
            },
            AuditEntry::SetHold {
                hold: 2,
                case: None,
                kept: Some(4),
                kind: "restriction".into(),
                until_ms: 1_785_571_200_000,
            },
            AuditEntry::LiftHold { hold: 1, case: Some(9), kept: None, kind: "retention".into() },
            AuditEntry::SaveRetention { changes: vec!["Erledigte Vorgänge: 6 → 8 Jahre".into()] },
            AuditEntry::SaveRetention { changes: vec![] },
            AuditEntry::PrivacyExport { items: 4 },
            AuditEntry::MailEncryption { on: true },
            AuditEntry::MailEncryption { on: false },
            AuditEntry::MailSealed { items: 1200 },
            AuditEntry::EraseOnRequest { case: Some(9), kept: None, reason: "Antrag vom 01.03.2026".into() },
            AuditEntry::EraseOnRequest { case: None, kept: Some(4), reason: "Widerruf".into() },
            AuditEntry::SaveWebhook { webhook: 1, name: hook() },
            AuditEntry::DeleteWebhook { webhook: 1, name: hook() },
            AuditEntry::WebhookSecret { webhook: 1, name: hook() },
            AuditEntry::WebhookPaused { webhook: 1, name: hook() },
            AuditEntry::ResumeWebhook { webhook: 1, name: hook() },
            AuditEntry::DownloadCase { case: 9, subject: "Schadenmeldung Kfz".into() },
            AuditEntry::DownloadAttachment { case: 9, attachment: 3, name: "schaden.pdf".into() },
            AuditEntry::DownloadKept { kept: 4, subject: "".into() },
            AuditEntry::AddRoute { row: 1, from: p(2, "Bernd Büro"), to: p(3, "Clara Chef"), kept: None },
            AuditEntry::AddRoute { row: 1, from: p(2, "Bernd Büro"), to: p(3, "Clara Chef"), kept: Some(4) },
            AuditEntry::RemoveRoute { row: 1, from: p(2, "Bernd Büro"), to: p(3, "Clara Chef") },
            AuditEntry::DiscardKept { kept: 4, subject: "Angebot".into() },
            AuditEntry::RerouteKept { kept: 4, subject: "Angebot".into(), case: 9, unverified: true },
            AuditEntry::RouteOnce { kept: 4, subject: "".into(), to: p(3, "Clara Chef"), case: 9, unverified: false },
            AuditEntry::AddEmployee { employee: p(5, "Frank Teilzeit") },
            AuditEntry::UpdateEmployee { employee: p(5, "Frank Teilzeit"), inactive: 2 },
            AuditEntry::RevokeAll { employee: p(5, "Frank Teilzeit"), sessions: 1, tokens: 2 },
            AuditEntry::CreateToken { employee: p(5, "Frank Teilzeit"), label: "Skript".into() },
            AuditEntry::RevokeToken { employee: p(5, "Frank Teilzeit"), label: "".into() },
            AuditEntry::EndSessions { employee: p(5, "Frank Teilzeit"), count: 3 },
            AuditEntry::ChangePassword { employee: p(5, "Frank Teilzeit") },
            AuditEntry::SaveMailbox { mailbox: mb() },
            AuditEntry::MailboxEndpoint {
                mailbox: mb(),
                changes: vec!["Server imap.alt.de → imap.neu.de".into(), "Port 993 → 143".into()],
                dropped: true,
            },
            AuditEntry::MailboxOauth { mailbox: mb(), provider: "Microsoft".into() },
            AuditEntry::DeleteMailbox { mailbox: mb() },
            AuditEntry::DisableMailbox { mailbox: mb() },
            AuditEntry::EnableMailbox { mailbox: mb() },
            AuditEntry::SaveSmtp { changes: vec!["Server smtp.alt.de → smtp.neu.de".into()], dropped: true },
            AuditEntry::ClearDuplicateEmail {
                employee: p(6, "Bernd Zwei"),
                email: "bernd@firma.de".into(),
                kept_by: p(2, "Bernd Büro"),
            },
            AuditEntry::AddAbsence {
                absence: 1,
                employee: p(2, "Bernd Büro"),
                from_ms: 1_785_571_200_000,
                until_ms: Some(1_786_780_800_000),
                substitute: Some(p(3, "Clara Chef")),
            },
            AuditEntry::AddAbsence {
                absence: 2,
                employee: p(2, "Bernd Büro"),
                from_ms: 1_785_571_200_000,
                until_ms: None,
                substitute: None,
            },
            AuditEntry::EndAbsence {
                absence: 1,
                employee: p(2, "Bernd Büro"),
                ended_ms: 1_785_600_000_000,
                cancelled: false,
            },
            AuditEntry::EndAbsence {
                absence: 2,
                employee: p(2, "Bernd Büro"),
                ended_ms: 1_785_500_000_000,
                cancelled: true,
            },
        ]
    }
}

/// A row without a typed entry (written before entries were typed, or by a caller that passes a free
/// detail): the German sentence and the old detail to show behind „Details“, if any. The mailbox
/// actions' detail is the mailbox's name, which the sentence then names itself.
pub fn untyped_german(action: &str, detail: &str) -> (String, Option<String>) {
    let name = detail.trim();
    let plain_name = !name.is_empty() && name.len() <= 100 && !name.contains(['\n', ':', '>']);
    if plain_name {
        let mailbox = name.to_string();
        let entry = match action {
            "save_mailbox" => Some(AuditEntry::SaveMailbox { mailbox }),
            "delete_mailbox" => Some(AuditEntry::DeleteMailbox { mailbox }),
            "disable_mailbox" => Some(AuditEntry::DisableMailbox { mailbox }),
            "enable_mailbox" => Some(AuditEntry::EnableMailbox { mailbox }),
            _ => None,
        };
        if let Some(entry) = entry {
            return (entry.german(), None);
        }
    }
    (legacy_german(action), (!name.is_empty()).then(|| name.to_string()))
}

/// A German sentence for an action word of a row written before entries were typed (its old detail,
/// with ids, goes behind „Details“). Unknown words get a neutral sentence.
pub fn legacy_german(action: &str) -> String {
    let what = match action {
        "mailbox_endpoint" => "hat die Verbindungsdaten eines Postfachs geändert",
        "add_route" => "hat eine Zuordnung angelegt",
        "remove_route" => "hat eine Zuordnung gelöscht",
        "discard_kept" => "hat eine nicht zugeordnete E-Mail verworfen",
        "reroute_kept" => "hat eine nicht zugeordnete E-Mail erneut zugeordnet",
        "route_once" => "hat eine nicht zugeordnete E-Mail von Hand zugewiesen",
        "add_employee" => "hat einen Mitarbeiter angelegt",
        "update_employee" => "hat einen Mitarbeiter geändert",
        "revoke_all" => "hat einen Mitarbeiter überall abgemeldet",
        "create_token" => "hat ein API-Token erstellt",
        "revoke_token" => "hat ein API-Token widerrufen",
        "end_sessions" => "hat andere Sitzungen beendet",
        "change_password" => "hat ein Passwort geändert",
        "save_mailbox" => "hat die Einstellungen eines Postfachs gespeichert",
        "mailbox_oauth" => "hat ein Postfach über OAuth angemeldet",
        "delete_mailbox" => "hat ein Postfach gelöscht",
        "disable_mailbox" => "hat ein Postfach angehalten",
        "enable_mailbox" => "hat ein Postfach wieder eingeschaltet",
        "add_absence" => "hat eine Abwesenheit eingetragen",
        "end_absence" => "hat eine Abwesenheit beendet",
        "save_smtp" => "hat die Einstellungen für den E-Mail-Versand gespeichert",
        _ => "hat eine Änderung vorgenommen",
    };
    what.to_string()
}

#[cfg(test)]
mod tests {
    use super::{AuditEntry, KINDS};

    /// Every kind can be chosen in the Protokoll's filter, under its own action word, once.
    #[test]
    fn every_kind_is_in_the_filter_once() {
        let mut codes: Vec<&str> = AuditEntry::samples().iter().map(AuditEntry::code).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut kinds: Vec<&str> = KINDS.iter().map(|(c, _)| *c).collect();
        kinds.sort_unstable();
        assert_eq!(codes, kinds);
        for entry in AuditEntry::samples() {
            let json = serde_json::to_value(&entry).unwrap();
            assert_eq!(json["action"], entry.code(), "the JSON's action is the column's word");
        }
    }
}
