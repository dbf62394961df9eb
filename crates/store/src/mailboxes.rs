//! Mailbox settings („Einstellungen für den E-Mail Empfang“) and their health.
//!
//! The secret column holds the password already encrypted by the caller; the store never sees
//! the key.

use postkorb_core::ack::AckSettings;
use postkorb_core::mailbox::MailboxSettings;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

#[derive(Clone, Default)]
pub struct MailboxRecord {
    pub id: i64,
    pub name: String,
    /// imap | pop3 | maildir
    pub protocol: String,
    pub host: String,
    pub port: i64,
    /// implicit | starttls | none
    pub tls: String,
    pub username: String,
    /// Encrypted password (nonce + ciphertext), write-only for users.
    pub secret: Option<Vec<u8>>,
    pub folder: String,
    /// move | delete
    pub disposal: String,
    pub target_folder: String,
    pub maildir_path: Option<String>,
    pub poll_secs: i64,
    /// Sender verification policy (JSON of `postkorb_verify::Policy`); empty means the safe default.
    pub verify_policy: String,
    /// Hold mail from a sender with more than `storm_max` Vorgänge in `storm_minutes` (0 = off).
    pub storm_max: i64,
    pub storm_minutes: i64,
    /// Extra CA certificate (PEM file) to trust for this mailbox, besides the system roots.
    pub ca_file: Option<String>,
    /// Onboarding cut-off: mails dated before this are left untouched on the server (0 = all).
    pub import_since_ms: i64,
    pub enabled: bool,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub waiting_on_server: Option<i64>,
    /// When the settings were last saved (set by the store; health updates do not change it).
    pub updated_ms: i64,
    /// password | xoauth2 (on save: "" keeps the stored one).
    pub auth: String,
    /// OAuth2 settings and encrypted tokens (on save: `None` keeps what is stored).
    pub oauth: crate::OAuthFields,
    /// The Eingangsbestätigung (off by default; migration 0023).
    pub ack: AckSettings,
}

impl std::fmt::Debug for MailboxRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("secret", &self.secret.as_ref().map(|_| "<encrypted>"))
            .finish_non_exhaustive()
    }
}

impl MailboxRecord {
    /// The row of validated settings (`postkorb_core::mailbox::validate`) in the stored words.
    /// `verify_policy` is the policy's storage form (`postkorb_verify::Policy::to_storage`: the store
    /// does not know verification). Secret, login, storm limit and `enabled` are the caller's.
    pub fn from_settings(name: &str, s: &MailboxSettings, verify_policy: String) -> MailboxRecord {
        MailboxRecord {
            name: name.to_string(),
            protocol: s.protocol.code().into(),
            host: s.host.clone(),
            port: i64::from(s.port),
            tls: s.tls.code().into(),
            username: s.username.clone(),
            folder: s.folder.clone(),
            disposal: s.disposal.code().into(),
            target_folder: s.target_folder.clone(),
            maildir_path: s.maildir_path.clone(),
            poll_secs: s.poll_secs,
            verify_policy,
            import_since_ms: s.import_since_ms,
            ca_file: s.ca_file.clone(),
            ack: s.ack.clone(),
            ..Default::default()
        }
    }
}

const COLUMNS: &str = "id, name, protocol, host, port, tls, username, secret, folder, disposal, target_folder, \
     maildir_path, poll_secs, verify_policy, storm_max, storm_minutes, ca_file, import_since_ms, enabled, last_success_ms, last_error, last_error_ms, \
     waiting_on_server, updated_ms, auth, oauth_provider, oauth_client_id, oauth_tenant, oauth_token_url, oauth_secret, \
     oauth_refresh, oauth_access, oauth_expires_ms, oauth_refreshed_ms, ack_enabled, ack_text, ack_hours, ack_unassigned, \
     ack_unassigned_text";

fn from_row(r: &AnyRow) -> Result<MailboxRecord> {
    Ok(MailboxRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        protocol: r.try_get("protocol")?,
        host: r.try_get("host")?,
        port: r.try_get("port")?,
        tls: r.try_get("tls")?,
        username: r.try_get("username")?,
        secret: r.try_get("secret")?,
        folder: r.try_get("folder")?,
        disposal: r.try_get("disposal")?,
        target_folder: r.try_get("target_folder")?,
        maildir_path: r.try_get("maildir_path")?,
        poll_secs: r.try_get("poll_secs")?,
        verify_policy: r.try_get("verify_policy")?,
        storm_max: r.try_get("storm_max")?,
        storm_minutes: r.try_get("storm_minutes")?,
        ca_file: r.try_get("ca_file")?,
        import_since_ms: r.try_get("import_since_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        auth: r.try_get("auth")?,
        oauth: crate::oauth::from_row(r)?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        last_success_ms: r.try_get("last_success_ms")?,
        last_error: r.try_get("last_error")?,
        last_error_ms: r.try_get("last_error_ms")?,
        waiting_on_server: r.try_get("waiting_on_server")?,
        ack: AckSettings {
            enabled: r.try_get::<i64, _>("ack_enabled")? != 0,
            text: r.try_get("ack_text")?,
            hours: r.try_get("ack_hours")?,
            unassigned: r.try_get::<i64, _>("ack_unassigned")? != 0,
            unassigned_text: r.try_get("ack_unassigned_text")?,
        },
    })
}

/// A deleted mailbox keeps its row (the ledger refers to it, and its keys must stay unique), under
/// the name `DELETED_MARK{id}:{old name}`: a character no form or command line can type, so the
/// name is free again and the row is listed nowhere.
const DELETED_MARK: &str = "\u{1}";

/// What [`Store::delete_mailbox`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailboxDeleted {
    Deleted,
    /// An instance holds the mailbox's fetch lease (a pass, or `serve` watching it): nothing changed.
    Busy,
    NotFound,
}

impl Store {
    /// Every mailbox, by name — without deleted ones ([`Store::delete_mailbox`]).
    pub async fn mailboxes(&self) -> Result<Vec<MailboxRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE name NOT LIKE $1 ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(format!("{DELETED_MARK}%")).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn mailbox(&self, name: &str) -> Result<MailboxRecord> {
        let sql = format!("SELECT {COLUMNS} FROM mailboxes WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("mailbox {name:?}")))?;
        from_row(&row)
    }

    /// [`Store::save_mailbox_by`] for callers without a person behind them (demo, tests).
    pub async fn save_mailbox(&self, m: &MailboxRecord, now_ms: i64) -> Result<MailboxRecord> {
        self.save_mailbox_by(m, now_ms, "system").await
    }

    /// Creates or replaces the settings of the mailbox `m.name`. A `None` secret keeps the stored one
    /// (the password is write-only: a form that leaves it empty does not erase it) — but only while
    /// the endpoint it was entered for stays the same. When server, port, encryption, protocol or
    /// user name change, a stored password and OAuth tokens not given anew are dropped (and an OAuth
    /// client secret when the token endpoint or client changes): they are never sent elsewhere.
    /// Endpoint changes are written to the audit log, old → new, by `actor`.
    pub async fn save_mailbox_by(&self, m: &MailboxRecord, now_ms: i64, actor: &str) -> Result<MailboxRecord> {
        let before = self.mailbox(&m.name).await.ok();
        let (server_moved, oauth_moved, changes) = match &before {
            Some(b) => {
                let mut after = m.clone();
                after.oauth = m.oauth.over(&b.oauth);
                (
                    b.endpoint() != after.endpoint(),
                    b.oauth.endpoint() != after.oauth.endpoint(),
                    crate::endpoint::describe_change(b, &after),
                )
            }
            None => (false, false, Vec::new()),
        };
        let drop_password = server_moved && m.secret.is_none();
        sqlx::query(
            "INSERT INTO mailboxes (name, protocol, host, port, tls, username, secret, folder, disposal,
                 target_folder, maildir_path, poll_secs, enabled, updated_ms, verify_policy, storm_max, storm_minutes, ca_file, import_since_ms,
                 ack_enabled, ack_text, ack_hours, ack_unassigned, ack_unassigned_text)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                 $21, $22, $23, $24, $25)
             ON CONFLICT (name) DO UPDATE SET protocol = excluded.protocol, host = excluded.host,
                 port = excluded.port, tls = excluded.tls, username = excluded.username,
                 secret = CASE WHEN $20 = 1 THEN excluded.secret ELSE COALESCE(excluded.secret, mailboxes.secret) END,
                 folder = excluded.folder,
                 disposal = excluded.disposal, target_folder = excluded.target_folder,
                 maildir_path = excluded.maildir_path, poll_secs = excluded.poll_secs,
                 enabled = excluded.enabled, updated_ms = excluded.updated_ms,
                 verify_policy = excluded.verify_policy, storm_max = excluded.storm_max,
                 storm_minutes = excluded.storm_minutes, ca_file = excluded.ca_file,
                 import_since_ms = excluded.import_since_ms, ack_enabled = excluded.ack_enabled,
                 ack_text = excluded.ack_text, ack_hours = excluded.ack_hours,
                 ack_unassigned = excluded.ack_unassigned, ack_unassigned_text = excluded.ack_unassigned_text",
        )
        .bind(&m.name)
        .bind(&m.protocol)
        .bind(&m.host)
        .bind(m.port)
        .bind(&m.tls)
        .bind(&m.username)
        .bind(m.secret.clone())
        .bind(&m.folder)
        .bind(&m.disposal)
        .bind(&m.target_folder)
        .bind(m.maildir_path.clone())
        .bind(m.poll_secs)
        .bind(m.enabled as i64)
        .bind(now_ms)
        .bind(&m.verify_policy)
        .bind(m.storm_max)
        .bind(m.storm_minutes)
        .bind(m.ca_file.clone())
        .bind(m.import_since_ms)
        .bind(drop_password as i64)
        .bind(m.ack.enabled as i64)
        .bind(&m.ack.text)
        .bind(m.ack.hours)
        .bind(m.ack.unassigned as i64)
        .bind(&m.ack.unassigned_text)
        .execute(&self.pool)
        .await?;
        let drop_tokens = (server_moved || oauth_moved) && m.oauth.refresh.is_none() && m.oauth.access.is_none();
        let drop_client_secret = oauth_moved && m.oauth.client_secret.is_none();
        self.write_oauth_settings(&m.name, &m.auth, &m.oauth, drop_tokens, drop_client_secret).await?;
        let saved = self.mailbox(&m.name).await?;
        if !changes.is_empty() {
            let dropped = before.as_ref().is_some_and(|b| {
                (drop_password && b.secret.is_some())
                    || (drop_tokens && b.oauth.refresh.is_some())
                    || (drop_client_secret && b.oauth.client_secret.is_some())
            });
            let entry = postkorb_core::AuditEntry::MailboxEndpoint { mailbox: m.name.clone(), changes, dropped };
            self.audit_entry(now_ms, actor, &entry).await?;
        }
        if before.as_ref().is_some_and(|b| b.endpoint() != saved.endpoint() || b.folder != saved.folder) {
            // Another server, account or folder: a Graph mailbox lists afresh and subscribes anew.
            for sql in [
                "DELETE FROM source_state WHERE mailbox_id = $1",
                "DELETE FROM graph_subscriptions WHERE mailbox_id = $1",
            ] {
                sqlx::query(sql).bind(saved.id).execute(&self.pool).await?;
            }
        }
        if before.is_some_and(|b| b.import_since_ms != m.import_since_ms) {
            // A new cut-off: what was left on the server is judged again on the next pass.
            sqlx::query("DELETE FROM ledger WHERE mailbox_id = $1 AND outcome = 'ignored'")
                .bind(saved.id)
                .execute(&self.pool)
                .await?;
        }
        Ok(saved)
    }

    /// Switches fetching of the mailbox `name` on or off (`serve` and `fetch` skip a disabled one;
    /// a running watch stops at its next check). False if there is no such mailbox.
    pub async fn set_mailbox_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE mailboxes SET enabled = $1 WHERE name = $2")
            .bind(enabled as i64)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes the mailbox `name`, refused while any instance holds its fetch lease (a live
    /// lease at `now_ms`). The Vorgänge, kept mails and the ledger stay: the row stays for the
    /// ledger's sake, renamed out of the way, disabled, with every stored secret, the health, the
    /// DNS retries and OAuth flows in progress removed.
    pub async fn delete_mailbox(&self, name: &str, now_ms: i64) -> Result<MailboxDeleted> {
        let mut tx = self.begin_write().await?;
        let Some(row) =
            sqlx::query("SELECT id FROM mailboxes WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?
        else {
            return Ok(MailboxDeleted::NotFound);
        };
        let id: i64 = row.try_get(0)?;
        let leased = sqlx::query("SELECT 1 FROM mailbox_leases WHERE mailbox_id = $1 AND expires_ms > $2")
            .bind(id)
            .bind(now_ms)
            .fetch_optional(&mut *tx)
            .await?;
        if leased.is_some() {
            return Ok(MailboxDeleted::Busy);
        }
        sqlx::query(
            "UPDATE mailboxes SET name = $1, enabled = 0, secret = NULL, oauth_secret = NULL, oauth_refresh = NULL,
                 oauth_access = NULL, last_error = NULL, waiting_on_server = NULL, updated_ms = $2 WHERE id = $3",
        )
        .bind(format!("{DELETED_MARK}{id}:{name}"))
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM mailbox_leases WHERE mailbox_id = $1",
            "DELETE FROM dns_retries WHERE mailbox_id = $1",
            "DELETE FROM source_state WHERE mailbox_id = $1",
            "DELETE FROM graph_subscriptions WHERE mailbox_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM oauth_pending WHERE mailbox = $1").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(MailboxDeleted::Deleted)
    }

    pub async fn record_fetch_success(&self, mailbox_id: i64, now_ms: i64, waiting: i64) -> Result<()> {
        sqlx::query(
            "UPDATE mailboxes SET last_success_ms = $1, waiting_on_server = $2, last_error = NULL WHERE id = $3",
        )
        .bind(now_ms)
        .bind(waiting)
        .bind(mailbox_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn record_fetch_error(&self, mailbox_id: i64, now_ms: i64, error: &str) -> Result<()> {
        sqlx::query("UPDATE mailboxes SET last_error = $1, last_error_ms = $2 WHERE id = $3")
            .bind(error)
            .bind(now_ms)
            .bind(mailbox_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// When the newest mail of this mailbox was stored (Vorgang or kept), if ever.
    pub async fn last_import_ms(&self, mailbox_id: i64) -> Result<Option<i64>> {
        let row =
            sqlx::query("SELECT MAX(imported_ms) FROM ledger WHERE mailbox_id = $1 AND outcome IN ('case', 'kept')")
                .bind(mailbox_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get(0)?)
    }

    /// (imported as Vorgang, kept, duplicates) for a mailbox, from the ledger.
    pub async fn mailbox_counts(&self, mailbox_id: i64) -> Result<(i64, i64, i64)> {
        let row = sqlx::query(
            "SELECT
                COALESCE(SUM(CASE WHEN outcome = 'case' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN outcome = 'kept' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN outcome = 'duplicate' THEN 1 ELSE 0 END), 0)
             FROM ledger WHERE mailbox_id = $1",
        )
        .bind(mailbox_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
    }
}
