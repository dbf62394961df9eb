//! Secrets at rest (mailbox passwords, OAuth tokens): XChaCha20-Poly1305 with a key kept outside
//! the database, each value bound to what it belongs to.
//!
//! **Binding.** A value is sealed with associated data naming its row, its column and the endpoint it
//! was entered for (`MailboxRecord::secret_binding`): host, port, TLS mode, protocol, username and,
//! for OAuth, provider, tenant, token URL and client ID. Opened with any other binding it does not
//! decrypt, so a stored password can never be sent to a server other than the one it was entered
//! for, nor copied into another row or column. Values of older versions (no binding) are re-sealed
//! once when the database is opened ([`rebind_legacy`]).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use postkorb_store::{MailKey, SecretColumn, Store};

/// Marks a bound value: `MAGIC ‖ nonce (24) ‖ ciphertext`. Older values are `nonce ‖ ciphertext`.
const MAGIC: &[u8; 4] = b"pk2:";

pub struct SecretKey(XChaCha20Poly1305, MailKey);

/// Why a stored secret cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Sealed for another endpoint, row or column (or damaged, or another key).
    #[error(
        "the stored secret was entered for other connection settings (server, port, encryption, protocol, \
         user name or OAuth endpoint) or the key file was replaced: enter it again"
    )]
    NotBound,
}

impl SecretKey {
    /// Reads the 32-byte key file, creating it (mode 0600) with a random key if it is missing. A key
    /// file that others than its owner may read is refused.
    pub fn load_or_create(path: &Path) -> anyhow::Result<SecretKey> {
        if !path.exists() {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(path).with_context(|| format!("cannot create key file {}", path.display()))?;
            f.write_all(&key)?;
            f.sync_all()?;
        }
        check_private(path)?;
        let bytes = std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
        if bytes.len() != 32 {
            bail!("key file {} must hold exactly 32 bytes", path.display());
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| anyhow::anyhow!("bad key length"))?;
        let master: [u8; 32] = bytes.as_slice().try_into().map_err(|_| anyhow::anyhow!("bad key length"))?;
        Ok(SecretKey(cipher, MailKey::derive(&master)))
    }

    /// The keys for mail content at rest, derived from the same key file (crates/store/src/seal.rs).
    pub fn mail_key(&self) -> MailKey {
        self.1.clone()
    }

    /// Seals `plain` for `binding` (see the module doc).
    pub fn seal(&self, plain: &str, binding: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let ct = self
            .0
            .encrypt(&XNonce::from(nonce), Payload { msg: plain.as_bytes(), aad: binding })
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 24 + ct.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend(ct);
        Ok(out)
    }

    /// Opens a value sealed for exactly this `binding`.
    pub fn open(&self, blob: &[u8], binding: &[u8]) -> Result<String, OpenError> {
        let rest = blob.strip_prefix(MAGIC.as_slice()).ok_or(OpenError::NotBound)?;
        self.decrypt_raw(rest, binding).ok_or(OpenError::NotBound)
    }

    /// A value of an older version: sealed without a binding.
    fn open_legacy(&self, blob: &[u8]) -> Option<String> {
        self.decrypt_raw(blob, b"")
    }

    fn decrypt_raw(&self, blob: &[u8], aad: &[u8]) -> Option<String> {
        if blob.len() < 24 {
            return None;
        }
        let (nonce, ct) = blob.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let plain = self.0.decrypt(&XNonce::from(nonce), Payload { msg: ct, aad }).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Refuses a key file that its group or others may read or write, saying how to fix it.
fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "key file {} is readable or writable by others (mode {:o}); it guards the mailbox passwords. \
                 Fix it with: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

/// Re-seals values of older versions (no binding) with their binding, once, when the database is
/// opened: from then on every stored secret is bound. A value that opens with neither is left as it
/// is (it cannot be used, and the mailbox says so).
pub async fn rebind_legacy(store: &Store, key: &SecretKey) -> anyhow::Result<usize> {
    let mut changed = 0;
    for m in store.mailboxes().await? {
        for column in SecretColumn::ALL {
            let Some(blob) = m.secret_in(column) else { continue };
            let binding = m.secret_binding(column);
            if key.open(blob, &binding).is_ok() {
                continue;
            }
            if let Some(plain) = key.open_legacy(blob) {
                let sealed = key.seal(&plain, &binding)?;
                if store.replace_secret(m.id, column, blob, &sealed).await? {
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_round_trips_and_the_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = SecretKey::load_or_create(&path).unwrap();
        let blob = key.seal("geheim", b"here").unwrap();
        assert!(!blob.windows(6).any(|w| w == b"geheim"));
        assert_eq!(SecretKey::load_or_create(&path).unwrap().open(&blob, b"here").unwrap(), "geheim");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let other = SecretKey::load_or_create(&dir.path().join("other")).unwrap();
        assert!(other.open(&blob, b"here").is_err());
    }

    #[test]
    fn a_secret_sealed_for_one_endpoint_does_not_open_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(&dir.path().join("k")).unwrap();
        let blob = key.seal("geheim", b"imap.buero.de:993").unwrap();
        assert!(matches!(key.open(&blob, b"evil.example:993"), Err(OpenError::NotBound)));
        assert!(key.open_legacy(&blob).is_none(), "a bound value is not a legacy one");
        assert!(matches!(key.open(&blob[MAGIC.len()..], b"imap.buero.de:993"), Err(OpenError::NotBound)));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_readable_by_others_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        SecretKey::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!("{:#}", SecretKey::load_or_create(&path).err().unwrap());
        assert!(err.contains("chmod 600"), "{err}");
    }
}
