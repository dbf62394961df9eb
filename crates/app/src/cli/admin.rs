//! `employee` and `route` commands: the office's people and „E-Mail-Adressen verwalten“ from the
//! command line.

use anyhow::{Context, bail};
use postkorb_core::{AuditEntry, EmailAddress, Permission, Person, RouteStatus, route_status, rows_losing};
use postkorb_store::{NewEmployee, StoreError};

use crate::Ctx;
use crate::cli::{EmployeeCmd, EmployeeFields, RouteCmd, read_secret};
use crate::clock::format_ms;

fn parse_email(s: &str) -> anyhow::Result<Option<EmailAddress>> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    EmailAddress::parse(s).map(Some).map_err(|e| anyhow::anyhow!("invalid e-mail address {s:?}: {e}"))
}

fn parse_permissions(s: &str) -> anyhow::Result<Vec<Permission>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            Permission::from_code(p)
                .ok_or_else(|| anyhow::anyhow!("unknown permission {p:?}: use mail_import or employees"))
        })
        .collect()
}

pub async fn employee(ctx: &Ctx, cmd: EmployeeCmd) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    match cmd {
        EmployeeCmd::Add(f) => {
            let Some(name) = f.name.clone() else { bail!("--name is required") };
            let new = NewEmployee {
                name,
                username: f.username.clone(),
                is_current: f.current.unwrap_or(true),
                license: f.license.clone(),
                work_email: parse_email(f.email.as_deref().unwrap_or(""))?,
                permissions: parse_permissions(f.permissions.as_deref().unwrap_or(""))?,
            };
            let e = ctx.store.add_employee(&new, now).await?;
            ctx.store.audit_entry(now, "cli", &AuditEntry::AddEmployee { employee: Person::of(&e) }).await?;
            println!("added employee {} ({})", e.id, e.name);
        }
        EmployeeCmd::List { json } => {
            let all = ctx.store.employees().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            println!(
                "{:<4} {:<28} {:<8} {:<12} {:<32} {:<5} {:<5} PERMISSIONS",
                "ID", "NAME", "CURRENT", "LICENSE", "WORK E-MAIL", "VON", "AN"
            );
            for e in all {
                let perms: Vec<&str> = e.permissions.iter().map(|p| p.code()).collect();
                println!(
                    "{:<4} {:<28} {:<8} {:<12} {:<32} {:<5} {:<5} {}",
                    e.id,
                    e.name,
                    if e.is_current { "yes" } else { "no" },
                    e.license.as_deref().unwrap_or("-"),
                    e.work_email.as_ref().map(|a| a.as_str()).unwrap_or("-"),
                    if e.check_von().is_ok() { "yes" } else { "no" },
                    if e.check_an().is_ok() { "yes" } else { "no" },
                    perms.join(",")
                );
            }
        }
        EmployeeCmd::Set { who, fields, password_stdin } => {
            let mut e = ctx.store.find_employee(&who).await?;
            apply(&mut e, &fields)?;
            if password_stdin && e.username.is_none() {
                bail!("{} has no username: give --username too", e.name);
            }
            let lost = rows_losing(&e, &ctx.store.employees().await?, &ctx.store.routes().await?);
            ctx.store.update_employee(&e).await?;
            let entry = AuditEntry::UpdateEmployee { employee: Person::of(&e), inactive: lost.len() as i64 };
            ctx.store.audit_entry(now, "cli", &entry).await?;
            if !lost.is_empty() {
                let employees = ctx.store.employees().await?;
                let name = |id: postkorb_core::EmployeeId| {
                    employees.iter().find(|x| x.id == id).map(|x| x.name.clone()).unwrap_or_else(|| format!("#{id}"))
                };
                println!("{} row(s) are inactive now:", lost.len());
                for (r, why) in &lost {
                    let why: Vec<String> = why.iter().map(|w| w.to_string()).collect();
                    println!("  row {}: {} -> {} ({})", r.id, name(r.from), name(r.to), why.join("; "));
                }
            }
            if password_stdin {
                let pw = read_secret("New password: ", true)?;
                if pw.chars().count() < 10 {
                    bail!("the password must have at least 10 characters");
                }
                ctx.store.set_password_hash(e.id, &postkorb_web::hash_password(&pw)).await?;
            }
            println!("saved employee {} ({})", e.id, e.name);
        }
        EmployeeCmd::Token { who, label, expires_days } => {
            let e = ctx.store.find_employee(&who).await?;
            let expires = expires_days.map(|d| now + d * 24 * 3600 * 1000);
            let (token, t) = postkorb_web::new_api_token_until(&ctx.store, e.id, &label, expires).await?;
            let entry = AuditEntry::CreateToken { employee: Person::of(&e), label: t.label.clone() };
            ctx.store.audit_entry(now, "cli", &entry).await?;
            let until = t.expires_ms.map(|x| format!(", valid until {}", format_ms(x))).unwrap_or_default();
            println!("API token {} for {}{until} (shown only now): {token}", t.id, e.name);
        }
        EmployeeCmd::Tokens { who, json } => {
            let e = ctx.store.find_employee(&who).await?;
            let tokens = ctx.store.api_tokens(e.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(());
            }
            println!("{:<6} {:<24} {:<20} {:<20} EXPIRES", "ID", "LABEL", "CREATED", "LAST USED");
            for t in tokens {
                let expires = match t.expires_ms {
                    None => "never".to_string(),
                    Some(x) if x <= now => format!("{} (expired)", format_ms(x)),
                    Some(x) => format_ms(x),
                };
                println!(
                    "{:<6} {:<24} {:<20} {:<20} {expires}",
                    t.id,
                    if t.label.is_empty() { "-" } else { &t.label },
                    format_ms(t.created_ms),
                    t.last_used_ms.map(format_ms).unwrap_or_else(|| "never".into()),
                );
            }
        }
        EmployeeCmd::Revoke { who, token, all } => {
            let e = ctx.store.find_employee(&who).await?;
            if all {
                let (sessions, tokens) = ctx.store.revoke_all(e.id).await?;
                let entry = AuditEntry::RevokeAll {
                    employee: Person::of(&e),
                    sessions: sessions as i64,
                    tokens: tokens as i64,
                };
                ctx.store.audit_entry(now, "cli", &entry).await?;
                println!("ended {sessions} sessions and revoked {tokens} API tokens of {}", e.name);
            } else if let Some(id) = token {
                let label = ctx
                    .store
                    .api_tokens(e.id)
                    .await?
                    .into_iter()
                    .find(|t| t.id == id)
                    .map(|t| t.label)
                    .unwrap_or_default();
                if !ctx.store.revoke_api_token(e.id, id).await? {
                    bail!("{} has no API token {id} (see `postkorb employee tokens {who}`)", e.name);
                }
                ctx.store.audit_entry(now, "cli", &AuditEntry::RevokeToken { employee: Person::of(&e), label }).await?;
                println!("revoked API token {id} of {}", e.name);
            }
        }
    }
    Ok(())
}

fn apply(e: &mut postkorb_core::Employee, f: &EmployeeFields) -> anyhow::Result<()> {
    if let Some(v) = &f.name {
        e.name = v.clone();
    }
    if let Some(v) = &f.username {
        e.username = Some(v.clone());
    }
    if let Some(v) = &f.email {
        e.work_email = parse_email(v)?;
    }
    if let Some(v) = &f.license {
        e.license = Some(v.clone());
    }
    if let Some(v) = f.current {
        e.is_current = v;
    }
    if let Some(v) = &f.permissions {
        e.permissions = parse_permissions(v)?;
    }
    Ok(())
}

pub async fn route(ctx: &Ctx, cmd: RouteCmd) -> anyhow::Result<()> {
    match cmd {
        RouteCmd::Add { from, to } => {
            let from = ctx.store.find_employee(&from).await.context("Von")?;
            let to = ctx.store.find_employee(&to).await.context("An")?;
            match ctx.store.add_route(from.id, to.id, ctx.clock.now_ms()).await {
                Ok(r) => {
                    let entry =
                        AuditEntry::AddRoute { row: r.id, from: Person::of(&from), to: Person::of(&to), kept: None };
                    ctx.store.audit_entry(ctx.clock.now_ms(), "cli", &entry).await?;
                    println!("added row {}: {} -> {}", r.id, from.name, to.name)
                }
                Err(StoreError::Rules(rules)) => {
                    let lines: Vec<String> = rules.0.iter().map(|r| format!("  - {r}")).collect();
                    bail!("the row breaks the rules:\n{}", lines.join("\n"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        RouteCmd::List { json } => {
            let employees = ctx.store.employees().await?;
            let name = |id: postkorb_core::EmployeeId| {
                employees.iter().find(|e| e.id == id).map(|e| e.name.clone()).unwrap_or_else(|| format!("#{id}"))
            };
            let mut rows = Vec::new();
            for r in ctx.store.routes().await? {
                let (active, why) = match route_status(&r, &employees) {
                    RouteStatus::Active { sender } => (true, sender.to_string()),
                    RouteStatus::Inactive(p) => (false, p.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")),
                };
                rows.push(serde_json::json!({"id": r.id, "from": name(r.from), "from_id": r.from, "to": name(r.to), "to_id": r.to, "active": active, "detail": why}));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<4} {:<28} {:<28} STATUS", "ID", "VON", "AN");
                for r in rows {
                    let status = if r["active"].as_bool() == Some(true) {
                        format!("active ({})", r["detail"].as_str().unwrap_or(""))
                    } else {
                        format!("INACTIVE: {}", r["detail"].as_str().unwrap_or(""))
                    };
                    println!(
                        "{:<4} {:<28} {:<28} {}",
                        r["id"],
                        r["from"].as_str().unwrap_or(""),
                        r["to"].as_str().unwrap_or(""),
                        status
                    );
                }
            }
        }
        RouteCmd::Remove { id } => {
            let Some(r) = ctx.store.routes().await?.into_iter().find(|r| r.id == id) else {
                bail!("there is no row {id} (see `postkorb route list`)");
            };
            ctx.store.remove_route(id).await?;
            let (from, to) = (ctx.store.person(r.from).await?, ctx.store.person(r.to).await?);
            ctx.store.audit_entry(ctx.clock.now_ms(), "cli", &AuditEntry::RemoveRoute { row: id, from, to }).await?;
            println!("removed row {id}");
        }
    }
    Ok(())
}
