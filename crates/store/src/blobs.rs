//! Raw mails and attachment bytes in a directory instead of the database (setting `blob_dir`).
//!
//! **Invariant:** a blob file is durable before the transaction that references it commits:
//! written to a temp file in its final directory, renamed to its content address
//! (`ab/cd/<sha256 hex>`), and flushed with one `syncfs` per batch — inside the import step,
//! before `COMMIT`.
//! Identical bytes share one file. A transaction that fails leaves an unreferenced file behind;
//! [`Store::sweep_blobs`] removes such files once they are older than a grace period, so a file
//! written for a transaction still in flight is never removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// A blob file is written in pieces of at most this many bytes (1 MiB). A single larger write lets
/// the kernel fill the file's page cache with 2 MiB folios, and on a VM that hands free memory back
/// to its host in 2 MiB blocks (free page reporting, as on this project's benchmark machine) such
/// folios are, it seems, blocks the host must fault in again: writing 4 MB in one piece cost ten
/// times the system CPU of writing it in 1 MiB pieces there (`bench/first_touch.py`,
/// docs/benchmarks.md, twenty-first session). Elsewhere the pieces cost a few more system calls.
const WRITE_PIECE: usize = 1 << 20;

/// The directory holding the blob files.
#[derive(Clone, Debug)]
pub(crate) struct BlobDir {
    root: PathBuf,
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Referenced files, left alone.
    pub referenced: u64,
    /// Unreferenced files left alone: younger than the grace period (maybe a transaction in
    /// flight), or found by [`Store::check_blobs`], which removes nothing.
    pub young: u64,
    /// Unreferenced files (and stale temp files) removed.
    pub removed: u64,
    /// Hashes referenced by a row whose file is missing: reading them fails.
    pub missing: Vec<String>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

pub(crate) fn hash_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn is_hash(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_hex2(name: &str) -> bool {
    name.len() == 2 && is_hash(&name.repeat(32))
}

/// A unique name beside the final file, never mistaken for a blob (it contains a dot).
fn side_name(hash: &str, kind: &str) -> String {
    format!("{hash}.{kind}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

impl BlobDir {
    pub(crate) fn open(root: PathBuf) -> Result<BlobDir> {
        std::fs::create_dir_all(&root)
            .map_err(|e| StoreError::Blob(format!("cannot create the blob directory {}: {e}", root.display())))?;
        Ok(BlobDir { root })
    }

    fn dir_of(&self, hash: &str) -> PathBuf {
        self.root.join(&hash[..2]).join(&hash[2..4])
    }

    pub(crate) fn path_of(&self, hash: &str) -> PathBuf {
        self.dir_of(hash).join(hash)
    }

    /// Writes files, each under the given SHA-256 of its bytes (a fresh temp file renamed over any
    /// existing one: an existing unreferenced file may be swept at any moment, a freshly renamed
    /// one is younger than any grace period), then makes all of them and their directory entries
    /// durable with one `syncfs` of the file system: one flush per batch instead of fsyncs per
    /// file and directory. Done before the referencing transaction commits. A hash that is not the SHA-256 of its bytes
    /// would make the file unreadable ([`Self::get`] checks), so callers pass the computed one.
    pub(crate) fn put_many_blocking(&self, files: &[(&str, &[u8])]) -> Result<()> {
        for (hash, bytes) in files {
            self.write_blocking(hash, bytes)?;
        }
        if !files.is_empty() {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes one file of [`Self::put_many_blocking`] (a temporary file renamed to its name),
    /// not yet durable: [`Self::flush`] makes it so, before anything references it.
    pub(crate) fn write_blocking(&self, hash: &str, bytes: &[u8]) -> Result<()> {
        let fail = |e: std::io::Error| {
            StoreError::Blob(format!("cannot write to the blob directory {}: {e}", self.root.display()))
        };
        if !is_hash(hash) {
            return Err(StoreError::Blob(format!("invalid blob hash {hash:?}")));
        }
        let dir = self.dir_of(hash);
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let tmp = dir.join(side_name(hash, "tmp"));
        let written = (|| {
            let mut f = std::fs::File::create_new(&tmp)?;
            for piece in bytes.chunks(WRITE_PIECE) {
                f.write_all(piece)?;
            }
            std::fs::rename(&tmp, dir.join(hash))
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e));
        }
        Ok(())
    }

    /// Makes everything written to the directory's file system durable (one `syncfs`).
    pub(crate) fn flush(&self) -> Result<()> {
        let fail = |e: std::io::Error| {
            StoreError::Blob(format!("cannot flush the blob directory {}: {e}", self.root.display()))
        };
        std::fs::create_dir_all(&self.root).map_err(fail)?;
        let root = std::fs::File::open(&self.root).map_err(fail)?;
        rustix::fs::syncfs(&root).map_err(|e| fail(e.into()))
    }

    /// Reads a blob and checks its bytes against the hash.
    pub(crate) async fn get(&self, hash: &str, what: &str) -> Result<Vec<u8>> {
        let bytes = self.read(hash, what).await?;
        if hash_hex(&bytes) != hash {
            return Err(StoreError::Blob(format!(
                "the file of {what} is damaged (hash mismatch): {}",
                self.path_of(hash).display()
            )));
        }
        Ok(bytes)
    }

    /// Reads a blob's file as it is (a sealed one is checked when it is opened).
    async fn read(&self, hash: &str, what: &str) -> Result<Vec<u8>> {
        let path = self.path_of(hash);
        tokio::fs::read(&path).await.map_err(|e| {
            StoreError::Blob(format!("the file of {what} is missing or unreadable: {} ({e})", path.display()))
        })
    }
}

/// Reads bytes stored either in the row (`blob` NULL) or in the blob directory; `sealed` (the
/// row's column, `seal.rs`): they are sealed under that name and are opened with the store's key.
pub(crate) async fn resolve(
    store: &Store,
    data: Vec<u8>,
    blob: Option<String>,
    sealed: Option<String>,
    what: &str,
) -> Result<Vec<u8>> {
    let stored = match blob {
        None => data,
        Some(hash) => {
            if !is_hash(&hash) {
                return Err(StoreError::Blob(format!("{what} has an invalid blob reference {hash:?}")));
            }
            let Some(dir) = &store.blobs else {
                return Err(StoreError::Blob(format!(
                    "{what} is stored in a blob directory (file {}/{}/{hash}), but no blob_dir is set",
                    &hash[..2],
                    &hash[2..4]
                )));
            };
            if sealed.is_none() {
                return dir.get(&hash, what).await;
            }
            dir.read(&hash, what).await?
        }
    };
    let Some(name) = sealed else { return Ok(stored) };
    let Some(key) = store.mail_key() else {
        return Err(StoreError::Blob(format!(
            "{what} is stored encrypted, but the key file was not given to this command"
        )));
    };
    let what = what.to_string();
    let key = key.clone();
    crate::blocking("decryption", move || key.open(&stored, &name, &what)).await
}

/// How old a file must be before a deletion removes it at once (longer than any import
/// transaction, like the sweep's grace in `serve`).
pub const DELETE_GRACE: Duration = Duration::from_secs(3600);

impl Store {
    /// Removes blob files no row references and that are older than `grace` (also temp files
    /// a crash left behind). `grace` must exceed the longest import transaction: a file written for
    /// a transaction still in flight is unreferenced until its commit. Safe while importing and
    /// with several instances sharing the directory. Without a blob directory: nothing to do.
    pub async fn sweep_blobs(&self, grace: Duration) -> Result<SweepReport> {
        self.walk_blobs(SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH)).await
    }

    /// Removes the files of these hashes now, each unless a row still references it (identical
    /// bytes of another mail) — the deletion of their rows committed before. A file written within
    /// [`DELETE_GRACE`] stays for the sweep: it may be a concurrent import's fresh copy of the same
    /// bytes, renamed in for a transaction not yet committed (the sweep's own rule). Returns how
    /// many files went.
    pub async fn remove_blobs_now(&self, hashes: &[String]) -> Result<u64> {
        let Some(dir) = &self.blobs else { return Ok(0) };
        let cutoff = SystemTime::now().checked_sub(DELETE_GRACE).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        for hash in hashes.iter().filter(|h| is_hash(h)) {
            if self.is_referenced(hash).await? {
                continue;
            }
            let io = |e: std::io::Error| StoreError::Blob(format!("removing {}: {e}", dir.path_of(hash).display()));
            if self.remove_unreferenced(dir, hash, cutoff).await.map_err(io)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Counts the blob files and finds referenced ones that are missing; removes nothing.
    pub async fn check_blobs(&self) -> Result<SweepReport> {
        self.walk_blobs(SystemTime::UNIX_EPOCH).await
    }

    /// Whether raw mails and attachments of new imports go to a blob directory.
    pub fn blob_dir(&self) -> Option<&Path> {
        self.blobs.as_ref().map(|b| b.root.as_path())
    }

    /// Removes what is unreferenced and last modified before `cutoff`.
    async fn walk_blobs(&self, cutoff: SystemTime) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let Some(dir) = &self.blobs else { return Ok(report) };
        let io = |e: std::io::Error| StoreError::Blob(format!("sweeping {}: {e}", dir.root.display()));
        for n in 0..=255u8 {
            let top = format!("{n:02x}");
            let referenced = self.referenced_with_prefix(&top).await?;
            let mut present = std::collections::HashSet::new();
            for mid in list(&dir.root.join(&top)).await.map_err(io)? {
                let sub = dir.root.join(&top).join(&mid);
                if !is_hex2(&mid) || !sub.is_dir() {
                    continue;
                }
                for name in list(&sub).await.map_err(io)? {
                    let path = sub.join(&name);
                    if is_hash(&name) {
                        if referenced.contains(&name) {
                            report.referenced += 1;
                            present.insert(name);
                        } else if !older_than(&path, cutoff).await {
                            report.young += 1;
                        } else if self.remove_unreferenced(dir, &name, cutoff).await.map_err(io)? {
                            report.removed += 1;
                        } else {
                            report.young += 1;
                        }
                    } else if let Some((hash, _)) = name.split_once('.')
                        && is_hash(hash)
                        && older_than(&path, cutoff).await
                    {
                        // A temp file of a crashed writer, or a file a crashed sweep set aside:
                        // put back what became referenced, remove the rest.
                        let target = dir.path_of(hash);
                        let done =
                            if name[65..].starts_with("sweep") && self.is_referenced(hash).await? && !target.exists() {
                                tokio::fs::rename(&path, &target).await
                            } else {
                                report.removed += 1;
                                tokio::fs::remove_file(&path).await
                            };
                        match done {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                            _ => {}
                        }
                    }
                }
            }
            let mut missing: Vec<String> = referenced
                .into_iter()
                .filter(|h| h.starts_with(top.as_str()) && !present.contains(h) && !dir.path_of(h).exists())
                .collect();
            report.missing.append(&mut missing);
        }
        report.missing.sort();
        Ok(report)
    }

    /// Sets the file aside, re-checks it (a writer may have renamed a fresh copy in, or committed
    /// a reference meanwhile), then deletes it or puts it back.
    async fn remove_unreferenced(&self, dir: &BlobDir, hash: &str, cutoff: SystemTime) -> std::io::Result<bool> {
        let path = dir.path_of(hash);
        let aside = dir.dir_of(hash).join(side_name(hash, "sweep"));
        match tokio::fs::rename(&path, &aside).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
        let referenced = self.is_referenced(hash).await.map_err(|e| std::io::Error::other(e.to_string()))?;
        // NotFound: another instance's sweep handled the set-aside file meanwhile.
        let gone = |r: std::io::Result<()>| match r {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        };
        if referenced || !older_than(&aside, cutoff).await {
            gone(tokio::fs::rename(&aside, &path).await)?;
            return Ok(false);
        }
        gone(tokio::fs::remove_file(&aside).await)?;
        Ok(true)
    }

    async fn is_referenced(&self, hash: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM raw_messages WHERE blob = $1) + (SELECT COUNT(*) FROM attachments WHERE blob = $1)",
        )
        .bind(hash)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// Every hash referenced by a row that starts with these two hex digits.
    async fn referenced_with_prefix(&self, prefix: &str) -> Result<std::collections::HashSet<String>> {
        // A range on the indexed column; the exact prefix test below keeps a collation's
        // ordering from mattering (and removal re-checks each hash exactly).
        let upper = format!("{prefix}g");
        let rows = sqlx::query(
            "SELECT blob FROM raw_messages WHERE blob >= $1 AND blob < $2
             UNION SELECT blob FROM attachments WHERE blob >= $1 AND blob < $2",
        )
        .bind(prefix)
        .bind(&upper)
        .fetch_all(&self.pool)
        .await?;
        let mut out = std::collections::HashSet::new();
        for r in rows {
            let h: String = r.try_get(0)?;
            if h.starts_with(prefix) && is_hash(&h) {
                out.insert(h);
            }
        }
        Ok(out)
    }
}

/// What copying blob files did ([`Store::copy_referenced_blobs`], [`merge_blob_tree`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobCopy {
    /// Files now in the target (linked or copied).
    pub files: u64,
    /// Of these, hard links (no bytes copied: the same file system).
    pub linked: u64,
    /// Files the target had already.
    pub present: u64,
    /// Bytes of all of them.
    pub bytes: u64,
}

impl Store {
    /// Puts every file the rows of this database reference, taken from the blob directory
    /// `from`, into `to` (the same `ab/cd/<hash>` layout): a hard link where both are on one file
    /// system, else a copy; then flushes `to`. For `backup`: `self` is the snapshot just written,
    /// so the copy holds exactly what the snapshot needs. A referenced file missing in `from` is
    /// an error naming it (the backup would be incomplete).
    pub async fn copy_referenced_blobs(&self, from: &Path, to: &Path) -> Result<BlobCopy> {
        let rows = sqlx::query(
            "SELECT blob FROM raw_messages WHERE blob IS NOT NULL UNION SELECT blob FROM attachments WHERE blob IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut hashes = Vec::with_capacity(rows.len());
        for r in rows {
            let h: String = r.try_get(0)?;
            if !is_hash(&h) {
                return Err(StoreError::Blob(format!("a row has an invalid blob reference {h:?}")));
            }
            hashes.push(h);
        }
        let (from, to) = (BlobDir { root: from.to_path_buf() }, BlobDir { root: to.to_path_buf() });
        tokio::task::spawn_blocking(move || {
            let mut report = BlobCopy::default();
            let mut missing = Vec::new();
            for h in &hashes {
                let source = from.path_of(h);
                if !source.is_file() {
                    missing.push(source.display().to_string());
                    continue;
                }
                link_or_copy(&source, &to, h, &mut report)?;
            }
            if let Some(first) = missing.first() {
                return Err(StoreError::Blob(format!(
                    "{} referenced files are missing from the blob directory, e.g. {first}",
                    missing.len()
                )));
            }
            if !hashes.is_empty() {
                to.flush()?;
            }
            Ok(report)
        })
        .await
        .map_err(|e| StoreError::Blob(format!("blob copy failed: {e}")))?
    }

    /// How many rows reference a blob file (raw mails and attachments).
    pub async fn blob_references(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM raw_messages WHERE blob IS NOT NULL) + (SELECT COUNT(*) FROM attachments WHERE blob IS NOT NULL)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }
}

/// Puts every blob file of the tree `from` that `into` lacks into `into` (hard link, else copy),
/// then flushes `into`. Files are named by the hash of their bytes, so a file present in both is the
/// same file and stays. For `restore`: the blob files of a backup join the blob directory.
pub fn merge_blob_tree(from: &Path, into: &Path) -> Result<BlobCopy> {
    let into = BlobDir::open(into.to_path_buf())?;
    let io = |e: std::io::Error| StoreError::Blob(format!("reading {}: {e}", from.display()));
    let mut report = BlobCopy::default();
    let sorted = |dir: &Path| -> std::io::Result<Vec<(String, PathBuf)>> {
        let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)?
            .flatten()
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .collect();
        out.sort();
        Ok(out)
    };
    for (top, top_path) in sorted(from).map_err(io)? {
        if !is_hex2(&top) || !top_path.is_dir() {
            continue;
        }
        for (mid, mid_path) in sorted(&top_path).map_err(io)? {
            if !is_hex2(&mid) || !mid_path.is_dir() {
                continue;
            }
            for (name, path) in sorted(&mid_path).map_err(io)? {
                if is_hash(&name) && name.starts_with(&format!("{top}{mid}")) && path.is_file() {
                    link_or_copy(&path, &into, &name, &mut report)?;
                }
            }
        }
    }
    into.flush()?;
    Ok(report)
}

/// One file into a blob directory under its hash, unless it is there already: a hard link, or a
/// copy to a temp name renamed into place.
fn link_or_copy(source: &Path, to: &BlobDir, hash: &str, report: &mut BlobCopy) -> Result<()> {
    let fail = |e: std::io::Error| {
        StoreError::Blob(format!("cannot put {} into {}: {e}", source.display(), to.root.display()))
    };
    let target = to.path_of(hash);
    let size = std::fs::metadata(source).map_err(fail)?.len();
    report.bytes += size;
    if target.is_file() {
        report.present += 1;
        return Ok(());
    }
    let dir = to.dir_of(hash);
    std::fs::create_dir_all(&dir).map_err(fail)?;
    match std::fs::hard_link(source, &target) {
        Ok(()) => report.linked += 1,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            report.present += 1;
            return Ok(());
        }
        Err(_) => {
            let tmp = dir.join(side_name(hash, "tmp"));
            let copied = std::fs::copy(source, &tmp).and_then(|_| std::fs::rename(&tmp, &target));
            if let Err(e) = copied {
                let _ = std::fs::remove_file(&tmp);
                return Err(fail(e));
            }
        }
    }
    report.files += 1;
    Ok(())
}

async fn list(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rd = match tokio::fs::read_dir(dir).await {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    while let Some(entry) = rd.next_entry().await? {
        if let Ok(name) = entry.file_name().into_string() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Whether the file's last modification is before `cutoff` (a missing file counts as young).
async fn older_than(path: &Path, cutoff: SystemTime) -> bool {
    match tokio::fs::metadata(path).await.and_then(|m| m.modified()) {
        Ok(t) => t < cutoff,
        Err(_) => false,
    }
}
