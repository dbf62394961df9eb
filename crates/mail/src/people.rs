//! Who a mail names in its header (issue 18, Auskunft and Löschen auf Antrag): the mailboxes of
//! From, To and Cc as written in the raw mail (the raw mail is the truth; the Vorgang keeps only
//! the sender). Lenient: an Auskunft must find a person even in a header the strict sender rule
//! refuses.

use mail_parser::{Address, MessageParser};

/// A header that names people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    From,
    To,
    Cc,
}

/// One mailbox of a header: its address (lower case) and display name, each if present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub role: Role,
    pub address: Option<String>,
    pub name: Option<String>,
}

/// The mailboxes of From, To and Cc (groups flattened), in header order. Never panics.
pub fn named(raw: &[u8]) -> Vec<Named> {
    let raw = crate::raw::without_mbox_line(raw);
    std::panic::catch_unwind(|| {
        let Some(msg) = MessageParser::new().parse_headers(raw) else { return vec![] };
        let mut out = Vec::new();
        for (role, header) in [(Role::From, msg.from()), (Role::To, msg.to()), (Role::Cc, msg.cc())] {
            out.extend(header.into_iter().flat_map(Address::iter).map(|a| Named {
                role,
                address: a.address().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()),
                name: a.name().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            }));
        }
        out
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{Role, named};

    #[test]
    fn from_to_and_cc_are_read_with_names_and_groups() {
        let raw = b"From: \"Meier, Karl\" <K.Meier@Example.org>\r\nTo: buero@makler.de, Team: a@b.de, c@d.de;\r\n\
                    Cc: =?utf-8?q?J=C3=BCrgen?= <juergen@x.de>\r\nSubject: s\r\n\r\nText";
        let got: Vec<(Role, Option<String>, Option<String>)> =
            named(raw).into_iter().map(|n| (n.role, n.address, n.name)).collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            vec![
                (Role::From, s("k.meier@example.org"), s("Meier, Karl")),
                (Role::To, s("buero@makler.de"), None),
                (Role::To, s("a@b.de"), None),
                (Role::To, s("c@d.de"), None),
                (Role::Cc, s("juergen@x.de"), s("Jürgen")),
            ]
        );
        // Garbage names nobody, and never panics.
        assert!(named(b"\xff\xfe garbage").iter().all(|n| n.address.is_none()));
    }
}
