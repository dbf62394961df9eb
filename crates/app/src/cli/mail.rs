//! `fetch`, `sync`, `explain`, `import`, `cases list`, `kept list`: the mail-facing commands.

use std::path::Path;

use anyhow::{Context, bail};
use postkorb_core::{Decision, KeepReason, decide};
use postkorb_source::{Protocol, SourceConfig};
use postkorb_store::{ImportOutcome, MailboxRecord};

use crate::Ctx;
use crate::cli::{ImportArgs, ListCmd};
use crate::clock::format_ms;
use crate::service::fetch::{self, Fetched};
use crate::service::importer::{self, Imported, RunReport};

/// `postkorb fetch` (and the fetch before `sync` and in the demo): one pass over every enabled
/// mailbox, each reported as it went. Fails when no mailbox could be fetched.
pub async fn fetch_all(ctx: &Ctx, print: bool) -> anyhow::Result<Vec<(String, RunReport)>> {
    fetch_each(ctx, print, false).await
}

/// [`fetch_all`]; with `wait_for_lease` (`postkorb fetch`) a mailbox whose lease another live
/// instance holds is waited for up to the lease time first.
pub async fn fetch_each(ctx: &Ctx, print: bool, wait_for_lease: bool) -> anyhow::Result<Vec<(String, RunReport)>> {
    let results = fetch::fetch_each(ctx, wait_for_lease).await?;
    if results.is_empty() {
        bail!("no mailbox is set up: use `postkorb mailbox set` (or try `postkorb demo`)");
    }
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for (m, outcome) in results {
        match outcome {
            Fetched::Done(r) => {
                if print {
                    print_report(&ctx.store, &m.name, &r).await?;
                }
                reports.push((m.name, r));
            }
            Fetched::Busy { holder, waited } => {
                eprintln!(
                    "mailbox {}: not fetched: another running instance ({}) holds its fetch lease \
                     (until {} UTC){}; try again later or stop that instance",
                    m.name,
                    holder.holder,
                    format_ms(holder.expires_ms),
                    if waited.is_zero() { String::new() } else { format!(", waited {} s", waited.as_secs()) }
                );
                failures.push(m.name);
            }
            Fetched::Failed(e) => {
                eprintln!("mailbox {}: {e:#}", m.name);
                failures.push(m.name);
            }
        }
    }
    if !failures.is_empty() && reports.is_empty() {
        bail!("no mailbox could be fetched ({})", failures.join(", "));
    }
    Ok(reports)
}

/// Prints which Vorgang went to whom and what was kept and why.
pub async fn print_report(store: &postkorb_store::Store, mailbox: &str, r: &RunReport) -> anyhow::Result<()> {
    let employees = store.employees().await?;
    let name = |id: &postkorb_core::EmployeeId| {
        employees.iter().find(|e| e.id == *id).map(|e| e.name.clone()).unwrap_or_else(|| format!("#{id}"))
    };
    println!(
        "mailbox {mailbox}: {} listed, {} new, {} disposed of on the server ({} ms)",
        r.listed,
        r.imported.len(),
        r.disposed,
        r.elapsed_ms
    );
    for Imported { subject, from, outcome, .. } in &r.imported {
        let what = match outcome {
            ImportOutcome::Case { case_id, decision: Decision::Assign { to, .. } } => {
                format!("Vorgang {case_id} for {}", name(to))
            }
            ImportOutcome::Case { case_id, decision: Decision::Pool { candidates, .. } } => format!(
                "Vorgang {case_id} waiting for the first of {}",
                candidates.iter().map(&name).collect::<Vec<_>>().join(", ")
            ),
            ImportOutcome::Case { case_id, .. } => format!("Vorgang {case_id}"),
            ImportOutcome::Kept { kept_id, reason } => format!("kept #{kept_id}: {}", reason.english()),
            ImportOutcome::Duplicate { of_ledger } => format!("duplicate of ledger entry {of_ledger}, skipped"),
            ImportOutcome::AlreadyKnown => "already imported, skipped".to_string(),
        };
        println!("  {:<36} {:<40} -> {what}", truncate(from, 36), truncate(subject, 40));
    }
    if r.orphaned_pools > 0 {
        println!("  {} waiting Vorgänge had no eligible recipient left and were kept", r.orphaned_pools);
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

pub async fn sync(ctx: &Ctx, user: &str) -> anyhow::Result<()> {
    let e = ctx.store.find_employee(user).await?;
    if let Err(err) = fetch_all(ctx, false).await {
        eprintln!("fetching failed, claiming what is already here: {err:#}");
    }
    if let Err(why) = e.check_an() {
        bail!("{} cannot receive Vorgänge: {why}", e.name);
    }
    let won = ctx.store.claim(e.id, ctx.clock.now_ms()).await?;
    ctx.store.sweep_orphan_pools(ctx.clock.now_ms()).await?;
    if won.is_empty() {
        println!("{}: nothing waiting", e.name);
    } else {
        println!(
            "{} received {} Vorgänge: {}",
            e.name,
            won.len(),
            won.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

pub async fn explain(ctx: &Ctx, file: &Path, mailbox: Option<String>) -> anyhow::Result<()> {
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mail = postkorb_mail::parse(&raw);
    let employees = ctx.store.employees().await?;
    let routes = ctx.store.routes().await?;
    let name = |id: &postkorb_core::EmployeeId| {
        employees.iter().find(|e| e.id == *id).map(|e| e.name.clone()).unwrap_or_else(|| format!("#{id}"))
    };
    println!(
        "From:     {}",
        match &mail.sender {
            Ok(a) => format!("{a}{}", mail.display_name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()),
            Err(e) => format!("not usable: {e}"),
        }
    );
    println!("Subject:  {}", mail.subject);
    if let Some(d) = mail.date_ms {
        println!("Date:     {} UTC", format_ms(d));
    }
    println!("Parts:    {} attachment(s){}", mail.attachments.len(), if mail.html.is_some() { ", HTML" } else { "" });
    for w in &mail.warnings {
        println!("Warning:  {w}");
    }
    let facts = mail.facts();
    let say = |decision: Decision| match decision {
        Decision::Assign { sender, to } => {
            format!("becomes a Vorgang for {} (sender row of {})", name(&to), name(&sender))
        }
        Decision::Pool { sender, candidates } => format!(
            "becomes a Vorgang waiting for {}; the first of them to synchronise or log in receives it (sender {})",
            candidates.iter().map(&name).collect::<Vec<_>>().join(", "),
            name(&sender)
        ),
        Decision::Keep(reason) => format!("is kept for the admin: {}{}", reason.english(), hint(&reason)),
    };
    // Without --mailbox the only mailbox's policy applies; with none or several there is no
    // policy to apply, and a verdict without sender verification must say so plainly.
    let chosen = match mailbox {
        Some(name) => Some(ctx.store.mailbox(&name).await?),
        None => match ctx.store.mailboxes().await?.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    };
    let checked = |policy: postkorb_verify::Policy| {
        let (raw, sender, mut facts) = (&raw, mail.sender.clone(), facts.clone());
        async move {
            let Ok(sender) = sender else { return (None, facts) };
            let v = postkorb_verify::verify(raw, sender.domain(), &policy, importer::resolver()).await;
            if !v.verified {
                facts.unverified = Some(v.detail.clone());
            }
            (Some(v), facts)
        }
    };
    match chosen {
        Some(m) => {
            let (v, facts) = checked(importer::policy_of(&m)).await;
            if let Some(v) = v {
                println!(
                    "Sender:   {} under the policy of mailbox {} ({})",
                    if v.verified { "verified" } else { "NOT verified" },
                    m.name,
                    v.detail
                );
            }
            println!("Decision: this mail {}", say(decide(&facts, &employees, &routes)));
        }
        None => {
            println!(
                "Sender:   NOT checked: the decision below ignores sender verification (no single mailbox; give --mailbox NAME)"
            );
            println!("Decision: ignoring sender verification, this mail {}", say(decide(&facts, &employees, &routes)));
            let policy = postkorb_verify::Policy::default();
            let (v, facts) = checked(policy.clone()).await;
            let how = postkorb_core::mailbox::VerifyChoice::from(&policy).english();
            match v {
                Some(v) => println!(
                    "Default:  under the default sender verification ({how}) the sender is {} ({}), so this mail {}",
                    if v.verified { "verified" } else { "NOT verified" },
                    v.detail,
                    say(decide(&facts, &employees, &routes))
                ),
                None => println!(
                    "Default:  under the default sender verification ({how}) this mail {}",
                    say(decide(&facts, &employees, &routes))
                ),
            }
        }
    }
    println!("(nothing was imported)");
    Ok(())
}

fn hint(reason: &KeepReason) -> &'static str {
    match reason {
        KeepReason::NoRoute => ". Add a row with `postkorb route add --from … --to …` to route such mail",
        KeepReason::RouteInactive(_) => ". Fix the employee records or the rows (`postkorb route list`)",
        KeepReason::NoUsableFrom(_) | KeepReason::Malformed(_) => {
            ". Check the original; route it by hand or discard it"
        }
        KeepReason::Automatic(_) => ". Automatic mail is never routed; route it by hand if it matters",
        KeepReason::Unverified(_) | KeepReason::UnverifiedDns(_) => {
            ". Check the original before routing it by hand (the Vorgang then names who decided)"
        }
        KeepReason::Storm(_) => ". Check the mails; route the genuine ones again (the limit is a mailbox setting)",
        KeepReason::NoCandidateLeft => ". Route it by hand to an eligible employee or add a row",
    }
}

pub async fn cases(ctx: &Ctx, cmd: ListCmd) -> anyhow::Result<()> {
    let ListCmd::List { json, user, limit, .. } = cmd;
    let assignee = match user {
        Some(u) => Some(ctx.store.find_employee(&u).await?.id),
        None => None,
    };
    let list = ctx.store.cases(assignee, limit, 0).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{:<5} {:<8} {:<17} {:<22} {:<30} BETREFF", "ID", "STATUS", "EINGANG (UTC)", "BEARBEITER", "ABSENDER");
    for c in list {
        println!(
            "{:<5} {:<8} {:<17} {:<22} {:<30} {}",
            c.id,
            c.status,
            format_ms(c.received_ms),
            truncate(&bearbeiter(&c), 22),
            truncate(&c.from_addr, 30),
            c.subject
        );
    }
    Ok(())
}

/// The Bearbeiter as the list shows it: „(wartet)“ in a pool, „Clara (for Bernd)“ in Vertretung.
fn bearbeiter(c: &postkorb_store::CaseSummary) -> String {
    match (&c.assignee_name, &c.on_behalf_of_name) {
        (None, _) => "(wartet)".into(),
        (Some(a), Some(of)) => format!("{a} (for {of})"),
        (Some(a), None) => a.clone(),
    }
}

pub async fn kept(ctx: &Ctx, cmd: ListCmd) -> anyhow::Result<()> {
    let ListCmd::List { json, all, limit, .. } = cmd;
    let list = ctx.store.kept(!all, limit, 0).await?;
    if json {
        let rows: Vec<serde_json::Value> = list
            .iter()
            .map(|k| {
                let mut v = serde_json::to_value(k).unwrap_or_default();
                if let Some(r) = k.reason() {
                    v["reason"] = r.english().into();
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("{:<5} {:<9} {:<17} {:<30} {:<30} REASON", "ID", "STATUS", "KEPT (UTC)", "FROM", "SUBJECT");
    for k in list {
        let reason = match k.reason_with_old_text() {
            Some((r, Some(old))) => format!("{} ({old})", r.english()),
            Some((r, None)) => r.english(),
            None => k.reason_code.clone(),
        };
        println!(
            "{:<5} {:<9} {:<17} {:<30} {:<30} {reason}",
            k.id,
            k.status,
            format_ms(k.received_ms),
            truncate(k.from_addr.as_deref().unwrap_or("-"), 30),
            truncate(&k.subject, 30)
        );
    }
    Ok(())
}

/// One-off import: every message of a Maildir or mbox, through the same rules, with a progress bar.
pub async fn import(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<()> {
    // The archive is a source like any mailbox, read by the same pass as `serve` (batches streamed
    // through parse → verify → decide → cut-off → storm limit → commit), and left as it is.
    let (protocol, kind, path) = match (&args.from.maildir, &args.from.mbox) {
        (Some(dir), _) => (Protocol::Maildir, "maildir", dir),
        (None, Some(file)) => (Protocol::Mbox, "mbox", file),
        (None, None) => bail!("give --maildir DIR or --mbox FILE"),
    };
    let label = format!("import:{kind}:{}", path.display());
    let policy = postkorb_verify::Policy::from(postkorb_core::mailbox::VerifyChoice::parse(&args.verify, "")?);
    let record = MailboxRecord {
        name: label.clone(),
        protocol: kind.into(),
        tls: "none".into(),
        folder: "INBOX".into(),
        disposal: "move".into(),
        target_folder: String::new(),
        maildir_path: Some(path.display().to_string()),
        poll_secs: 60,
        verify_policy: policy.to_storage(),
        import_since_ms: match &args.since {
            Some(day) => postkorb_core::mailbox::parse_since(day)?,
            None => 0,
        },
        storm_max: args.storm_max.max(0),
        storm_minutes: 10,
        enabled: false,
        ..ctx.store.mailbox(&label).await.unwrap_or_default()
    };
    let mailbox = ctx.store.save_mailbox_by(&record, ctx.clock.now_ms(), "cli").await?;
    let cfg = SourceConfig {
        protocol,
        host: String::new(),
        port: 0,
        tls: postkorb_source::TlsMode::None,
        username: String::new(),
        password: String::new(),
        auth: postkorb_source::Auth::Password,
        folder: "INBOX".into(),
        disposal: postkorb_source::Disposal::Leave,
        maildir: Some(path.clone()),
        ca_file: None,
        net: ctx.settings.net(),
        graph: Default::default(),
    };
    let report = importer::run_once(&ctx.store, &mailbox, &cfg, ctx.settings.batch_size, &ctx.clock)
        .await
        .with_context(|| format!("import of {} failed; what was stored stays, run it again", path.display()))?;
    let cases = report.count(|o| matches!(o, ImportOutcome::Case { .. }));
    let kept = report.count(|o| matches!(o, ImportOutcome::Kept { .. }));
    let skipped = report.already_known + report.imported.len() - cases - kept;
    println!(
        "imported {} messages in {} ms: {cases} Vorgänge, {kept} kept with a reason, {skipped} already known or duplicates",
        report.listed, report.elapsed_ms
    );
    if report.left_before_cutoff > 0 {
        println!("{} messages are dated before the cut-off and were left out", report.left_before_cutoff);
    }
    if report.deferred > 0 {
        println!(
            "{} messages were not imported: DNS failed while verifying the sender; run the import again",
            report.deferred
        );
    }
    Ok(())
}

/// `mailbox status`: one block per mailbox.
pub async fn status(ctx: &Ctx, json: bool) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    let mut rows = Vec::new();
    for m in ctx.store.mailboxes().await? {
        let (cases, kept, duplicates) = ctx.store.mailbox_counts(m.id).await?;
        let last_mail = ctx.store.last_import_ms(m.id).await?;
        rows.push(serde_json::json!({
            "name": m.name, "protocol": m.protocol, "host": m.host, "enabled": m.enabled,
            "last_success_ms": m.last_success_ms, "last_error": m.last_error, "last_error_ms": m.last_error_ms,
            "waiting_on_server": m.waiting_on_server, "imported_cases": cases, "kept": kept,
            "duplicates": duplicates, "last_mail_ms": last_mail,
            "login": crate::service::oauth::token_status(&m, now),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no mailbox is set up");
    }
    let ago = |ms: Option<i64>| match ms {
        Some(t) => format!("{} UTC ({} ago)", format_ms(t), human_duration(now - t)),
        None => "never".into(),
    };
    for r in rows {
        println!(
            "{} ({} {}){}",
            r["name"].as_str().unwrap_or(""),
            r["protocol"].as_str().unwrap_or(""),
            r["host"].as_str().unwrap_or(""),
            if r["enabled"] == true { "" } else { " — disabled" }
        );
        println!("  last success   {}", ago(r["last_success_ms"].as_i64()));
        match r["last_error"].as_str() {
            Some(e) => println!("  last error     {e} ({})", ago(r["last_error_ms"].as_i64())),
            None => println!("  last error     none"),
        }
        println!(
            "  on the server  {} not imported at the last fetch",
            r["waiting_on_server"].as_i64().map(|w| w.to_string()).unwrap_or_else(|| "?".into())
        );
        println!(
            "  imported       {} Vorgänge, {} kept, {} duplicates skipped",
            r["imported_cases"], r["kept"], r["duplicates"]
        );
        println!("  newest mail    {}", ago(r["last_mail_ms"].as_i64()));
        if let Some(login) = r["login"].as_str() {
            println!("  login          {login}");
        }
    }
    Ok(())
}

fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// `mailbox dry-run`: fetches what waits, decides, and reports — without storing, moving or deleting.
pub async fn dry_run(ctx: &Ctx, name: &str, since: Option<&str>) -> anyhow::Result<()> {
    let mut m = ctx.store.mailbox(name).await?;
    if let Some(s) = since {
        m.import_since_ms = postkorb_core::mailbox::parse_since(s)?;
    }
    let r = crate::service::dryrun::run(ctx, &m).await?;
    let cutoff =
        if m.import_since_ms > 0 { format!("from {} on", &format_ms(m.import_since_ms)[..10]) } else { "all".into() };
    println!(
        "dry run of mailbox {name} (mails: {cutoff}; sender verification: {}):",
        postkorb_core::mailbox::VerifyChoice::from(&r.policy).english()
    );
    println!("  {} on the server, {} already imported before", r.on_server, r.already);
    for (what, n) in &r.tally {
        println!("  {n:>6}  {}", what.english());
    }
    if r.old > 0 {
        println!("  {:>6}  older than the cut-off: would stay untouched on the server", r.old);
    }
    if r.deferred > 0 {
        println!("  {:>6}  sender check failed on DNS for now: would be tried again later", r.deferred);
    }
    println!("nothing was stored, moved or deleted");
    Ok(())
}
