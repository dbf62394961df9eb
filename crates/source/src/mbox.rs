//! A local mbox file (mboxrd/mboxo) as a read-only source, for the one-off bulk import: the same
//! pass as a live mailbox, streaming. `list` scans the file once for message starts (a line `From `
//! at the start of the file or after a newline) and keeps only their offsets; `fetch` reads just the
//! messages asked for. Keys are `mbox:{index}` (the message's position), as earlier imports wrote them.
//! Nothing is ever changed in the file: disposal is always "leave".

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::{Envelope, Fetched, SourceConfig, SourceError};

pub struct MboxSession {
    path: PathBuf,
    /// (start of the message after its `From ` line, length up to the next `From ` line).
    spans: Vec<(u64, u64)>,
}

fn io_err(context: &str, path: &std::path::Path, e: std::io::Error) -> SourceError {
    SourceError::Io(format!("{context} {}: {e}", path.display()))
}

impl MboxSession {
    pub(crate) async fn connect(cfg: &SourceConfig) -> Result<MboxSession, SourceError> {
        let path = cfg.maildir.clone().ok_or_else(|| SourceError::Config("no mbox file configured".into()))?;
        if !tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
            return Err(SourceError::Config(format!("{} is not a file", path.display())));
        }
        Ok(MboxSession { path, spans: Vec::new() })
    }

    pub(crate) async fn list(&mut self) -> Result<Vec<Envelope>, SourceError> {
        let path = self.path.clone();
        let spans = tokio::task::spawn_blocking(move || scan(&path))
            .await
            .map_err(|e| SourceError::Io(format!("mbox scan: {e}")))??;
        self.spans = spans;
        Ok(self
            .spans
            .iter()
            .enumerate()
            .map(|(i, (_, len))| Envelope { key: format!("mbox:{i}"), size: Some(*len) })
            .collect())
    }

    pub(crate) async fn fetch(&mut self, keys: &[String]) -> Result<Vec<Fetched>, SourceError> {
        let wanted: Vec<(String, (u64, u64))> = keys
            .iter()
            .filter_map(|k| {
                let i: usize = k.strip_prefix("mbox:")?.parse().ok()?;
                Some((k.clone(), *self.spans.get(i)?))
            })
            .collect();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(&path).map_err(|e| io_err("cannot open", &path, e))?;
            let mut out = Vec::with_capacity(wanted.len());
            for (key, (start, len)) in wanted {
                let mut raw = vec![0u8; len as usize];
                file.seek(SeekFrom::Start(start)).map_err(|e| io_err("cannot read", &path, e))?;
                file.read_exact(&mut raw).map_err(|e| io_err("cannot read", &path, e))?;
                out.push(Fetched { key, raw: unquote(&raw).into() });
            }
            Ok(out)
        })
        .await
        .map_err(|e| SourceError::Io(format!("mbox read: {e}")))?
    }
}

/// The message spans of the file, read line by line (memory: one line and the offsets).
fn scan(path: &std::path::Path) -> Result<Vec<(u64, u64)>, SourceError> {
    let file = std::fs::File::open(path).map_err(|e| io_err("cannot open", path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut spans = Vec::new();
    let mut line = Vec::new();
    let (mut offset, mut current): (u64, Option<u64>) = (0, None);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| io_err("cannot read", path, e))? as u64;
        if n == 0 {
            break;
        }
        if line.starts_with(b"From ") {
            if let Some(start) = current {
                spans.push((start, offset - start));
            }
            current = Some(offset + n);
        }
        offset += n;
    }
    if let Some(start) = current {
        spans.push((start, offset - start));
    }
    Ok(spans)
}

/// One message's bytes: `>From ` lines unquoted by one level (mboxrd), the separating blank line dropped.
pub(crate) fn unquote(data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|b| *b == b'\n') {
        let quoted = line.iter().position(|b| *b != b'>').is_some_and(|p| p > 0 && line[p..].starts_with(b"From "));
        m.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    } else if m.ends_with(b"\n\n") {
        m.truncate(m.len() - 1);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_mbox_is_listed_by_offsets_and_fetched_unquoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mbox");
        let mbox = b"From a@x Thu Jan  1 00:00:00 2026\nSubject: 1\n\n>From here\n>>From there\n\nFrom b@x Thu Jan  1 00:00:00 2026\nSubject: 2\n\nzwei\n";
        std::fs::write(&path, mbox).unwrap();
        let mut s = MboxSession { path, spans: Vec::new() };
        let listed: Vec<String> = s.list().await.unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(listed, ["mbox:0", "mbox:1"]);
        let got = s.fetch(&["mbox:1".into(), "mbox:0".into(), "mbox:9".into()]).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(&got[0].raw[..], b"Subject: 2\n\nzwei\n");
        assert_eq!(&got[1].raw[..], b"Subject: 1\n\nFrom here\n>From there\n");
    }

    #[test]
    fn garbage_before_the_first_from_line_is_no_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g");
        std::fs::write(&path, b"garbage\n").unwrap();
        assert!(scan(&path).unwrap().is_empty());
    }
}
