//! `postkorb encryption status|on|off|convert`: encryption at rest of mail content (issue 18 item 7;
//! crates/store/src/seal.rs and sealing.rs). Every change is in the audit log.

use postkorb_core::AuditEntry;
use postkorb_store::SealProgress;

use crate::Ctx;
use crate::cli::EncryptionCmd;

pub async fn run(ctx: &Ctx, cmd: EncryptionCmd) -> anyhow::Result<()> {
    match cmd {
        EncryptionCmd::Status => {
            print_progress(&ctx.store.seal_progress().await?);
            Ok(())
        }
        EncryptionCmd::On | EncryptionCmd::Off => {
            let on = matches!(cmd, EncryptionCmd::On);
            switch(ctx, on).await?;
            println!("new mails are stored {}", if on { "encrypted" } else { "plain" });
            Ok(())
        }
        EncryptionCmd::Convert { batch } => convert(ctx, batch).await,
    }
}

/// Sets the setting and records it (nothing recorded when it does not change).
pub async fn switch(ctx: &Ctx, on: bool) -> anyhow::Result<()> {
    if ctx.store.seal_new().await? == on {
        return Ok(());
    }
    ctx.store.set_seal_new(on).await?;
    ctx.store.audit_entry(ctx.clock.now_ms(), "cli", &AuditEntry::MailEncryption { on }).await?;
    Ok(())
}

async fn convert(ctx: &Ctx, batch: i64) -> anyhow::Result<()> {
    if !(1..=10_000).contains(&batch) {
        anyhow::bail!("--batch must be between 1 and 10000");
    }
    switch(ctx, true).await?;
    let start = ctx.store.seal_progress().await?;
    let total = plain(&start);
    let mut done = 0i64;
    let mut cursor = postkorb_store::SealCursor::default();
    loop {
        let n = ctx.store.seal_step(batch, &mut cursor).await? as i64;
        if n == 0 {
            break;
        }
        done += n;
        println!("converted {done} of {total}");
    }
    // SQLite: the WAL, which held the plain pages before, is emptied into the database file.
    ctx.store.checkpoint().await?;
    if done > 0 {
        ctx.store.audit_entry(ctx.clock.now_ms(), "cli", &AuditEntry::MailSealed { items: done }).await?;
    }
    let end = ctx.store.seal_progress().await?;
    print_progress(&end);
    if ctx.store.blob_dir().is_some() {
        println!(
            "Plain blob files younger than one hour stay until the next sweep (`postkorb blobs sweep`, or serve's own)."
        );
    }
    println!(
        "Keep a copy of the key file {}: without it the encrypted mails cannot be read.",
        ctx.settings.key_file().display()
    );
    Ok(())
}

fn plain(p: &SealProgress) -> i64 {
    p.raw_plain + p.attachments_plain + p.bodies_plain + p.search_plain
}

fn print_progress(p: &SealProgress) {
    println!("new mails:            {}", if p.seal_new { "stored encrypted" } else { "stored plain" });
    println!("raw mails encrypted:  {}", p.raw_sealed);
    println!("raw mails plain:      {}", p.raw_plain);
    println!("attachments plain:    {}", p.attachments_plain);
    println!("old texts beside raw: {}", p.bodies_plain);
    println!("search texts plain:   {}", p.search_plain);
    if p.done() {
        println!("nothing is stored plain");
    }
}
