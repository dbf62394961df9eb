//! The `AuthResults` policy, data-driven: header block, From domain, expected outcome.

use postkorb_verify::{Policy, Resolver, verify};

const BODY: &str = "From: anna@firma.de\r\nSubject: x\r\n\r\nText\r\n";

/// Checks `headers` (prepended to a small mail) under an allow-list of `mx.kanzlei.de`.
async fn check(headers: &str, from_domain: &str, expected: bool, detail_part: &str) {
    let policy = Policy::AuthResults { authserv_ids: vec!["mx.kanzlei.de".into(), " MX2.Kanzlei.de ".into()] };
    let raw = format!("{headers}{BODY}");
    let verdict = verify(raw.as_bytes(), from_domain, &policy, &Resolver::offline().unwrap()).await;
    assert_eq!(verdict.verified, expected, "{headers:?}: {verdict:?}");
    assert!(verdict.detail.contains(detail_part), "{headers:?}: {verdict:?} lacks {detail_part:?}");
    assert!(!verdict.temporary);
}

#[tokio::test]
async fn a_trusted_dmarc_or_aligned_dkim_pass_verifies() {
    for (headers, detail) in [
        ("Authentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n", "dmarc=pass for firma.de"),
        (
            "Authentication-Results: mx.kanzlei.de; dkim=pass header.d=firma.de header.s=s1\r\n",
            "dkim=pass for d=firma.de",
        ),
        ("Authentication-Results: mx.kanzlei.de; dkim=pass header.i=@mail.firma.de\r\n", "d=mail.firma.de"),
        ("Authentication-Results: mx.kanzlei.de; dkim=pass header.i=\"a b\"@firma.de\r\n", "d=firma.de"),
        (
            "AUTHENTICATION-RESULTS: MX.KANZLEI.DE;\r\n\tSPF=pass smtp.mailfrom=anna@firma.de;\r\n\tDMARC=PASS (p=reject) HEADER.FROM=FIRMA.DE\r\n",
            "dmarc=pass",
        ),
        ("Authentication-Results: mx2.kanzlei.de 1; dmarc=pass header.from=firma.de;\r\n", "dmarc=pass"),
        (
            "Authentication-Results: \"mx.kanzlei.de\" (Postfix); dkim=none; dmarc=pass (p=none dis=none) header.from=firma.de\r\n",
            "dmarc=pass",
        ),
        (
            "Authentication-Results: mx.kanzlei.de; dkim=pass header.d=firma.de header.b=aB+/9Q==; dmarc=none header.from=firma.de\r\n",
            "dkim=pass",
        ),
        (
            "Return-Path: <anna@firma.de>\r\nDelivered-To: postkorb@kanzlei.de\r\nAuthentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\nReceived: from x\r\n",
            "dmarc=pass",
        ),
    ] {
        check(headers, "firma.de", true, detail).await;
    }
}

#[tokio::test]
async fn forged_copies_below_the_topmost_header_are_ignored() {
    for (headers, detail) in [
        (
            "Authentication-Results: mx.kanzlei.de; dmarc=fail header.from=firma.de\r\nAuthentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n",
            "dmarc=fail",
        ),
        (
            "Authentication-Results: mx.kanzlei.de; none\r\nAuthentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n",
            "(none)",
        ),
        (
            "Authentication-Results: attacker.example; dmarc=pass header.from=firma.de\r\nAuthentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n",
            "untrusted authserv-id attacker.example",
        ),
        (
            "Authentication-Results: mx.kanzlei.de; dmarc=pass (broken header.from=firma.de\r\nAuthentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n",
            "malformed",
        ),
    ] {
        check(headers, "firma.de", false, detail).await;
    }
}

#[tokio::test]
async fn anything_but_a_trusted_aligned_pass_is_not_verified() {
    for (headers, detail) in [
        ("", "no Authentication-Results header"),
        ("Authentication-Results: mx.kanzlei.de.evil; dmarc=pass header.from=firma.de\r\n", "untrusted"),
        ("Authentication-Results: mx.kanzlei.de; dmarc=pass header.from=other.de\r\n", "no dmarc=pass"),
        ("Authentication-Results: mx.kanzlei.de; dmarc=pass header.from=sub.firma.de\r\n", "no dmarc=pass"),
        ("Authentication-Results: mx.kanzlei.de; dkim=pass header.d=evil.example\r\n", "dkim=pass"),
        ("Authentication-Results: mx.kanzlei.de; dkim=pass header.d=news.firma.de.evil.example\r\n", "no dmarc=pass"),
        ("Authentication-Results: mx.kanzlei.de; dkim=fail header.d=firma.de\r\n", "dkim=fail"),
        ("Authentication-Results: mx.kanzlei.de; spf=pass smtp.mailfrom=anna@firma.de\r\n", "spf=pass"),
        (
            "Authentication-Results: mx.kanzlei.de; dkim=pass header.d=firma.de; dmarc=fail header.from=firma.de\r\n",
            "dmarc=fail",
        ),
        ("Authentication-Results: mx.kanzlei.de; dmarc=pass\r\n", "no dmarc=pass"),
        ("Authentication-Results: mx.kanzlei.de (dmarc=pass header.from=firma.de); none\r\n", "none"),
        ("Authentication-Results: mx.kanzlei.de; dmarc=pass reason=\"header.from=firma.de\"\r\n", "no dmarc=pass"),
        (
            "Authentication-Results: mx.kanzlei.de; dmarc=pass header.from=\"firma.de; dkim=pass header.d=firma.de\"\r\n",
            "no dmarc=pass",
        ),
        (
            "Authentication-Results: spf=pass smtp.mailfrom=firma.de; dmarc=pass action=none header.from=firma.de\r\n",
            "malformed",
        ),
        ("Authentication-Results: mx.kanzlei.de 2; dmarc=pass header.from=firma.de\r\n", "malformed"),
        ("Authentication-Results: mx.kanzlei.de\r\n", "malformed"),
        (
            "ARC-Authentication-Results: i=1; mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n",
            "no Authentication-Results",
        ),
    ] {
        check(headers, "firma.de", false, detail).await;
    }
}

#[tokio::test]
async fn a_header_in_the_body_is_not_a_header() {
    let policy = Policy::AuthResults { authserv_ids: vec!["mx.kanzlei.de".into()] };
    let raw = format!("{BODY}Authentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n");
    let verdict = verify(raw.as_bytes(), "firma.de", &policy, &Resolver::offline().unwrap()).await;
    assert!(!verdict.verified, "{verdict:?}");
}

#[tokio::test]
async fn an_empty_allow_list_trusts_nothing() {
    let policy = Policy::AuthResults { authserv_ids: Vec::new() };
    let raw = format!("Authentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n{BODY}");
    let verdict = verify(raw.as_bytes(), "firma.de", &policy, &Resolver::offline().unwrap()).await;
    assert!(!verdict.verified, "{verdict:?}");
}
