//! „Nicht zugeordnete E-Mails“: every kept mail with its reason in German (kind, what happened, what
//! the admin can do; a program's own words only behind „Details“); view it, create the missing row
//! and route it (it then follows the normal rules), give this one mail to one person without a row
//! („Nur diese E-Mail zuweisen an …“, audited as `route_once`), or discard it (confirmed, audited).
//! An open one in its last month before the retention run deletes it says so on the list and its
//! page ([`deletion_warning`]); holders of „Datenschutz verwalten“ set a Sperre on its page.

use askama::Template;
use axum::extract::Query;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::retention::RetentionSettings;
use postkorb_core::{AuditEntry, EmployeeId, KeepReason, Permission, Person, an_choices, decide};
use postkorb_store::{HoldTarget, KeptMail, StoreError};
use serde::Deserialize;

use super::privacy::HoldView;
use super::{Nav, download};
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::ui::{Confirm, ConfirmForm, Notice, NoticeQuery, confirmed};
use crate::util::{german_date, german_time, now_ms};

const LIST: &str = "/nicht-zugeordnet";

pub struct KeptRow {
    pub id: i64,
    pub received: String,
    pub from: String,
    pub subject: String,
    pub reason: Reason,
    /// „Wird am … gelöscht, wenn niemand sie bearbeitet.“
    pub deletion: Option<String>,
}

/// „Wird am … gelöscht, wenn niemand sie bearbeitet.“ for an open kept mail without a Sperre in
/// force whose deletion by the retention run (`RetentionClass::KeptOpen`, counted from when it was
/// kept) is at most a month ahead (`RetentionSettings::kept_warning`); `None` for every other.
pub fn deletion_warning(k: &KeptMail, s: &RetentionSettings, now_ms: i64) -> Option<String> {
    if k.status != "open" || k.held {
        return None;
    }
    let due = s.kept_warning(k.kept_ms, now_ms)?;
    Some(format!("Wird am {} gelöscht, wenn niemand sie bearbeitet.", german_date(due.max(now_ms))))
}

/// A kept mail's reason as the pages show it.
pub struct Reason {
    /// The kind („Absender unbekannt“).
    pub label: String,
    /// What happened, with names.
    pub explanation: String,
    /// What the admin can do about it.
    pub hint: String,
    /// A program's own words or an old row's free text: only behind „Details“.
    pub technical: Option<String>,
}

impl Reason {
    pub fn of(k: &KeptMail) -> Reason {
        match k.reason_with_old_text() {
            Some((r, old)) => Reason::from_reason(&r, old),
            None => Reason {
                label: "Unbekannter Grund".into(),
                explanation: "Diese E-Mail wurde aus einem Grund zurückgehalten, den diese Version nicht kennt.".into(),
                hint: "Prüfen Sie die E-Mail im Original und weisen Sie sie von Hand zu oder verwerfen Sie sie.".into(),
                technical: Some(format!("{} {}", k.reason_code, k.reason_detail)),
            },
        }
    }

    pub fn from_reason(r: &KeepReason, old: Option<String>) -> Reason {
        Reason {
            label: r.label().into(),
            explanation: r.explanation(),
            hint: r.hint().into(),
            technical: old.or_else(|| r.technical().map(str::to_string)),
        }
    }
}

#[derive(Template)]
#[template(path = "kept.html")]
struct ListPage {
    nav: Nav,
    message: Option<String>,
    rows: Vec<KeptRow>,
}

#[derive(Template)]
#[template(path = "kept_detail.html")]
struct DetailPage {
    nav: Nav,
    id: i64,
    subject: String,
    from: String,
    received: String,
    reason: Reason,
    unverified: bool,
    status: &'static str,
    open: bool,
    text: String,
    sender_employee: Option<String>,
    an: Vec<(i64, String)>,
    errors: Vec<String>,
    deletion: Option<String>,
    /// The Sperren, for holders of „Datenschutz verwalten“ (issue 18); `None` for everyone else.
    holds: Option<Vec<HoldView>>,
}

fn subject_of(k: &KeptMail) -> String {
    if k.subject.trim().is_empty() { "(ohne Betreff)".into() } else { k.subject.clone() }
}

pub async fn list(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    user.require(Permission::ManageMailImport)?;
    let settings = state.store.retention_settings().await?;
    let now = now_ms();
    let rows = state
        .store
        .kept(true, 500, 0)
        .await?
        .iter()
        .filter(|k| may_see(k, &user).is_ok())
        .map(|k| KeptRow {
            deletion: deletion_warning(k, &settings, now),
            id: k.id,
            received: german_time(k.received_ms),
            from: k.from_addr.clone().unwrap_or_else(|| "(kein Absender)".into()),
            subject: subject_of(k),
            reason: Reason::of(k),
        })
        .collect();
    Ok(Html(ListPage { nav: Nav::new(&user, "kept"), message: q.german(), rows }.render()?))
}

async fn detail(state: &WebState, user: &CurrentUser, id: i64, errors: Vec<String>) -> Result<Html<String>, WebError> {
    let k = state.store.kept_mail(id).await?;
    may_see(&k, user)?;
    let mail = crate::view::parsed_raw(&state.store, k.raw_id).await?;
    let employees = state.store.employees().await?;
    let sender_employee = mail.sender.as_ref().ok().and_then(|addr| {
        employees
            .iter()
            .find(|e| e.work_email.as_ref() == Some(addr) && e.check_von().is_ok())
            .map(|e| format!("{} <{addr}>", e.name))
    });
    let deletion = deletion_warning(&k, &state.store.retention_settings().await?, now_ms());
    let holds = super::privacy::holds_on(state, user, HoldTarget::Kept(id)).await?;
    let page = DetailPage {
        nav: Nav::new(user, "kept"),
        deletion,
        holds,
        id,
        subject: subject_of(&k),
        from: k.from_addr.clone().unwrap_or_else(|| "(kein Absender)".into()),
        received: german_time(k.received_ms),
        unverified: k.reason().is_some_and(|r| r.is_unverified()),
        reason: Reason::of(&k),
        status: match k.status.as_str() {
            "routed" => "zugeordnet",
            "discarded" => "verworfen",
            _ => "offen",
        },
        open: k.status == "open",
        text: mail.text,
        sender_employee,
        an: an_choices(&employees).iter().map(|e| (e.id.0, e.name.clone())).collect(),
        errors,
    };
    Ok(Html(page.render()?))
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, WebError> {
    may_look(&user)?;
    detail(&state, &user, id, Vec::new()).await
}

pub async fn original(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    may_look(&user)?;
    let k = state.store.kept_mail(id).await?;
    may_see(&k, &user)?;
    let raw = state.store.raw(k.raw_id).await?;
    state
        .store
        .audit_entry(now_ms(), &user.actor(), &AuditEntry::DownloadKept { kept: id, subject: k.subject })
        .await?;
    Ok(download(&format!("nicht-zugeordnet-{id}.eml"), "message/rfc822", raw))
}

#[derive(Deserialize)]
pub struct RouteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

/// Creates the missing row (when `to` is given) and routes the mail by the normal rules.
pub async fn route_again(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<RouteForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let actor = user.actor();
    let k = state.store.kept_mail(id).await?;
    may_see(&k, &user)?;
    let mail = crate::view::parsed_raw(&state.store, k.raw_id).await?;
    let to: i64 = f.to.trim().parse().unwrap_or(0);
    if to > 0 {
        let employees = state.store.employees().await?;
        let Some(sender) =
            mail.sender.as_ref().ok().and_then(|a| employees.iter().find(|e| e.work_email.as_ref() == Some(a)))
        else {
            return Ok(detail(&state, &user, id, vec!["Kein Mitarbeiter hat diese Absenderadresse.".into()])
                .await?
                .into_response());
        };
        match state.store.add_route(sender.id, EmployeeId(to), now_ms()).await {
            Ok(row) => {
                let to = employees.iter().find(|e| e.id.0 == to).map(Person::of);
                let entry = AuditEntry::AddRoute {
                    row: row.id,
                    from: Person::of(sender),
                    to: to.unwrap_or(Person { id: row.to.0, name: String::new() }),
                    kept: Some(id),
                };
                state.store.audit_entry(now_ms(), &actor, &entry).await?
            }
            Err(StoreError::Rules(rules)) if rules.0 == vec![postkorb_core::RouteError::Duplicate] => {}
            Err(StoreError::Rules(rules)) => {
                let errors = rules.0.iter().map(|r| r.german()).collect();
                return Ok(detail(&state, &user, id, errors).await?.into_response());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let decision = decide(&mail.facts(), &state.store.employees().await?, &state.store.routes().await?);
    match state.store.reroute_kept(id, &mail, &decision, &actor, now_ms()).await? {
        Ok(_) => Ok(Redirect::to(&Notice::KeptRouted.url(LIST, None)).into_response()),
        Err(reason) => {
            let why = match reason {
                KeepReason::NoRoute => "Es gibt noch keine Zuordnung für diesen Absender.".to_string(),
                other => format!(
                    "Die E-Mail kann weiterhin nicht zugeordnet werden. {} {}",
                    other.explanation(),
                    other.hint()
                ),
            };
            Ok(detail(&state, &user, id, vec![why]).await?.into_response())
        }
    }
}

/// „Nur diese E-Mail zuweisen an …“: a Vorgang for `to` alone, without creating a row.
pub async fn route_once(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<RouteForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let k = open_kept(&state, &user, id).await?;
    let Ok(to) = f.to.trim().parse::<i64>() else {
        return Ok(detail(&state, &user, id, vec!["Bitte wählen Sie aus, wer die E-Mail erhalten soll.".into()])
            .await?
            .into_response());
    };
    let mail = crate::view::parsed_raw(&state.store, k.raw_id).await?;
    match state.store.route_once(id, &mail, EmployeeId(to), &user.actor(), now_ms()).await {
        Ok(_) => Ok(Redirect::to(&Notice::KeptRoutedOnce.url(LIST, None)).into_response()),
        Err(StoreError::Rules(rules)) => {
            let errors = rules.0.iter().map(|r| r.german()).collect();
            Ok(detail(&state, &user, id, errors).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn discard(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    user.require(Permission::ManageMailImport)?;
    user.check_csrf(&f.csrf)?;
    let k = open_kept(&state, &user, id).await?;
    if !confirmed(&f.bestaetigt) {
        let from = k.from_addr.clone().unwrap_or_else(|| "(kein Absender)".into());
        return Ok(Confirm {
            nav: Nav::new(&user, "kept"),
            title: "E-Mail verwerfen?".into(),
            question: format!("Die E-Mail „{}“ von {from} wird verworfen.", subject_of(&k)),
            details: vec![
                "Sie erscheint dann nicht mehr in der Liste und wird niemandem zugeordnet.".into(),
                "Das Original bleibt gespeichert; das Protokoll vermerkt, wer sie verworfen hat.".into(),
            ],
            action: format!("{LIST}/{id}/verwerfen"),
            fields: Vec::new(),
            button: "Ja, verwerfen".into(),
            back: format!("{LIST}/{id}"),
        }
        .html()?
        .into_response());
    }
    state.store.discard_kept(id, &user.actor(), now_ms()).await?;
    Ok(Redirect::to(&Notice::KeptDiscarded.url(LIST, None)).into_response())
}

/// The list with one row per kind of reason (and an old row with a free English detail), and the
/// detail page of each, for the no-English test (`crate::german`).
#[cfg(test)]
pub(crate) fn sample_pages(nav: Nav) -> Vec<(String, String)> {
    let mut kinds: Vec<(KeepReason, Option<String>)> = KeepReason::samples().into_iter().map(|r| (r, None)).collect();
    kinds.extend(KeepReason::from_legacy("route_inactive", "An: Frank Teilzeit has no active licence"));
    kinds.extend(KeepReason::from_legacy("no_usable_from", "nested angle brackets in From"));
    let rows = kinds
        .iter()
        .enumerate()
        .map(|(i, (r, old))| KeptRow {
            id: i as i64,
            received: german_time(0),
            from: "<b>boss@firma.de</b>".into(),
            subject: "Angebot".into(),
            reason: Reason::from_reason(r, old.clone()),
            deletion: Some("Wird am 05.12.2027 gelöscht, wenn niemand sie bearbeitet.".into()),
        })
        .collect();
    let list = ListPage { nav: nav_clone(&nav), message: None, rows };
    let mut out = vec![("Nicht zugeordnete E-Mails".to_string(), list.render().unwrap())];
    for (r, old) in kinds {
        let page = DetailPage {
            nav: nav_clone(&nav),
            id: 1,
            subject: "Angebot".into(),
            from: "boss@firma.de".into(),
            received: german_time(0),
            reason: Reason::from_reason(&r, old),
            unverified: r.is_unverified(),
            status: "offen",
            open: true,
            text: "Guten Tag".into(),
            sender_employee: Some("Bernd Büro".into()),
            an: vec![(3, "Clara Chef".into())],
            errors: vec![],
            deletion: Some("Wird am 05.12.2027 gelöscht, wenn niemand sie bearbeitet.".into()),
            holds: Some(vec![HoldView {
                id: 2,
                kind: postkorb_core::retention::HoldKind::Retention.german(),
                reason: "<script>Rechtsstreit</script>".into(),
                until: german_time(0),
                in_force: true,
                review_due: true,
            }]),
        };
        out.push((format!("Nicht zugeordnete E-Mail, Grund {}", r.code()), page.render().unwrap()));
    }
    out
}

#[cfg(test)]
fn nav_clone(nav: &Nav) -> Nav {
    Nav {
        name: nav.name.clone(),
        csrf: nav.csrf.clone(),
        can_import: nav.can_import,
        can_employees: nav.can_employees,
        can_privacy: nav.can_privacy,
        active: nav.active,
    }
}

/// Before a kept mail is read: only who may see some (else a missing one would answer 404, not 403).
fn may_look(user: &CurrentUser) -> Result<(), WebError> {
    let (a, b) = (Permission::ManageMailImport, Permission::ManagePrivacy);
    if user.employee.has(a) || user.employee.has(b) {
        Ok(())
    } else {
        Err(WebError::Forbidden(crate::error::Denied::EitherPermission(a, b)))
    }
}

/// Who may see a kept mail: holders of „E-Mails automatisch einlesen“; under an „Einschränkung der
/// Verarbeitung“ (issue 18, art. 18) only holders of „Datenschutz verwalten“, as for a Vorgang
/// (`auth::may_open`).
pub(crate) fn may_see(k: &KeptMail, user: &CurrentUser) -> Result<(), WebError> {
    if k.restricted { user.require(Permission::ManagePrivacy) } else { user.require(Permission::ManageMailImport) }
}

/// The kept mail `id`, if `user` may see it and it is still open (routed or discarded meanwhile: a
/// German refusal).
async fn open_kept(state: &WebState, user: &CurrentUser, id: i64) -> Result<KeptMail, WebError> {
    let k = state.store.kept_mail(id).await?;
    may_see(&k, user)?;
    if k.status != "open" {
        return Err(WebError::BadRequest("Diese E-Mail ist nicht mehr offen.".into()));
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn kept(status: &str, held: bool, kept_ms: i64) -> KeptMail {
        KeptMail {
            id: 1,
            mailbox_id: None,
            raw_id: 1,
            reason_code: "no_route".into(),
            reason_detail: String::new(),
            from_addr: None,
            subject: String::new(),
            received_ms: kept_ms - 5 * DAY,
            status: status.into(),
            case_id: None,
            kept_ms,
            held,
            restricted: false,
        }
    }

    #[test]
    fn only_an_open_unheld_mail_in_its_last_month_is_warned() {
        // 2026-01-15 12:00 UTC; with the default 365 days it is due on 2027-01-15.
        let at = 1_768_478_400_000;
        let s = RetentionSettings::default();
        let cases: &[(&str, bool, i64, Option<&str>)] = &[
            ("open", false, 300, None),
            ("open", false, 334, None),
            ("open", false, 335, Some("15.01.2027")),
            ("open", false, 364, Some("15.01.2027")),
            // Overdue (the run has not come yet): never a day in the past.
            ("open", false, 400, Some("19.02.2027")),
            ("open", true, 364, None),
            ("discarded", false, 364, None),
            ("routed", false, 364, None),
        ];
        for (status, held, days, day) in cases {
            let got = deletion_warning(&kept(status, *held, at), &s, at + days * DAY);
            let want = day.map(|d| format!("Wird am {d} gelöscht, wenn niemand sie bearbeitet."));
            assert_eq!(got, want, "{status} held={held} after {days} days");
        }
    }
}
