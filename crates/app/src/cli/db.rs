//! `migrate-db`, `backup`, `restore`: moving and saving the database as a whole.
//!
//! SQLite → PostgreSQL is a verified copy (`Store::copy_into`); a SQLite backup is a consistent
//! snapshot (`VACUUM INTO`) that may be taken while Postkorb runs. For PostgreSQL the commands
//! point to pg_dump / pg_restore, the tools made for it (docs/deploy.md). `blobs sweep` cleans
//! the blob directory (raw mails and attachments as files, setting `blob_dir`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use postkorb_store::{Backend, Store};

use crate::Ctx;
use crate::settings::Settings;

const PG_HINT: &str = "the database is PostgreSQL: back it up with `pg_dump --format=custom --file FILE 'URL'` \
and restore into an empty database with `pg_restore --dbname 'URL' FILE` (see docs/deploy.md); \
back up the key file as well";

/// `postkorb migrate-db --to postgres://…`
pub async fn migrate_db(ctx: &Ctx, to: &str) -> anyhow::Result<()> {
    if ctx.store.backend() != Backend::Sqlite {
        bail!(
            "migrate-db copies the embedded SQLite database; this installation uses {}",
            ctx.settings.database_url_redacted()
        );
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to must be a PostgreSQL URL (postgres://USER@HOST/DATABASE)");
    }
    refuse_while_serving(&ctx.store).await?;
    let target =
        Store::open(to).await.context("cannot open the target database (create it first, e.g. with createdb)")?;
    println!("copying {} into the PostgreSQL database …", ctx.settings.database_url());
    let sums = ctx.store.copy_into(&target).await.context("the copy failed; the target database was left unchanged")?;
    for s in &sums {
        println!("  {:<20} {:>8} rows  sha256 {}", s.table, s.rows, &s.checksum[..16]);
    }
    println!("Done: every table has the same rows and checksum in both databases.");
    if let Some(dir) = ctx.store.blob_dir() {
        // The rows reference the files by hash; the files are shared, not copied.
        let r = ctx.store.check_blobs().await?;
        println!("Blob directory {}: {} referenced files, kept as they are.", dir.display(), r.referenced);
        if !r.missing.is_empty() {
            eprintln!("warning: {} referenced files were missing already, e.g. {}", r.missing.len(), r.missing[0]);
        }
        println!("Keep blob_dir = \"{}\" for the PostgreSQL installation.", dir.display());
    }
    println!(
        "Next: set database_url = \"{}\" (or POSTKORB_DATABASE_URL) and keep the same key file",
        crate::settings::redact_url(to)
    );
    println!("({}); the SQLite file stays as it was.", ctx.settings.key_file().display());
    Ok(())
}

/// A copy while an instance is importing would miss what it imports meanwhile.
async fn refuse_while_serving(store: &Store) -> anyhow::Result<()> {
    let now = crate::clock::Clock::system().now_ms();
    for m in store.mailboxes().await? {
        if let Some(l) = store.lease(m.id).await?
            && l.expires_ms > now
        {
            bail!(
                "mailbox {} is being fetched by a running instance ({}): stop `postkorb serve` first",
                m.name,
                l.holder
            );
        }
    }
    Ok(())
}

/// `postkorb backup FILE`
pub async fn backup(ctx: &Ctx, file: &Path) -> anyhow::Result<()> {
    if ctx.store.backend() != Backend::Sqlite {
        bail!("{PG_HINT}");
    }
    ctx.store.backup_sqlite(file).await.with_context(|| format!("cannot write the backup {}", file.display()))?;
    let copy = Store::open(&format!("sqlite:{}", file.display())).await.context("the backup cannot be read back")?;
    let sums = copy.table_sums().await?;
    copy.pool().close().await;
    let rows: i64 = sums.iter().map(|s| s.rows).sum();
    println!("Backup written to {} ({} tables, {rows} rows).", file.display(), sums.len());
    if let Some(dir) = ctx.store.blob_dir() {
        // The files this snapshot references, beside it: the backup is complete on its own.
        let to = blobs_beside(file);
        let copy = Store::open(&format!("sqlite:{}", file.display())).await?;
        let r = copy.copy_referenced_blobs(dir, &to).await;
        copy.pool().close().await;
        let r = r.with_context(|| format!("cannot copy the blob files of {} to {}", dir.display(), to.display()))?;
        println!(
            "Raw mails and attachments: {} files ({} MB) in {} ({} hard links, the rest copied).",
            r.files + r.present,
            r.bytes / 1_000_000,
            to.display(),
            r.linked
        );
    }
    println!("Back up the key file too, separately: {}", ctx.settings.key_file().display());
    Ok(())
}

/// Where `backup FILE` puts the blob files of the snapshot: `FILE.blobs/`.
fn blobs_beside(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.blobs", file.display()))
}

/// `postkorb blobs sweep [--grace-minutes N]`
pub async fn sweep_blobs(ctx: &Ctx, grace_minutes: u64) -> anyhow::Result<()> {
    let Some(dir) = ctx.store.blob_dir() else {
        println!("No blob_dir is set: raw mails and attachments are in the database, nothing to sweep.");
        return Ok(());
    };
    let r = ctx.store.sweep_blobs(Duration::from_secs(grace_minutes.saturating_mul(60))).await?;
    println!(
        "Blob directory {}: {} referenced, {} removed, {} unreferenced but younger than {grace_minutes} min kept.",
        dir.display(),
        r.referenced,
        r.removed,
        r.young
    );
    if !r.missing.is_empty() {
        for h in &r.missing {
            eprintln!("missing: {}/{}/{h}", &h[..2], &h[2..4]);
        }
        bail!("{} referenced files are missing from {}", r.missing.len(), dir.display());
    }
    Ok(())
}

/// `postkorb restore FILE [--force]` (runs before the database is opened).
pub async fn restore(settings: &Settings, file: &Path, force: bool) -> anyhow::Result<()> {
    let url = settings.database_url();
    let Some(db) = sqlite_path(&url) else { bail!("{PG_HINT}") };
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    // Check the backup on a copy (an older backup is migrated there, as a start would do).
    let staged = db.with_extension("restoring");
    std::fs::copy(file, &staged).with_context(|| format!("cannot copy {} to {}", file.display(), staged.display()))?;
    let check = async {
        let store = Store::open(&format!("sqlite:{}", staged.display())).await?;
        let sums = store.table_sums().await?;
        store.pool().close().await;
        anyhow::Ok(sums)
    };
    let sums = match check.await {
        Ok(sums) => sums,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e.context(format!("{} is not a Postkorb backup", file.display())));
        }
    };
    // The blob files of the backup join the blob directory (files are named by their content, so
    // nothing there is replaced); every file the backup references must then be there.
    let blob_dir = settings.effective_blob_dir();
    let files = async {
        let beside = blobs_beside(file);
        if beside.is_dir() {
            let Some(dir) = &blob_dir else {
                bail!(
                    "the backup has raw mails as files ({}), but blob_dir is set to \"\" (in the database)",
                    beside.display()
                );
            };
            let (from, into) = (beside.clone(), dir.clone());
            let r = tokio::task::spawn_blocking(move || postkorb_store::merge_blob_tree(&from, &into)).await??;
            println!("{} blob files of the backup put into {} ({} there already).", r.files, dir.display(), r.present);
        }
        let store = Store::open_with(&format!("sqlite:{}", staged.display()), blob_dir.clone()).await?;
        let report = store.check_blobs().await;
        let references = store.blob_references().await;
        store.pool().close().await;
        let (missing, references) = (report?.missing, references?);
        if blob_dir.is_none() && references > 0 {
            bail!(
                "{references} raw mails or attachments of the backup are files, but blob_dir is set to \"\" (in the database)"
            );
        }
        if let Some(first) = missing.first() {
            bail!(
                "{} raw mails or attachments of the backup are files that are neither beside it ({}) nor in the blob directory, e.g. {first}",
                missing.len(),
                beside.display()
            );
        }
        anyhow::Ok(())
    };
    if let Err(e) = files.await {
        let _ = std::fs::remove_file(&staged);
        return Err(
            e.context(format!("{} cannot be restored completely; the database was not changed", file.display()))
        );
    }
    if db.exists() {
        let current = Store::open(&url).await?;
        let rows: i64 = current.table_sums().await?.iter().map(|s| s.rows).sum();
        if rows > 0 && !force {
            current.pool().close().await;
            let _ = std::fs::remove_file(&staged);
            bail!("{} holds data ({rows} rows): add --force to replace it (it is kept beside it)", db.display());
        }
        // Everything into the main file, so the file kept aside is complete on its own.
        current.checkpoint().await?;
        current.pool().close().await;
        let aside =
            PathBuf::from(format!("{}.before-restore-{}", db.display(), crate::clock::Clock::system().now_ms()));
        std::fs::rename(&db, &aside)?;
        println!("The previous database is kept as {}", aside.display());
    }
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    std::fs::rename(&staged, &db)?;
    let rows: i64 = sums.iter().map(|s| s.rows).sum();
    println!("Restored {} into {} ({rows} rows). Start Postkorb again.", file.display(), db.display());
    Ok(())
}

/// The file of a `sqlite:` URL (`sqlite:PATH`, `sqlite://PATH`, with or without `?options`).
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;
    use std::path::PathBuf;

    #[test]
    fn the_file_of_a_sqlite_url_is_found_with_or_without_slashes_and_options() {
        assert_eq!(sqlite_path("sqlite:data/postkorb.db"), Some(PathBuf::from("data/postkorb.db")));
        assert_eq!(sqlite_path("sqlite:///srv/pk.db?mode=rwc"), Some(PathBuf::from("/srv/pk.db")));
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }
}
