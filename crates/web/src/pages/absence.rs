//! „Abwesenheit“: an employee's current and future absences, a form to enter one (von/bis as date
//! and time on the office's clock, open end allowed, optionally a Vertreter who may receive) and
//! „Beenden“ with a confirmation page. Two doors, one page: „Mein Konto › Abwesenheit“ for one's
//! own (`/konto/abwesenheit`) and, for holders of „Mitarbeiter verwalten“, the same for anyone
//! from the Mitarbeiter edit page (`/mitarbeiter/{id}/abwesenheit`). The rules are core's
//! `check_absence`, asked by the store in its transaction; its refusals are shown next to the field.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use postkorb_core::absence::Absence;
use postkorb_core::time::{civil_from_ms, parse_berlin, parse_iso_date};
use postkorb_core::{AbsenceError, Employee, EmployeeId, Permission};
use postkorb_store::{Ended, StoredAbsence};
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::CurrentUser;
use crate::error::WebError;
use crate::ui::{Confirm, ConfirmForm, Notice, NoticeQuery, confirmed};
use crate::util::{german_time, now_ms};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Whose absences a request is about, and the page's address for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Whose {
    /// The logged-in employee's own (any employee).
    Own,
    /// Any employee's, from the Mitarbeiter edit page (needs „Mitarbeiter verwalten“).
    Employee(i64),
}

impl Whose {
    fn base(self) -> String {
        match self {
            Whose::Own => "/konto/abwesenheit".into(),
            Whose::Employee(id) => format!("/mitarbeiter/{id}/abwesenheit"),
        }
    }

    /// The employee meant, after the permission check.
    async fn employee(self, state: &WebState, user: &CurrentUser) -> Result<Employee, WebError> {
        match self {
            Whose::Own => Ok(user.employee.clone()),
            Whose::Employee(id) => {
                user.require(Permission::ManageEmployees)?;
                Ok(state.store.employee(EmployeeId(id)).await?)
            }
        }
    }
}

/// One absence in the list.
pub struct AbsRow {
    pub id: i64,
    pub from: String,
    pub until: String,
    pub substitute: String,
    /// „läuft“ or „geplant“.
    pub state: &'static str,
    /// „Beenden“ for a running one, „Streichen“ for a planned one.
    pub button: &'static str,
}

/// The list's rows of `list`, as of `now`.
pub(crate) fn rows(list: Vec<StoredAbsence>, now: i64) -> Vec<AbsRow> {
    list.into_iter()
        .map(|a| {
            let running = a.from_ms <= now;
            AbsRow {
                id: a.id,
                from: german_time(a.from_ms),
                until: a.until_ms.map(german_time).unwrap_or_else(|| "offen (bis auf Weiteres)".into()),
                substitute: a.substitute_name.unwrap_or_else(|| "keine".into()),
                state: if running { "läuft" } else { "geplant" },
                button: if running { "Beenden" } else { "Streichen" },
            }
        })
        .collect()
}

/// The form as entered (shown again with the errors).
#[derive(Debug, Default, Deserialize)]
pub struct AbsenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    von_datum: String,
    #[serde(default)]
    von_zeit: String,
    #[serde(default)]
    bis_datum: String,
    #[serde(default)]
    bis_zeit: String,
    /// The Vertreter's id; empty: none.
    #[serde(default)]
    vertretung: String,
}

/// The German messages next to the form's fields.
#[derive(Debug, Default)]
pub struct FieldErrors {
    pub von: Option<String>,
    pub bis: Option<String>,
    pub vertretung: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.von.is_some() || self.bis.is_some() || self.vertretung.is_some()
    }
}

#[derive(Template)]
#[template(path = "absence.html")]
struct AbsencePage {
    nav: Nav,
    own: bool,
    name: String,
    base: String,
    /// The Mitarbeiter edit page, for the way back (admins).
    back: Option<String>,
    message: Option<String>,
    errors: FieldErrors,
    rows: Vec<AbsRow>,
    f: AbsenceForm,
    /// Who may stand in: (id, name, chosen).
    substitutes: Vec<(i64, String, bool)>,
}

/// A German date `TT.MM.JJJJ` as `JJJJ-MM-TT` (a browser without a date picker sends what was
/// typed); anything else unchanged.
fn iso(date: &str) -> String {
    let parts: Vec<&str> = date.trim().split('.').collect();
    match parts.as_slice() {
        [d, m, y] if y.len() == 4 => format!("{y}-{:0>2}-{:0>2}", m.trim(), d.trim()),
        _ => date.trim().to_string(),
    }
}

/// The absence the form describes, or the errors next to its fields.
fn read_form(f: &AbsenceForm, employee: EmployeeId) -> Result<Absence, FieldErrors> {
    let mut errors = FieldErrors::default();
    let time = |t: &str| if t.trim().is_empty() { "00:00".to_string() } else { t.trim().to_string() };
    let from = if f.von_datum.trim().is_empty() {
        errors.von = Some("Bitte geben Sie an, ab wann die Abwesenheit gilt (Datum).".into());
        None
    } else {
        let v = parse_berlin(&format!("{} {}", iso(&f.von_datum), time(&f.von_zeit)));
        if v.is_none() {
            errors.von =
                Some("Bitte geben Sie den Beginn als Datum und Uhrzeit an, z. B. 24.12.2026 und 08:00.".into());
        }
        v
    };
    let until = match (f.bis_datum.trim().is_empty(), f.bis_zeit.trim().is_empty()) {
        (true, true) => None,
        (true, false) => {
            errors.bis = Some("Bitte geben Sie zum Ende auch das Datum an (oder lassen Sie beides leer).".into());
            None
        }
        // A day without a time: until the end of that day.
        (false, true) => {
            let next = parse_iso_date(&iso(&f.bis_datum)).map(|d| civil_from_ms(d + DAY_MS));
            let v = next.and_then(|(y, m, d, _, _)| parse_berlin(&format!("{y:04}-{m:02}-{d:02} 00:00")));
            if v.is_none() {
                errors.bis = Some("Bitte geben Sie das Ende als Datum an, z. B. 02.01.2027.".into());
            }
            v
        }
        (false, false) => {
            let v = parse_berlin(&format!("{} {}", iso(&f.bis_datum), f.bis_zeit.trim()));
            if v.is_none() {
                errors.bis =
                    Some("Bitte geben Sie das Ende als Datum und Uhrzeit an, z. B. 02.01.2027 und 08:00.".into());
            }
            v
        }
    };
    let substitute = match f.vertretung.trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(id) => Some(EmployeeId(id)),
            Err(_) => {
                errors.vertretung = Some("Bitte wählen Sie die Vertretung aus der Liste.".into());
                None
            }
        },
    };
    match from {
        Some(from_ms) if !errors.any() => Ok(Absence { id: 0, employee, from_ms, until_ms: until, substitute }),
        _ => Err(errors),
    }
}

/// The store's refusal, next to the field it is about.
fn place(e: &AbsenceError, substitute: Option<EmployeeId>) -> FieldErrors {
    let text = e.german(german_time);
    let mut errors = FieldErrors::default();
    match e {
        AbsenceError::UnknownEmployee(id) if substitute.is_some_and(|s| s.0 == *id) => errors.vertretung = Some(text),
        AbsenceError::SelfSubstitute | AbsenceError::SubstituteIneligible(_) => errors.vertretung = Some(text),
        AbsenceError::EndBeforeStart | AbsenceError::InThePast => errors.bis = Some(text),
        AbsenceError::UnknownEmployee(_) | AbsenceError::Overlaps { .. } => errors.von = Some(text),
    }
    errors
}

/// The form's defaults: from now (to the minute), open end, no Vertreter.
fn empty_form(now: i64) -> AbsenceForm {
    let (y, m, d, hh, mm) = postkorb_core::time::berlin_civil(now);
    AbsenceForm {
        von_datum: format!("{y:04}-{m:02}-{d:02}"),
        von_zeit: format!("{hh:02}:{mm:02}"),
        ..AbsenceForm::default()
    }
}

async fn page(
    state: &WebState,
    user: &CurrentUser,
    whose: Whose,
    who: &Employee,
    f: AbsenceForm,
    errors: FieldErrors,
    message: Option<String>,
) -> Result<AbsencePage, WebError> {
    let now = now_ms();
    let chosen = f.vertretung.trim().parse::<i64>().ok();
    let substitutes = state
        .store
        .employees()
        .await?
        .into_iter()
        .filter(|e| e.id != who.id && e.check_an().is_ok())
        .map(|e| (e.id.0, e.name.clone(), chosen == Some(e.id.0)))
        .collect();
    Ok(AbsencePage {
        nav: Nav::new(user, if whose == Whose::Own { "konto" } else { "mitarbeiter" }),
        own: whose == Whose::Own,
        name: who.name.clone(),
        base: whose.base(),
        back: match whose {
            Whose::Own => None,
            Whose::Employee(id) => Some(format!("/mitarbeiter/{id}")),
        },
        message,
        errors,
        rows: rows(state.store.absence_list(Some(who.id), now).await?, now),
        f,
        substitutes,
    })
}

async fn show(state: WebState, user: CurrentUser, whose: Whose, q: NoticeQuery) -> Result<Html<String>, WebError> {
    let who = whose.employee(&state, &user).await?;
    let p = page(&state, &user, whose, &who, empty_form(now_ms()), FieldErrors::default(), q.german()).await?;
    Ok(Html(p.render()?))
}

async fn add(state: WebState, user: CurrentUser, whose: Whose, f: AbsenceForm) -> Result<Response, WebError> {
    let who = whose.employee(&state, &user).await?;
    user.check_csrf(&f.csrf)?;
    let errors = match read_form(&f, who.id) {
        Ok(new) => match state.store.add_absence(&new, &user.actor(), now_ms()).await? {
            Ok(_) => return Ok(Redirect::to(&Notice::AbsenceAdded.url(&whose.base(), None)).into_response()),
            Err(e) => place(&e, new.substitute),
        },
        Err(errors) => errors,
    };
    let p = page(&state, &user, whose, &who, f, errors, None).await?;
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(p.render()?)).into_response())
}

async fn end(state: WebState, user: CurrentUser, whose: Whose, id: i64, f: ConfirmForm) -> Result<Response, WebError> {
    let who = whose.employee(&state, &user).await?;
    user.check_csrf(&f.csrf)?;
    // Only an absence of this employee that is not over: another's id is „not found“ here.
    let now = now_ms();
    let Some(a) = state.store.absence_list(Some(who.id), now).await?.into_iter().find(|a| a.id == id) else {
        return Err(WebError::NotFound);
    };
    if !confirmed(&f.bestaetigt) {
        let running = a.from_ms <= now;
        let whom = if whose == Whose::Own { "Ihre".to_string() } else { format!("die von {}", who.name) };
        let until = a.until_ms.map(|u| format!(" bis {}", german_time(u))).unwrap_or_default();
        let question = if running {
            format!("Soll {whom} Abwesenheit (seit {}{until}) jetzt enden?", german_time(a.from_ms))
        } else {
            format!("Soll {whom} geplante Abwesenheit (ab {}{until}) gestrichen werden?", german_time(a.from_ms))
        };
        let mut details = vec![format!("Neue Vorgänge für {} gehen dann wieder an {} selbst.", who.name, who.name)];
        if let Some(v) = &a.substitute_name {
            details.push(format!("{v} vertritt {} dann nicht mehr und sieht dessen Vorgänge nicht mehr.", who.name));
        }
        return Ok(Confirm {
            nav: Nav::new(&user, if whose == Whose::Own { "konto" } else { "mitarbeiter" }),
            title: if running { "Abwesenheit beenden?".into() } else { "Abwesenheit streichen?".into() },
            question,
            details,
            action: format!("{}/{id}/beenden", whose.base()),
            fields: vec![],
            button: if running { "Ja, jetzt beenden".into() } else { "Ja, streichen".into() },
            back: whose.base(),
        }
        .html()?
        .into_response());
    }
    let notice = match state.store.end_absence(id, &user.actor(), now_ms()).await? {
        Ended::Now => Notice::AbsenceEnded,
        Ended::Cancelled => Notice::AbsenceCancelled,
    };
    Ok(Redirect::to(&notice.url(&whose.base(), None)).into_response())
}

pub async fn show_own(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    show(state, user, Whose::Own, q).await
}

pub async fn add_own(
    State(state): State<WebState>,
    user: CurrentUser,
    axum::Form(f): axum::Form<AbsenceForm>,
) -> Result<Response, WebError> {
    add(state, user, Whose::Own, f).await
}

pub async fn end_own(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    end(state, user, Whose::Own, id, f).await
}

pub async fn show_for(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(employee): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    show(state, user, Whose::Employee(employee), q).await
}

pub async fn add_for(
    State(state): State<WebState>,
    user: CurrentUser,
    Path(employee): Path<i64>,
    axum::Form(f): axum::Form<AbsenceForm>,
) -> Result<Response, WebError> {
    add(state, user, Whose::Employee(employee), f).await
}

pub async fn end_for(
    State(state): State<WebState>,
    user: CurrentUser,
    Path((employee, id)): Path<(i64, i64)>,
    axum::Form(f): axum::Form<ConfirmForm>,
) -> Result<Response, WebError> {
    end(state, user, Whose::Employee(employee), id, f).await
}

/// The page with a list and every error placed, for the no-English test.
#[cfg(test)]
pub(crate) fn sample_pages(nav: Nav) -> Vec<(String, String)> {
    use postkorb_core::{RouteError, RouteRole};
    let list = vec![
        StoredAbsence {
            id: 1,
            employee_id: 2,
            employee_name: "Bernd Büro".into(),
            from_ms: 1_785_571_200_000,
            until_ms: Some(1_786_780_800_000),
            substitute_id: Some(3),
            substitute_name: Some("Clara Chef".into()),
        },
        StoredAbsence {
            id: 2,
            employee_id: 2,
            employee_name: "Bernd Büro".into(),
            from_ms: 1_790_000_000_000,
            until_ms: None,
            substitute_id: None,
            substitute_name: None,
        },
    ];
    let errors = [
        AbsenceError::UnknownEmployee(7),
        AbsenceError::EndBeforeStart,
        AbsenceError::InThePast,
        AbsenceError::SelfSubstitute,
        AbsenceError::SubstituteIneligible(RouteError::NoLicense { name: "Eva Ohnelizenz".into() }),
        AbsenceError::SubstituteIneligible(RouteError::NotCurrent { role: RouteRole::An, name: "Dieter".into() }),
        AbsenceError::SubstituteIneligible(RouteError::UnknownEmployee { role: RouteRole::An, id: 9 }),
        AbsenceError::Overlaps { name: "Bernd Büro".into(), from_ms: 1_785_571_200_000 },
    ];
    let mut pages = Vec::new();
    for (i, e) in errors.iter().enumerate() {
        let mut errors = place(e, Some(EmployeeId(7)));
        if i == 0 {
            errors = read_form(
                &AbsenceForm {
                    von_datum: "gestern".into(),
                    bis_zeit: "08:00".into(),
                    vertretung: "x".into(),
                    ..Default::default()
                },
                EmployeeId(2),
            )
            .unwrap_err();
        }
        let p = AbsencePage {
            nav: Nav { name: nav.name.clone(), csrf: nav.csrf.clone(), ..nav },
            own: i % 2 == 0,
            name: "Bernd Büro".into(),
            base: "/konto/abwesenheit".into(),
            back: (i % 2 == 1).then(|| "/mitarbeiter/2".into()),
            message: Some(Notice::AbsenceAdded.german(0)),
            errors,
            rows: rows(list.clone(), 1_786_000_000_000),
            f: empty_form(1_786_000_000_000),
            substitutes: vec![(3, "Clara Chef".into(), true)],
        };
        pages.push((format!("Abwesenheit with {e:?}"), p.render().unwrap()));
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(von: (&str, &str), bis: (&str, &str), vertretung: &str) -> AbsenceForm {
        AbsenceForm {
            von_datum: von.0.into(),
            von_zeit: von.1.into(),
            bis_datum: bis.0.into(),
            bis_zeit: bis.1.into(),
            vertretung: vertretung.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_form_is_read_on_the_office_clock_with_open_end_and_a_day_until_its_end() {
        let at = |s: &str| parse_berlin(s).unwrap();
        /// (from, until, Vertreter) or the field with the error.
        type Read = Result<(i64, Option<i64>, Option<i64>), &'static str>;
        let cases: Vec<(&str, AbsenceForm, Read)> = vec![
            (
                "date and time, open end",
                form(("2026-12-24", "08:00"), ("", ""), ""),
                Ok((at("2026-12-24 08:00"), None, None)),
            ),
            (
                "German dates, a Vertreter",
                form(("24.12.2026", "08:00"), ("2.1.2027", "17:30"), "3"),
                Ok((at("2026-12-24 08:00"), Some(at("2027-01-02 17:30")), Some(3))),
            ),
            (
                "no time: from midnight, until the end of the day",
                form(("2026-07-01", ""), ("2026-07-31", ""), ""),
                Ok((at("2026-07-01 00:00"), Some(at("2026-08-01 00:00")), None)),
            ),
            ("no start", form(("", ""), ("", ""), ""), Err("von")),
            ("a start that is no date", form(("morgen", ""), ("", ""), ""), Err("von")),
            ("an end time without a day", form(("2026-12-24", "08:00"), ("", "12:00"), ""), Err("bis")),
            ("an impossible end", form(("2026-12-24", "08:00"), ("2026-02-30", ""), ""), Err("bis")),
            ("a Vertreter that is no id", form(("2026-12-24", "08:00"), ("", ""), "Clara"), Err("vertretung")),
        ];
        for (what, f, expected) in cases {
            let got =
                read_form(&f, EmployeeId(2)).map(|a| (a.from_ms, a.until_ms, a.substitute.map(|s| s.0))).map_err(|e| {
                    match e {
                        FieldErrors { von: Some(_), .. } => "von",
                        FieldErrors { bis: Some(_), .. } => "bis",
                        _ => "vertretung",
                    }
                });
            assert_eq!(got, expected, "{what}");
        }
    }
}
