//! `postkorb dispatch --once` (one round of the dispatcher) and `postkorb webhook add|list|remove`.

use anyhow::Context;

use crate::Ctx;
use crate::cli::WebhookCmd;
use crate::service::dispatch::{Deps, Dispatcher, webhook};

/// One round: fan out what is new, try every due delivery once.
pub async fn once(ctx: &Ctx) -> anyhow::Result<()> {
    let round = Dispatcher::new(Deps::of(ctx)?).once(ctx.clock.now_ms()).await?;
    println!(
        "dispatch: {} events read, {} delivered, {} to retry, {} given up, {} paused",
        round.fanned_out, round.delivered, round.retried, round.failed, round.paused
    );
    Ok(())
}

pub async fn webhook(ctx: &Ctx, cmd: WebhookCmd) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    match cmd {
        WebhookCmd::Add { name, url, events } => {
            let events: Vec<String> = match events {
                Some(list) => list.split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect(),
                None => webhook::EVENT_TYPES.iter().map(|(t, _, _)| t.to_string()).collect(),
            };
            let (name, events) =
                postkorb_core::webhook::validate(&name, &url, &events).map_err(|e| anyhow::anyhow!(e.english()))?;
            let secret = webhook::new_secret()?;
            let id = ctx
                .store
                .add_webhook(&name, url.trim(), &events, &webhook::seal_secret(&ctx.key, &secret)?, now)
                .await?;
            let entry = postkorb_core::AuditEntry::SaveWebhook { webhook: id, name: name.clone() };
            ctx.store.audit_entry(now, "cli", &entry).await?;
            println!("webhook {id} \"{name}\" added; its secret (shown only now): {secret}");
        }
        WebhookCmd::List => {
            for w in ctx.store.webhooks().await? {
                let state = if w.active {
                    "active".to_string()
                } else {
                    format!("paused ({})", w.paused_reason.unwrap_or_default())
                };
                println!("{}\t{}\t{}\t{}\t{}", w.id, w.name, w.url, w.events.join(","), state);
            }
        }
        WebhookCmd::Remove { name } => {
            let w = ctx.store.webhooks().await?.into_iter().find(|w| w.name == name).context("no such webhook")?;
            ctx.store.delete_webhook(w.id).await?;
            ctx.store
                .audit_entry(now, "cli", &postkorb_core::AuditEntry::DeleteWebhook { webhook: w.id, name })
                .await?;
            println!("webhook {} removed", w.id);
        }
    }
    Ok(())
}
