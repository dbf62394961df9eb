//! „Mein Konto“ → „Benachrichtigungen“ (issue 17): one's own e-mail notification preferences —
//! per kind „sofort“, „täglich als Zusammenfassung“ or „aus“, and one time for the summary. Only
//! one's own: the page has no employee in its address, so nobody reaches another's. Shows whether
//! mails can reach the person (a work e-mail is needed) and, read-only, the office setting about
//! quoting the mail's text.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::notify::{NotifyKind, NotifyPrefs, Timing, digest_time, parse_digest_time};
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::ui::{Notice, NoticeQuery};
use crate::util::now_ms;

pub const PATH: &str = "/konto/benachrichtigungen";

/// One kind's row: its field name, label, and the choices with the selected one.
pub struct KindRow {
    pub field: &'static str,
    pub label: &'static str,
    pub choices: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    nav: Nav,
    message: Option<String>,
    error: Option<String>,
    rows: Vec<KindRow>,
    digest_time: String,
    /// The work e-mail notifications go to, if there is one.
    work_email: Option<String>,
    include_text: bool,
}

fn rows(prefs: &NotifyPrefs) -> Vec<KindRow> {
    NotifyKind::ALL
        .into_iter()
        .map(|k| KindRow {
            field: k.code(),
            label: k.german(),
            choices: Timing::ALL.into_iter().map(|t| (t.code(), t.german(), prefs.timing(k) == t)).collect(),
        })
        .collect()
}

fn render(
    state: &WebState,
    user: &CurrentUser,
    prefs: &NotifyPrefs,
    time: String,
    message: Option<String>,
    error: Option<String>,
) -> Result<String, WebError> {
    Ok(NotificationsPage {
        nav: Nav::new(user, "konto"),
        message,
        error,
        rows: rows(prefs),
        digest_time: time,
        work_email: user.employee.work_email.as_ref().map(|e| e.to_string()),
        include_text: state.notify_include_text,
    }
    .render()?)
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    let prefs = state.store.notify_prefs(user.employee.id).await?;
    Ok(Html(render(&state, &user, &prefs, digest_time(prefs.digest_minute), q.german(), None)?))
}

#[derive(Deserialize)]
pub struct PrefsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_case: String,
    #[serde(default)]
    pool: String,
    #[serde(default)]
    follow_up_due: String,
    #[serde(default)]
    handed_over: String,
    #[serde(default)]
    digest_time: String,
}

pub async fn save(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<PrefsForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&f.csrf)?;
    let mut prefs = state.store.notify_prefs(user.employee.id).await?;
    for (kind, word) in [
        (NotifyKind::NewCase, &f.new_case),
        (NotifyKind::Pool, &f.pool),
        (NotifyKind::FollowUpDue, &f.follow_up_due),
        (NotifyKind::HandedOver, &f.handed_over),
    ] {
        // A choice the form does not offer keeps the stored one.
        if let Some(t) = Timing::from_code(word) {
            prefs.set(kind, t);
        }
    }
    match parse_digest_time(&f.digest_time) {
        Some(minute) => prefs.digest_minute = minute,
        None => {
            let error = Some("Uhrzeit der Zusammenfassung: bitte als SS:MM angeben, z. B. 08:00.".to_string());
            let html = render(&state, &user, &prefs, f.digest_time.clone(), None, error)?;
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response());
        }
    }
    state.store.set_notify_prefs(user.employee.id, &prefs, now_ms()).await?;
    Ok(Redirect::to(&Notice::NotificationsSaved.url(PATH, None)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::german::assert_german;

    #[test]
    fn the_page_is_german_with_and_without_a_work_email() {
        let prefs = NotifyPrefs { pool: Timing::Daily, ..Default::default() };
        for (work_email, include_text, error) in [
            (Some("bernd@buero.de".to_string()), false, None),
            (None, true, Some("Uhrzeit der Zusammenfassung: bitte als SS:MM angeben, z. B. 08:00.".to_string())),
        ] {
            let page = NotificationsPage {
                nav: Nav {
                    name: "Bernd".into(),
                    csrf: "t".into(),
                    can_import: false,
                    can_employees: false,
                    can_privacy: false,
                    active: "konto",
                },
                message: Some(Notice::NotificationsSaved.german(0)),
                error,
                rows: rows(&prefs),
                digest_time: "07:30".into(),
                work_email: work_email.clone(),
                include_text,
            };
            let html = page.render().unwrap();
            assert_german(&html, "Benachrichtigungen");
            assert!(html.contains(r#"<option value="daily" selected>"#), "{html}");
            assert_eq!(html.contains("keine dienstliche E-Mail-Adresse"), work_email.is_none());
        }
    }
}
