//! The sender address as Postkorb compares it: one strict addr-spec, lower-cased.
//!
//! The local part is treated case-insensitively (every real mail provider does so) and the
//! domain is lower-cased, so `Max.Mueller@Example.DE` and `max.mueller@example.de` are the same sender.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A normalised e-mail address (`local@domain`, lower-case).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("the address must contain exactly one '@' with text on both sides")]
    NotAnAddrSpec,
    #[error("the address contains a character that is not allowed: {0:?}")]
    BadCharacter(char),
    #[error("the address is longer than 254 characters")]
    TooLong,
    #[error("the domain is not a valid host name")]
    BadDomain,
}

impl AddressError {
    /// The same problem in German, for the web UI.
    pub fn german(&self) -> &'static str {
        match self {
            AddressError::Empty => "Die E-Mail-Adresse ist leer.",
            AddressError::NotAnAddrSpec => {
                "Die E-Mail-Adresse muss genau ein „@“ mit Text auf beiden Seiten enthalten."
            }
            AddressError::BadCharacter(_) => "Die E-Mail-Adresse enthält ein unzulässiges Zeichen.",
            AddressError::TooLong => "Die E-Mail-Adresse ist länger als 254 Zeichen.",
            AddressError::BadDomain => "Der Teil nach dem „@“ ist kein gültiger Domainname.",
        }
    }
}

/// Characters allowed in an unquoted local part (RFC 5322 atext plus '.').
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || (!c.is_ascii() && !c.is_control())
}

impl EmailAddress {
    /// Parses one bare addr-spec (no display name, no angle brackets, no comments).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.len() > 254 {
            return Err(AddressError::TooLong);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(AddressError::NotAnAddrSpec)?;
        if local.is_empty() || domain.is_empty() || local.contains('@') {
            return Err(AddressError::NotAnAddrSpec);
        }
        if let Some(c) = local.chars().find(|c| !is_atext(*c)) {
            return Err(AddressError::BadCharacter(c));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(AddressError::BadCharacter('.'));
        }
        let domain = domain.trim_end_matches('.').to_lowercase();
        let labels_ok = !domain.is_empty()
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !labels_ok {
            return Err(AddressError::BadDomain);
        }
        Ok(EmailAddress(format!("{}@{}", local.to_lowercase(), domain)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = AddressError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, AddressError>) {
        let got = EmailAddress::parse(input);
        assert_eq!(got.as_ref().map(|a| a.as_str()), expected.as_ref().map(|s| *s), "input {input:?}");
    }

    #[test]
    fn addresses_are_normalised_or_rejected_with_a_reason() {
        check("Max.Mueller@Example.DE", Ok("max.mueller@example.de"));
        check("  info@mustermail.de ", Ok("info@mustermail.de"));
        check("jörg@müller.de", Ok("jörg@müller.de"));
        check("a@b.de.", Ok("a@b.de"));
        check("", Err(AddressError::Empty));
        check("kein-at-zeichen", Err(AddressError::NotAnAddrSpec));
        check("@example.de", Err(AddressError::NotAnAddrSpec));
        check("max@", Err(AddressError::NotAnAddrSpec));
        check("a@b@c.de", Err(AddressError::NotAnAddrSpec));
        check("Max <max@example.de>", Err(AddressError::BadCharacter(' ')));
        check("max@exa mple.de", Err(AddressError::BadDomain));
        check(".max@example.de", Err(AddressError::BadCharacter('.')));
        check("max@-example.de", Err(AddressError::BadDomain));
    }

    #[test]
    fn every_error_has_a_german_message() {
        for e in [
            AddressError::Empty,
            AddressError::NotAnAddrSpec,
            AddressError::BadCharacter('x'),
            AddressError::TooLong,
            AddressError::BadDomain,
        ] {
            assert!(e.german().contains("E-Mail") || e.german().contains("Domain"));
        }
    }
}
