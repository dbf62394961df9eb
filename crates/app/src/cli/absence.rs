//! `absence add|list|end`: Abwesenheit und Vertretung from the command line. Times are read and
//! shown on the office's clock (Europe/Berlin), as on the screens; the rules are core's
//! `check_absence`, asked by the store, so a refusal here is the one the web shows in German.

use anyhow::{Context, bail};
use postkorb_core::time::{berlin_civil, parse_berlin};
use postkorb_core::{Absence, EmployeeId};
use postkorb_store::{Ended, StoreError};

use crate::Ctx;
use crate::cli::AbsenceCmd;

/// `2026-12-24 08:00` on the office's clock.
fn office_time(ms: i64) -> String {
    let (y, m, d, hh, mm) = berlin_civil(ms);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

fn moment(what: &str, s: &str) -> anyhow::Result<i64> {
    parse_berlin(s).with_context(|| format!("{what} {s:?} is not a time like \"2026-12-24 08:00\" (office's clock)"))
}

pub async fn run(ctx: &Ctx, cmd: AbsenceCmd) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    match cmd {
        AbsenceCmd::Add { employee, from, until, substitute } => {
            let who = ctx.store.find_employee(&employee).await.context("--employee")?;
            let vertreter = match substitute {
                Some(s) => Some(ctx.store.find_employee(&s).await.context("--substitute")?),
                None => None,
            };
            let new = Absence {
                id: 0,
                employee: who.id,
                from_ms: moment("--from", &from)?,
                until_ms: until.as_deref().map(|u| moment("--until", u)).transpose()?,
                substitute: vertreter.as_ref().map(|v| v.id),
            };
            match ctx.store.add_absence(&new, "cli", now).await? {
                Ok(id) => {
                    let until = new.until_ms.map(office_time).unwrap_or_else(|| "open end".into());
                    let by = vertreter.map(|v| format!(", substitute {}", v.name)).unwrap_or_default();
                    println!("added absence {id}: {} from {} until {until}{by}", who.name, office_time(new.from_ms));
                }
                Err(e) => bail!("the absence cannot be saved: {e}"),
            }
        }
        AbsenceCmd::List { employee, json } => {
            let whose = match employee {
                Some(e) => Some(ctx.store.find_employee(&e).await?.id),
                None => None::<EmployeeId>,
            };
            let list = ctx.store.absence_list(whose, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!("{:<4} {:<28} {:<17} {:<17} SUBSTITUTE", "ID", "EMPLOYEE", "FROM", "UNTIL");
            for a in list {
                println!(
                    "{:<4} {:<28} {:<17} {:<17} {}",
                    a.id,
                    a.employee_name,
                    office_time(a.from_ms),
                    a.until_ms.map(office_time).unwrap_or_else(|| "open end".into()),
                    a.substitute_name.as_deref().unwrap_or("-")
                );
            }
        }
        AbsenceCmd::End { id } => match ctx.store.end_absence(id, "cli", now).await {
            Ok(Ended::Now) => println!("ended absence {id} at {}", office_time(now)),
            Ok(Ended::Cancelled) => println!("cancelled absence {id} (it had not begun)"),
            Err(StoreError::NotFound(_)) => {
                bail!("there is no current or future absence {id} (see `postkorb absence list`)")
            }
            Err(e) => return Err(e.into()),
        },
    }
    Ok(())
}
