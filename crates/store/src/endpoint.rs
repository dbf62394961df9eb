//! What a mailbox's stored secrets are bound to: the server and account they were entered for.
//!
//! A password or OAuth token is sealed by the app with [`MailboxRecord::secret_binding`] as the
//! AEAD's associated data, so it opens only for the same row, column and endpoint. Saving settings
//! that change the endpoint without a new secret drops the stored one (`Store::save_mailbox_by`) and
//! writes the change, old → new, to the audit log.

use sqlx::AssertSqlSafe;

use crate::{MailboxRecord, OAuthFields, Result, Store};

/// The encrypted columns of a mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretColumn {
    Password,
    OAuthClientSecret,
    OAuthRefresh,
    OAuthAccess,
}

impl SecretColumn {
    pub const ALL: [SecretColumn; 4] = [
        SecretColumn::Password,
        SecretColumn::OAuthClientSecret,
        SecretColumn::OAuthRefresh,
        SecretColumn::OAuthAccess,
    ];

    fn column(self) -> &'static str {
        match self {
            SecretColumn::Password => "secret",
            SecretColumn::OAuthClientSecret => "oauth_secret",
            SecretColumn::OAuthRefresh => "oauth_refresh",
            SecretColumn::OAuthAccess => "oauth_access",
        }
    }
}

/// The server and account a password is sent to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub protocol: String,
    pub host: String,
    pub port: i64,
    pub tls: String,
    pub username: String,
}

/// Where OAuth tokens are refreshed, and for which client.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OAuthEndpoint {
    pub provider: String,
    pub tenant: String,
    pub token_url: String,
    pub client_id: String,
}

impl MailboxRecord {
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            protocol: self.protocol.trim().to_ascii_lowercase(),
            host: self.host.trim().trim_end_matches('.').to_ascii_lowercase(),
            port: self.port,
            tls: self.tls.trim().to_ascii_lowercase(),
            username: self.username.trim().to_string(),
        }
    }

    /// The associated data a secret of `column` is sealed with: row, column and endpoint. OAuth
    /// values are bound to the mail server as well as to the token endpoint, since the access
    /// token is sent to the one and the refresh token to the other.
    pub fn secret_binding(&self, column: SecretColumn) -> Vec<u8> {
        let e = self.endpoint();
        let mut parts = vec![
            "postkorb/mailbox-secret/v1".to_string(),
            column.column().to_string(),
            self.name.clone(),
            e.protocol,
            e.host,
            e.port.to_string(),
            e.tls,
            e.username,
        ];
        if column != SecretColumn::Password {
            let o = self.oauth.endpoint();
            parts.extend([o.provider, o.tenant, o.token_url, o.client_id]);
        }
        // NUL cannot occur in any part that matters (host names, URLs); lengths make it unambiguous anyway.
        parts.iter().flat_map(|p| format!("{}:{p}\0", p.len()).into_bytes()).collect()
    }

    pub fn secret_in(&self, column: SecretColumn) -> Option<&[u8]> {
        match column {
            SecretColumn::Password => self.secret.as_deref(),
            SecretColumn::OAuthClientSecret => self.oauth.client_secret.as_deref(),
            SecretColumn::OAuthRefresh => self.oauth.refresh.as_deref(),
            SecretColumn::OAuthAccess => self.oauth.access.as_deref(),
        }
    }
}

impl OAuthFields {
    pub fn endpoint(&self) -> OAuthEndpoint {
        let s = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_string();
        OAuthEndpoint {
            provider: s(&self.provider),
            tenant: s(&self.tenant),
            token_url: s(&self.token_url),
            client_id: s(&self.client_id),
        }
    }

    /// These settings laid over the stored ones (`None` keeps), as `write_oauth_settings` writes them.
    pub fn over(&self, stored: &OAuthFields) -> OAuthFields {
        let pick = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
        OAuthFields {
            provider: pick(&self.provider, &stored.provider),
            tenant: pick(&self.tenant, &stored.tenant),
            token_url: pick(&self.token_url, &stored.token_url),
            client_id: pick(&self.client_id, &stored.client_id),
            ..stored.clone()
        }
    }
}

/// "Server imap.a.de → evil.example", "Port 993 → 2993" for the audit log; empty when nothing changed.
pub(crate) fn describe_change(before: &MailboxRecord, after: &MailboxRecord) -> Vec<String> {
    let (a, b) = (before.endpoint(), after.endpoint());
    let (oa, ob) = (before.oauth.endpoint(), after.oauth.endpoint());
    let mut out = Vec::new();
    let mut diff = |what: &str, old: &str, new: &str| {
        if old != new {
            let show = |v: &str| if v.is_empty() { "(leer)".to_string() } else { v.to_string() };
            out.push(format!("{what} {} → {}", show(old), show(new)));
        }
    };
    diff("Protokoll", &a.protocol, &b.protocol);
    diff("Server", &a.host, &b.host);
    diff("Port", &a.port.to_string(), &b.port.to_string());
    diff("Verschlüsselung", &a.tls, &b.tls);
    diff("Benutzername", &a.username, &b.username);
    diff("OAuth-Anbieter", &oa.provider, &ob.provider);
    diff("OAuth-Tenant", &oa.tenant, &ob.tenant);
    diff("Token-URL", &oa.token_url, &ob.token_url);
    diff("Client-ID", &oa.client_id, &ob.client_id);
    out
}

impl Store {
    /// Replaces one encrypted value if it still is `old` (re-sealing); false when it changed meanwhile.
    pub async fn replace_secret(&self, mailbox_id: i64, column: SecretColumn, old: &[u8], new: &[u8]) -> Result<bool> {
        let col = column.column();
        let sql = format!("UPDATE mailboxes SET {col} = $1 WHERE id = $2 AND {col} = $3");
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(new.to_vec())
            .bind(mailbox_id)
            .bind(old.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
