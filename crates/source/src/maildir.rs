//! Maildir adapter for servers where Postkorb runs next to the mail store: messages are files in
//! new/ and cur/, keys are `maildir:{unique}` (the file name up to the first ':').

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::{Disposal, Envelope, Fetched, SourceConfig, SourceError};

pub struct MaildirSession {
    root: PathBuf,
    disposal: Disposal,
    /// unique → current path, from the last `list`.
    paths: HashMap<String, PathBuf>,
}

fn io_err(context: &str, path: &Path, e: io::Error) -> SourceError {
    SourceError::Io(format!("{context} {}: {e}", path.display()))
}

/// The unique part of a Maildir file name ("1700000000.M1P2.host:2,S" → "1700000000.M1P2.host").
fn unique_of(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

impl MaildirSession {
    pub(crate) async fn connect(cfg: &SourceConfig) -> Result<MaildirSession, SourceError> {
        let root = cfg.maildir.clone().ok_or_else(|| SourceError::Config("no Maildir path configured".into()))?;
        // tmp/ matters only to writers; an archive to import from may lack it.
        let needed: &[&str] = if cfg.disposal == Disposal::Leave { &["cur", "new"] } else { &["cur", "new", "tmp"] };
        for sub in needed {
            if !tokio::fs::metadata(root.join(sub)).await.is_ok_and(|m| m.is_dir()) {
                return Err(SourceError::Config(format!("{} is not a Maildir (no {sub}/)", root.display())));
            }
        }
        Ok(MaildirSession { root, disposal: cfg.disposal.clone(), paths: HashMap::new() })
    }

    async fn scan(&mut self) -> Result<Vec<(SystemTime, String, u64)>, SourceError> {
        self.paths.clear();
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let mut entries = tokio::fs::read_dir(&dir).await.map_err(|e| io_err("cannot read", &dir, e))?;
            while let Some(entry) = entries.next_entry().await.map_err(|e| io_err("cannot read", &dir, e))? {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                // A file moved away between read_dir and metadata is simply not there any more.
                let Ok(meta) = entry.metadata().await else { continue };
                if !meta.is_file() {
                    continue;
                }
                let unique = unique_of(&name).to_string();
                found.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), unique.clone(), meta.len()));
                self.paths.insert(unique, entry.path());
            }
        }
        found.sort();
        Ok(found)
    }

    pub(crate) async fn list(&mut self) -> Result<Vec<Envelope>, SourceError> {
        Ok(self
            .scan()
            .await?
            .into_iter()
            .map(|(_, unique, size)| Envelope { key: format!("maildir:{unique}"), size: Some(size) })
            .collect())
    }

    /// Current path of a key; rescans once because another client may have moved new/ → cur/.
    async fn path_of(&mut self, key: &str) -> Result<Option<PathBuf>, SourceError> {
        let Some(unique) = key.strip_prefix("maildir:") else { return Ok(None) };
        if let Some(path) = self.paths.get(unique).filter(|p| p.exists()) {
            return Ok(Some(path.clone()));
        }
        self.scan().await?;
        Ok(self.paths.get(unique).cloned())
    }

    pub(crate) async fn fetch(&mut self, keys: &[String]) -> Result<Vec<Fetched>, SourceError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(path) = self.path_of(key).await? else {
                tracing::warn!(%key, "message not in the Maildir (any more); skipped");
                continue;
            };
            match tokio::fs::read(&path).await {
                Ok(raw) => out.push(Fetched { key: key.clone(), raw: raw.into() }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => tracing::warn!(%key, "message vanished; skipped"),
                Err(e) => return Err(io_err("cannot read", &path, e)),
            }
        }
        Ok(out)
    }

    pub(crate) async fn dispose(&mut self, keys: &[String]) -> Result<(), SourceError> {
        if self.disposal == Disposal::Leave {
            return Ok(());
        }
        for key in keys {
            let Some(path) = self.path_of(key).await? else { continue };
            let unique = unique_of(&path.file_name().unwrap_or_default().to_string_lossy()).to_string();
            let result = match &self.disposal {
                Disposal::MoveTo(folder) => {
                    let target = self.subfolder(folder).await?;
                    tokio::fs::rename(&path, target.join("cur").join(format!("{unique}:2,S"))).await
                }
                Disposal::Delete => tokio::fs::remove_file(&path).await,
                Disposal::Leave => Ok(()),
            };
            match result {
                Ok(()) => {
                    self.paths.remove(&unique);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("cannot dispose of", &path, e)),
            }
        }
        Ok(())
    }

    /// The Maildir++ subfolder `.{name with / as .}` with cur/new/tmp, created if missing.
    async fn subfolder(&self, name: &str) -> Result<PathBuf, SourceError> {
        let dir = self.root.join(format!(".{}", name.trim_matches('/').replace('/', ".")));
        for sub in ["cur", "new", "tmp"] {
            let path = dir.join(sub);
            tokio::fs::create_dir_all(&path).await.map_err(|e| io_err("cannot create", &path, e))?;
        }
        // Marker Dovecot and Courier put into every subfolder.
        let marker = dir.join("maildirfolder");
        if !marker.exists() {
            tokio::fs::write(&marker, b"").await.map_err(|e| io_err("cannot create", &marker, e))?;
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unique_name_stops_at_the_first_colon() {
        assert_eq!(unique_of("1700.M1P2.host:2,S"), "1700.M1P2.host");
        assert_eq!(unique_of("1700.M1P2.host"), "1700.M1P2.host");
    }
}
