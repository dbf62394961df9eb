//! `cases handover|giveback|note|follow-up`: working a Vorgang from the terminal, through the same
//! store calls and core checks as the screens and the API. The CLI is the operator's tool: it acts
//! for an employee (`--by`, default the Vorgang's Bearbeiter), and that employee is who the event
//! and the Verlauf name. Refusals are the store's (`CaseRefusal`), in English.

use anyhow::{Context, bail};
use postkorb_core::workflow::{check_note, check_reason, follow_up_at};
use postkorb_core::{Employee, EmployeeId};
use postkorb_store::{CaseDetail, StoreError};

use crate::Ctx;
use crate::clock::format_ms;

/// What the terminal can do with one Vorgang.
#[derive(clap::Subcommand, Debug)]
pub enum WorkCmd {
    /// „Weitergeben“: hand the open Vorgang to another employee who may receive.
    Handover {
        id: i64,
        /// Who gets it (id, user name or name).
        #[arg(long)]
        to: String,
        /// Who hands it on (default: its Bearbeiter).
        #[arg(long)]
        by: Option<String>,
        /// A note for the receiver.
        #[arg(long)]
        note: Option<String>,
    },
    /// „Zurückgeben“: a Vorgang that came from a pool waits again for the pool's other candidates.
    Giveback {
        id: i64,
        #[arg(long)]
        by: Option<String>,
    },
    /// „Notiz“: add a note to the Vorgang's Verlauf.
    Note {
        id: i64,
        text: String,
        /// The author (default: its Bearbeiter).
        #[arg(long)]
        by: Option<String>,
    },
    /// „Wiedervorlage“: the Vorgang leaves „Offen“ until DATE (office's clock), or `--clear`.
    FollowUp {
        id: i64,
        /// YYYY-MM-DD or DD.MM.YYYY.
        #[arg(long, required_unless_present = "clear")]
        date: Option<String>,
        /// HH:MM (default 08:00).
        #[arg(long, default_value = "")]
        time: String,
        #[arg(long, default_value = "")]
        reason: String,
        /// Remove the Wiedervorlage.
        #[arg(long, conflicts_with = "date")]
        clear: bool,
        #[arg(long)]
        by: Option<String>,
    },
    /// Write „Wiedervorlage fällig“ for every Wiedervorlage whose date has come and was not
    /// announced yet (once per date; `serve` does this every minute).
    AnnounceDue,
}

/// The Vorgang and who acts on it: `--by`, or its Bearbeiter.
async fn case_and_actor(ctx: &Ctx, id: i64, by: Option<&str>) -> anyhow::Result<(CaseDetail, Employee)> {
    let case = ctx.store.case(id).await.with_context(|| format!("Vorgang {id}"))?;
    let actor = match (by, case.summary.assignee) {
        (Some(who), _) => ctx.store.find_employee(who).await.context("--by")?,
        (None, Some(assignee)) => ctx.store.employee(EmployeeId(assignee)).await?,
        (None, None) => bail!("Vorgang {id} is waiting for its pool and has no Bearbeiter: name one with --by"),
    };
    Ok((case, actor))
}

/// The store's refusal in English, anything else as it is.
fn refused(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Refused(why) => anyhow::anyhow!("refused: {}", why.english()),
        other => other.into(),
    }
}

pub async fn run(ctx: &Ctx, cmd: WorkCmd) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    match cmd {
        WorkCmd::Handover { id, to, by, note } => {
            let (case, actor) = case_and_actor(ctx, id, by.as_deref()).await?;
            let receiver = ctx.store.find_employee(&to).await.context("--to")?;
            let from = case.summary.assignee.map(EmployeeId).context("the Vorgang has no Bearbeiter")?;
            let note = note.as_deref().map(check_note).transpose().map_err(|e| anyhow::anyhow!(e.english()))?;
            ctx.store.hand_over(id, from, receiver.id, actor.id, note.as_deref(), now).await.map_err(refused)?;
            println!("Vorgang {id} handed over to {} by {}", receiver.name, actor.name);
        }
        WorkCmd::Giveback { id, by } => {
            let (case, actor) = case_and_actor(ctx, id, by.as_deref()).await?;
            let from = case.summary.assignee.map(EmployeeId).context("the Vorgang has no Bearbeiter")?;
            ctx.store.give_back(id, from, actor.id, now).await.map_err(refused)?;
            println!("Vorgang {id} given back to its pool by {}", actor.name);
        }
        WorkCmd::Note { id, text, by } => {
            let (_, actor) = case_and_actor(ctx, id, by.as_deref()).await?;
            let text = check_note(&text).map_err(|e| anyhow::anyhow!(e.english()))?;
            ctx.store.add_note(id, actor.id, &text, now).await.map_err(refused)?;
            println!("note added to Vorgang {id} by {}", actor.name);
        }
        WorkCmd::FollowUp { id, date, time, reason, clear, by } => {
            let (_, actor) = case_and_actor(ctx, id, by.as_deref()).await?;
            if clear {
                ctx.store.set_follow_up(id, actor.id, None, None, now).await.map_err(refused)?;
                println!("Wiedervorlage of Vorgang {id} removed");
                return Ok(());
            }
            let date = date.unwrap_or_default();
            let due = follow_up_at(&date, &time, now).map_err(|e| anyhow::anyhow!(e.english()))?;
            let reason = check_reason(&reason).map_err(|e| anyhow::anyhow!(e.english()))?;
            ctx.store.set_follow_up(id, actor.id, Some(due), reason.as_deref(), now).await.map_err(refused)?;
            println!("Vorgang {id} returns on {} UTC", format_ms(due));
        }
        WorkCmd::AnnounceDue => {
            let n = crate::service::follow_ups::announce_due(&ctx.store, now).await?;
            println!("{n} due Wiedervorlage(n) announced");
        }
    }
    Ok(())
}
