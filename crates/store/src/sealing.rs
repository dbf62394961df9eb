//! The setting „Inhalte verschlüsselt speichern“ and the conversion of stored mail content to sealed
//! storage (issue 18, item 7; the format is in `seal.rs`).
//!
//! **Invariant:** with the setting on, a store that has the key ([`Store::with_mail_key`]; the app
//! always gives it) writes every new raw mail sealed — in the row or as a blob file named by its
//! keyed hash — and the text of its search entry (`case_search.shown`) sealed too. A store without
//! the key (tests, tools that only copy rows) cannot seal and writes plain.
//!
//! **Conversion** ([`Store::seal_step`]): in batches, each its own transaction, so it is resumable
//! and runs beside the import. A plain raw mail or stored attachment is read (its SHA-256 checked),
//! sealed, written (a new file under its new name, made durable before the commit), and its row is
//! switched only if it is still plain; the old plain file is removed after the commit. Bodies kept in
//! `cases` by versions before migration 0012 are dropped (they are derived from the raw mail), and
//! search entries' texts are sealed. SQLite's `secure_delete` overwrites what the old values used.
//! A [`SealCursor`] kept by the caller lets each batch read on after the rows of the one before
//! (keyset, not from the first row again: that grew with the square of the rows), and a look from
//! the first rows of every kind confirms nothing is left before that is remembered.
//!
//! **Nothing plain left** is remembered (`mail_at_rest.converted`, set when a conversion finds
//! nothing more, cleared when the setting is switched off — only then is plain content written):
//! finding out again means reading every raw mail and search text, which neither the Datenschutz
//! page nor `serve`'s start should do at a million Vorgänge ([`Store::seal_pending`]).

use sqlx::{Any, Row};

use crate::blobs::{BlobDir, resolve};
use crate::case_write::{CaseChange, SealedAttachment, apply};
use crate::seal::MailKey;
use crate::{Result, Store, StoreError, blocking};

/// How much mail content is still stored plain.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SealProgress {
    /// Whether new mails are stored sealed (the setting).
    pub seal_new: bool,
    pub raw_sealed: i64,
    pub raw_plain: i64,
    /// Attachments stored apart from their raw mail (versions before migration 0010), still plain.
    pub attachments_plain: i64,
    /// Vorgänge whose text is still kept beside the raw mail (versions before migration 0012).
    pub bodies_plain: i64,
    /// Search entries whose shown text is plain.
    pub search_plain: i64,
}

/// Where a conversion ([`Store::seal_step`]) goes on with each kind of stored item: after the
/// row it reached, or nowhere once a look found nothing more of it. The caller keeps one for the
/// steps of one conversion; a new one starts from the first rows.
#[derive(Clone, Debug, Default)]
pub struct SealCursor {
    from: [i64; 4],
    finished: [bool; 4],
}

impl SealCursor {
    /// Records how far a step of `kind` got (`last`: the last row it read, none when it found
    /// nothing), and whether it found anything.
    fn advance(&mut self, kind: SealKind, last: Option<i64>) -> bool {
        let k = kind as usize;
        self.from[k] = last.unwrap_or(0);
        self.finished[k] = last.is_none();
        last.is_some()
    }
}

/// The kinds of stored items a conversion seals, in the order it takes them.
#[derive(Clone, Copy, Debug)]
enum SealKind {
    Raw,
    Attachments,
    Bodies,
    Search,
}

impl SealKind {
    const ALL: [SealKind; 4] = [SealKind::Raw, SealKind::Attachments, SealKind::Bodies, SealKind::Search];
}

/// What one batch of a kind did: the last row it read (none: nothing plain after its start) and
/// how many it converted.
struct Step {
    last: Option<i64>,
    converted: u64,
}

impl SealProgress {
    /// Nothing plain is left.
    pub fn done(&self) -> bool {
        self.raw_plain == 0 && self.attachments_plain == 0 && self.bodies_plain == 0 && self.search_plain == 0
    }
}

/// The setting as stored (no row: on, the default of a new installation; migration 0028 writes
/// "off" for one that had mails).
pub(crate) async fn seal_new_in<'c, E>(conn: E) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = Any>,
{
    let v: Option<i64> =
        sqlx::query_scalar("SELECT value FROM mail_at_rest WHERE name = 'seal_new'").fetch_optional(conn).await?;
    Ok(v.unwrap_or(1) != 0)
}

impl Store {
    /// Whether new mails are stored sealed (the setting; on by default).
    pub async fn seal_new(&self) -> Result<bool> {
        seal_new_in(&self.pool).await
    }

    /// Sets whether new mails are stored sealed. Turning it on needs the key.
    pub async fn set_seal_new(&self, on: bool) -> Result<()> {
        if on && self.mail_key.is_none() {
            return Err(StoreError::Invalid("encryption at rest needs the key file".into()));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM mail_at_rest WHERE name = 'seal_new'").execute(&mut *tx).await?;
        if !on {
            // From now on new mails are stored plain: a later switch on has something to convert.
            sqlx::query("DELETE FROM mail_at_rest WHERE name = 'converted'").execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO mail_at_rest (name, value) VALUES ('seal_new', $1)")
            .bind(i64::from(on))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The key to seal new mails with, read in the writer's transaction: `None` when the setting is
    /// off or this store has no key.
    pub(crate) async fn sealing_in<'c, E>(&self, conn: E) -> Result<Option<MailKey>>
    where
        E: sqlx::Executor<'c, Database = Any>,
    {
        let Some(key) = &self.mail_key else { return Ok(None) };
        Ok(seal_new_in(conn).await?.then(|| key.clone()))
    }

    /// The key, if the raw mail `raw_id` is stored sealed (then so is its search entry's text).
    pub(crate) async fn sealed_raw(&self, tx: &mut sqlx::Transaction<'_, Any>, raw_id: i64) -> Result<Option<MailKey>> {
        let Some(key) = &self.mail_key else { return Ok(None) };
        let sealed: Option<Option<String>> = sqlx::query_scalar("SELECT sealed FROM raw_messages WHERE id = $1")
            .bind(raw_id)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(sealed.flatten().map(|_| key.clone()))
    }

    /// Whether the setting is on and a conversion may still have something plain to seal: false
    /// once one found nothing more (remembered; see the module doc). Cheap: reads the setting only.
    pub async fn seal_pending(&self) -> Result<bool> {
        let converted: Option<i64> = sqlx::query_scalar("SELECT value FROM mail_at_rest WHERE name = 'converted'")
            .fetch_optional(&self.pool)
            .await?;
        Ok(self.seal_new().await? && converted.is_none())
    }

    /// How much is sealed and how much is still plain: counts every kind, reading whole tables
    /// (the CLI's `encryption status`, tests; the page asks [`Store::seal_pending`] first).
    pub async fn seal_progress(&self) -> Result<SealProgress> {
        let count = |sql: &'static str| async move {
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
            Ok::<i64, StoreError>(n)
        };
        Ok(SealProgress {
            seal_new: self.seal_new().await?,
            raw_sealed: count("SELECT COUNT(*) FROM raw_messages WHERE sealed IS NOT NULL").await?,
            raw_plain: count("SELECT COUNT(*) FROM raw_messages WHERE sealed IS NULL").await?,
            attachments_plain: count(
                "SELECT COUNT(*) FROM attachments WHERE sealed IS NULL AND in_raw = 0 AND (blob IS NOT NULL OR LENGTH(data) > 0)",
            )
            .await?,
            bodies_plain: count("SELECT COUNT(*) FROM cases WHERE body_in_raw = 0").await?,
            search_plain: count("SELECT COUNT(*) FROM case_search WHERE shown <> '' AND shown NOT LIKE 'pkm1:%'")
                .await?,
        })
    }

    /// Converts up to `limit` plain items of each kind to sealed storage (see the module doc) and
    /// returns how many it converted; 0 when nothing plain is left. Needs the key. The caller
    /// keeps `cursor` across the steps of one conversion, so each step reads on from where the
    /// last one stopped instead of from the first row again (at a million Vorgänge that made
    /// the conversion's time grow with the square of the rows).
    pub async fn seal_step(&self, limit: i64, cursor: &mut SealCursor) -> Result<u64> {
        let Some(key) = self.mail_key.clone() else {
            return Err(StoreError::Invalid("converting to encrypted storage needs the key file".into()));
        };
        let mut done = 0;
        let mut found = false;
        for kind in SealKind::ALL {
            if cursor.finished[kind as usize] {
                continue;
            }
            let step = self.seal_kind(kind, &key, limit, cursor.from[kind as usize]).await?;
            found |= cursor.advance(kind, step.last);
            done += step.converted;
        }
        if !found {
            // Nothing after any cursor: each kind once more from its first row (a row before its
            // cursor may have stayed plain — changed while it was sealed, or written while the
            // setting was off), and only a look that finds nothing anywhere is remembered.
            for kind in SealKind::ALL {
                let step = self.seal_kind(kind, &key, limit, 0).await?;
                found |= cursor.advance(kind, step.last);
                done += step.converted;
            }
        }
        if !found && self.seal_new().await? {
            // Nothing plain is left, and with the setting on nothing plain is written.
            sqlx::query("INSERT INTO mail_at_rest (name, value) VALUES ('converted', 1) ON CONFLICT (name) DO NOTHING")
                .execute(&self.pool)
                .await?;
        }
        Ok(done)
    }

    /// One batch of `kind` after the row `from`.
    async fn seal_kind(&self, kind: SealKind, key: &MailKey, limit: i64, from: i64) -> Result<Step> {
        match kind {
            SealKind::Raw => self.seal_stored(key, "raw_messages", "TRUE", limit, from).await,
            SealKind::Attachments => {
                let filter = "in_raw = 0 AND (blob IS NOT NULL OR LENGTH(data) > 0)";
                self.seal_stored(key, "attachments", filter, limit, from).await
            }
            SealKind::Bodies => self.drop_old_bodies(limit, from).await,
            SealKind::Search => self.seal_search_texts(key, limit, from).await,
        }
    }

    /// One batch of plain rows of `table` (raw mails or attachments) matching `filter`. Raw mails
    /// are rows of their own; an attachment is part of a Vorgang, so its row changes through the
    /// one write path (`CaseChange::SealStorage`).
    async fn seal_stored(&self, key: &MailKey, table: &str, filter: &str, limit: i64, from: i64) -> Result<Step> {
        let sql = format!(
            "SELECT id, data, blob FROM {table} WHERE id > $2 AND sealed IS NULL AND {filter} ORDER BY id LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).bind(from).fetch_all(&self.pool).await?;
        let last = rows.last().map(|r| r.try_get::<i64, _>(0)).transpose()?;
        let mut sealed = Vec::with_capacity(rows.len());
        for r in &rows {
            let (id, blob): (i64, Option<String>) = (r.try_get(0)?, r.try_get(2)?);
            let plain = resolve(self, r.try_get(1)?, blob.clone(), None, &format!("{table} {id}")).await?;
            let (k, name) = (key.clone(), key.name(&plain));
            let bytes = {
                let name = name.clone();
                blocking("sealing", move || k.seal(&plain, &name)).await?
            };
            sealed.push((id, blob, name, bytes));
        }
        if sealed.is_empty() {
            return Ok(Step { last, converted: 0 });
        }
        if let Some(dir) = self.blobs.clone() {
            write_files(dir, sealed.iter().map(|(_, _, n, b)| (n.clone(), b.clone())).collect()).await?;
        }
        let in_files = self.blobs.is_some();
        let stored = |(_, _, name, bytes): &'_ (i64, Option<String>, String, Vec<u8>)| -> (Vec<u8>, Option<String>) {
            if in_files { (Vec::new(), Some(name.clone())) } else { (bytes.clone(), None) }
        };
        let mut tx = self.begin_write().await?;
        let converted = if table == "attachments" {
            let parts: Vec<(Vec<u8>, Option<String>)> = sealed.iter().map(stored).collect();
            let rows: Vec<SealedAttachment<'_>> = sealed
                .iter()
                .zip(&parts)
                .map(|((id, _, name, _), (data, blob))| SealedAttachment { id: *id, data, blob: blob.as_deref(), name })
                .collect();
            let change = CaseChange::SealStorage { bodies: &[], attachments: &rows };
            apply(&mut tx, self.backend, 0, change).await?.len() as u64
        } else {
            let mut n = 0;
            for s in &sealed {
                let (data, file) = stored(s);
                let changed = sqlx::query(
                    "UPDATE raw_messages SET data = $1, blob = $2, sealed = $3 WHERE id = $4 AND sealed IS NULL",
                )
                .bind(data)
                .bind(file)
                .bind(&s.2)
                .bind(s.0)
                .execute(&mut *tx)
                .await?;
                n += changed.rows_affected();
            }
            n
        };
        tx.commit().await?;
        self.checkpoint_soon();
        // The plain files: gone unless another row (identical bytes, not converted yet) still names one.
        let old_files: Vec<String> = sealed.into_iter().filter_map(|(_, blob, _, _)| blob).collect();
        self.remove_blobs_now(&old_files).await?;
        Ok(Step { last, converted })
    }

    /// Vorgänge of versions before migration 0012 keep their text, HTML and forwarded original
    /// beside the raw mail: dropped, as the raw mail holds them (shown from it from now on).
    async fn drop_old_bodies(&self, limit: i64, from: i64) -> Result<Step> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT c.id FROM cases c JOIN raw_messages r ON r.id = c.raw_id
              WHERE c.id > $2 AND c.body_in_raw = 0 ORDER BY c.id LIMIT $1",
        )
        .bind(limit)
        .bind(from)
        .fetch_all(&self.pool)
        .await?;
        let Some(&last) = ids.last() else { return Ok(Step { last: None, converted: 0 }) };
        let mut tx = self.begin_write().await?;
        let changed =
            apply(&mut tx, self.backend, 0, CaseChange::SealStorage { bodies: &ids, attachments: &[] }).await?;
        tx.commit().await?;
        Ok(Step { last: Some(last), converted: changed.len() as u64 })
    }

    /// Search entries whose shown text is plain: sealed (a note appended later stays plain after
    /// it, as notes are; `MailKey::open_text`).
    async fn seal_search_texts(&self, key: &MailKey, limit: i64, from: i64) -> Result<Step> {
        let id = crate::search::key(self.backend);
        let sql = format!(
            "SELECT {id}, shown FROM case_search WHERE {id} > $2 AND shown <> '' AND shown NOT LIKE 'pkm1:%'
              ORDER BY {id} LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).bind(from).fetch_all(&self.pool).await?;
        let Some(last) = rows.last().map(|r| r.try_get::<i64, _>(0)).transpose()? else {
            return Ok(Step { last: None, converted: 0 });
        };
        let mut tx = self.begin_write().await?;
        let mut converted = 0;
        let update = format!("UPDATE case_search SET shown = $1 WHERE {id} = $2 AND shown = $3");
        for r in &rows {
            let (case_id, shown): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
            let changed = sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                .bind(key.seal_text(&shown)?)
                .bind(case_id)
                .bind(&shown)
                .execute(&mut *tx)
                .await?;
            converted += changed.rows_affected();
        }
        tx.commit().await?;
        Ok(Step { last: Some(last), converted })
    }
}

/// Writes sealed files into the blob directory and makes them durable (before their rows commit).
async fn write_files(dir: BlobDir, files: Vec<(String, Vec<u8>)>) -> Result<()> {
    blocking("blob writer", move || {
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        dir.put_many_blocking(&refs)
    })
    .await
}
