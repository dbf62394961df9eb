//! `postkorb privacy export|erase ADDRESS` (issue 18): a person's Auskunft as a ZIP and Löschen
//! auf Antrag, through the store's one search (`Store::find_person`) and erase plan.

use postkorb_store::{EraseAction, PersonItem, PersonMatch, PersonQuery};

use crate::Ctx;
use crate::cli::PrivacyCmd;
use crate::clock::format_ms;

pub async fn run(ctx: &Ctx, cmd: PrivacyCmd) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    match cmd {
        PrivacyCmd::Export { address, out } => {
            let q = PersonQuery::new(&address)?;
            let found = ctx.store.find_person(&q).await?;
            let file = std::fs::File::create(&out)?;
            let file = ctx.store.export_person(&q, &found, std::io::BufWriter::new(file), "cli", now).await?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            for m in &found {
                println!("{}", line(m));
            }
            println!("{} items written to {}", found.len(), out.display());
            Ok(())
        }
        PrivacyCmd::Erase { address, reason, dry_run } => {
            let q = PersonQuery::new(&address)?;
            let found = ctx.store.find_person(&q).await?;
            let plan = ctx.store.erase_plan(&found, now).await?;
            for (m, action) in found.iter().zip(&plan) {
                let what = match action {
                    EraseAction::Delete => "delete".to_string(),
                    EraseAction::Restrict { until_ms, .. } => {
                        format!("restrict (retention duty until {})", format_ms(*until_ms))
                    }
                    EraseAction::Held => "keep (a Sperre holds it)".to_string(),
                    EraseAction::Proof => "keep (audit log: proof of what was done)".to_string(),
                };
                let done = if dry_run {
                    "would ".to_string()
                } else if ctx.store.erase_item(m, action, "cli", &reason, now).await? {
                    String::new()
                } else {
                    "nothing done (changed meanwhile), wanted to ".to_string()
                };
                println!("{}  {done}{what}", line(m));
            }
            println!("{} items", found.len());
            Ok(())
        }
    }
}

/// „case 12  2025-05-02 10:00  sender, cc  „Subject““.
fn line(m: &PersonMatch) -> String {
    let (kind, id) = match m.item {
        PersonItem::Case(id) => ("case", id),
        PersonItem::Kept(id) => ("kept", id),
        PersonItem::Audit(id) => ("audit", id),
    };
    let places: Vec<&str> = m.found_in.iter().map(|f| f.code()).collect();
    format!("{kind} {id:<6} {}  {:<20} {}", format_ms(m.at_ms), places.join(", "), m.subject)
}
