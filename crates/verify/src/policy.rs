//! The per-mailbox sender verification policy and its storage form; the settings' words for it are
//! `postkorb_core::mailbox::VerifyChoice`.

use postkorb_core::mailbox::VerifyChoice;
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
}

/// The policy a person chose (form, `--verify`).
impl From<VerifyChoice> for Policy {
    fn from(choice: VerifyChoice) -> Policy {
        match choice {
            VerifyChoice::Dkim => Policy::DkimAligned { relaxed: true },
            VerifyChoice::DkimStrict => Policy::DkimAligned { relaxed: false },
            VerifyChoice::AuthResults(authserv_ids) => Policy::AuthResults { authserv_ids },
            VerifyChoice::Off => Policy::Off,
        }
    }
}

/// The policy in the settings' words (to fill the form, to print it).
impl From<&Policy> for VerifyChoice {
    fn from(policy: &Policy) -> VerifyChoice {
        match policy {
            Policy::DkimAligned { relaxed: true } => VerifyChoice::Dkim,
            Policy::DkimAligned { relaxed: false } => VerifyChoice::DkimStrict,
            Policy::AuthResults { authserv_ids } => VerifyChoice::AuthResults(authserv_ids.clone()),
            Policy::Off => VerifyChoice::Off,
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
        assert_eq!(VerifyChoice::from(&Policy::default()), VerifyChoice::default());
        assert!(VerifyChoice::default().german_explanation().starts_with("Empfohlen"));
    }

    #[test]
    fn every_choice_is_the_policy_it_names() {
        let ids = VerifyChoice::AuthResults(vec!["mx.firma.de".into()]);
        for choice in [VerifyChoice::Dkim, VerifyChoice::DkimStrict, ids, VerifyChoice::Off] {
            assert_eq!(VerifyChoice::from(&Policy::from(choice.clone())), choice);
        }
    }
}
