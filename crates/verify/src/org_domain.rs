//! Domain alignment for DMARC-style checks: a small organisational-domain rule without a public-suffix list.
//!
//! DMARC (RFC 7489 §3.2) defines the organisational domain with the Public Suffix List. That list is not
//! available offline and changes often, so this module uses a small rule instead:
//!
//! * the organisational domain is the last two labels (`firma.de`), or the last three when the last two
//!   are a well-known two-level public suffix from [`TWO_LEVEL_SUFFIXES`] (`firma.co.uk`, `firma.com.de`);
//! * relaxed alignment additionally requires that one domain is the other or a parent of it
//!   (`mail.firma.de` ↔ `firma.de`). Siblings such as `news.firma.de` ↔ `mail.firma.de` do **not** align,
//!   although DMARC would accept them.
//!
//! The second condition is what makes the short suffix list safe: with an unknown two-level suffix
//! (say `firma.xy.at`) the guessed organisational domain `xy.at` is too broad, but an attacker who
//! registers `evil.xy.at` is a sibling of `firma.xy.at`, never a parent or child, so it still does not
//! align. A parent of the From domain is controlled by the same owner or a registry. The cost is that a
//! rare sibling setup is reported as not verified (the mail is kept, never delivered to the wrong person).

use std::borrow::Cow;

/// Two-level public suffixes under which anybody can register a domain. Not complete, see the module
/// documentation for why an incomplete list does not make relaxed alignment unsafe.
pub const TWO_LEVEL_SUFFIXES: &[&str] = &[
    // United Kingdom
    "co.uk", "org.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "ac.uk", "gov.uk", "sch.uk", "nhs.uk",
    // Germany, Austria, Switzerland (CentralNic and registry second levels)
    "com.de", "co.at", "or.at", "ac.at", "gv.at", "priv.at", // elsewhere in Europe
    "com.pl", "net.pl", "org.pl", "com.es", "org.es", "com.pt", "com.gr", "co.it", "com.tr", "com.ua", "co.hu",
    "com.cy", "com.mt", "co.ua", // worldwide
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz", "co.jp", "ne.jp", "or.jp", "ac.jp",
    "co.kr", "or.kr", "com.cn", "net.cn", "org.cn", "com.hk", "com.tw", "com.sg", "com.my", "co.in", "net.in",
    "org.in", "co.id", "co.th", "com.br", "net.br", "org.br", "com.ar", "com.mx", "co.za", "org.za", "co.il", "org.il",
    "com.eg", "com.sa", "ae.org", "us.com", "eu.com", "uk.com", "de.com", "gb.net", "uk.net", "eu.org",
];

/// Normalises a domain for comparison: trimmed, trailing dot removed, IDN as A-label, lower case.
/// Returns `None` for something that is not a plausible domain name.
pub fn normalize(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_end_matches('.');
    if domain.is_empty() || domain.len() > 253 {
        return None;
    }
    let ascii: Cow<'_, str> = mail_auth::common::to_a_label(domain);
    let ascii = ascii.to_ascii_lowercase();
    let plausible = ascii.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    plausible.then_some(ascii)
}

/// The organisational domain of an already normalised domain (see the module documentation).
pub fn organizational_domain(domain: &str) -> &str {
    let labels: Vec<&str> = domain.split('.').collect();
    let keep = if labels.len() >= 3 {
        let last_two = labels[labels.len() - 2..].join(".");
        if TWO_LEVEL_SUFFIXES.contains(&last_two.as_str()) { 3 } else { 2 }
    } else {
        labels.len()
    };
    let skip: usize = labels[..labels.len() - keep].iter().map(|l| l.len() + 1).sum();
    &domain[skip..]
}

/// Whether `child` equals `parent` or is a subdomain of it (both normalised).
fn is_same_or_sub(child: &str, parent: &str) -> bool {
    child == parent
        || child.len() > parent.len()
            && child.ends_with(parent)
            && child.as_bytes()[child.len() - parent.len() - 1] == b'.'
}

/// Whether the authenticated domain `auth` (DKIM `d=`) aligns with the From domain.
/// Strict: equal. Relaxed: same organisational domain and on one branch (equal, parent or child).
/// Both arguments are normalised here; anything implausible never aligns.
pub fn aligned(auth: &str, from: &str, relaxed: bool) -> bool {
    let (Some(auth), Some(from)) = (normalize(auth), normalize(from)) else {
        return false;
    };
    if auth == from {
        return true;
    }
    relaxed
        && organizational_domain(&auth) == organizational_domain(&from)
        && (is_same_or_sub(&auth, &from) || is_same_or_sub(&from, &auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_organisational_domain_is_the_last_two_labels_or_three_under_a_known_suffix() {
        for (domain, expected) in [
            ("firma.de", "firma.de"),
            ("mail.firma.de", "firma.de"),
            ("a.b.firma.de", "firma.de"),
            ("firma.co.uk", "firma.co.uk"),
            ("mail.firma.co.uk", "firma.co.uk"),
            ("shop.com.de", "shop.com.de"),
            ("co.uk", "co.uk"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(organizational_domain(domain), expected, "{domain}");
        }
    }

    #[test]
    fn alignment_follows_the_documented_rule() {
        for (auth, from, relaxed, expected) in [
            ("firma.de", "firma.de", false, true),
            ("FIRMA.de.", "firma.DE", false, true),
            ("mail.firma.de", "firma.de", false, false),
            ("mail.firma.de", "firma.de", true, true),
            ("firma.de", "news.firma.de", true, true),
            ("mail.firma.de", "news.firma.de", true, false),
            ("evil.co.uk", "firma.co.uk", true, false),
            ("co.uk", "firma.co.uk", true, false),
            ("de", "firma.de", true, false),
            ("evil.xy.at", "firma.xy.at", true, false),
            ("xfirma.de", "firma.de", true, false),
            ("firma.de.evil.com", "firma.de", true, false),
            ("", "firma.de", true, false),
            ("firma de", "firma de", false, false),
            ("bücher.de", "xn--bcher-kva.de", false, true),
        ] {
            assert_eq!(aligned(auth, from, relaxed), expected, "{auth} vs {from} relaxed={relaxed}");
        }
    }
}
