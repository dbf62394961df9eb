//! What every screen shares, so the screens of later features inherit it:
//!
//! - **Notices**: after a successful action the handler redirects (Post/Redirect/Get) to the list
//!   with `?ok=<code>` (and `&n=<count>` where the message has a number); [`Notice`] maps the code
//!   to the one German sentence. Unknown codes show nothing — a link can never inject text.
//! - **Confirmation** of destructive actions (Löschen, Verwerfen, Erledigt, …): the form posts
//!   `bestaetigt=ja`; a post without it gets the confirmation page ([`Confirm`]) instead of the
//!   action, so the step works without JavaScript and cannot be skipped by an old form.

use askama::Template;
use axum::response::Html;
use serde::Deserialize;

use crate::error::WebError;
use crate::pages::Nav;

/// `?ok=…&n=…` of a screen.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    pub ok: Option<String>,
    #[serde(default)]
    pub n: Option<i64>,
}

impl NoticeQuery {
    /// The German success message, if the code is one we know.
    pub fn german(&self) -> Option<String> {
        Notice::from_code(self.ok.as_deref()?).map(|n| n.german(self.n.unwrap_or(0)))
    }
}

/// The success messages. Add a variant, its code and its words here; redirect with
/// [`Notice::url`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    RouteSaved,
    RouteDeleted,
    /// n = rows that became inactive by this save.
    EmployeeSaved,
    EmployeeCreated,
    MailboxSaved,
    KeptDiscarded,
    CaseDone,
    CaseReopened,
    MailboxEnabled,
    MailboxDisabled,
    MailboxDeleted,
    /// A kept mail routed by the rules (after a row was added).
    KeptRouted,
    /// A kept mail given to one person by hand („Nur diese E-Mail zuweisen an …“).
    KeptRoutedOnce,
    /// Issue 16: a Vorgang handed to a colleague.
    CaseHandedOver,
    /// Issue 16: a Vorgang given back to its pool.
    CaseGivenBack,
    NoteAdded,
    FollowUpSet,
    FollowUpCleared,
    AbsenceAdded,
    /// A running absence ended now.
    AbsenceEnded,
    /// A planned absence removed before it began.
    AbsenceCancelled,
    /// Issue 17: one's notification preferences saved.
    NotificationsSaved,
    /// Issue 17: a webhook paused by an admin.
    WebhookPaused,
    WebhookResumed,
    WebhookDeleted,
    /// „Erneut senden“: a delivery is due again.
    DeliveryRetried,
    /// The SMTP settings („E-Mail-Versand“) saved.
    SmtpSaved,
    /// Issue 18: the Aufbewahrungsfristen saved.
    RetentionSaved,
    /// Löschen auf Antrag: an item deleted completely.
    ErasedOnRequest,
    /// Löschen auf Antrag: an item under a retention duty restricted instead.
    RestrictedOnRequest,
    /// „Inhalte verschlüsselt speichern“ switched on.
    EncryptionOn,
    /// „Inhalte verschlüsselt speichern“ switched off.
    EncryptionOff,
}

impl Notice {
    pub const ALL: [Notice; 32] = [
        Notice::RouteSaved,
        Notice::RouteDeleted,
        Notice::EmployeeSaved,
        Notice::EmployeeCreated,
        Notice::MailboxSaved,
        Notice::KeptDiscarded,
        Notice::CaseDone,
        Notice::CaseReopened,
        Notice::MailboxEnabled,
        Notice::MailboxDisabled,
        Notice::MailboxDeleted,
        Notice::KeptRouted,
        Notice::KeptRoutedOnce,
        Notice::CaseHandedOver,
        Notice::CaseGivenBack,
        Notice::NoteAdded,
        Notice::FollowUpSet,
        Notice::FollowUpCleared,
        Notice::AbsenceAdded,
        Notice::AbsenceEnded,
        Notice::AbsenceCancelled,
        Notice::NotificationsSaved,
        Notice::WebhookPaused,
        Notice::WebhookResumed,
        Notice::WebhookDeleted,
        Notice::DeliveryRetried,
        Notice::SmtpSaved,
        Notice::RetentionSaved,
        Notice::ErasedOnRequest,
        Notice::RestrictedOnRequest,
        Notice::EncryptionOn,
        Notice::EncryptionOff,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Notice::RouteSaved => "zuordnung-gespeichert",
            Notice::RouteDeleted => "zuordnung-geloescht",
            Notice::EmployeeSaved => "mitarbeiter-gespeichert",
            Notice::EmployeeCreated => "mitarbeiter-angelegt",
            Notice::MailboxSaved => "postfach-gespeichert",
            Notice::KeptDiscarded => "verworfen",
            Notice::CaseDone => "erledigt",
            Notice::CaseReopened => "wieder-geoeffnet",
            Notice::MailboxEnabled => "postfach-aktiviert",
            Notice::MailboxDisabled => "postfach-deaktiviert",
            Notice::MailboxDeleted => "postfach-geloescht",
            Notice::KeptRouted => "zugeordnet",
            Notice::KeptRoutedOnce => "einmal-zugewiesen",
            Notice::CaseHandedOver => "weitergegeben",
            Notice::CaseGivenBack => "zurueckgegeben",
            Notice::NoteAdded => "notiz",
            Notice::FollowUpSet => "wiedervorlage",
            Notice::FollowUpCleared => "wiedervorlage-entfernt",
            Notice::AbsenceAdded => "abwesenheit-eingetragen",
            Notice::AbsenceEnded => "abwesenheit-beendet",
            Notice::AbsenceCancelled => "abwesenheit-gestrichen",
            Notice::NotificationsSaved => "benachrichtigungen",
            Notice::WebhookPaused => "webhook-pausiert",
            Notice::WebhookResumed => "webhook-fortgesetzt",
            Notice::WebhookDeleted => "webhook-geloescht",
            Notice::DeliveryRetried => "erneut-senden",
            Notice::SmtpSaved => "versand-gespeichert",
            Notice::RetentionSaved => "fristen-gespeichert",
            Notice::ErasedOnRequest => "auf-antrag-geloescht",
            Notice::RestrictedOnRequest => "statt-loeschen-gesperrt",
            Notice::EncryptionOn => "verschluesselung-an",
            Notice::EncryptionOff => "verschluesselung-aus",
        }
    }

    pub fn from_code(code: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.code() == code)
    }

    /// The sentence; `n` where the message counts something.
    pub fn german(self, n: i64) -> String {
        match self {
            Notice::RouteSaved => "Zuordnung gespeichert.".into(),
            Notice::RouteDeleted => "Zuordnung gelöscht.".into(),
            Notice::EmployeeSaved => match n {
                0 => "Mitarbeiter gespeichert.".into(),
                1 => "Mitarbeiter gespeichert — 1 Zuordnung ist jetzt inaktiv.".into(),
                n => format!("Mitarbeiter gespeichert — {n} Zuordnungen sind jetzt inaktiv."),
            },
            Notice::EmployeeCreated => "Mitarbeiter angelegt.".into(),
            Notice::MailboxSaved => "Einstellungen des Postfachs gespeichert.".into(),
            Notice::KeptDiscarded => "E-Mail verworfen.".into(),
            Notice::CaseDone => "Vorgang als erledigt markiert.".into(),
            Notice::CaseReopened => "Vorgang wieder geöffnet.".into(),
            Notice::MailboxEnabled => "Postfach aktiviert: Postkorb ruft es wieder ab.".into(),
            Notice::MailboxDisabled => "Postfach deaktiviert: Postkorb ruft es nicht mehr ab.".into(),
            Notice::MailboxDeleted => "Postfach gelöscht. Die eingelesenen Vorgänge bleiben erhalten.".into(),
            Notice::KeptRouted => "E-Mail zugeordnet: Sie ist jetzt ein Vorgang.".into(),
            Notice::KeptRoutedOnce => {
                "E-Mail zugewiesen: Sie ist jetzt ein Vorgang. Eine Zuordnung wurde nicht angelegt.".into()
            }
            Notice::CaseHandedOver => "Vorgang weitergegeben.".into(),
            Notice::CaseGivenBack => "Vorgang zurückgegeben: Er wartet jetzt wieder auf die anderen Empfänger.".into(),
            Notice::NoteAdded => "Notiz gespeichert.".into(),
            Notice::FollowUpSet => {
                "Wiedervorlage gespeichert: Der Vorgang erscheint bis dahin unter „Wiedervorlage“.".into()
            }
            Notice::FollowUpCleared => "Wiedervorlage entfernt: Der Vorgang ist wieder unter „Offen“.".into(),
            Notice::AbsenceAdded => "Abwesenheit eingetragen.".into(),
            Notice::AbsenceEnded => "Abwesenheit beendet: Neue Vorgänge gehen wieder an den Mitarbeiter selbst.".into(),
            Notice::AbsenceCancelled => "Geplante Abwesenheit gestrichen.".into(),
            Notice::NotificationsSaved => "Benachrichtigungen gespeichert.".into(),
            Notice::WebhookPaused => {
                "Webhook pausiert: Neue Ereignisse werden gesammelt und nach „Fortsetzen“ gesendet.".into()
            }
            Notice::WebhookResumed => "Webhook fortgesetzt: Gesammelte Ereignisse werden jetzt gesendet.".into(),
            Notice::WebhookDeleted => "Webhook gelöscht.".into(),
            Notice::DeliveryRetried => "Die Zustellung wird gleich erneut versucht.".into(),
            Notice::SmtpSaved => "Einstellungen für den E-Mail-Versand gespeichert.".into(),
            Notice::RetentionSaved => "Aufbewahrungsfristen gespeichert.".into(),
            Notice::ErasedOnRequest => "Gelöscht: Davon ist nichts mehr gespeichert.".into(),
            Notice::RestrictedOnRequest => {
                "Gesperrt statt gelöscht: Die Verarbeitung ist eingeschränkt, bis die Aufbewahrungspflicht endet."
                    .into()
            }
            Notice::EncryptionOn => {
                "Neue E-Mails werden verschlüsselt gespeichert; gespeicherte werden im Hintergrund \
                                     verschlüsselt."
                    .into()
            }
            Notice::EncryptionOff => "Neue E-Mails werden unverschlüsselt gespeichert. Bereits verschlüsselte bleiben \
                                      verschlüsselt."
                .into(),
        }
    }

    /// `path?ok=code` (with `&n=` when given), for the redirect after the action.
    pub fn url(self, path: &str, n: Option<i64>) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        match n {
            Some(n) => format!("{path}{sep}ok={}&n={n}", self.code()),
            None => format!("{path}{sep}ok={}", self.code()),
        }
    }
}

/// A destructive action's form: the CSRF token and, once confirmed, `bestaetigt=ja`.
#[derive(Debug, Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub bestaetigt: String,
}

/// True when the form carried the confirmation (`bestaetigt=ja`).
pub fn confirmed(value: &str) -> bool {
    value == "ja"
}

/// The confirmation page of a destructive action: what will happen, the consequences, the button
/// that does it (styled as destructive) and the way back.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct Confirm {
    pub nav: Nav,
    /// „Zuordnung löschen?“
    pub title: String,
    /// What exactly will happen, in one sentence.
    pub question: String,
    /// Consequences worth knowing, one per line (may be empty).
    pub details: Vec<String>,
    /// Where the form posts (the action's own URL).
    pub action: String,
    /// Further hidden fields the action needs (name, value).
    pub fields: Vec<(String, String)>,
    /// „Ja, löschen“
    pub button: String,
    /// Where „Abbrechen“ leads.
    pub back: String,
}

impl Confirm {
    pub fn html(&self) -> Result<Html<String>, WebError> {
        Ok(Html(self.render()?))
    }
}

#[cfg(test)]
mod tests {
    use super::{Notice, NoticeQuery};

    #[test]
    fn every_notice_has_its_own_code_and_german_words() {
        for n in Notice::ALL {
            assert_eq!(Notice::from_code(n.code()), Some(n));
            assert!(n.german(2).ends_with('.'), "{n:?}");
        }
        let q = NoticeQuery { ok: Some("mitarbeiter-gespeichert".into()), n: Some(2) };
        assert_eq!(q.german().unwrap(), "Mitarbeiter gespeichert — 2 Zuordnungen sind jetzt inaktiv.");
        assert_eq!(NoticeQuery { ok: Some("<script>".into()), n: None }.german(), None);
        assert_eq!(Notice::RouteSaved.url("/x?seite=2", None), "/x?seite=2&ok=zuordnung-gespeichert");
    }
}
