//! Sending mail (migration 0023): the office's one SMTP account („E-Mail-Versand“) and the record
//! of Eingangsbestätigungen sent (at most one per sender and mailbox per period).
//!
//! The password is sealed by the app for its endpoint ([`SmtpRecord::secret_binding`]), like a
//! mailbox password: saving settings that change host, port, encryption or user name without a
//! new password drops the stored one, and the change is audited.

use postkorb_core::AuditEntry;
use postkorb_core::ack::AckFacts;
use sqlx::Row;

use crate::{Result, Store};

/// The SMTP settings as stored (one row).
#[derive(Clone, Default)]
pub struct SmtpRecord {
    pub host: String,
    pub port: i64,
    /// implicit | starttls | none
    pub tls: String,
    pub username: String,
    /// Sealed password; on save `None` keeps the stored one (while the endpoint stays).
    pub secret: Option<Vec<u8>>,
    pub ca_file: Option<String>,
    pub sender_address: String,
    pub sender_name: String,
    pub updated_ms: i64,
}

impl std::fmt::Debug for SmtpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRecord")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("secret", &self.secret.as_ref().map(|_| "<encrypted>"))
            .field("sender_address", &self.sender_address)
            .finish_non_exhaustive()
    }
}

impl SmtpRecord {
    /// What the password is bound to: host, port, encryption and user name, normalised.
    fn endpoint(&self) -> [String; 4] {
        [
            self.host.trim().trim_end_matches('.').to_ascii_lowercase(),
            self.port.to_string(),
            self.tls.trim().to_ascii_lowercase(),
            self.username.trim().to_string(),
        ]
    }

    /// The associated data the password is sealed with: it opens only for this endpoint.
    pub fn secret_binding(&self) -> Vec<u8> {
        let mut parts = vec!["postkorb/smtp-secret/v1".to_string()];
        parts.extend(self.endpoint());
        parts.iter().flat_map(|p| format!("{}:{p}\0", p.len()).into_bytes()).collect()
    }
}

/// "Server a → b" for the audit log; empty when the endpoint stayed.
fn describe_change(before: &SmtpRecord, after: &SmtpRecord) -> Vec<String> {
    let (a, b) = (before.endpoint(), after.endpoint());
    let show = |v: &str| if v.is_empty() { "(leer)".to_string() } else { v.to_string() };
    ["Server", "Port", "Verschlüsselung", "Benutzername"]
        .iter()
        .zip(a.iter().zip(b.iter()))
        .filter(|(_, (old, new))| old != new)
        .map(|(what, (old, new))| format!("{what} {} → {}", show(old), show(new)))
        .collect()
}

impl Store {
    /// The SMTP settings, if any were saved.
    pub async fn smtp_settings(&self) -> Result<Option<SmtpRecord>> {
        let row = sqlx::query(
            "SELECT host, port, tls, username, secret, ca_file, sender_address, sender_name, updated_ms
             FROM smtp_settings WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SmtpRecord {
            host: r.try_get("host")?,
            port: r.try_get("port")?,
            tls: r.try_get("tls")?,
            username: r.try_get("username")?,
            secret: r.try_get("secret")?,
            ca_file: r.try_get("ca_file")?,
            sender_address: r.try_get("sender_address")?,
            sender_name: r.try_get("sender_name")?,
            updated_ms: r.try_get("updated_ms")?,
        }))
    }

    /// Saves the SMTP settings. A `None` secret keeps the stored password — only while host, port,
    /// encryption and user name stay; otherwise it is dropped (never sent elsewhere). Audited by
    /// `actor` with the endpoint's changes.
    pub async fn save_smtp_by(&self, s: &SmtpRecord, now_ms: i64, actor: &str) -> Result<SmtpRecord> {
        let before = self.smtp_settings().await?;
        let changes = before.as_ref().map(|b| describe_change(b, s)).unwrap_or_default();
        let drop_password = !changes.is_empty() && s.secret.is_none();
        sqlx::query(
            "INSERT INTO smtp_settings (id, host, port, tls, username, secret, ca_file, sender_address, sender_name, updated_ms)
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port, tls = excluded.tls,
                 username = excluded.username,
                 secret = CASE WHEN $10 = 1 THEN excluded.secret ELSE COALESCE(excluded.secret, smtp_settings.secret) END,
                 ca_file = excluded.ca_file, sender_address = excluded.sender_address,
                 sender_name = excluded.sender_name, updated_ms = excluded.updated_ms",
        )
        .bind(&s.host)
        .bind(s.port)
        .bind(&s.tls)
        .bind(&s.username)
        .bind(s.secret.clone())
        .bind(s.ca_file.clone())
        .bind(&s.sender_address)
        .bind(&s.sender_name)
        .bind(now_ms)
        .bind(drop_password as i64)
        .execute(&self.pool)
        .await?;
        let dropped = drop_password && before.as_ref().is_some_and(|b| b.secret.is_some());
        self.audit_entry(now_ms, actor, &AuditEntry::SaveSmtp { changes, dropped }).await?;
        Ok(self.smtp_settings().await?.unwrap_or_default())
    }

    /// What the import recorded about the kept mail `kept_id` for the Eingangsbestätigung (for a
    /// Vorgang it is in the `created` event's payload). `None` for rows from before migration 0023.
    pub async fn kept_ack_facts(&self, kept_id: i64) -> Result<Option<AckFacts>> {
        let row =
            sqlx::query("SELECT ack_facts FROM kept WHERE id = $1").bind(kept_id).fetch_optional(&self.pool).await?;
        let json: Option<String> = match row {
            Some(r) => r.try_get(0)?,
            None => None,
        };
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Takes back the claim `ack_claim` made at `claimed_ms` (its mail could not be sent), so a
    /// retry may send it; a later claim is left alone.
    pub async fn ack_unclaim(&self, mailbox_id: i64, sender: &str, claimed_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM ack_sent WHERE mailbox_id = $1 AND sender = $2 AND sent_ms = $3")
            .bind(mailbox_id)
            .bind(sender.trim().to_lowercase())
            .bind(claimed_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records „an Eingangsbestätigung goes to `sender` now“ for the mailbox — only if none was
    /// recorded within the last `hours` (one conditional upsert: of racing instances exactly one
    /// gets true). True: send it. The address is compared in lower case.
    pub async fn ack_claim(&self, mailbox_id: i64, sender: &str, now_ms: i64, hours: i64) -> Result<bool> {
        let before = now_ms - hours.max(0) * 3_600_000;
        let done = sqlx::query(
            "INSERT INTO ack_sent (mailbox_id, sender, sent_ms) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox_id, sender) DO UPDATE SET sent_ms = excluded.sent_ms
             WHERE ack_sent.sent_ms <= $4",
        )
        .bind(mailbox_id)
        .bind(sender.trim().to_lowercase())
        .bind(now_ms)
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
