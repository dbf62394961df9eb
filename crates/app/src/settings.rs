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
    /// Hours a mail whose sender check fails on DNS (timeout, server failure) stays on the server
    /// and is tried again with back-off; then it is kept as „Absender nicht verifiziert (DNS nicht
    /// erreichbar)“. 0: kept at the first failure. Default 24 (env POSTKORB_DNS_RETRY_HOURS).
    pub dns_retry_hours: u64,
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
            dns_retry_hours: 24,
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
        if let Ok(v) = std::env::var("POSTKORB_LEASE_SECS") {
            s.lease_secs =
                v.parse().with_context(|| format!("POSTKORB_LEASE_SECS={v:?} is not a number of seconds"))?;
        }
        if let Ok(v) = std::env::var("POSTKORB_DNS_RETRY_HOURS") {
            s.dns_retry_hours =
                v.parse().with_context(|| format!("POSTKORB_DNS_RETRY_HOURS={v:?} is not a number of hours"))?;
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

    /// Where the OAuth provider sends the browser back to.
    pub fn oauth_redirect_uri(&self) -> String {
        let base = match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://localhost:{}", self.listen.rsplit(':').next().unwrap_or("8080")),
        };
        format!("{base}/oauth/callback")
    }

    /// How long a mail whose sender check fails on DNS is tried again (`dns_retry_hours`).
    pub fn dns_give_up(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.dns_retry_hours.saturating_mul(3600))
    }

    pub fn lease_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs)
    }

    pub fn key_file(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| self.data_dir.join("secret.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
