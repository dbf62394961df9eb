//! `postkorb retention show|set|run|log`: the Aufbewahrungsfristen (issue 18) through core's
//! bounds, a deletion run now (or a dry run), and the Löschprotokoll.

use anyhow::bail;
use postkorb_core::AuditEntry;
use postkorb_core::retention::RetentionClass;

use crate::Ctx;
use crate::cli::RetentionCmd;
use crate::clock::format_ms;

pub async fn run(ctx: &Ctx, cmd: RetentionCmd) -> anyhow::Result<()> {
    match cmd {
        RetentionCmd::Show => {
            let s = ctx.store.retention_settings().await?;
            for (class, n) in s.all() {
                println!(
                    "{:<15} {n:>4} {}",
                    class.code(),
                    if class.unit_german() == "Jahre" { "years" } else { "days" }
                );
                println!("                {}", class.meaning(n));
            }
            println!("run_at          {:02}:{:02} (office clock, Europe/Berlin)", s.run_minute / 60, s.run_minute % 60);
            Ok(())
        }
        RetentionCmd::Set { class, value } => set(ctx, &class, &value).await,
        RetentionCmd::Run { dry_run } => {
            let runs = crate::service::retention::run(&ctx.store, ctx.clock.now_ms(), dry_run).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            for r in runs {
                let ids: Vec<String> = r.items.iter().map(|d| d.id.to_string()).collect();
                let ids = if ids.is_empty() { String::new() } else { format!(" (ids {})", ids.join(", ")) };
                println!("{:<15} {verb} {}{ids}", r.class.code(), r.count);
            }
            Ok(())
        }
        RetentionCmd::Log { limit } => {
            let (entries, total) = ctx.store.deletion_log(limit, 0).await?;
            println!("{total} entries");
            for e in entries {
                let class = if e.on_request { "request" } else { e.class.map_or("?", RetentionClass::code) };
                println!("{}  {class:<15} {} deleted", format_ms(e.at_ms), e.count);
                for d in e.items {
                    println!("    id {}{}", d.id, d.sha256.map(|h| format!("  sha256 {h}")).unwrap_or_default());
                }
            }
            Ok(())
        }
    }
}

async fn set(ctx: &Ctx, class: &str, value: &str) -> anyhow::Result<()> {
    let mut s = ctx.store.retention_settings().await?;
    let change = if class.trim() == "run_at" {
        let Some((h, m)) = value.split_once(':') else { bail!("run_at: give the time as HH:MM, e.g. 02:30") };
        let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) else { bail!("run_at: give the time as HH:MM") };
        if h > 23 || m > 59 {
            bail!("run_at: give the time as HH:MM, e.g. 02:30");
        }
        s.run_minute = h * 60 + m;
        format!("Löschlauf um {h:02}:{m:02} Uhr")
    } else {
        let Some(c) = RetentionClass::from_code(class) else {
            let all: Vec<&str> = RetentionClass::ALL.iter().map(|c| c.code()).collect();
            bail!("unknown class {class:?}: one of {}, run_at", all.join(", "));
        };
        let Ok(n) = value.trim().parse::<i64>() else { bail!("{class}: give a whole number") };
        let before = s.period(c);
        if let Err(e) = s.set(c, n) {
            bail!("{e}");
        }
        format!("{}: {before} → {n} {}", c.german(), c.unit_german())
    };
    ctx.store.save_retention_settings(&s).await?;
    let now = ctx.clock.now_ms();
    ctx.store.audit_entry(now, "cli", &AuditEntry::SaveRetention { changes: vec![change] }).await?;
    println!("saved");
    Ok(())
}
