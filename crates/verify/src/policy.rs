//! The per-mailbox sender verification policy, its storage form and its explanation for the settings form.

use serde::{Deserialize, Serialize};

/// How Postkorb decides whether the From address of a mail is genuine.
///
/// Stored as short JSON ([`Policy::to_storage`]): `{"mode":"dkim_aligned","relaxed":true}`,
/// `{"mode":"auth_results","authserv_ids":["mx.firma.de"]}` or `{"mode":"off"}`.
///
/// **The default is [`Policy::DkimAligned`] with relaxed alignment**, because it is the only mode that is
/// safe without any knowledge of the mail setup: Postkorb checks the DKIM signature itself against the
/// sender domain's key in DNS, so no header text that an attacker can write into a mail is trusted.
/// Relaxed alignment (signing domain equal to, a parent of, or a subdomain of the From domain) accepts
/// the usual setups of mail providers and newsletter services, but no other domain's signature.
/// Senders without DKIM (rare today; Gmail, Microsoft 365 and all larger providers sign) and mail altered
/// on the way (some mailing lists, forwarders) are not verified: they are kept under „Absender nicht
/// verifiziert“ for manual routing, never delivered to the wrong person.
///
/// [`Policy::AuthResults`] is right when the office's own receiving server already checks DMARC (it then
/// also covers SPF-only senders), but it is only safe if that server adds its own
/// `Authentication-Results` header on top of every mail; it therefore needs an explicit authserv-id and
/// cannot be a default. [`Policy::Off`] trusts any From and must only be used for tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Policy {
    /// No check: every From is taken as genuine.
    Off,
    /// Postkorb verifies DKIM signatures (mail-auth, DNS) and needs a pass aligned with the From domain.
    /// `relaxed`: parent/subdomain alignment as in DMARC relaxed mode; otherwise exactly the From domain.
    DkimAligned { relaxed: bool },
    /// Trust the topmost `Authentication-Results` header if its authserv-id is one of these
    /// (the office's own receiving server), and it reports `dmarc=pass` for the From domain or an
    /// aligned `dkim=pass`.
    AuthResults { authserv_ids: Vec<String> },
}

impl Default for Policy {
    /// Relaxed DKIM alignment: see the type documentation for why.
    fn default() -> Self {
        Policy::DkimAligned { relaxed: true }
    }
}

impl Policy {
    /// The storage form (short JSON).
    pub fn to_storage(&self) -> String {
        // Serialising this enum (strings, bools, vectors) cannot fail; the fallback is the safe default.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"mode":"dkim_aligned","relaxed":true}"#.into())
    }

    /// Reads the storage form. An error means a corrupt setting; callers should then use
    /// [`Policy::default`] (which verifies) rather than [`Policy::Off`].
    pub fn from_storage(stored: &str) -> Result<Policy, String> {
        serde_json::from_str(stored).map_err(|e| format!("invalid sender verification policy: {e}"))
    }

    /// Short German name for a select box in the settings form.
    pub fn german_label(&self) -> &'static str {
        match self {
            Policy::Off => "Aus (nur für Tests)",
            Policy::DkimAligned { relaxed: true } => "DKIM-Signatur prüfen (empfohlen)",
            Policy::DkimAligned { relaxed: false } => "DKIM-Signatur prüfen, nur exakte Domain",
            Policy::AuthResults { .. } => "Prüfergebnis des eigenen Mailservers übernehmen",
        }
    }

    /// German explanation for the settings form: what the mode does and when it is the right one.
    pub fn german_explanation(&self) -> &'static str {
        match self {
            Policy::DkimAligned { relaxed: true } => {
                "Empfohlen und voreingestellt. Postkorb prüft die DKIM-Signatur jeder E-Mail selbst mit dem \
                 Schlüssel, den die Absender-Domain im DNS veröffentlicht. Die Signatur muss von der Domain \
                 der Absenderadresse stammen oder von einer ihrer Über- oder Unterdomains (z. B. \
                 mail.firma.de für firma.de). So kann niemand eine fremde Absenderadresse vortäuschen, und \
                 es muss nichts weiter eingerichtet werden. E-Mails ohne gültige Signatur (selten, z. B. \
                 sehr alte Mailserver oder Verteiler, die Nachrichten verändern) werden nicht zugeordnet, \
                 sondern unter „Nicht zugeordnete E-Mails“ mit dem Grund „Absender nicht verifiziert“ \
                 abgelegt und können dort von Hand zugeordnet werden."
            }
            Policy::DkimAligned { relaxed: false } => {
                "Wie die empfohlene Einstellung, aber die DKIM-Signatur muss genau von der Domain der \
                 Absenderadresse stammen; Signaturen von Über- oder Unterdomains zählen nicht. Strenger, \
                 dafür landen mehr echte E-Mails unter „Nicht zugeordnete E-Mails“."
            }
            Policy::AuthResults { .. } => {
                "Postkorb übernimmt das Prüfergebnis (DMARC oder DKIM) Ihres eigenen Mailservers aus der \
                 obersten Kopfzeile „Authentication-Results“, und nur, wenn deren Kennung (authserv-id) \
                 hier eingetragen ist. Nur sicher, wenn Ihr Mailserver diese Kopfzeile jeder eingehenden \
                 E-Mail selbst oben hinzufügt; sonst könnte ein Absender sie fälschen. Sinnvoll, wenn Ihr \
                 Server DMARC prüft, weil dann auch Absender ohne DKIM-Signatur erkannt werden."
            }
            Policy::Off => {
                "Keine Prüfung: Die Absenderadresse wird ungeprüft übernommen. Absenderadressen lassen sich \
                 beliebig fälschen, dann landet eine gefälschte E-Mail bei einem Mitarbeiter. Nur für Tests \
                 verwenden."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_survives_the_storage_round_trip() {
        for policy in [
            Policy::Off,
            Policy::DkimAligned { relaxed: true },
            Policy::DkimAligned { relaxed: false },
            Policy::AuthResults { authserv_ids: vec!["mx.firma.de".into()] },
        ] {
            assert_eq!(Policy::from_storage(&policy.to_storage()), Ok(policy));
        }
    }

    #[test]
    fn the_storage_form_is_short_json() {
        assert_eq!(Policy::default().to_storage(), r#"{"mode":"dkim_aligned","relaxed":true}"#);
        assert_eq!(Policy::Off.to_storage(), r#"{"mode":"off"}"#);
    }

    #[test]
    fn a_corrupt_or_unknown_setting_is_an_error_not_off() {
        for stored in [
            "",
            "off",
            r#"{"mode":"none"}"#,
            r#"{"mode":"dkim_aligned"}"#,
            r#"{"mode":"dkim_aligned","relaxed":true,"strict":1}"#,
        ] {
            assert!(Policy::from_storage(stored).is_err(), "{stored}");
        }
    }

    #[test]
    fn the_default_verifies_dkim_with_relaxed_alignment() {
        assert_eq!(Policy::default(), Policy::DkimAligned { relaxed: true });
        assert!(Policy::default().german_explanation().starts_with("Empfohlen"));
    }
}
