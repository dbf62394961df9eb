//! Stored mailbox settings ↔ the source adapter's connection settings.

use anyhow::{Context, bail};
use postkorb_core::mailbox::{AuthKind, Disposal as Disposing};
use postkorb_source::{Auth, Disposal, NetPolicy, Protocol, SourceConfig, TlsMode};
use postkorb_store::{MailboxRecord, SecretColumn};

use crate::secret::SecretKey;

/// Opens the stored secret of `column`, bound to the mailbox's current endpoint.
pub fn open_secret(m: &MailboxRecord, key: &SecretKey, column: SecretColumn) -> anyhow::Result<Option<String>> {
    match m.secret_in(column) {
        None => Ok(None),
        Some(blob) => key.open(blob, &m.secret_binding(column)).map(Some).map_err(|e| {
            let what = match column {
                SecretColumn::Password => "password",
                SecretColumn::OAuthClientSecret => "OAuth client secret",
                SecretColumn::OAuthRefresh => "OAuth refresh token",
                SecretColumn::OAuthAccess => "OAuth access token",
            };
            anyhow::Error::new(e).context(format!("mailbox {:?}: {what}", m.name))
        }),
    }
}

/// Seals `plain` as the value of `column` of `m` as it will be stored (endpoint included).
pub fn seal_secret(m: &MailboxRecord, key: &SecretKey, column: SecretColumn, plain: &str) -> anyhow::Result<Vec<u8>> {
    key.seal(plain, &m.secret_binding(column))
}

/// `m` with `password` sealed for it, as it is about to be saved.
pub fn with_password(mut m: MailboxRecord, key: &SecretKey, password: &str) -> anyhow::Result<MailboxRecord> {
    m.secret = Some(seal_secret(&m, key, SecretColumn::Password, password)?);
    Ok(m)
}

/// An OAuth2 mailbox (every Microsoft Graph mailbox is one) without an access token yet.
#[derive(Debug, thiserror::Error)]
#[error(
    "not connected: mailbox {0:?} has no OAuth2 token yet; connect it in the form or with \
     `postkorb mailbox oauth --name {0}`"
)]
pub struct NotConnected(pub String);

/// Password, or the stored OAuth2 access token (refreshed by `oauth::fresh_config`): XOAUTH2, or
/// Microsoft Graph's bearer token, which has no password login.
fn auth(m: &MailboxRecord, key: &SecretKey) -> anyhow::Result<Auth> {
    let graph = m.protocol == Protocol::Graph.code();
    if AuthKind::of_stored(&m.auth) == AuthKind::Password && !graph {
        return Ok(Auth::Password);
    }
    let stored =
        if AuthKind::of_stored(&m.auth).is_oauth() { open_secret(m, key, SecretColumn::OAuthAccess)? } else { None };
    let access_token = stored.ok_or_else(|| NotConnected(m.name.clone()))?;
    Ok(Auth::XOAuth2 { access_token })
}

/// Builds the connection settings, opening the stored password (or OAuth2 access token) for exactly
/// the endpoint it was entered for.
pub fn source_config(m: &MailboxRecord, key: &SecretKey, net: NetPolicy) -> anyhow::Result<SourceConfig> {
    let protocol = Protocol::from_code(&m.protocol)
        .with_context(|| format!("mailbox {:?} has an unknown protocol {:?}", m.name, m.protocol))?;
    let tls = TlsMode::from_code(&m.tls)
        .with_context(|| format!("mailbox {:?} has an unknown encryption {:?}", m.name, m.tls))?;
    if protocol != Protocol::Maildir && m.host.is_empty() {
        bail!("mailbox {:?} has no server set", m.name);
    }
    let password = if AuthKind::of_stored(&m.auth).is_oauth() {
        String::new()
    } else {
        open_secret(m, key, SecretColumn::Password)?.unwrap_or_default()
    };
    Ok(SourceConfig {
        protocol,
        host: m.host.clone(),
        port: u16::try_from(m.port).unwrap_or(0),
        tls,
        username: m.username.clone(),
        password,
        auth: auth(m, key)?,
        folder: if m.folder.is_empty() { "INBOX".into() } else { m.folder.clone() },
        disposal: match Disposing::of_stored(&m.disposal) {
            Disposing::Delete => Disposal::Delete,
            Disposing::Move => Disposal::MoveTo(m.target_folder.clone()),
        },
        maildir: m.maildir_path.clone().map(Into::into),
        ca_file: m.ca_file.clone().filter(|p| !p.trim().is_empty()).map(Into::into),
        net,
        graph: Default::default(),
    })
}

/// The record to try („Verbindung testen“, „Probelauf“) from unsaved settings, never stored: the
/// stored mailbox of that name (if any) lends its row id (the ledger's keys), login kind, OAuth
/// settings and secrets; a typed `password` is sealed for the new settings in memory. A stored
/// secret opens only if the endpoint is unchanged, so a changed server never receives it.
pub fn trial_record(
    stored: Option<&MailboxRecord>,
    record: MailboxRecord,
    key: &SecretKey,
    password: Option<&str>,
) -> anyhow::Result<MailboxRecord> {
    let mut m = match stored {
        Some(s) => MailboxRecord {
            id: s.id,
            auth: if record.auth.is_empty() { s.auth.clone() } else { record.auth.clone() },
            oauth: record.oauth.over(&s.oauth),
            secret: s.secret.clone(),
            ..record
        },
        None => MailboxRecord { id: 0, ..record },
    };
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        m = with_password(m, key, password)?;
    }
    Ok(m)
}
