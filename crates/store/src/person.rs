//! A person's data (issue 18, Auskunft Art. 15/20 and Löschen auf Antrag Art. 17 DSGVO): every
//! Vorgang, kept mail, note and audit entry that names an e-mail address or a name, and *where*.
//!
//! The raw mail is the truth: From, To and Cc are read from its header (`postkorb_mail::people`),
//! the text and a forwarded original from `postkorb_mail::parse` — the search index is not asked
//! (it holds neither To/Cc nor the forwarded original). Bounded memory: Vorgänge and kept mails
//! are read in batches by id (at most [`BATCH`] rows or [`BATCH_BYTES`] of raw mail at once),
//! each batch parsed on the blocking pool; notes and audit entries are streamed the same way.
//!
//! An address (it has an `@`) matches a header mailbox with exactly that address; a name matches
//! a display name containing it. Both match text, notes and audit entries containing them (case
//! ignored).

use std::collections::BTreeMap;

use postkorb_mail::people::{Role, named};
use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// Rows read per batch.
const BATCH: i64 = 50;
/// Raw mail bytes parsed per batch at most (a batch ends early when it reaches this).
const BATCH_BYTES: usize = 16 << 20;

/// Where a person was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundIn {
    Sender,
    To,
    Cc,
    Text,
    Forwarded,
    Note,
    Audit,
}

impl FoundIn {
    /// The word in the CLI and the index (as serialized).
    pub fn code(self) -> &'static str {
        match self {
            FoundIn::Sender => "sender",
            FoundIn::To => "to",
            FoundIn::Cc => "cc",
            FoundIn::Text => "text",
            FoundIn::Forwarded => "forwarded",
            FoundIn::Note => "note",
            FoundIn::Audit => "audit",
        }
    }

    pub fn german(self) -> &'static str {
        match self {
            FoundIn::Sender => "als Absender",
            FoundIn::To => "als Empfänger",
            FoundIn::Cc => "in Cc",
            FoundIn::Text => "im Text",
            FoundIn::Forwarded => "in weitergeleiteter E-Mail",
            FoundIn::Note => "in einer Notiz",
            FoundIn::Audit => "im Änderungsprotokoll",
        }
    }
}

/// What was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum PersonItem {
    Case(i64),
    Kept(i64),
    Audit(i64),
}

/// One thing that holds the person's data.
#[derive(Clone, Debug, Serialize)]
pub struct PersonMatch {
    pub item: PersonItem,
    pub found_in: Vec<FoundIn>,
    /// The subject; for an audit entry its action word.
    pub subject: String,
    /// Received (a mail) or written (an audit entry).
    pub at_ms: i64,
    /// The raw mail of a Vorgang or a kept mail.
    #[serde(skip)]
    pub raw_id: Option<i64>,
    /// A Vorgang's status (open, done, waiting) or a kept mail's (open, discarded); empty for an entry.
    pub status: String,
    pub closed_ms: Option<i64>,
    /// The Bearbeiter of a Vorgang (name at the time of the search); the actor of an audit entry.
    pub by: Option<String>,
    /// A Sperre holds it.
    pub held: bool,
}

/// What is searched for: an address or a name, lower case.
#[derive(Clone, Debug)]
pub struct PersonQuery {
    needle: String,
    address: bool,
}

impl PersonQuery {
    /// At least three characters (a shorter name would match half the office).
    pub fn new(text: &str) -> Result<PersonQuery> {
        let needle = text.trim().to_lowercase();
        if needle.chars().count() < 3 {
            return Err(StoreError::Invalid("give an e-mail address or a name of at least 3 characters".into()));
        }
        Ok(PersonQuery { address: needle.contains('@'), needle })
    }

    pub fn text(&self) -> &str {
        &self.needle
    }

    fn in_text(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.needle)
    }

    fn names(&self, address: Option<&str>, name: Option<&str>) -> bool {
        if self.address {
            address.is_some_and(|a| a.trim().eq_ignore_ascii_case(&self.needle))
        } else {
            name.is_some_and(|n| self.in_text(n))
        }
    }

    /// Where a raw mail names the person (From as stored in the row counts as the sender too).
    fn in_raw(&self, raw: &[u8], from_row: Option<(&str, Option<&str>)>) -> Vec<FoundIn> {
        let mut found = Vec::new();
        if let Some((addr, name)) = from_row
            && self.names(Some(addr), name)
        {
            found.push(FoundIn::Sender);
        }
        for n in named(raw) {
            if self.names(n.address.as_deref(), n.name.as_deref()) {
                found.push(match n.role {
                    Role::From => FoundIn::Sender,
                    Role::To => FoundIn::To,
                    Role::Cc => FoundIn::Cc,
                });
            }
        }
        let mail = postkorb_mail::parse(raw);
        if self.in_text(&mail.subject) || self.in_text(&mail.text) {
            found.push(FoundIn::Text);
        }
        if let Some(f) = &mail.forwarded
            && (f.from.as_deref().is_some_and(|s| self.in_text(s)) || self.in_text(&f.text))
        {
            found.push(FoundIn::Forwarded);
        }
        found.sort();
        found.dedup();
        found
    }
}

/// A Vorgang or kept mail read for the search, before its raw mail is parsed.
struct Candidate {
    m: PersonMatch,
    from: Option<(String, Option<String>)>,
}

impl Store {
    /// Every Vorgang (not moved), kept mail (not routed: that one is its Vorgang), note and audit
    /// entry naming the person, Vorgänge and kept mails in id order, then the audit entries. A
    /// note's match is its Vorgang's (`Note`).
    pub async fn find_person(&self, q: &PersonQuery) -> Result<Vec<PersonMatch>> {
        let mut out: BTreeMap<PersonItem, PersonMatch> = BTreeMap::new();
        for kept in [false, true] {
            let mut after = 0i64;
            loop {
                let rows = self.candidates(kept, after).await?;
                let Some(last) = rows.last() else { break };
                after = match last.m.item {
                    PersonItem::Case(id) | PersonItem::Kept(id) | PersonItem::Audit(id) => id,
                };
                let full = rows.len() as i64 == BATCH;
                let mut batch = Vec::new();
                let mut bytes = 0;
                for c in rows {
                    let raw = self.raw(c.m.raw_id.unwrap_or_default()).await?;
                    bytes += raw.len();
                    batch.push((c, raw));
                    if bytes >= BATCH_BYTES {
                        self.match_batch(q, std::mem::take(&mut batch), &mut out).await?;
                        bytes = 0;
                    }
                }
                self.match_batch(q, batch, &mut out).await?;
                if !full {
                    break;
                }
            }
        }
        self.notes_naming(q, &mut out).await?;
        self.audit_naming(q, &mut out).await?;
        Ok(out.into_values().collect())
    }

    /// Parses a batch on the blocking pool and adds its matches.
    async fn match_batch(
        &self,
        q: &PersonQuery,
        batch: Vec<(Candidate, Vec<u8>)>,
        out: &mut BTreeMap<PersonItem, PersonMatch>,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let q = q.clone();
        let found = tokio::task::spawn_blocking(move || {
            batch
                .into_iter()
                .filter_map(|(c, raw)| {
                    let from = c.from.as_ref().map(|(a, n)| (a.as_str(), n.as_deref()));
                    let found = q.in_raw(&raw, from);
                    (!found.is_empty()).then_some(PersonMatch { found_in: found, ..c.m })
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("parsing a batch failed: {e}")))?;
        out.extend(found.into_iter().map(|m| (m.item, m)));
        Ok(())
    }

    /// Up to [`BATCH`] Vorgänge (or kept mails) with an id above `after`.
    async fn candidates(&self, kept: bool, after: i64) -> Result<Vec<Candidate>> {
        let sql = if kept {
            "SELECT k.id, k.raw_id, k.from_addr, NULL, k.subject, k.received_ms, k.status, NULL, NULL,
                    CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.kept_id = k.id AND h.lifted_ms IS NULL) THEN 1 ELSE 0 END
             FROM kept k WHERE k.id > $1 AND k.status <> 'routed' ORDER BY k.id LIMIT $2"
        } else {
            "SELECT c.id, c.raw_id, c.from_addr, c.from_name, c.subject, c.received_ms, c.status, c.closed_ms, e.name,
                    CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.case_id = c.id AND h.lifted_ms IS NULL) THEN 1 ELSE 0 END
             FROM cases c LEFT JOIN employees e ON e.id = c.assignee
             WHERE c.id > $1 AND c.status <> 'moved' ORDER BY c.id LIMIT $2"
        };
        let rows = sqlx::query(sql).bind(after).bind(BATCH).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get(0)?;
                let from: Option<String> = r.try_get(2)?;
                let held = r.try_get::<i64, _>(9)? != 0;
                Ok(Candidate {
                    from: from.map(|a| (a, r.try_get::<Option<String>, _>(3).ok().flatten())),
                    m: PersonMatch {
                        item: if kept { PersonItem::Kept(id) } else { PersonItem::Case(id) },
                        found_in: vec![],
                        subject: r.try_get(4)?,
                        at_ms: r.try_get(5)?,
                        raw_id: Some(r.try_get(1)?),
                        status: r.try_get(6)?,
                        closed_ms: r.try_get(7)?,
                        by: r.try_get(8)?,
                        held,
                    },
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Adds `Note` to the Vorgänge with a note naming the person (their match, made if needed).
    async fn notes_naming(&self, q: &PersonQuery, out: &mut BTreeMap<PersonItem, PersonMatch>) -> Result<()> {
        let mut after = 0i64;
        let mut cases = Vec::new();
        loop {
            let rows = sqlx::query("SELECT id, case_id, text FROM case_notes WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(BATCH * 10)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                after = r.try_get(0)?;
                if q.in_text(&r.try_get::<String, _>(2)?) {
                    cases.push(r.try_get::<i64, _>(1)?);
                }
            }
            if (rows.len() as i64) < BATCH * 10 {
                break;
            }
        }
        cases.sort_unstable();
        cases.dedup();
        for id in cases {
            if let Some(m) = out.get_mut(&PersonItem::Case(id)) {
                m.found_in.push(FoundIn::Note);
                continue;
            }
            let mut c = self.case_candidate(id).await?;
            c.found_in = vec![FoundIn::Note];
            out.insert(c.item, c);
        }
        Ok(())
    }

    /// One Vorgang as a match without places yet.
    async fn case_candidate(&self, id: i64) -> Result<PersonMatch> {
        let rows = self.candidates(false, id - 1).await?;
        rows.into_iter()
            .map(|c| c.m)
            .find(|m| m.item == PersonItem::Case(id))
            .ok_or_else(|| StoreError::NotFound(format!("case {id}")))
    }

    /// Adds the audit entries whose actor or detail names the person.
    async fn audit_naming(&self, q: &PersonQuery, out: &mut BTreeMap<PersonItem, PersonMatch>) -> Result<()> {
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT id, at_ms, actor, action, detail FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(BATCH * 10)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                after = r.try_get(0)?;
                let (actor, detail): (String, String) = (r.try_get(2)?, r.try_get(4)?);
                if q.in_text(&actor) || q.in_text(&detail) {
                    let m = PersonMatch {
                        item: PersonItem::Audit(after),
                        found_in: vec![FoundIn::Audit],
                        subject: r.try_get(3)?,
                        at_ms: r.try_get(1)?,
                        raw_id: None,
                        status: String::new(),
                        closed_ms: None,
                        by: Some(actor),
                        held: false,
                    };
                    out.insert(m.item, m);
                }
            }
            if (rows.len() as i64) < BATCH * 10 {
                break;
            }
        }
        Ok(())
    }
}
