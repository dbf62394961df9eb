//! The German screens. Every handler checks the login (the `CurrentUser` extractor) and, for the
//! admin screens, the permission „E-Mails automatisch einlesen“ before it reads anything.

pub(crate) mod absence;
mod account;
pub(crate) mod case;
mod case_history;
mod case_work;
pub(crate) mod deliveries;
pub(crate) mod employees;
mod home;
pub(crate) use home::tab_counts;
pub(crate) mod auskunft;
pub(crate) mod kept;
mod mailbox;
mod notifications;
mod oauth;
pub(crate) mod privacy;
pub(crate) mod protokoll;
mod protokoll_csv;
mod routes;
mod search;
mod smtp;
pub(crate) mod webhooks;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use postkorb_core::{Employee, EmployeeId, Permission};

use crate::WebState;
use crate::auth::{self, CurrentUser};

/// What the menu bar needs.
pub struct Nav {
    pub name: String,
    pub csrf: String,
    pub can_import: bool,
    pub can_employees: bool,
    /// „Datenschutz verwalten“ (issue 18).
    pub can_privacy: bool,
    /// The key of the screen shown ("start", "mitarbeiter", …; "" for none).
    pub active: &'static str,
}

/// One entry of the menu: a short label for the bar; `path` is where the office's program has it
/// (the screen's breadcrumb), shown as the link's tooltip.
pub struct NavEntry {
    pub key: &'static str,
    pub href: &'static str,
    pub label: &'static str,
    pub path: &'static str,
}

/// The menu, in its order, with who may see each entry.
static MENU: [(NavEntry, Option<Permission>); 10] = [
    (NavEntry { key: "start", href: "/", label: "Startmaske", path: "Startmaske" }, None),
    (NavEntry { key: "suche", href: "/suche", label: "Suche", path: "Suche" }, None),
    (
        NavEntry { key: "mitarbeiter", href: "/mitarbeiter", label: "Mitarbeiter", path: "Fenster › Mitarbeiter" },
        Some(Permission::ManageEmployees),
    ),
    (
        NavEntry {
            key: "optionen",
            href: "/optionen/e-mail",
            label: "E-Mail-Empfang",
            path: "Optionen › Allgemeine Einstellungen › E-Mail › Einstellungen für den E-Mail Empfang",
        },
        Some(Permission::ManageMailImport),
    ),
    (
        NavEntry {
            key: "adressen",
            href: "/optionen/e-mail/adressen",
            label: "E-Mail-Adressen verwalten",
            path: "Optionen › Allgemeine Einstellungen › E-Mail › E-Mail-Adressen verwalten",
        },
        Some(Permission::ManageMailImport),
    ),
    (
        NavEntry {
            key: "kept",
            href: "/nicht-zugeordnet",
            label: "Nicht zugeordnete E-Mails",
            path: "Nicht zugeordnete E-Mails",
        },
        Some(Permission::ManageMailImport),
    ),
    (
        NavEntry { key: "protokoll", href: "/protokoll", label: "Protokoll", path: "Protokoll" },
        Some(Permission::ManageMailImport),
    ),
    (
        NavEntry { key: "webhooks", href: "/optionen/webhooks", label: "Webhooks", path: "Optionen › Webhooks" },
        Some(Permission::ManageMailImport),
    ),
    (
        NavEntry {
            key: "zustellungen",
            href: "/optionen/zustellungen",
            label: "Zustellungen",
            path: "Optionen › Webhooks › Zustellungen",
        },
        Some(Permission::ManageMailImport),
    ),
    (
        NavEntry {
            key: "datenschutz",
            href: "/optionen/datenschutz",
            label: "Datenschutz",
            path: "Optionen › Datenschutz",
        },
        Some(Permission::ManagePrivacy),
    ),
];

impl Nav {
    pub fn new(user: &CurrentUser, active: &'static str) -> Nav {
        Nav {
            name: user.employee.name.clone(),
            csrf: user.csrf.clone(),
            can_import: user.employee.has(Permission::ManageMailImport),
            can_employees: user.employee.has(Permission::ManageEmployees),
            can_privacy: user.employee.has(Permission::ManagePrivacy),
            active,
        }
    }

    fn may(&self, p: Option<Permission>) -> bool {
        match p {
            None => true,
            Some(Permission::ManageMailImport) => self.can_import,
            Some(Permission::ManageEmployees) => self.can_employees,
            Some(Permission::ManagePrivacy) => self.can_privacy,
        }
    }

    /// The entries this user may open.
    pub fn entries(&self) -> impl Iterator<Item = &'static NavEntry> + '_ {
        MENU.iter().filter(|(_, p)| self.may(*p)).map(|(e, _)| e)
    }

    /// The label of the screen shown, for the collapsed menu on phones („Menü · Startmaske“).
    pub fn here(&self) -> &'static str {
        match self.active {
            "konto" => "Mein Konto",
            key => MENU.iter().find(|(e, _)| e.key == key).map(|(e, _)| e.label).unwrap_or(""),
        }
    }
}

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(home::show))
        .route("/synchronisieren", post(home::sync))
        .route("/anmeldung", get(auth::login_form).post(auth::login))
        .route("/abmelden", post(auth::logout))
        .route("/konto", get(account::show))
        .route(auth::PASSWORD_PAGE, get(account::password_form).post(account::change_password))
        .route("/konto/tokens", post(account::create_token))
        .route("/konto/tokens/{id}/widerrufen", post(account::revoke_token))
        .route("/konto/sitzungen-beenden", post(account::end_other_sessions))
        .route("/konto/abwesenheit", get(absence::show_own).post(absence::add_own))
        .route(notifications::PATH, get(notifications::show).post(notifications::save))
        .route("/konto/abwesenheit/{id}/beenden", post(absence::end_own))
        .route("/vorgang/{id}", get(case::show))
        .route("/vorgang/{id}/status", post(case::set_status))
        .route("/vorgang/{id}/html", get(case::html))
        .route("/vorgang/{id}/anhang/{aid}", get(case::attachment))
        .route("/vorgang/{id}/original.eml", get(case::original))
        .route("/vorgang/{id}/weitergeben", post(case_work::hand_over))
        .route("/vorgang/{id}/zurueckgeben", post(case_work::give_back))
        .route("/vorgang/{id}/notiz", post(case_work::note))
        .route("/vorgang/{id}/wiedervorlage", post(case_work::follow_up))
        .route("/optionen/e-mail", get(mailbox::list))
        .route("/optionen/e-mail/neu", get(mailbox::new_form).post(mailbox::create))
        .route("/optionen/e-mail/{name}", get(mailbox::show).post(mailbox::save))
        .route("/optionen/e-mail/{name}/deaktivieren", post(mailbox::disable))
        .route("/optionen/e-mail/{name}/aktivieren", post(mailbox::enable))
        .route("/optionen/e-mail/{name}/loeschen", post(mailbox::delete))
        .route("/optionen/e-mail/{name}/oauth", post(oauth::start))
        .route("/optionen/e-mail/{name}/anwendung", post(oauth::app))
        .route("/oauth/callback", get(oauth::callback))
        .route("/optionen/e-mail/adressen", get(routes::show).post(routes::add))
        .route(smtp::PAGE, get(smtp::show).post(smtp::save))
        .route("/optionen/e-mail/versand/test", post(smtp::test))
        .route("/optionen/e-mail/adressen/{id}/loeschen", post(routes::remove))
        .route("/mitarbeiter", get(employees::list))
        .route("/mitarbeiter/neu", get(employees::new_form).post(employees::create))
        .route("/mitarbeiter/{id}", get(employees::edit_form).post(employees::update))
        .route("/mitarbeiter/{id}/abmelden", post(employees::revoke_all))
        .route("/mitarbeiter/{id}/abwesenheit", get(absence::show_for).post(absence::add_for))
        .route("/mitarbeiter/{id}/abwesenheit/{aid}/beenden", post(absence::end_for))
        .route("/nicht-zugeordnet", get(kept::list))
        .route("/nicht-zugeordnet/{id}", get(kept::show))
        .route("/nicht-zugeordnet/{id}/original.eml", get(kept::original))
        .route("/nicht-zugeordnet/{id}/zuordnen", post(kept::route_again))
        .route("/nicht-zugeordnet/{id}/zuweisen", post(kept::route_once))
        .route("/nicht-zugeordnet/{id}/verwerfen", post(kept::discard))
        .route("/protokoll", get(protokoll::show))
        .route(protokoll_csv::PATH, get(protokoll_csv::export))
        .route("/suche", get(search::show))
        .route(webhooks::LIST, get(webhooks::list).post(webhooks::create))
        .route("/optionen/webhooks/{id}/geheimnis", post(webhooks::new_secret))
        .route("/optionen/webhooks/{id}/pausieren", post(webhooks::pause))
        .route("/optionen/webhooks/{id}/fortsetzen", post(webhooks::resume))
        .route("/optionen/webhooks/{id}/loeschen", post(webhooks::delete))
        .route("/optionen/zustellungen", get(deliveries::list))
        .route("/optionen/zustellungen/{id}/erneut", post(deliveries::retry))
        .route(privacy::PAGE, get(privacy::show).post(privacy::save))
        .route(privacy::ENCRYPTION, post(privacy::set_encryption))
        .route(privacy::LOG, get(privacy::log))
        .route(auskunft::PAGE, get(auskunft::show))
        .route(auskunft::ZIP, get(auskunft::zip))
        .route(auskunft::ERASE, post(auskunft::erase))
        .route("/vorgang/{id}/sperre", post(privacy::set_hold))
        .route("/vorgang/{id}/sperre/{hid}/aufheben", post(privacy::lift_hold))
        .route("/nicht-zugeordnet/{id}/sperre", post(privacy::set_kept_hold))
        .route("/nicht-zugeordnet/{id}/sperre/{hid}/aufheben", post(privacy::lift_kept_hold))
        .route("/static/postkorb.css", get(css))
        .route("/static/live.js", get(live_js))
        .route("/ereignisse", get(crate::live::stream::events))
        .fallback(crate::error::not_found)
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../static/postkorb.css"))
}

/// The live Startmaske's script (`live.rs`); the only script, allowed by `script-src 'self'`.
async fn live_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../static/live.js"))
}

/// A Vorgang's row as the Startmaske shows it, for the live Startmaske (`home::row`).
pub(crate) fn home_row(c: postkorb_store::CaseSummary, employees: &[Employee], now: i64) -> home::Row {
    home::row(c, employees, None, now)
}

/// "Name <address>" for an employee id, for tables.
pub fn name_of(employees: &[Employee], id: Option<i64>) -> String {
    match id {
        Some(id) => employees
            .iter()
            .find(|e| e.id == EmployeeId(id))
            .map(|e| e.name.clone())
            .unwrap_or_else(|| format!("#{id}")),
        None => String::new(),
    }
}

/// A file download that the browser must never render: attachment + nosniff + sandbox CSP.
pub fn download(name: &str, content_type: &str, bytes: Vec<u8>) -> axum::response::Response {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let ct = if content_type.contains('/') && !content_type.contains(['\r', '\n']) {
        content_type
    } else {
        "application/octet-stream"
    };
    let ct = if ct.starts_with("text/html") || ct.contains("svg") || ct.contains("xml") || ct.contains("javascript") {
        "application/octet-stream"
    } else {
        ct
    };
    (
        [
            (header::CONTENT_TYPE, ct.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".to_string()),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::MENU;

    #[test]
    fn every_menu_entry_has_its_own_key_and_address() {
        for (i, (a, _)) in MENU.iter().enumerate() {
            for (b, _) in &MENU[i + 1..] {
                assert!(a.key != b.key && a.href != b.href, "{} / {}", a.key, b.key);
            }
        }
    }
}
