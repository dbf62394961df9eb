//! „Suche“: full-text search over the Vorgänge the user may see (`auth::searcher`: their own and
//! the waiting ones they may claim; with „E-Mails automatisch einlesen“ every Vorgang), with
//! filters for status, Bearbeiter and date range, best hits first, a page at a time. The marked
//! words come from the store's highlighter as escaped HTML whose only tag is `<mark>`.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use postkorb_store::{SearchQuery, SearchStatus};
use serde::Deserialize;

use super::Nav;
use crate::WebState;
use crate::auth::{CurrentUser, searcher};
use crate::error::WebError;
use crate::util::german_time;

const PER_PAGE: u32 = 20;

/// The form's fields, as in the address: `/suche?q=…&status=…&bearbeiter=…&von=…&bis=…&seite=…`.
#[derive(Deserialize, Default, Clone)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    /// `wartet`, `offen`, `erledigt`; empty: all.
    #[serde(default)]
    status: String,
    /// An employee's id; empty: all.
    #[serde(default)]
    bearbeiter: String,
    /// YYYY-MM-DD (office time), inclusive.
    #[serde(default)]
    von: String,
    #[serde(default)]
    bis: String,
    seite: Option<u32>,
}

pub struct Hit {
    pub id: i64,
    pub status: &'static str,
    pub received: String,
    pub assignee: String,
    /// Escaped HTML with `<mark>` (the store's highlighter).
    pub subject_html: String,
    pub from_html: String,
    pub snippet_html: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    nav: Nav,
    form: SearchForm,
    statuses: Vec<Choice>,
    /// Empty for someone who sees only their own Vorgänge.
    assignees: Vec<Choice>,
    /// What was wrong with the form, in German.
    problems: Vec<String>,
    searched: bool,
    hits: Vec<Hit>,
    page: u32,
    more: bool,
    /// The address of this search without the page, for the pager.
    base: String,
}

const STATUSES: [(&str, &str, SearchStatus); 3] = [
    ("wartet", "wartet", SearchStatus::Waiting),
    ("offen", "offen", SearchStatus::Open),
    ("erledigt", "erledigt", SearchStatus::Done),
];

fn status_word(status: &str) -> &'static str {
    match status {
        "done" => "erledigt",
        "waiting" => "wartet",
        _ => "offen",
    }
}

/// Percent-encoding of a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

/// The store's query from the form, or what is wrong with it (German).
fn query_of(f: &SearchForm, may_filter_assignee: bool) -> Result<SearchQuery, Vec<String>> {
    let mut problems = Vec::new();
    let status = match f.status.as_str() {
        "" => None,
        s => STATUSES.iter().find(|(code, _, _)| *code == s).map(|(_, _, st)| *st).or_else(|| {
            problems.push("Diesen Status gibt es nicht.".to_string());
            None
        }),
    };
    let assignee = match f.bearbeiter.as_str() {
        "" => None,
        _ if !may_filter_assignee => None,
        s => s.parse().ok().map(postkorb_core::EmployeeId).or_else(|| {
            problems.push("Diesen Bearbeiter gibt es nicht.".to_string());
            None
        }),
    };
    let mut day = |s: &str, label: &str| match s {
        "" => None,
        s => postkorb_core::time::parse_berlin_day(s).or_else(|| {
            problems.push(format!("„{label}“ ist kein Datum (TT.MM.JJJJ)."));
            None
        }),
    };
    let from_ms = day(&f.von, "Von");
    let until_ms = day(&f.bis, "Bis").and(postkorb_core::time::parse_berlin_day_end(&f.bis));
    if problems.is_empty() {
        Ok(SearchQuery {
            text: f.q.clone(),
            status,
            assignee,
            from_ms,
            until_ms,
            page: f.seite.unwrap_or(1),
            per_page: PER_PAGE,
        })
    } else {
        Err(problems)
    }
}

pub async fn show(
    State(state): State<WebState>,
    user: CurrentUser,
    Query(form): Query<SearchForm>,
) -> Result<Html<String>, WebError> {
    let who = searcher(&user.employee, state.store.covering(user.employee.id, crate::util::now_ms()).await?);
    let may_filter_assignee = matches!(who, postkorb_store::Searcher::All);
    let employees = state.store.employees().await?;
    let assignees = if may_filter_assignee {
        employees
            .iter()
            .map(|e| Choice {
                value: e.id.0.to_string(),
                label: e.name.clone(),
                selected: form.bearbeiter == e.id.0.to_string(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let statuses = STATUSES
        .iter()
        .map(|(code, label, _)| Choice {
            value: code.to_string(),
            label: label.to_string(),
            selected: form.status == *code,
        })
        .collect();
    let searched = !form.q.trim().is_empty();
    let (mut problems, mut hits, mut page, mut more) = (Vec::new(), Vec::new(), 1, false);
    if searched {
        match query_of(&form, may_filter_assignee) {
            Err(p) => problems = p,
            Ok(q) if postkorb_store::search::query_terms(&q.text).is_empty() => {
                problems.push("Bitte geben Sie ein Wort ein, nach dem gesucht werden soll.".into())
            }
            Ok(q) => {
                let found = state.store.search(who, &q).await?;
                (page, more) = (found.page, found.more);
                hits = found
                    .hits
                    .into_iter()
                    .map(|h| Hit {
                        id: h.case.id,
                        status: status_word(&h.case.status),
                        received: german_time(h.case.received_ms),
                        assignee: super::name_of(&employees, h.case.assignee),
                        subject_html: if h.case.subject.is_empty() { "(ohne Betreff)".into() } else { h.subject_html },
                        from_html: h.from_html,
                        snippet_html: h.snippet_html,
                    })
                    .collect();
            }
        }
    }
    let base = format!(
        "/suche?q={}&status={}&bearbeiter={}&von={}&bis={}",
        encode(&form.q),
        encode(&form.status),
        encode(&form.bearbeiter),
        encode(&form.von),
        encode(&form.bis)
    );
    let html = SearchPage {
        nav: Nav::new(&user, "suche"),
        form,
        statuses,
        assignees,
        problems,
        searched,
        hits,
        page,
        more,
        base,
    };
    Ok(Html(html.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav() -> Nav {
        Nav {
            name: "Bernd".into(),
            csrf: "t".into(),
            can_import: false,
            can_employees: false,
            can_privacy: false,
            active: "suche",
        }
    }

    fn render(hits: Vec<Hit>, problems: Vec<String>, more: bool) -> String {
        let form = SearchForm { q: "Schaden \"><script>".into(), ..Default::default() };
        SearchPage {
            nav: nav(),
            form,
            statuses: vec![Choice { value: "offen".into(), label: "offen".into(), selected: true }],
            assignees: vec![],
            problems,
            searched: true,
            hits,
            page: 2,
            more,
            base: "/suche?q=Schaden".into(),
        }
        .render()
        .unwrap()
    }

    #[test]
    fn the_search_page_is_german_and_echoes_the_query_escaped() {
        let hit = Hit {
            id: 7,
            status: "offen",
            received: "05.12.2026 12:00".into(),
            assignee: "Bernd".into(),
            subject_html: "<mark>Schaden</mark> am Dach".into(),
            from_html: "Anna &lt;anna@mustermail.de&gt;".into(),
            snippet_html: Some("… der <mark>Schaden</mark> …".into()),
        };
        let html = render(vec![hit], vec![], true);
        crate::german::assert_german(&html, "Suche mit Treffer");
        assert!(html.contains("<mark>Schaden</mark> am Dach") && html.contains("href=\"/vorgang/7\""));
        // The query typed comes back in the form's field as text, never as markup.
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("seite=3") && html.contains("seite=1"), "pager");
        crate::german::assert_german(&render(vec![], vec![], false), "Suche ohne Treffer");
        crate::german::assert_german(
            &render(vec![], vec!["„Von“ ist kein Datum (TT.MM.JJJJ).".into()], false),
            "Suche mit Fehler",
        );
    }

    #[test]
    fn the_form_is_read_into_a_query_or_says_what_is_wrong() {
        let f = |status: &str, bearbeiter: &str, von: &str| SearchForm {
            q: "x".into(),
            status: status.into(),
            bearbeiter: bearbeiter.into(),
            von: von.into(),
            ..Default::default()
        };
        let q = query_of(&f("erledigt", "3", "2026-07-01"), true).unwrap();
        assert_eq!((q.status, q.assignee.map(|a| a.0)), (Some(SearchStatus::Done), Some(3)));
        assert_eq!(q.from_ms, postkorb_core::time::parse_berlin_day("2026-07-01"));
        // Someone who sees only their own Vorgänge cannot filter by another Bearbeiter.
        assert_eq!(query_of(&f("", "3", ""), false).unwrap().assignee, None);
        assert_eq!(query_of(&f("kaputt", "x", "gestern"), true).unwrap_err().len(), 3);
    }
}
