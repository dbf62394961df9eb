//! Encryption at rest of mail content (issue 18, item 7): raw mails, attachments stored apart from
//! them, and the text a search hit is shown with.
//!
//! **Key.** [`MailKey`] is derived from the installation's key file (the one that seals mailbox
//! secrets, kept outside the database) with BLAKE3's key derivation, once for the cipher and once
//! for names — two independent keys, neither the file's bytes themselves.
//!
//! **Name.** A sealed value is addressed by its *name*: the keyed BLAKE3 hash (hex, 64 digits) of
//! its plain bytes. Unlike a plain SHA-256 it reveals nothing about the content to whom lacks the
//! key (no "is this the mail I think it is?" by hashing a guess). Identical bytes get the same name,
//! so a blob file is still shared by identical mails. The row holds the name (`sealed` column; for a
//! blob file also `blob`). A raw mail the importer seals is named by the keyed hash of its BLAKE3
//! digest instead ([`MailKey::name_of_digest`], under a key of its own): the importer computes that
//! digest anyway (with the fingerprint, in one pass), so the mail's bytes are hashed once instead
//! of twice (the second full pass was ≈ 4–5 % of the import's CPU). Such a name reveals no more,
//! and is bound to the content as firmly (BLAKE3 is collision-resistant); [`MailKey::open`]
//! accepts either kind.
//!
//! **Format.** `MAGIC ‖ nonce (24 random bytes) ‖ XChaCha20-Poly1305 ciphertext and tag`, with
//! associated data `"postkorb mail v1" ‖ 0 ‖ name`: a value opens only under the name its row
//! names, and after opening its plain bytes must hash to that name again — a value swapped into
//! another row, a damaged file or another key is refused, never shown.
//!
//! **Cipher.** XChaCha20-Poly1305 as its draft (draft-irtf-cfrg-xchacha) builds it: HChaCha20
//! derives a subkey from the key and the nonce's first 16 bytes; ring's ChaCha20-Poly1305 (its
//! assembly, ≈ 1.8× the pure-Rust crate's speed on this machine, the import seals every raw mail)
//! runs under that subkey with the nonce's last 8 bytes. The bytes are those of the
//! `chacha20poly1305` crate's `XChaCha20Poly1305` (a test checks it against the crate).

use base64::Engine as _;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::{Result, StoreError};

const MAGIC: &[u8; 4] = b"pkm1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const AD: &[u8] = b"postkorb mail v1\0";
/// Text columns (`case_search.shown`) hold a sealed value as this prefix and base64.
const TEXT_PREFIX: &str = "pkm1:";

/// The keys for mail at rest (see the module doc).
#[derive(Clone)]
pub struct MailKey {
    cipher_key: [u8; 32],
    name_key: [u8; 32],
    /// For [`MailKey::name_of_digest`]: another key than `name_key`, so no value's name of one
    /// kind can be made to equal another value's name of the other kind.
    digest_name_key: [u8; 32],
}

impl std::fmt::Debug for MailKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailKey(…)")
    }
}

impl MailKey {
    /// Derives the keys from the installation's 32-byte key file contents.
    pub fn derive(master: &[u8; 32]) -> MailKey {
        let cipher_key = blake3::derive_key("postkorb 2026-12 mail at rest: cipher", master);
        let name_key = blake3::derive_key("postkorb 2026-12 mail at rest: names", master);
        let digest_name_key = blake3::derive_key("postkorb 2026-12 mail at rest: names by digest", master);
        MailKey { cipher_key, name_key, digest_name_key }
    }

    /// The ChaCha20-Poly1305 key and nonce of one XChaCha20 nonce (HChaCha20, see the module doc).
    fn subkey(&self, nonce: &[u8; NONCE_LEN]) -> (LessSafeKey, Nonce) {
        let (head, tail) = nonce.split_at(16);
        let head: [u8; 16] = head.try_into().expect("16 bytes");
        let sub = chacha20::hchacha::<chacha20::R20>(&self.cipher_key.into(), &head.into());
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, sub.as_slice()).expect("32-byte key"));
        let mut short = [0u8; 12];
        short[4..].copy_from_slice(tail);
        (key, Nonce::assume_unique_for_key(short))
    }

    /// The name of `plain`: its keyed hash, hex.
    pub fn name(&self, plain: &[u8]) -> String {
        blake3::keyed_hash(&self.name_key, plain).to_hex().to_string()
    }

    /// The name of bytes whose BLAKE3 hash is `digest_hex` (64 lower-case hex digits, as
    /// `postkorb_mail::digests` makes it): the keyed hash of that digest. The caller passes the
    /// digest of the very bytes it seals — [`Self::open`] checks it, so a wrong one makes the
    /// value unreadable.
    pub fn name_of_digest(&self, digest_hex: &str) -> String {
        blake3::keyed_hash(&self.digest_name_key, digest_hex.as_bytes()).to_hex().to_string()
    }

    /// Whether `name` is the name of `plain`, of either kind.
    fn names(&self, plain: &[u8], name: &str) -> bool {
        self.name_of_digest(blake3::hash(plain).to_hex().as_str()) == name || self.name(plain) == name
    }

    /// Seals `plain`, whose [`Self::name`] (or [`Self::name_of_digest`]) is `name`.
    pub fn seal(&self, plain: &[u8], name: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.seal_into(plain, name, &mut out)?;
        Ok(out)
    }

    /// [`Self::seal`] into `out` (cleared first): the import reuses one buffer for a batch's
    /// raw mails, each sealed and written in turn.
    pub fn seal_into(&self, plain: &[u8], name: &str, out: &mut Vec<u8>) -> Result<()> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Blob(format!("no randomness for sealing: {e}")))?;
        let aad = [AD, name.as_bytes()].concat();
        let (key, short) = self.subkey(&nonce);
        out.clear();
        out.reserve(MAGIC.len() + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = key
            .seal_in_place_separate_tag(short, Aad::from(&aad[..]), &mut out[MAGIC.len() + NONCE_LEN..])
            .map_err(|_| StoreError::Blob("sealing failed".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens a value sealed under `name`; checks that the plain bytes have that name. `what` names
    /// the item in the error.
    pub fn open(&self, sealed: &[u8], name: &str, what: &str) -> Result<Vec<u8>> {
        let refused = || {
            StoreError::Blob(format!(
                "{what} cannot be decrypted: it is damaged, belongs to another row, or the key file was replaced"
            ))
        };
        let rest = sealed.strip_prefix(MAGIC.as_slice()).ok_or_else(refused)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(refused());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| refused())?;
        let aad = [AD, name.as_bytes()].concat();
        let (key, short) = self.subkey(&nonce);
        let mut plain = ct.to_vec();
        let len = key.open_in_place(short, Aad::from(&aad[..]), &mut plain).map_err(|_| refused())?.len();
        plain.truncate(len);
        if !self.names(&plain, name) {
            return Err(refused());
        }
        Ok(plain)
    }

    /// Seals a text for a text column: [`TEXT_PREFIX`], its name, `:`, base64 of the sealed value.
    pub fn seal_text(&self, plain: &str) -> Result<String> {
        let name = self.name(plain.as_bytes());
        let sealed = self.seal(plain.as_bytes(), &name)?;
        Ok(format!("{TEXT_PREFIX}{name}:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(sealed)))
    }

    /// The text of a text column: opened if sealed by [`Self::seal_text`] (a plain tail after a
    /// line break — notes added later — follows it as it is); a value that is not sealed is plain
    /// text written before sealing was on. A sealed part that does not open (damaged, another key)
    /// is left out, never shown in its raw form.
    pub fn open_text(key: Option<&MailKey>, stored: &str) -> String {
        let Some(rest) = stored.strip_prefix(TEXT_PREFIX) else { return stored.to_string() };
        let Some((name, rest)) = rest.split_once(':') else { return stored.to_string() };
        let (b64, tail) = rest.split_at(rest.find('\n').unwrap_or(rest.len()));
        let Ok(sealed) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64) else {
            return stored.to_string();
        };
        let opened = key
            .and_then(|k| k.open(&sealed, name, "text").ok())
            .and_then(|plain| String::from_utf8(plain).ok())
            .unwrap_or_default();
        opened + tail
    }

    /// Whether a text column's value is sealed.
    pub fn is_sealed_text(stored: &str) -> bool {
        stored.starts_with(TEXT_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> MailKey {
        MailKey::derive(&[b; 32])
    }

    #[test]
    fn round_trip_and_refusals() {
        let k = key(1);
        let plain = b"From: a@b.de\r\n\r\nGeheim".as_slice();
        let name = k.name(plain);
        assert_eq!(name.len(), 64);
        assert_ne!(name, crate::blobs::hash_hex(plain), "the name is keyed, not the plain SHA-256");
        let sealed = k.seal(plain, &name).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"Geheim"));
        assert_eq!(k.open(&sealed, &name, "mail").unwrap(), plain);
        // Two seals of the same bytes differ (random nonce).
        assert_ne!(k.seal(plain, &name).unwrap(), sealed);
        // Another row's name, another key, a flipped bit: refused.
        let other = k.name(b"other");
        assert!(k.open(&sealed, &other, "mail").is_err());
        assert!(key(2).open(&sealed, &name, "mail").is_err());
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(k.open(&bad, &name, "mail").is_err());
        // Sealed under a name that is not its own: opens cryptographically, refused by the check.
        let lie = k.seal(b"other bytes", &name).unwrap();
        assert!(k.open(&lie, &name, "mail").is_err());
    }

    /// A raw mail named by the keyed hash of its BLAKE3 digest (what the importer writes) opens as
    /// one named by the keyed hash of its bytes (what was written before) does; neither kind's name
    /// of one value passes for another value, and a name made from a wrong digest is refused.
    #[test]
    fn a_name_made_from_the_digest_opens_and_binds_the_bytes_as_firmly() {
        let k = key(4);
        let plain = b"From: a@b.de\r\n\r\nGeheim".as_slice();
        let sha = blake3::hash(plain).to_hex().to_string();
        let name = k.name_of_digest(&sha);
        assert_eq!(name.len(), 64);
        assert_ne!(name, k.name(plain), "the other kind");
        assert_ne!(name, sha, "keyed, not the plain digest");
        assert_ne!(name, key(5).name_of_digest(&sha), "keyed by the installation's key");
        let sealed = k.seal(plain, &name).unwrap();
        assert_eq!(k.open(&sealed, &name, "mail").unwrap(), plain);
        let old = k.seal(plain, &k.name(plain)).unwrap();
        assert_eq!(k.open(&old, &k.name(plain), "mail").unwrap(), plain);
        // Other bytes sealed under this name (a file swapped in, or a caller's wrong digest): refused.
        let lie = k.seal(b"other bytes", &name).unwrap();
        assert!(k.open(&lie, &name, "mail").is_err());
        let wrong = k.name_of_digest(blake3::hash(b"other bytes").to_hex().as_str());
        assert!(k.open(&k.seal(plain, &wrong).unwrap(), &wrong, "mail").is_err());
        // Bytes that spell out another value's digest are not named like that value.
        assert_ne!(k.name(sha.as_bytes()), name, "one key per kind of name");
    }

    /// The bytes are those of the `chacha20poly1305` crate's XChaCha20-Poly1305 (which sealed
    /// everything before ring did): values sealed then open now, and the other way round.
    #[test]
    fn the_same_bytes_as_the_xchacha20poly1305_crate() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let master = [5u8; 32];
        let k = MailKey::derive(&master);
        let crate_cipher = chacha20poly1305::XChaCha20Poly1305::new_from_slice(&blake3::derive_key(
            "postkorb 2026-12 mail at rest: cipher",
            &master,
        ))
        .unwrap();
        for len in [0usize, 1, 63, 64, 65, 1000, 70_001] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let name = k.name(&plain);
            let aad = [AD, name.as_bytes()].concat();
            let nonce = [len as u8; NONCE_LEN];
            let ct = crate_cipher
                .encrypt(&chacha20poly1305::XNonce::from(nonce), Payload { msg: &plain, aad: &aad })
                .unwrap();
            let old = [MAGIC.as_slice(), &nonce, &ct].concat();
            assert_eq!(k.open(&old, &name, "mail").unwrap(), plain, "{len}");
            let new = k.seal(&plain, &name).unwrap();
            let (n, c) = new[MAGIC.len()..].split_at(NONCE_LEN);
            let by_crate = crate_cipher
                .decrypt(&chacha20poly1305::XNonce::try_from(n).unwrap(), Payload { msg: c, aad: &aad })
                .unwrap();
            assert_eq!(by_crate, plain, "{len}");
        }
        // Too short to hold a nonce and a tag: refused, no panic.
        assert!(k.open(&[MAGIC.as_slice(), &[0u8; NONCE_LEN + TAG_LEN - 1]].concat(), "x", "mail").is_err());
    }

    #[test]
    fn texts() {
        let k = key(3);
        let s = k.seal_text("Schaden am Auto").unwrap();
        assert!(MailKey::is_sealed_text(&s) && !s.contains("Schaden"));
        assert_eq!(MailKey::open_text(Some(&k), &s), "Schaden am Auto");
        assert_eq!(MailKey::open_text(Some(&key(4)), &s), "");
        assert_eq!(MailKey::open_text(None, &s), "");
        assert_eq!(MailKey::open_text(Some(&k), "plain text"), "plain text");
        // A note appended later (`index_note`) follows in plain.
        assert_eq!(MailKey::open_text(Some(&k), &format!("{s}\nRückruf")), "Schaden am Auto\nRückruf");
        // Hostile plain text that looks sealed is not shown as its raw form either way.
        assert_eq!(MailKey::open_text(Some(&k), "pkm1:abc:!!"), "pkm1:abc:!!");
    }
}
