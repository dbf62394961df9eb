//! One typed settings struct: defaults → TOML file → environment. Passed down, never global.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the embedded database, the key file and the demo live.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` (default: DATA_DIR/postkorb.db) or `postgres://…`.
    pub database_url: Option<String>,
    /// Address of the HTTP endpoint (health now, the web UI later).
    pub listen: String,
    /// The key that encrypts mailbox passwords (default: DATA_DIR/secret.key, created 0600).
    pub key_file: Option<PathBuf>,
    /// Mails per database transaction during import.
    pub batch_size: usize,
    /// Fetch lease per mailbox, seconds: with several instances on one database, a dead instance's
    /// mailboxes are taken over after at most this long (env POSTKORB_LEASE_SECS).
    pub lease_secs: u64,
    /// Raw mails and attachments as files in this directory instead of in the database
    /// (several instances must share it). "" = in the database. Unset: DATA_DIR/blobs with the
    /// embedded SQLite, in the database with PostgreSQL. See [`Settings::effective_blob_dir`].
    /// Env POSTKORB_BLOB_DIR.
    pub blob_dir: Option<PathBuf>,
    /// The address people reach Postkorb at, e.g. `https://postkorb.buero.de` (for the OAuth
    /// redirect of the mailbox form; env POSTKORB_PUBLIC_URL). Default: http://localhost:PORT.
    pub public_url: Option<String>,
    /// Maildir sources the web form may name must lie below this directory; unset, the web may
    /// name none (the CLI may set any). Env POSTKORB_MAILDIR_ROOT.
    pub maildir_root: Option<PathBuf>,
    /// Extra CA certificates (PEM files) the web form may name must lie in this directory
    /// (default: DATA_DIR/ca). Env POSTKORB_CA_DIR.
    pub ca_dir: Option<PathBuf>,
    /// Whether mail servers and OAuth token endpoints may be on loopback, link-local or private
    /// addresses. True by default: a small office's mail server is often in its own LAN. False
    /// refuses them (a hosted Postkorb that only talks to public providers). Env
    /// POSTKORB_ALLOW_PRIVATE_HOSTS (true/false).
    pub allow_private_hosts: bool,
    /// `/metrics` is served to loopback clients, and to others only with
    /// `Authorization: Bearer <metrics_token>`. Env POSTKORB_METRICS_TOKEN.
    pub metrics_token: Option<String>,
    /// Set the session cookie's `Secure` flag even when `public_url` is not `https://…` (it is set
    /// whenever it is), e.g. when TLS ends at a proxy reached by another name
    /// (env POSTKORB_FORCE_SECURE_COOKIES=true). See [`Settings::secure_cookies`].
    pub force_secure_cookies: bool,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` names the client, for the login
    /// limit per client address. Empty (default): the header is ignored and the TCP peer is the
    /// client, so behind nginx on the same host list `"127.0.0.1"`, or every client shares the
    /// proxy's address (env POSTKORB_TRUSTED_PROXIES, comma-separated).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Hours a mail whose sender check fails on DNS (timeout, server failure) stays on the server
    /// and is tried again with back-off; then it is kept as „Absender nicht verifiziert (DNS nicht
    /// erreichbar)“. 0: kept at the first failure. Default 24 (env POSTKORB_DNS_RETRY_HOURS).
    pub dns_retry_hours: u64,
    /// Notification mails quote the first lines of the mail's text (`notify_mail::PREVIEW_LINES`).
    /// Off by default (privacy: the text stays in Postkorb); env POSTKORB_NOTIFY_INCLUDE_TEXT.
    pub notify_include_text: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("data"),
            database_url: None,
            listen: "127.0.0.1:8080".into(),
            key_file: None,
            batch_size: 100,
            lease_secs: 60,
            blob_dir: None,
            public_url: None,
            maildir_root: None,
            ca_dir: None,
            allow_private_hosts: true,
            metrics_token: None,
            force_secure_cookies: false,
            trusted_proxies: Vec::new(),
            dns_retry_hours: 24,
            notify_include_text: false,
        }
    }
}

impl Settings {
    /// Loads the file (if given) and applies `POSTKORB_*` environment overrides.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Settings::default(),
        };
        if let Ok(v) = std::env::var("POSTKORB_DATA_DIR") {
            s.data_dir = v.into();
        }
        if let Ok(v) = std::env::var("POSTKORB_DATABASE_URL") {
            s.database_url = Some(v);
        }
        if let Ok(v) = std::env::var("POSTKORB_LISTEN") {
            s.listen = v;
        }
        if let Ok(v) = std::env::var("POSTKORB_KEY_FILE") {
            s.key_file = Some(v.into());
        }
        if let Ok(v) = std::env::var("POSTKORB_PUBLIC_URL") {
            s.public_url = Some(v);
        }
        if let Ok(v) = std::env::var("POSTKORB_BLOB_DIR") {
            s.blob_dir = Some(PathBuf::from(v));
        }
        if let Ok(v) = std::env::var("POSTKORB_MAILDIR_ROOT") {
            s.maildir_root = Some(PathBuf::from(v));
        }
        if let Ok(v) = std::env::var("POSTKORB_CA_DIR") {
            s.ca_dir = Some(PathBuf::from(v));
        }
        if let Ok(v) = std::env::var("POSTKORB_METRICS_TOKEN") {
            s.metrics_token = Some(v).filter(|t| !t.is_empty());
        }
        if let Ok(v) = std::env::var("POSTKORB_ALLOW_PRIVATE_HOSTS") {
            s.allow_private_hosts = match v.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => anyhow::bail!("POSTKORB_ALLOW_PRIVATE_HOSTS={v:?}: use true or false"),
            };
        }
        if let Ok(v) = std::env::var("POSTKORB_FORCE_SECURE_COOKIES") {
            s.force_secure_cookies =
                v.parse().with_context(|| format!("POSTKORB_FORCE_SECURE_COOKIES={v:?} is not true or false"))?;
        }
        if let Ok(v) = std::env::var("POSTKORB_TRUSTED_PROXIES") {
            s.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().with_context(|| format!("POSTKORB_TRUSTED_PROXIES: {p:?} is not an IP address")))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Ok(v) = std::env::var("POSTKORB_LEASE_SECS") {
            s.lease_secs =
                v.parse().with_context(|| format!("POSTKORB_LEASE_SECS={v:?} is not a number of seconds"))?;
        }
        if let Ok(v) = std::env::var("POSTKORB_DNS_RETRY_HOURS") {
            s.dns_retry_hours =
                v.parse().with_context(|| format!("POSTKORB_DNS_RETRY_HOURS={v:?} is not a number of hours"))?;
        }
        if let Ok(v) = std::env::var("POSTKORB_NOTIFY_INCLUDE_TEXT") {
            s.notify_include_text =
                v.parse().with_context(|| format!("POSTKORB_NOTIFY_INCLUDE_TEXT={v:?} is not true or false"))?;
        }
        if s.lease_secs == 0 {
            anyhow::bail!("lease_secs must be at least 1");
        }
        if s.batch_size == 0 {
            anyhow::bail!("batch_size must be at least 1");
        }
        Ok(s)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("postkorb.db").display()))
    }

    /// Where new raw mails and attachments go: `blob_dir` when set (`""`: into the database).
    /// Unset, the embedded SQLite keeps them as files in DATA_DIR/blobs: each mail is written
    /// once (not into SQLite's WAL and then again into the database file), the database stays
    /// small, and `postkorb backup` copies the files with the snapshot. PostgreSQL keeps them in
    /// the database unless a `blob_dir` shared by all instances is set: a directory of one
    /// instance would not be readable by the others.
    pub fn effective_blob_dir(&self) -> Option<PathBuf> {
        match &self.blob_dir {
            Some(dir) if dir.as_os_str().is_empty() => None,
            Some(dir) => Some(dir.clone()),
            None if self.database_url().starts_with("sqlite:") => Some(self.data_dir.join("blobs")),
            None => None,
        }
    }

    /// The address people reach Postkorb at, without a trailing slash: `public_url`, or
    /// `http://localhost:PORT`. Links in notification mails start here
    /// (`postkorb_web::notify_mail::case_link`).
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://localhost:{}", self.listen.rsplit(':').next().unwrap_or("8080")),
        }
    }

    /// Where the OAuth provider sends the browser back to.
    pub fn oauth_redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.public_base())
    }

    /// Whether cookies get the `Secure` flag: when people reach Postkorb over HTTPS
    /// (`public_url` starts with `https://`), or when `force_secure_cookies` says so.
    pub fn secure_cookies(&self) -> bool {
        self.force_secure_cookies
            || self.public_url.as_deref().is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// How long a mail whose sender check fails on DNS is tried again (`dns_retry_hours`).
    pub fn dns_give_up(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.dns_retry_hours.saturating_mul(3600))
    }

    pub fn lease_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs)
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.ca_dir.clone().unwrap_or_else(|| self.data_dir.join("ca"))
    }

    /// Outgoing connections (mail servers, token endpoints) may reach these addresses.
    pub fn net(&self) -> postkorb_source::NetPolicy {
        postkorb_source::NetPolicy { allow_private_hosts: self.allow_private_hosts }
    }

    /// The database URL with any password replaced, for messages and logs.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url())
    }

    pub fn key_file(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| self.data_dir.join("secret.key"))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map(|(u, _)| format!("{u}:***")).unwrap_or_else(|| userinfo.into());
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_password_never_appears_in_a_shown_url() {
        assert_eq!(redact_url("postgres://pk:s3cr%40t@db.lan:5432/pk"), "postgres://pk:***@db.lan:5432/pk");
        assert_eq!(redact_url("postgres://pk:a@b@db/pk?sslmode=require"), "postgres://pk:***@db/pk?sslmode=require");
        assert_eq!(redact_url("postgres://pk@db/pk"), "postgres://pk@db/pk");
        assert_eq!(redact_url("sqlite:/srv/pk/postkorb.db"), "sqlite:/srv/pk/postkorb.db");
    }

    #[test]
    fn unknown_keys_in_the_config_file_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "data_dir = \"x\"\nlisten_typo = \"y\"\n").unwrap();
        let err = format!("{:#}", Settings::load(Some(&p)).unwrap_err());
        assert!(err.contains("listen_typo"), "{err}");
    }

    #[test]
    fn raw_mails_are_files_beside_sqlite_and_in_postgresql_unless_blob_dir_says_otherwise() {
        let default = Settings::default();
        assert_eq!(default.effective_blob_dir(), Some(PathBuf::from("data/blobs")));
        let s: Settings = toml::from_str("blob_dir = \"/srv/pk/blobs\"\n").unwrap();
        assert_eq!(s.effective_blob_dir(), Some(PathBuf::from("/srv/pk/blobs")));
        let s: Settings = toml::from_str("blob_dir = \"\"\n").unwrap();
        assert_eq!(s.effective_blob_dir(), None, "empty: in the database");
        let s: Settings = toml::from_str("database_url = \"sqlite:/x/pk.db\"\ndata_dir = \"/d\"\n").unwrap();
        assert_eq!(s.effective_blob_dir(), Some(PathBuf::from("/d/blobs")));
        let pg: Settings = toml::from_str("database_url = \"postgres://pk@db/pk\"\n").unwrap();
        assert_eq!(pg.effective_blob_dir(), None, "one instance's directory is not the others'");
        let s: Settings = toml::from_str("database_url = \"postgres://pk@db/pk\"\nblob_dir = \"/nfs/pk\"\n").unwrap();
        assert_eq!(s.effective_blob_dir(), Some(PathBuf::from("/nfs/pk")));
    }

    #[test]
    fn the_database_defaults_to_sqlite_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "data_dir = \"/srv/pk\"\n").unwrap();
        let s = Settings::load(Some(&p)).unwrap();
        assert_eq!(s.database_url(), "sqlite:/srv/pk/postkorb.db");
        assert_eq!(s.key_file(), PathBuf::from("/srv/pk/secret.key"));
    }
}
