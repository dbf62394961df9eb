//! The strict sender rule: cases are assigned by the From address, so only an unambiguous
//! addr-spec taken from the From header's structure (never a display name, never an encoded word) counts.

use postkorb_core::EmailAddress;

/// One mailbox of a From header, split into its parts.
#[derive(Debug, Default, PartialEq, Eq)]
struct Mailbox {
    /// Display name as written (quotes removed, encoded words still encoded).
    phrase: String,
    comment: String,
    angle: Option<String>,
}

/// The sender from all raw (unfolded) From header values; the display name as written, if any.
pub fn sender(from_values: &[&str]) -> (Result<EmailAddress, String>, Option<String>) {
    let value = match from_values {
        [] => return (Err("no From header".into()), None),
        [one] => *one,
        _ => return (Err("duplicate From header".into()), None),
    };
    match mailbox(value) {
        Ok(mb) => {
            let name = if mb.angle.is_some() { &mb.phrase } else { &mb.comment };
            let name = Some(name.trim().to_string()).filter(|s| !s.is_empty());
            (address(&mb), name)
        }
        Err(why) => (Err(why), None),
    }
}

fn address(mb: &Mailbox) -> Result<EmailAddress, String> {
    let addr = match &mb.angle {
        Some(a) => a.trim().to_string(),
        None => mb.phrase.trim().to_string(),
    };
    if addr.is_empty() {
        return Err("no address in From".into());
    }
    if addr.contains("=?") {
        return Err("From address is inside an encoded word".into());
    }
    if addr.contains(char::REPLACEMENT_CHARACTER) {
        return Err("invalid From address: not valid UTF-8".into());
    }
    if addr.chars().any(char::is_whitespace) {
        return Err("From address contains whitespace".into());
    }
    EmailAddress::parse(&addr).map_err(|e| format!("invalid From address: {e}"))
}

/// Splits the header value into exactly one mailbox, or says why not.
fn mailbox(value: &str) -> Result<Mailbox, String> {
    let mut boxes: Vec<Mailbox> = Vec::new();
    let mut cur = Mailbox::default();
    let mut chars = value.chars().peekable();
    let mut quoted_bare = false;
    let mut after_angle = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                if cur.angle.is_some() {
                    return Err("text after the address in From".into());
                }
                quoted_bare = true;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => cur.phrase.extend(chars.next()),
                        '"' => break,
                        _ => cur.phrase.push(q),
                    }
                }
            }
            '(' => {
                let mut depth = 1;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => cur.comment.extend(chars.next()),
                        '(' => depth += 1,
                        ')' if depth == 1 => break,
                        ')' => depth -= 1,
                        _ => cur.comment.push(q),
                    }
                }
            }
            '<' => {
                if cur.angle.is_some() {
                    return Err("several addresses in From".into());
                }
                let mut inner = String::new();
                let mut closed = false;
                for q in chars.by_ref() {
                    match q {
                        '>' => {
                            closed = true;
                            break;
                        }
                        '<' => return Err("nested angle brackets in From".into()),
                        _ => inner.push(q),
                    }
                }
                if !closed {
                    return Err("unclosed angle bracket in From".into());
                }
                cur.angle = Some(inner);
                after_angle = true;
            }
            ',' => {
                boxes.push(std::mem::take(&mut cur));
                quoted_bare = false;
                after_angle = false;
            }
            ':' | ';' => return Err("group syntax in From".into()),
            c if c.is_whitespace() => {
                if !after_angle {
                    cur.phrase.push(' ');
                }
            }
            c => {
                if after_angle {
                    return Err("text after the address in From".into());
                }
                cur.phrase.push(c);
            }
        }
    }
    boxes.push(cur);
    let mut boxes: Vec<Mailbox> =
        boxes.into_iter().filter(|b| b.angle.is_some() || !b.phrase.trim().is_empty()).collect();
    match boxes.len() {
        0 => Err("no address in From".into()),
        1 => {
            let mb = boxes.remove(0);
            if mb.angle.is_none() && quoted_bare {
                return Err("From address has a quoted part".into());
            }
            Ok(mb)
        }
        _ => Err("several addresses in From".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: &[&str], expected: Result<&str, &str>) {
        let (got, _) = sender(values);
        let got = got.as_ref().map(|a| a.as_str()).map_err(|e| e.as_str());
        assert_eq!(got, expected, "From values {values:?}");
    }

    #[test]
    fn the_sender_comes_only_from_the_address_part_of_exactly_one_from_mailbox() {
        check(&["max@example.de"], Ok("max@example.de"));
        check(&["Max Müller <Max.Mueller@Example.DE>"], Ok("max.mueller@example.de"));
        check(&["\"Müller, Max\" <max@example.de>"], Ok("max@example.de"));
        check(&["max@example.de (Max Müller)"], Ok("max@example.de"));
        check(&["\"boss@firma.de\" <evil@attacker.tld>"], Ok("evil@attacker.tld"));
        check(&["boss@firma.de <evil@attacker.tld>"], Ok("evil@attacker.tld"));
        check(&["=?utf-8?q?boss@firma.de?= <x@y.de>"], Ok("x@y.de"));
        check(&["=?utf-8?q?boss@firma.de?="], Err("From address is inside an encoded word"));
        check(&[], Err("no From header"));
        check(&["a@b.de", "c@d.de"], Err("duplicate From header"));
        check(&["a@b.de, c@d.de"], Err("several addresses in From"));
        check(&["A <a@b.de>, C <c@d.de>"], Err("several addresses in From"));
        check(&["A <a@b.de> <c@d.de>"], Err("several addresses in From"));
        check(&["Team: a@b.de, c@d.de;"], Err("group syntax in From"));
        check(&["Max Müller"], Err("From address contains whitespace"));
        check(&[""], Err("no address in From"));
        check(&["<>"], Err("no address in From"));
        check(&["Max <max@example.de"], Err("unclosed angle bracket in From"));
        check(&["<max@example.de> evil@attacker.tld"], Err("text after the address in From"));
        check(&["\"boss\"@firma.de"], Err("From address has a quoted part"));
        check(&["max@example.de,"], Ok("max@example.de"));
        check(&["max\u{FFFD}@example.de"], Err("invalid From address: not valid UTF-8"));
    }

    #[test]
    fn the_display_name_is_the_phrase_without_quotes() {
        assert_eq!(sender(&["\"Müller, Max\" <max@example.de>"]).1.as_deref(), Some("Müller, Max"));
        assert_eq!(sender(&["<max@example.de>"]).1, None);
        assert_eq!(sender(&["max@example.de (Max)"]).1.as_deref(), Some("Max"));
    }
}
