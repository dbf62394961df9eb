//! A strict reader for the topmost `Authentication-Results` header (RFC 8601) of a trusted server.
//!
//! Only the first `Authentication-Results` field of the header block counts: the office's receiving
//! server adds it on top, everything below came with the mail and may be forged. If that first field is
//! malformed or its authserv-id is not allow-listed, the mail is not verified — later fields are never
//! consulted. Comments, quoted strings, folded lines and case-insensitive names are handled; anything the
//! grammar does not allow makes the header malformed (fail closed).

use crate::Verdict;
use crate::org_domain::{aligned, normalize};

/// Longest header value read; a longer one is malformed.
const MAX_VALUE: usize = 64 * 1024;
/// Deepest comment nesting accepted.
const MAX_COMMENT_DEPTH: usize = 32;

/// One parsed `Authentication-Results` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AuthResults {
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// One `method=result` with its properties (`ptype.property`, lower case, to value).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MethodResult {
    pub method: String,
    pub result: String,
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Applies the `AuthResults` policy to a raw message.
pub(crate) fn check(raw: &[u8], from_domain: &str, authserv_ids: &[String]) -> Verdict {
    let Some(from) = normalize(from_domain) else {
        return Verdict::fail("no usable From domain");
    };
    let Some(value) = topmost_value(raw) else {
        return Verdict::fail("no Authentication-Results header");
    };
    if value.len() > MAX_VALUE {
        return Verdict::fail("topmost Authentication-Results header is too long");
    }
    let parsed = match parse(&value) {
        Ok(parsed) => parsed,
        Err(e) => return Verdict::fail(format!("topmost Authentication-Results header is malformed: {e}")),
    };
    let id = &parsed.authserv_id;
    if !authserv_ids.iter().any(|allowed| allowed.trim().eq_ignore_ascii_case(id)) {
        return Verdict::fail(format!("topmost Authentication-Results is from untrusted authserv-id {}", shorten(id)));
    }
    let mut dmarc_pass = false;
    let mut dmarc_fail = false;
    let mut dkim_pass = None;
    let mut seen = Vec::new();
    for r in &parsed.results {
        match r.method.as_str() {
            "dmarc" => {
                let for_from = r.prop("header.from").and_then(normalize).is_some_and(|d| d == from);
                if for_from && r.result == "pass" {
                    dmarc_pass = true;
                } else if for_from && r.result == "fail" {
                    dmarc_fail = true;
                }
            }
            "dkim" if r.result == "pass" => {
                let signer =
                    r.prop("header.d").or_else(|| r.prop("header.i").map(|i| i.rsplit('@').next().unwrap_or(i)));
                if let Some(d) = signer.filter(|d| aligned(d, &from, true)) {
                    dkim_pass.get_or_insert_with(|| d.to_ascii_lowercase());
                }
            }
            _ => {}
        }
        if seen.len() < 6 {
            seen.push(format!("{}={}", r.method, r.result));
        }
    }
    if dmarc_fail {
        Verdict::fail(format!("{} reports dmarc=fail for {from}", shorten(id)))
    } else if dmarc_pass {
        Verdict::pass(format!("{} reports dmarc=pass for {from}", shorten(id)))
    } else if let Some(d) = dkim_pass {
        Verdict::pass(format!("{} reports dkim=pass for d={d}, aligned with {from}", shorten(id)))
    } else {
        let seen = if seen.is_empty() { "none".to_string() } else { seen.join(", ") };
        Verdict::fail(format!("{} reports no dmarc=pass or aligned dkim=pass for {from} ({seen})", shorten(id)))
    }
}

fn shorten(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    clean
}

/// The unfolded value of the first `Authentication-Results` field of the header block.
fn topmost_value(raw: &[u8]) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // end of the header block
        }
        let continuation = matches!(line[0], b' ' | b'\t');
        if let Some(v) = value.as_mut() {
            if !continuation {
                break;
            }
            v.extend_from_slice(line);
            continue;
        }
        if continuation {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue; // not a field (e.g. an mbox "From " line)
        };
        let name = line[..colon].trim_ascii_end();
        if name.eq_ignore_ascii_case(b"Authentication-Results") {
            value = Some(line[colon + 1..].to_vec());
        }
    }
    value.map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// Parses an `Authentication-Results` value (after the colon, unfolded).
pub(crate) fn parse(value: &str) -> Result<AuthResults, String> {
    let mut p = Parser { s: value.as_bytes(), pos: 0 };
    p.cfws()?;
    let authserv_id = p.value().ok_or("missing authserv-id")?;
    let had_space = p.cfws()?;
    if had_space && p.peek().is_some_and(|b| b.is_ascii_digit()) {
        let version = p.take_while(|b| b.is_ascii_digit());
        if version != "1" {
            return Err(format!("unsupported version {version}"));
        }
        p.cfws()?;
    }
    let mut results = Vec::new();
    loop {
        match p.peek() {
            None if results.is_empty() => return Err("no result".into()),
            None => break,
            Some(b';') => p.pos += 1,
            Some(_) => return Err(format!("unexpected character at {}", p.pos)),
        }
        p.cfws()?;
        if p.peek().is_none() {
            break; // a trailing ";"
        }
        let method = p.keyword().ok_or("missing method")?;
        p.cfws()?;
        if results.is_empty() && method == "none" && p.peek().is_none() {
            break; // no-result
        }
        if p.eat(b'/') {
            p.cfws()?;
            if p.take_while(|b| b.is_ascii_digit()).is_empty() {
                return Err("missing method version".into());
            }
            p.cfws()?;
        }
        if !p.eat(b'=') {
            return Err(format!("missing result for {method}"));
        }
        p.cfws()?;
        let result = p.keyword().ok_or("missing result")?;
        let props = p.properties()?;
        results.push(MethodResult { method, result, props });
    }
    Ok(AuthResults { authserv_id, results })
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    /// Skips whitespace and comments; returns whether anything was skipped.
    fn cfws(&mut self) -> Result<bool, String> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'(') => self.comment()?,
                _ => return Ok(self.pos > start),
            }
        }
    }

    fn comment(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    if depth > MAX_COMMENT_DEPTH {
                        return Err("comments nested too deep".into());
                    }
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'\\' => self.pos += 1,
                _ => {}
            }
        }
        Err("unterminated comment".into())
    }

    fn quoted_string(&mut self) -> Result<Option<String>, String> {
        if !self.eat(b'"') {
            return Ok(None);
        }
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return Ok(Some(String::from_utf8_lossy(&out).into_owned())),
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.pos += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        Err("unterminated quoted string".into())
    }

    /// RFC 2045 token or quoted-string.
    fn value(&mut self) -> Option<String> {
        match self.quoted_string() {
            Ok(Some(v)) => Some(v),
            Ok(None) => Some(self.take_while(is_token_byte)).filter(|t| !t.is_empty()),
            Err(_) => None,
        }
    }

    /// An ldh-str keyword, lower-cased.
    fn keyword(&mut self) -> Option<String> {
        if !self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        Some(self.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_').to_ascii_lowercase())
    }

    /// `[reason=value] *(ptype.property=pvalue)` up to the next ";" or the end.
    fn properties(&mut self) -> Result<Vec<(String, String)>, String> {
        let mut props = Vec::new();
        let mut reason = false;
        loop {
            self.cfws()?;
            if matches!(self.peek(), None | Some(b';')) {
                return Ok(props);
            }
            let word = self.keyword().ok_or_else(|| format!("unexpected character at {}", self.pos))?;
            self.cfws()?;
            if word == "reason" && !reason && self.eat(b'=') {
                self.cfws()?;
                self.value().ok_or("missing reason value")?;
                reason = true;
                continue;
            }
            if !self.eat(b'.') {
                return Err(format!("unexpected {word} without a property"));
            }
            self.cfws()?;
            let property = self.keyword().ok_or("missing property name")?;
            self.cfws()?;
            if !self.eat(b'=') {
                return Err(format!("missing value for {word}.{property}"));
            }
            self.cfws()?;
            let value = self.pvalue()?;
            props.push((format!("{word}.{property}"), value));
        }
    }

    /// A property value: a quoted string (optionally followed by `@domain`) or a run of visible
    /// characters. Real servers put base64 (`+`, `/`, `=`) into `header.b`, so the run is wider than a
    /// token, but it never includes whitespace, `;`, `(`, `)`, `"` or `\`.
    fn pvalue(&mut self) -> Result<String, String> {
        if let Some(local) = self.quoted_string()? {
            if self.eat(b'@') {
                let domain = self.take_while(is_pvalue_byte);
                return Ok(format!("\"{local}\"@{domain}"));
            }
            return Ok(local);
        }
        let v = self.take_while(is_pvalue_byte);
        if v.is_empty() { Err("empty property value".into()) } else { Ok(v) }
    }
}

fn is_token_byte(b: u8) -> bool {
    (b > 0x20 && b != 0x7f) && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

fn is_pvalue_byte(b: u8) -> bool {
    (b > 0x20 && b != 0x7f) && !b"();\"\\".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(r: &MethodResult) -> Vec<(&str, &str)> {
        r.props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn a_gmail_style_header_parses_with_comments_and_base64_values() {
        let parsed = parse(
            " mx.google.com;\r\n       dkim=pass header.i=@firma.de header.s=20230601 header.b=Ab/+Cd=;\r\n       \
             spf=pass (google.com: domain of a@firma.de designates 1.2.3.4 as permitted sender) \
             smtp.mailfrom=a@firma.de;\r\n       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=firma.de",
        )
        .unwrap();
        assert_eq!(parsed.authserv_id, "mx.google.com");
        let methods: Vec<_> = parsed.results.iter().map(|r| (r.method.as_str(), r.result.as_str())).collect();
        assert_eq!(methods, [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]);
        assert_eq!(
            props(&parsed.results[0]),
            [("header.i", "@firma.de"), ("header.s", "20230601"), ("header.b", "Ab/+Cd=")]
        );
        assert_eq!(props(&parsed.results[2]), [("header.from", "firma.de")]);
    }

    #[test]
    fn version_none_quoted_ids_and_upper_case_are_understood() {
        let parsed = parse(r#" "mx.firma.de" 1; none"#).unwrap();
        assert_eq!((parsed.authserv_id.as_str(), parsed.results.len()), ("mx.firma.de", 0));
        let parsed =
            parse(" MX (our server) ; DMARC / 1 = PASS reason=\"ok; fine\" Header . From = firma.de ;").unwrap();
        assert_eq!(parsed.results[0].method, "dmarc");
        assert_eq!(parsed.results[0].result, "pass");
        assert_eq!(props(&parsed.results[0]), [("header.from", "firma.de")]);
    }

    #[test]
    fn grammar_violations_are_errors() {
        for value in [
            "",
            " mx.firma.de",
            " ; dmarc=pass",
            " mx.firma.de; dmarc",
            " mx.firma.de; dmarc=pass header.from",
            " mx.firma.de; dmarc=pass header.from=",
            " mx.firma.de; dmarc=pass action=none header.from=firma.de",
            " mx.firma.de; dmarc=pass (unterminated header.from=firma.de",
            " mx.firma.de; dmarc=pass reason=\"unterminated",
            " mx.firma.de 2; dmarc=pass header.from=firma.de",
            " spf=pass smtp.mailfrom=firma.de; dmarc=pass header.from=firma.de",
            " mx.firma.de dmarc=pass header.from=firma.de",
        ] {
            assert!(parse(value).is_err(), "{value:?} parsed as {:?}", parse(value));
        }
    }

    #[test]
    fn deeply_nested_comments_are_refused_without_recursion() {
        let value =
            format!(" mx.firma.de; dmarc=pass {}x{} header.from=firma.de", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&value).is_err());
    }

    #[test]
    fn only_the_first_field_of_the_header_block_is_read_and_unfolded() {
        let raw =
            b"Return-Path: <a@b>\r\nauthentication-results : mx.firma.de;\r\n\tdmarc=pass\r\n header.from=firma.de\r\n\
Authentication-Results: mx.firma.de; dmarc=fail header.from=firma.de\r\n\r\nAuthentication-Results: body\r\n";
        assert_eq!(topmost_value(raw).unwrap(), " mx.firma.de;\tdmarc=pass header.from=firma.de");
        assert_eq!(topmost_value(b"From: a@b\r\n\r\nAuthentication-Results: x; none\r\n"), None);
    }
}
