//! Reading a local Maildir or mbox file for the one-off bulk import.

use std::path::Path;

use anyhow::Context;
use postkorb_source::Fetched;

/// Every message in `new/` and `cur/` of a Maildir, keyed by its unique name, oldest name first.
pub fn read_maildir(dir: &Path) -> anyhow::Result<Vec<Fetched>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let path = dir.join(sub);
        let entries = std::fs::read_dir(&path)
            .with_context(|| format!("{} is not a Maildir (no {sub}/ directory)", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || !entry.file_type()?.is_file() {
                continue;
            }
            let unique = name.split(':').next().unwrap_or(&name).to_string();
            let raw = std::fs::read(entry.path()).with_context(|| format!("cannot read {}", entry.path().display()))?;
            out.push(Fetched { key: format!("maildir:{unique}"), raw: raw.into() });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Splits an mbox (mboxrd/mboxo) file into messages; keys are the message's position.
pub fn read_mbox(file: &Path) -> anyhow::Result<Vec<Fetched>> {
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(split_mbox(&data)
        .into_iter()
        .enumerate()
        .map(|(i, raw)| Fetched { key: format!("mbox:{i}"), raw: raw.into() })
        .collect())
}

/// A message starts at a line `From ` at the file start or after a newline; `>From ` lines are unquoted
/// by one level (mboxrd).
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in data.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(trim_separator(m));
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        let quoted = line.iter().position(|b| *b != b'>').is_some_and(|p| p > 0 && line[p..].starts_with(b"From "));
        m.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    if let Some(m) = current {
        messages.push(trim_separator(m));
    }
    messages
}

/// Drops the blank line that separates messages in an mbox.
fn trim_separator(mut m: Vec<u8>) -> Vec<u8> {
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    } else if m.ends_with(b"\n\n") {
        m.truncate(m.len() - 1);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::split_mbox;

    #[test]
    fn an_mbox_splits_into_messages_and_quoted_from_lines_are_restored() {
        let mbox = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: eins\n\n>From here\n>>From there\n\nFrom c@d Mon Jan 1 00:00:00 2024\nSubject: zwei\n\nText\n";
        let msgs = split_mbox(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], b"Subject: eins\n\nFrom here\n>From there\n");
        assert_eq!(msgs[1], b"Subject: zwei\n\nText\n");
    }

    #[test]
    fn text_before_the_first_from_line_is_not_a_message() {
        assert!(split_mbox(b"garbage\n").is_empty());
    }
}
