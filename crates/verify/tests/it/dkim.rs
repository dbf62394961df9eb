//! DKIM-aligned verification with mails signed here by a fresh Ed25519 key; DNS is injected, no network.

use crate::signer::Signer;
use postkorb_verify::{Policy, Resolver, Verdict, verify};

const MAIL: &str = "From: Anna Muster <anna@firma.de>\r\nTo: postkorb@kanzlei.de\r\nSubject: Vertrag\r\n\
Date: Mon, 2 Mar 2026 10:00:00 +0100\r\nMessage-ID: <1@firma.de>\r\n\r\nHallo,\r\nanbei der Vertrag.\r\n";

/// An offline resolver that knows the signer's key for each of `domains` (selector "s1").
fn resolver(signer: &Signer, domains: &[&str]) -> Resolver {
    let resolver = Resolver::offline().unwrap();
    for domain in domains {
        resolver.add_dkim_key("s1", domain, &signer.dns_record()).unwrap();
    }
    resolver
}

async fn check(raw: &[u8], from_domain: &str, relaxed: bool, resolver: &Resolver) -> Verdict {
    verify(raw, from_domain, &Policy::DkimAligned { relaxed }, resolver).await
}

#[tokio::test]
async fn a_mail_signed_by_the_from_domain_is_verified() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["firma.de"]);
    let raw = signer.sign(MAIL, "firma.de");
    for relaxed in [true, false] {
        let verdict = check(&raw, "firma.de", relaxed, &resolver).await;
        assert!(verdict.verified, "{verdict:?}");
        assert!(verdict.detail.contains("DKIM pass for d=firma.de"), "{verdict:?}");
    }
}

#[tokio::test]
async fn a_body_modified_after_signing_is_not_verified() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["firma.de"]);
    let raw = String::from_utf8(signer.sign(MAIL, "firma.de")).unwrap().replace("anbei", "bitte zahlen Sie");
    let verdict = check(raw.as_bytes(), "firma.de", true, &resolver).await;
    assert!(!verdict.verified && !verdict.temporary, "{verdict:?}");
    assert!(verdict.detail.contains("d=firma.de"), "{verdict:?}");
}

#[tokio::test]
async fn a_from_changed_after_signing_is_not_verified() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["firma.de"]);
    let raw = String::from_utf8(signer.sign(MAIL, "firma.de")).unwrap().replace("anna@firma.de", "chef@firma.de");
    let verdict = check(raw.as_bytes(), "firma.de", true, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
}

#[tokio::test]
async fn a_mail_without_signature_is_not_verified() {
    let resolver = Resolver::offline().unwrap();
    let verdict = check(MAIL.as_bytes(), "firma.de", true, &resolver).await;
    assert_eq!(verdict, Verdict { verified: false, detail: "no DKIM signature".into(), temporary: false });
}

#[tokio::test]
async fn a_valid_signature_of_a_foreign_domain_is_not_aligned() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["evil.example"]);
    let raw = signer.sign(MAIL, "evil.example");
    let verdict = check(&raw, "firma.de", true, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
    assert!(verdict.detail.contains("d=evil.example not aligned with firma.de"), "{verdict:?}");
}

#[tokio::test]
async fn a_subdomain_signature_aligns_only_in_relaxed_mode() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["mail.firma.de"]);
    let raw = signer.sign(MAIL, "mail.firma.de");
    let relaxed = check(&raw, "firma.de", true, &resolver).await;
    assert!(relaxed.verified, "{relaxed:?}");
    assert!(relaxed.detail.contains("aligned (relaxed)"), "{relaxed:?}");
    let strict = check(&raw, "firma.de", false, &resolver).await;
    assert!(!strict.verified, "{strict:?}");
}

#[tokio::test]
async fn a_sibling_or_look_alike_domain_does_not_align_even_when_relaxed() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["news.firma.de", "firma.de.evil.example", "evil.co.uk"]);
    for (domain, from) in
        [("news.firma.de", "mail.firma.de"), ("firma.de.evil.example", "firma.de"), ("evil.co.uk", "firma.co.uk")]
    {
        let mail = MAIL.replace("anna@firma.de", &format!("anna@{from}"));
        let verdict = check(&signer.sign(&mail, domain), from, true, &resolver).await;
        assert!(!verdict.verified, "{domain} for {from}: {verdict:?}");
    }
}

#[tokio::test]
async fn a_signature_that_does_not_cover_from_does_not_count() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["firma.de"]);
    let raw = signer.sign_headers(MAIL, "firma.de", &["To", "Subject"]);
    let verdict = check(&raw, "firma.de", true, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
    assert!(verdict.detail.contains("does not sign From"), "{verdict:?}");
}

#[tokio::test]
async fn a_second_from_header_added_to_a_signed_mail_is_not_verified() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["firma.de"]);
    let mut raw = b"From: chef@firma.de\r\n".to_vec();
    raw.extend(signer.sign(MAIL, "firma.de"));
    let verdict = check(&raw, "firma.de", true, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
    assert_eq!(verdict.detail, "several From addresses");
}

#[tokio::test]
async fn a_caller_from_domain_that_differs_from_the_header_is_not_verified() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["firma.de", "other.de"]);
    let raw = signer.sign(MAIL, "firma.de");
    let verdict = check(&raw, "other.de", true, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
    assert!(verdict.detail.contains("not in other.de"), "{verdict:?}");
}

#[tokio::test]
async fn a_signature_whose_key_cannot_be_found_is_not_verified() {
    let signer = Signer::new();
    let resolver = Resolver::offline().unwrap();
    let verdict = check(&signer.sign(MAIL, "firma.de"), "firma.de", true, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
}

#[tokio::test]
async fn a_signature_made_with_another_key_is_not_verified() {
    let published = Signer::new();
    let attacker = Signer::new();
    let resolver = resolver(&published, &["firma.de"]);
    let verdict = check(&attacker.sign(MAIL, "firma.de"), "firma.de", true, &resolver).await;
    assert!(!verdict.verified && !verdict.temporary, "{verdict:?}");
}

#[tokio::test]
async fn malformed_signatures_and_garbage_are_not_verified_and_do_not_panic() {
    let resolver = Resolver::offline().unwrap();
    for raw in [Vec::new(), b"\r\n\r\n".to_vec(), b"\0\0\0\xff\xfe".to_vec()] {
        assert!(!check(&raw, "firma.de", true, &resolver).await.verified);
    }
    let malformed: Vec<Vec<u8>> = vec![
        format!("DKIM-Signature: v=1; a=ed25519-sha256; d=firma.de; s=s1; b=%%%; bh=;\r\n{MAIL}").into_bytes(),
        format!("DKIM-Signature: v=1; a=rsa-sha256; d=firma.de; s=s1; h=from; bh=AAAA; b=AAAA; l=1\r\n{MAIL}")
            .into_bytes(),
        format!("DKIM-Signature: {}\r\n{MAIL}", "x=".repeat(50_000)).into_bytes(),
    ];
    for raw in malformed {
        let verdict = check(&raw, "firma.de", true, &resolver).await;
        assert!(!verdict.verified, "{verdict:?}");
        assert!(verdict.detail.contains("malformed signature"), "{verdict:?}");
    }
}

#[tokio::test]
async fn a_forged_authentication_results_header_does_not_help_under_dkim_policy() {
    let resolver = Resolver::offline().unwrap();
    let raw = format!("Authentication-Results: mx.kanzlei.de; dmarc=pass header.from=firma.de\r\n{MAIL}");
    let verdict = check(raw.as_bytes(), "firma.de", true, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
}

#[tokio::test]
async fn policy_off_verifies_everything() {
    let resolver = Resolver::offline().unwrap();
    let verdict = verify(b"garbage", "", &Policy::Off, &resolver).await;
    assert_eq!(verdict, Verdict { verified: true, detail: "verification off".into(), temporary: false });
}

#[tokio::test]
async fn one_aligned_pass_among_several_signatures_is_enough() {
    let signer = Signer::new();
    let resolver = resolver(&signer, &["firma.de", "esp.example"]);
    let once = signer.sign(MAIL, "esp.example");
    let twice = signer.sign(std::str::from_utf8(&once).unwrap(), "firma.de");
    let verdict = check(&twice, "firma.de", false, &resolver).await;
    assert!(verdict.verified, "{verdict:?}");
    let broken = String::from_utf8(twice).unwrap().replace("Vertrag\r\n", "Rechnung\r\n");
    let verdict = check(broken.as_bytes(), "firma.de", false, &resolver).await;
    assert!(!verdict.verified, "{verdict:?}");
    assert!(verdict.detail.contains("esp.example not aligned"), "{verdict:?}");
}
