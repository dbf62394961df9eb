//! Stored mailbox settings ↔ the source adapter's connection settings.

use anyhow::{Context, bail};
use postkorb_source::{Auth, Disposal, Protocol, SourceConfig, TlsMode};
use postkorb_store::MailboxRecord;

use crate::secret::SecretKey;

pub fn parse_protocol(s: &str) -> anyhow::Result<Protocol> {
    Ok(match s {
        "imap" => Protocol::Imap,
        "pop3" => Protocol::Pop3,
        "maildir" => Protocol::Maildir,
        other => bail!("unknown protocol {other:?}: use imap, pop3 or maildir"),
    })
}

pub fn parse_tls(s: &str) -> anyhow::Result<TlsMode> {
    Ok(match s {
        "implicit" | "tls" | "ssl" => TlsMode::Implicit,
        "starttls" => TlsMode::StartTls,
        "none" => TlsMode::None,
        other => bail!("unknown encryption {other:?}: use implicit, starttls or none"),
    })
}

/// The usual port for a protocol and encryption.
pub fn default_port(protocol: Protocol, tls: TlsMode) -> u16 {
    match (protocol, tls) {
        (Protocol::Imap, TlsMode::Implicit) => 993,
        (Protocol::Imap, _) => 143,
        (Protocol::Pop3, TlsMode::Implicit) => 995,
        (Protocol::Pop3, _) => 110,
        (Protocol::Maildir, _) => 0,
    }
}

/// Password, or XOAUTH2 with the stored access token (refreshed by `oauth::fresh_config`).
fn auth(m: &MailboxRecord, key: &SecretKey) -> anyhow::Result<Auth> {
    if m.auth != "xoauth2" {
        return Ok(Auth::Password);
    }
    let blob = m.oauth.access.as_ref().with_context(|| {
        format!("mailbox {:?} uses OAuth2 but has no token: run `postkorb mailbox oauth --name {}`", m.name, m.name)
    })?;
    let access_token = key.decrypt(blob).with_context(|| format!("mailbox {:?}: OAuth2 access token", m.name))?;
    Ok(Auth::XOAuth2 { access_token })
}

/// Builds the connection settings, decrypting the stored password (or OAuth2 access token).
pub fn source_config(m: &MailboxRecord, key: &SecretKey) -> anyhow::Result<SourceConfig> {
    let protocol = parse_protocol(&m.protocol)?;
    let tls = parse_tls(&m.tls)?;
    let password = match &m.secret {
        Some(blob) => key.decrypt(blob).with_context(|| format!("mailbox {:?}", m.name))?,
        None => String::new(),
    };
    if protocol != Protocol::Maildir && m.host.is_empty() {
        bail!("mailbox {:?} has no server set", m.name);
    }
    Ok(SourceConfig {
        protocol,
        host: m.host.clone(),
        port: u16::try_from(m.port).unwrap_or(0),
        tls,
        username: m.username.clone(),
        password,
        auth: auth(m, key)?,
        folder: if m.folder.is_empty() { "INBOX".into() } else { m.folder.clone() },
        disposal: if m.disposal == "delete" { Disposal::Delete } else { Disposal::MoveTo(m.target_folder.clone()) },
        maildir: m.maildir_path.clone().map(Into::into),
        ca_file: m.ca_file.clone().filter(|p| !p.trim().is_empty()).map(Into::into),
    })
}
