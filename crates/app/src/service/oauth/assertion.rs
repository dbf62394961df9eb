//! Microsoft's certificate credential for application access: instead of a client secret the app
//! proves itself with a client assertion (RFC 7523) — a short-lived JWT signed (RS256) with the
//! private key of a certificate uploaded to the app registration, naming the certificate by its
//! SHA-1 thumbprint (`x5t`). Postkorb keeps the key and the certificate as one PEM text, sealed like
//! a client secret (`SecretColumn::OAuthClientSecret`); what is stored tells which it is.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The `client_assertion_type` of a JWT client assertion.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid (Microsoft accepts up to 10 minutes).
const LIFETIME_SECS: i64 = 600;

/// Whether a stored client credential is a certificate (key and certificate in PEM), not a secret.
pub(crate) fn is_certificate(credential: &str) -> bool {
    credential.contains("-----BEGIN CERTIFICATE-----") && credential.contains("PRIVATE KEY-----")
}

/// A certificate credential ready to sign.
pub(crate) struct Certificate {
    key: ring::signature::RsaKeyPair,
    x5t: String,
}

impl Certificate {
    /// From PEM text holding an RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`)
    /// and its certificate.
    pub(crate) fn from_pem(pem: &str) -> anyhow::Result<Certificate> {
        let cert = pem_block(pem, "CERTIFICATE").context("no certificate in the PEM text")?;
        let key = match (pem_block(pem, "PRIVATE KEY"), pem_block(pem, "RSA PRIVATE KEY")) {
            (Some(pkcs8), _) => ring::signature::RsaKeyPair::from_pkcs8(&pkcs8),
            (None, Some(pkcs1)) => ring::signature::RsaKeyPair::from_der(&pkcs1),
            (None, None) => bail!("no private key in the PEM text"),
        }
        .map_err(|e| anyhow::anyhow!("the private key is not an RSA key ring can use: {e}"))?;
        let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
        Ok(Certificate { key, x5t: URL_SAFE_NO_PAD.encode(thumbprint.as_ref()) })
    }

    /// A client assertion for `client_id` at `token_url`, valid from `now_ms` for ten minutes.
    pub(crate) fn assertion(&self, client_id: &str, token_url: &str, now_ms: i64) -> anyhow::Result<String> {
        let now = now_ms / 1000;
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(|e| anyhow::anyhow!("no randomness for the assertion: {e}"))?;
        let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5t": self.x5t });
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "nbf": now,
            "iat": now,
            "exp": now + LIFETIME_SECS,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?)
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("signing the client assertion failed"))?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER bytes of the first `-----BEGIN {label}-----` block.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_told_apart_and_a_secret_is_no_certificate() {
        let pem = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n\
                   -----BEGIN CERTIFICATE-----\nAwQF\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_block(pem, "PRIVATE KEY"), Some(vec![0, 1, 2]));
        assert_eq!(pem_block(pem, "CERTIFICATE"), Some(vec![3, 4, 5]));
        assert_eq!(pem_block(pem, "RSA PRIVATE KEY"), None);
        assert!(is_certificate(pem));
        assert!(!is_certificate("Abc~secret.value"));
        assert!(Certificate::from_pem(pem).is_err(), "not an RSA key");
    }
}
