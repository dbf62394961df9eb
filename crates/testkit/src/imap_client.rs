//! A deliberately tiny blocking IMAP client, just enough for tests to deliver mail and look at
//! mailboxes (LOGIN, APPEND, SELECT, STATUS, CREATE, LOGOUT) without using the adapter under test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct ImapClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

/// Quotes an IMAP string (RFC 3501 quoted form).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl ImapClient {
    /// Connects to 127.0.0.1:`port` and reads the greeting.
    pub fn connect(port: u16) -> std::io::Result<ImapClient> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        let mut client = ImapClient { reader: BufReader::new(stream), writer, tag: 0 };
        let greeting = client.read_line()?;
        if !greeting.starts_with("* OK") {
            return Err(other(format!("unexpected IMAP greeting: {greeting}")));
        }
        Ok(client)
    }

    /// Connects and logs in; panics with the server's answer on failure (test helper).
    pub fn login(port: u16, user: &str, password: &str) -> ImapClient {
        let mut client = ImapClient::connect(port).expect("connect to dovecot imap");
        client
            .command(&format!("LOGIN {} {}", quote(user), quote(password)))
            .unwrap_or_else(|e| panic!("IMAP LOGIN {user} failed: {e}"));
        client
    }

    /// Reads one response line; a trailing `{n}` literal is read and appended, so a logical line
    /// with literals comes back as one string.
    fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        loop {
            let mut chunk = Vec::new();
            let n = self.reader.read_until(b'\n', &mut chunk)?;
            if n == 0 {
                return Err(other("connection closed by server".into()));
            }
            while chunk.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                chunk.pop();
            }
            let literal = literal_len(&chunk);
            line.extend_from_slice(&chunk);
            match literal {
                Some(len) => {
                    let mut buf = vec![0; len];
                    self.reader.read_exact(&mut buf)?;
                    line.extend_from_slice(&buf);
                }
                None => return Ok(String::from_utf8_lossy(&line).into_owned()),
            }
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    fn read_until_tagged(&mut self, tag: &str) -> std::io::Result<Vec<String>> {
        let mut untagged = Vec::new();
        loop {
            let line = self.read_line()?;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                if rest.starts_with("OK") {
                    return Ok(untagged);
                }
                return Err(other(format!("{tag} {rest}")));
            }
            untagged.push(line);
        }
    }

    /// Sends one command and returns the untagged lines; a NO/BAD is an error with its text.
    pub fn command(&mut self, command: &str) -> std::io::Result<Vec<String>> {
        let tag = self.next_tag();
        self.writer.write_all(format!("{tag} {command}\r\n").as_bytes())?;
        self.read_until_tagged(&tag)
    }

    /// APPENDs a raw message to `folder` (no flags, so it is unseen).
    pub fn append(&mut self, folder: &str, raw: &[u8]) -> std::io::Result<()> {
        let tag = self.next_tag();
        let head = format!("{tag} APPEND {} {{{}}}\r\n", quote(folder), raw.len());
        self.writer.write_all(head.as_bytes())?;
        let cont = self.read_line()?;
        if !cont.starts_with('+') {
            return Err(other(format!("APPEND refused: {cont}")));
        }
        self.writer.write_all(raw)?;
        self.writer.write_all(b"\r\n")?;
        self.read_until_tagged(&tag).map(|_| ())
    }

    /// STATUS `folder` for one item (MESSAGES, UNSEEN, UIDVALIDITY, UIDNEXT).
    pub fn status(&mut self, folder: &str, item: &str) -> std::io::Result<u64> {
        let lines = self.command(&format!("STATUS {} ({item})", quote(folder)))?;
        lines
            .iter()
            .filter(|l| l.starts_with("* STATUS"))
            .find_map(|l| status_value(l, item))
            .ok_or_else(|| other(format!("no {item} in STATUS answer: {lines:?}")))
    }

    pub fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    let inner = text.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].parse().ok()
}

fn status_value(line: &str, item: &str) -> Option<u64> {
    let open = line.rfind('(')?;
    let mut words = line[open + 1..].trim_end_matches(')').split_whitespace();
    while let Some(word) = words.next() {
        let value = words.next()?;
        if word.eq_ignore_ascii_case(item) {
            return value.parse().ok();
        }
    }
    None
}

fn other(msg: String) -> std::io::Error {
    std::io::Error::other(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_value_finds_the_item_in_a_status_line() {
        let line = "* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 2)";
        assert_eq!(status_value(line, "MESSAGES"), Some(3));
        assert_eq!(status_value(line, "UNSEEN"), Some(2));
        assert_eq!(status_value(line, "UIDNEXT"), None);
    }

    #[test]
    fn literal_len_reads_a_trailing_literal_marker() {
        assert_eq!(literal_len(b"* LIST () \"/\" {5}"), Some(5));
        assert_eq!(literal_len(b"* OK done"), None);
    }

    #[test]
    fn quote_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
