//! The `DkimAligned` policy: DKIM signatures verified with mail-auth, one pass aligned with From needed.

use crate::Verdict;
use crate::org_domain::{aligned, normalize};
use crate::resolver::Resolver;
use mail_auth::common::crypto::Algorithm;
use mail_auth::{AuthenticatedMessage, DkimResult, Parameters};

/// Signatures checked at most (each may need a DNS lookup); legitimate mail carries one to three.
const MAX_ALIGNED_SIGNATURES: usize = 5;
/// Notes kept in the detail text.
const MAX_NOTES: usize = 4;

/// Verifies the DKIM signatures of `raw` and looks for a pass whose `d=` aligns with `from_domain`.
///
/// Only signatures whose `d=` aligns are checked cryptographically (no DNS lookups for foreign
/// domains). A pass counts only if the signature covers the From header and does not use rsa-sha1
/// (RFC 8301). mail-auth's strict parsing already refuses `l=` (partial body) signatures. The From
/// address that mail-auth reads must be exactly one address in `from_domain`, so the verifier and the
/// router cannot disagree about the sender.
pub(crate) async fn verify(raw: &[u8], from_domain: &str, relaxed: bool, resolver: &Resolver) -> Verdict {
    let Some(from) = normalize(from_domain) else {
        return Verdict::fail("no usable From domain");
    };
    let Some(mut message) = AuthenticatedMessage::parse(raw) else {
        return Verdict::fail("message header could not be read");
    };
    match message.froms() {
        [one] if one.rsplit_once('@').and_then(|(_, d)| normalize(d)).as_deref() == Some(from.as_str()) => {}
        [] => return Verdict::fail("no From address found by the DKIM verifier"),
        [_] => return Verdict::fail(format!("From seen by the DKIM verifier is not in {from}")),
        _ => return Verdict::fail("several From addresses"),
    }

    let mut notes = Vec::new();
    for header in &message.errors {
        if header.name.trim_ascii().eq_ignore_ascii_case(b"DKIM-Signature") {
            notes.push(format!("malformed signature ({})", header.header));
        }
    }
    let total = message.dkim_headers.len();
    message.dkim_headers.retain(|h| {
        let keep = aligned(&h.header.d, &from, relaxed);
        if !keep {
            notes.push(format!("d={} not aligned with {from}", shorten(&h.header.d)));
        }
        keep
    });
    message.dkim_headers.truncate(MAX_ALIGNED_SIGNATURES);
    if total == 0 && notes.is_empty() {
        return Verdict::fail("no DKIM signature");
    }
    if message.dkim_headers.is_empty() {
        return Verdict::fail(format!("no aligned DKIM signature: {}", join(&notes)));
    }
    // mail-auth answers malformed signatures with neutral results; they are already noted above.
    message.errors.clear();

    let params = Parameters::new(&message).with_txt_cache(&resolver.txt_cache);
    let outputs = resolver.authenticator.verify_dkim(params).await;
    let mut temporary = false;
    for output in &outputs {
        let Some(sig) = output.signature() else { continue };
        let d = shorten(&sig.d);
        match output.result() {
            DkimResult::Pass if !sig.h.iter().any(|h| h.trim().eq_ignore_ascii_case("from")) => {
                notes.push(format!("d={d} passed but does not sign From"));
            }
            DkimResult::Pass if sig.a == Algorithm::RsaSha1 => {
                notes.push(format!("d={d} passed but uses rsa-sha1"));
            }
            DkimResult::Pass => {
                let mode = if relaxed { "relaxed" } else { "strict" };
                return Verdict::pass(format!("DKIM pass for d={d}, aligned ({mode}) with {from}"));
            }
            DkimResult::TempError(e) => {
                temporary = true;
                notes.push(format!("d={d} temporary error: {e}"));
            }
            other => notes.push(format!("d={d} {other}")),
        }
    }
    let mut verdict = Verdict::fail(format!("no aligned DKIM pass: {}", join(&notes)));
    verdict.temporary = temporary;
    verdict
}

fn shorten(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

fn join(notes: &[String]) -> String {
    let mut text = notes.iter().take(MAX_NOTES).cloned().collect::<Vec<_>>().join("; ");
    if notes.len() > MAX_NOTES {
        text.push_str(&format!("; and {} more", notes.len() - MAX_NOTES));
    }
    text
}
