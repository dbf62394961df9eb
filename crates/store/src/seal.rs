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
//! **Format.** `MAGIC ‖ nonce (24 random bytes) ‖ ciphertext and tag`, with associated data
//! `AD ‖ name`: a value opens only under the name its row names, and after opening its plain bytes
//! must hash to that name again — a value swapped into another row, a damaged file or another key
//! is refused, never shown. The magic says the cipher; [`MailKey::open`] reads both:
//!
//! - `pkm2` — **AES-256-GCM under a key of its own per nonce** (associated data
//!   `"postkorb mail v2" ‖ 0 ‖ name`): the subkey is the keyed BLAKE3 hash (under a derived key of
//!   its own) of the nonce's first 16 bytes, the GCM nonce the last 8 (zero-padded). A value's key
//!   is thus fresh with overwhelming probability, as XChaCha20's subkey is, so random nonces carry
//!   no limit on how many values one installation seals. Written where the CPU has AES and
//!   carry-less multiply instructions (x86-64 AES-NI and PCLMULQDQ, ARMv8 AES and PMULL): ring's
//!   AES-GCM then seals ≈ 2.5× as fast as its ChaCha20-Poly1305 on the benchmark machine
//!   (4.8–5.1 against 1.8–2.2 GB/s, `examples/seal_speed.rs`), and the import seals every raw mail.
//! - `pkm1` — **XChaCha20-Poly1305** as its draft (draft-irtf-cfrg-xchacha) builds it (associated
//!   data `"postkorb mail v1" ‖ 0 ‖ name`): HChaCha20 derives a subkey from the key and the nonce's
//!   first 16 bytes; ring's ChaCha20-Poly1305 runs under that subkey with the nonce's last 8 bytes.
//!   The bytes are those of the `chacha20poly1305` crate's `XChaCha20Poly1305` (a test checks it
//!   against the crate). Written where the CPU lacks those instructions (AES in software is slow
//!   there), and everything sealed before `pkm2`.
//!
//! A text column marks a sealed value with [`TEXT_PREFIX`] (`pkm1:`) whichever cipher sealed it:
//! the prefix says "sealed" (the conversion's queries count by it), the value's magic the cipher.

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::{Result, StoreError};

const MAGIC: &[u8; 4] = b"pkm1";
const AD: &[u8] = b"postkorb mail v1\0";
const MAGIC_GCM: &[u8; 4] = b"pkm2";
const AD_GCM: &[u8] = b"postkorb mail v2\0";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Text columns (`case_search.shown`) hold a sealed value as this prefix and base64.
const TEXT_PREFIX: &str = "pkm1:";

/// The keys for mail at rest (see the module doc).
#[derive(Clone)]
pub struct MailKey {
    cipher_key: [u8; 32],
    /// For `pkm2` values: the key the per-nonce AES-256-GCM keys are derived under.
    gcm_key: [u8; 32],
    /// What [`Self::seal`] writes.
    cipher: Cipher,
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
        let gcm_key = blake3::derive_key("postkorb 2026-12 mail at rest: AES-256-GCM keys by nonce", master);
        let cipher = if Cipher::hardware_aes() { Cipher::AesGcm } else { Cipher::XChaCha };
        MailKey { cipher_key, gcm_key, cipher, name_key, digest_name_key }
    }

    /// What [`Self::seal`] writes on this CPU.
    pub fn sealing_cipher(&self) -> Cipher {
        self.cipher
    }

    /// The same keys, sealing with `cipher` (tests of both formats on any CPU).
    pub fn sealing_with(mut self, cipher: Cipher) -> MailKey {
        self.cipher = cipher;
        self
    }

    /// The key and nonce of `cipher` for one 24-byte nonce (see the module doc): a subkey from
    /// its first 16 bytes — HChaCha20 under the cipher key, or keyed BLAKE3 under the GCM key —
    /// and its last 8 bytes, zero-padded, as the 96-bit nonce.
    fn keyed(&self, cipher: Cipher, nonce: &[u8; NONCE_LEN]) -> (LessSafeKey, Nonce) {
        let (head, tail) = nonce.split_at(16);
        let (algorithm, sub): (_, [u8; 32]) = match cipher {
            Cipher::XChaCha => {
                let head: [u8; 16] = head.try_into().expect("16 bytes");
                (&CHACHA20_POLY1305, chacha20::hchacha::<chacha20::R20>(&self.cipher_key.into(), &head.into()).into())
            }
            Cipher::AesGcm => (&AES_256_GCM, *blake3::keyed_hash(&self.gcm_key, head).as_bytes()),
        };
        let key = LessSafeKey::new(UnboundKey::new(algorithm, &sub).expect("32-byte key"));
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
        let (key, short) = self.keyed(self.cipher, &nonce);
        let aad = [self.cipher.ad(), name.as_bytes()].concat();
        out.clear();
        out.reserve(MAGIC.len() + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(self.cipher.magic());
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
        let (cipher, rest) = Cipher::of(sealed).ok_or_else(refused)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(refused());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| refused())?;
        let (key, short) = self.keyed(cipher, &nonce);
        let aad = [cipher.ad(), name.as_bytes()].concat();
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

/// The cipher of a sealed value (its magic; see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// `pkm1`: XChaCha20-Poly1305.
    XChaCha,
    /// `pkm2`: AES-256-GCM under a key derived per nonce.
    AesGcm,
}

impl Cipher {
    fn magic(self) -> &'static [u8; 4] {
        match self {
            Cipher::XChaCha => MAGIC,
            Cipher::AesGcm => MAGIC_GCM,
        }
    }

    /// The associated data's prefix (before the value's name).
    fn ad(self) -> &'static [u8] {
        match self {
            Cipher::XChaCha => AD,
            Cipher::AesGcm => AD_GCM,
        }
    }

    /// The cipher a value names, and the value after its magic.
    fn of(sealed: &[u8]) -> Option<(Cipher, &[u8])> {
        [Cipher::AesGcm, Cipher::XChaCha]
            .into_iter()
            .find_map(|c| Some((c, sealed.strip_prefix(c.magic().as_slice())?)))
    }

    /// Whether this CPU has the instructions that make AES-GCM fast and constant-time.
    fn hardware_aes() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
        }
        #[cfg(target_arch = "aarch64")]
        {
            std::arch::is_aarch64_feature_detected!("aes") && std::arch::is_aarch64_feature_detected!("pmull")
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            false
        }
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
        for cipher in [Cipher::AesGcm, Cipher::XChaCha] {
            round_trip_and_refusals_with(key(1).sealing_with(cipher), cipher);
        }
    }

    fn round_trip_and_refusals_with(k: MailKey, cipher: Cipher) {
        let plain = b"From: a@b.de\r\n\r\nGeheim".as_slice();
        let name = k.name(plain);
        assert_eq!(name.len(), 64);
        assert_ne!(name, crate::blobs::hash_hex(plain), "the name is keyed, not the plain SHA-256");
        let sealed = k.seal(plain, &name).unwrap();
        assert!(sealed.starts_with(cipher.magic()), "{cipher:?}");
        assert_eq!(sealed.len(), 4 + NONCE_LEN + plain.len() + TAG_LEN);
        assert!(!sealed.windows(6).any(|w| w == b"Geheim"));
        assert_eq!(k.open(&sealed, &name, "mail").unwrap(), plain);
        // Two seals of the same bytes differ (random nonce).
        assert_ne!(k.seal(plain, &name).unwrap(), sealed);
        // Another row's name, another key, a flipped bit: refused.
        let other = k.name(b"other");
        assert!(k.open(&sealed, &other, "mail").is_err());
        assert!(key(2).sealing_with(cipher).open(&sealed, &name, "mail").is_err());
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
        let k = MailKey::derive(&master).sealing_with(Cipher::XChaCha);
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

    /// An installation holds values of both formats (sealed before `pkm2`, or on another CPU):
    /// one key opens both. A value's magic cannot be swapped to make it open as the other
    /// format, and each format's keys are its own.
    #[test]
    fn one_key_opens_both_formats_and_neither_passes_for_the_other() {
        let (gcm, chacha) = (key(6).sealing_with(Cipher::AesGcm), key(6).sealing_with(Cipher::XChaCha));
        let plain = b"From: a@b.de\r\n\r\nBeide".as_slice();
        let name = gcm.name(plain);
        let (new, old) = (gcm.seal(plain, &name).unwrap(), chacha.seal(plain, &name).unwrap());
        assert!(new.starts_with(b"pkm2") && old.starts_with(b"pkm1"));
        for k in [&gcm, &chacha] {
            assert_eq!(k.open(&new, &name, "mail").unwrap(), plain);
            assert_eq!(k.open(&old, &name, "mail").unwrap(), plain);
        }
        let swapped = |v: &[u8], magic: &[u8; 4]| [magic.as_slice(), &v[4..]].concat();
        assert!(gcm.open(&swapped(&new, MAGIC), &name, "mail").is_err());
        assert!(gcm.open(&swapped(&old, MAGIC_GCM), &name, "mail").is_err());
        assert!(gcm.open(&swapped(&new, b"pkm3"), &name, "mail").is_err(), "an unknown magic");
        assert_ne!(gcm.gcm_key, gcm.cipher_key, "a key per format");
        // Two values sealed under one name use different keys (the nonce's head derives them).
        let again = gcm.seal(plain, &name).unwrap();
        assert_ne!(again[4..4 + NONCE_LEN], new[4..4 + NONCE_LEN]);
        assert_ne!(again[4 + NONCE_LEN..], new[4 + NONCE_LEN..]);
    }

    /// AES-256-GCM as ring computes it under the subkey the module doc describes — the format
    /// pinned down, so a change of the derivation cannot slip through with values that still
    /// round-trip in one build but no longer open values written by an earlier one.
    #[test]
    fn the_gcm_format_is_aes_256_gcm_under_the_nonce_derived_key() {
        let master = [8u8; 32];
        let k = MailKey::derive(&master).sealing_with(Cipher::AesGcm);
        let plain = b"Schadenmeldung".as_slice();
        let name = k.name(plain);
        let sealed = k.seal(plain, &name).unwrap();
        let nonce = &sealed[4..4 + NONCE_LEN];
        let gcm_key = blake3::derive_key("postkorb 2026-12 mail at rest: AES-256-GCM keys by nonce", &master);
        let sub = blake3::keyed_hash(&gcm_key, &nonce[..16]);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, sub.as_bytes()).unwrap());
        let mut short = [0u8; 12];
        short[4..].copy_from_slice(&nonce[16..]);
        let mut ct = sealed[4 + NONCE_LEN..].to_vec();
        let aad = [b"postkorb mail v2\0".as_slice(), name.as_bytes()].concat();
        let opened = key.open_in_place(Nonce::assume_unique_for_key(short), Aad::from(&aad[..]), &mut ct).unwrap();
        assert_eq!(opened, plain);
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
