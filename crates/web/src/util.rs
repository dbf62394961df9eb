//! Small helpers: time, random tokens, hashing tokens for storage.

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system has no randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Tokens are stored only as hashes.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `27.11.2026 17:18` in German notation (UTC+1, the office's usual time).
pub fn german_time(ms: i64) -> String {
    let (y, m, d, hh, mm) = postkorb_core::time::civil_from_ms(ms + 3_600_000);
    format!("{d:02}.{m:02}.{y:04} {hh:02}:{mm:02}")
}

/// Human file size in German notation.
pub fn size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0).replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_and_sizes_are_shown_the_german_way() {
        assert_eq!(super::german_time(0), "01.01.1970 01:00");
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(2048), "2 KB");
        assert_eq!(super::size(3 * 1024 * 1024 + 100_000), "3,1 MB");
        assert_eq!(super::token_hash("a").len(), 64);
    }
}
