//! A ZIP file written as it goes (issue 18, the Auskunft's download): stored (uncompressed)
//! entries with UTF-8 names, one at a time, to any `Write` — nothing but the central directory's
//! entries (name, size, CRC) is held. Mails are mostly compressed already (base64 attachments
//! aside); stored entries open everywhere and need no compression crate. No ZIP64: an archive
//! over 4 GiB or 65,535 entries is refused with an error.

use std::io::{self, Write};

/// The fixed DOS time of every entry: 1 January 2000 00:00 (the index names the real times).
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (20 << 9) | (1 << 5) | 1;
/// General purpose flag bit 11: names are UTF-8.
const UTF8: u16 = 1 << 11;

struct Entry {
    name: String,
    crc: u32,
    size: u32,
    offset: u32,
}

/// Writes entries to `out`; [`ZipWriter::finish`] writes the central directory.
pub struct ZipWriter<W: Write> {
    out: W,
    written: u64,
    entries: Vec<Entry>,
}

fn too_big() -> io::Error {
    io::Error::other("the ZIP would exceed 4 GiB or 65535 entries")
}

impl<W: Write> ZipWriter<W> {
    pub fn new(out: W) -> ZipWriter<W> {
        ZipWriter { out, written: 0, entries: Vec::new() }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Adds one file `name` (a path with `/`) holding `data`.
    pub fn add(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let offset = u32::try_from(self.written).map_err(|_| too_big())?;
        let size = u32::try_from(data.len()).map_err(|_| too_big())?;
        if self.entries.len() >= usize::from(u16::MAX) || name.len() > usize::from(u16::MAX) {
            return Err(too_big());
        }
        let crc = crc32fast::hash(data);
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes()); // version needed
        h.extend_from_slice(&UTF8.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&DOS_TIME.to_le_bytes());
        h.extend_from_slice(&DOS_DATE.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // extra
        h.extend_from_slice(name.as_bytes());
        self.put(&h)?;
        self.put(data)?;
        u32::try_from(self.written).map_err(|_| too_big())?;
        self.entries.push(Entry { name: name.to_string(), crc, size, offset });
        Ok(())
    }

    /// Writes the central directory and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let start = u32::try_from(self.written).map_err(|_| too_big())?;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut h = Vec::with_capacity(46 + e.name.len());
            h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            h.extend_from_slice(&0x031Eu16.to_le_bytes()); // made by: Unix, 3.0
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&UTF8.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&DOS_TIME.to_le_bytes());
            h.extend_from_slice(&DOS_DATE.to_le_bytes());
            h.extend_from_slice(&e.crc.to_le_bytes());
            h.extend_from_slice(&e.size.to_le_bytes());
            h.extend_from_slice(&e.size.to_le_bytes());
            h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
            h.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes()); // external: a regular file
            h.extend_from_slice(&e.offset.to_le_bytes());
            h.extend_from_slice(e.name.as_bytes());
            self.put(&h)?;
        }
        let size = u32::try_from(self.written - u64::from(start)).map_err(|_| too_big())?;
        let n = entries.len() as u16;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0; 4]); // disk numbers
        end.extend_from_slice(&n.to_le_bytes());
        end.extend_from_slice(&n.to_le_bytes());
        end.extend_from_slice(&size.to_le_bytes());
        end.extend_from_slice(&start.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.put(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::ZipWriter;

    #[test]
    fn the_archive_opens_with_unzip_and_holds_the_bytes() {
        let mut z = ZipWriter::new(Vec::new());
        z.add("index.json", b"{\"a\":1}").unwrap();
        z.add("mails/vorgang-1.eml", b"From: x\r\n\r\nGr\xc3\xbc\xc3\x9fe").unwrap();
        z.add("leer.txt", b"").unwrap();
        let bytes = z.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        std::fs::write(&path, &bytes).unwrap();
        let Ok(out) = std::process::Command::new("unzip").arg("-p").arg(&path).arg("mails/vorgang-1.eml").output()
        else {
            eprintln!("no unzip on this machine: skipped");
            return;
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, b"From: x\r\n\r\nGr\xc3\xbc\xc3\x9fe");
        let test = std::process::Command::new("unzip").arg("-t").arg(&path).output().unwrap();
        assert!(test.status.success(), "{}", String::from_utf8_lossy(&test.stdout));
    }
}
