//! A DKIM signer with a fresh Ed25519 key, shared by the verification tests: its DNS record and
//! signed mails.

use base64::Engine;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;

pub struct Signer {
    pkcs8: Vec<u8>,
}

impl Signer {
    pub fn new() -> Signer {
        Signer { pkcs8: Ed25519Key::generate_pkcs8().unwrap() }
    }

    pub fn key(&self) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(&self.pkcs8).unwrap()
    }

    pub fn dns_record(&self) -> String {
        let public = base64::engine::general_purpose::STANDARD.encode(self.key().public_key());
        format!("v=DKIM1; k=ed25519; p={public}")
    }

    /// Signs `mail` for `domain` (selector "s1") over `headers` and prepends the DKIM-Signature field.
    pub fn sign_headers(&self, mail: &str, domain: &str, headers: &[&str]) -> Vec<u8> {
        let signature = DkimSigner::from_key(self.key())
            .domain(domain)
            .selector("s1")
            .headers(headers.iter().copied())
            .sign(mail.as_bytes())
            .unwrap();
        let mut signed = signature.to_header().into_bytes();
        signed.extend_from_slice(mail.as_bytes());
        signed
    }

    pub fn sign(&self, mail: &str, domain: &str) -> Vec<u8> {
        self.sign_headers(mail, domain, &["From", "To", "Subject", "Date", "Message-ID"])
    }
}
