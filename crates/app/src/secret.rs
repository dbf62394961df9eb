//! Mailbox passwords encrypted at rest (XChaCha20-Poly1305) with a key kept outside the database.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

pub struct SecretKey(XChaCha20Poly1305);

impl SecretKey {
    /// Reads the 32-byte key file, creating it (mode 0600) with a random key if it is missing.
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
        let bytes = std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
        if bytes.len() != 32 {
            bail!("key file {} must hold exactly 32 bytes", path.display());
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| anyhow::anyhow!("bad key length"))?;
        Ok(SecretKey(cipher))
    }

    /// nonce (24 bytes) ‖ ciphertext.
    pub fn encrypt(&self, plain: &str) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let ct =
            self.0.encrypt(&XNonce::from(nonce), plain.as_bytes()).map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(out)
    }

    pub fn decrypt(&self, blob: &[u8]) -> anyhow::Result<String> {
        if blob.len() < 24 {
            bail!("stored secret is damaged");
        }
        let (nonce, ct) = blob.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().expect("24 bytes");
        let plain = self
            .0
            .decrypt(&XNonce::from(nonce), ct)
            .map_err(|_| anyhow::anyhow!("stored secret cannot be decrypted: was the key file replaced?"))?;
        String::from_utf8(plain).context("stored secret is not text")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_round_trips_and_the_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = SecretKey::load_or_create(&path).unwrap();
        let blob = key.encrypt("geheim").unwrap();
        assert!(!blob.windows(6).any(|w| w == b"geheim"));
        assert_eq!(SecretKey::load_or_create(&path).unwrap().decrypt(&blob).unwrap(), "geheim");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let other = SecretKey::load_or_create(&dir.path().join("other")).unwrap();
        assert!(other.decrypt(&blob).is_err());
    }
}
