//! `postkorb mailbox …`: set (through the one settings validator), show, test, and the commands
//! that report on a mailbox (`status`, `dry-run`) or connect its account (`oauth`).

use anyhow::bail;
use postkorb_core::mailbox::{
    AuthKind, Field, PathRule, Problem, Protocol, SettingsError, SettingsInput, VerifyChoice, validate,
};
use postkorb_store::MailboxRecord;
use postkorb_verify::Policy;

use crate::Ctx;
use crate::cli::{MailboxArgs, MailboxCmd, read_secret};
use crate::clock::format_ms;

pub async fn run(ctx: &Ctx, cmd: MailboxCmd) -> anyhow::Result<()> {
    match cmd {
        MailboxCmd::Set(a) => set_mailbox(ctx, *a).await,
        MailboxCmd::Oauth(a) => crate::cli::oauth::cli(ctx, *a).await,
        MailboxCmd::Status { json } => crate::cli::mail::status(ctx, json).await,
        MailboxCmd::DryRun { name, since } => crate::cli::mail::dry_run(ctx, &name, since.as_deref()).await,
        MailboxCmd::Show { name } => {
            let m = ctx.store.mailbox(&name).await?;
            let (cases, kept, dups) = ctx.store.mailbox_counts(m.id).await?;
            println!("mailbox       {}", m.name);
            println!("protocol      {} ({}:{}, encryption {})", m.protocol, m.host, m.port, m.tls);
            if let Some(p) = &m.maildir_path {
                println!("maildir       {p}");
            }
            println!("username      {}", m.username);
            println!("password      {}", if m.secret.is_some() { "set (encrypted)" } else { "not set" });
            if let Some(line) = crate::service::oauth::token_status(&m, ctx.clock.now_ms()) {
                println!("login         OAuth2 (XOAUTH2), {line}");
            }
            println!("folder        {}", m.folder);
            println!(
                "after import  {}",
                if m.disposal == "delete" { "delete".to_string() } else { format!("move to {}", m.target_folder) }
            );
            println!("poll every    {} s{}", m.poll_secs, if m.enabled { "" } else { " (disabled)" });
            println!("verification  {}", VerifyChoice::from(&crate::service::importer::policy_of(&m)).english());
            if m.import_since_ms > 0 {
                println!(
                    "only mails    dated from {} on (older ones stay on the server)",
                    &format_ms(m.import_since_ms)[..10]
                );
            }
            if let Some(ca) = &m.ca_file {
                println!("extra CA      {ca}");
            }
            if m.storm_max > 0 {
                println!(
                    "storm limit   more than {} Vorgänge per sender in {} min are held",
                    m.storm_max, m.storm_minutes
                );
            } else {
                println!("storm limit   off");
            }
            if m.ack.enabled {
                let unassigned = if m.ack.unassigned { ", also to mail that could not be assigned" } else { "" };
                println!("acknowledge   on: at most once per sender in {} h{unassigned}", m.ack.hours);
            } else {
                println!("acknowledge   off");
            }
            println!("last success  {}", m.last_success_ms.map(format_ms).unwrap_or_else(|| "never".into()));
            println!("last error    {}", m.last_error.as_deref().unwrap_or("none"));
            println!("imported      {cases} Vorgänge, {kept} kept, {dups} duplicates skipped");
            if let Some(w) = m.waiting_on_server {
                println!("on server     {w} not yet imported at the last fetch");
            }
            Ok(())
        }
        MailboxCmd::Test { name } => {
            let m = ctx.store.mailbox(&name).await?;
            let cfg =
                crate::service::oauth::fresh_config(&ctx.store, &m, &ctx.key, &ctx.clock, ctx.settings.net()).await?;
            match postkorb_source::test_connection(&cfg).await {
                Ok(n) => {
                    println!("OK: connected and logged in to {name}; {n} mails waiting");
                    Ok(())
                }
                Err(e) => bail!("mailbox {name}: {e}"),
            }
        }
    }
}

async fn set_mailbox(ctx: &Ctx, a: MailboxArgs) -> anyhow::Result<()> {
    let input = SettingsInput {
        protocol: &a.protocol,
        host: &a.host,
        port: &a.port,
        tls: &a.tls,
        username: &a.username,
        // Read below (or kept with --keep-password).
        has_password: true,
        folder: &a.folder,
        disposal: &a.disposal,
        target_folder: &a.target_folder,
        maildir_path: &a.path,
        poll_secs: &a.poll_secs,
        verify: &a.verify,
        authserv_ids: "",
        since: &a.since,
        ca_file: &a.ca_file,
        ack_enabled: a.ack,
        ack_text: &a.ack_text,
        ack_hours: &a.ack_hours,
        ack_unassigned: a.ack_unassigned,
        ack_unassigned_text: &a.ack_unassigned_text,
    };
    let s = validate(&input, &AnyPath).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.english()).collect();
        anyhow::anyhow!("{}", lines.join("\n"))
    })?;
    // Maildir has no login; Microsoft Graph logs in with OAuth2 only (`mailbox oauth`).
    let no_password = matches!(s.protocol, Protocol::Maildir | Protocol::Graph);
    let new_password =
        if no_password || a.keep_password { None } else { Some(read_secret("Mailbox password: ", a.password_stdin)?) };
    // A new password means password login; --keep-password keeps the login method (e.g. OAuth2).
    let auth = if new_password.is_some() { AuthKind::Password.code().to_string() } else { String::new() };
    let policy = Policy::from(s.verify.clone());
    let mut m = MailboxRecord {
        storm_max: a.storm_max.max(0),
        storm_minutes: a.storm_minutes.max(0),
        enabled: !a.disabled,
        auth,
        ..MailboxRecord::from_settings(&a.name, &s, policy.to_storage())
    };
    // A stored password is only ever sent to the endpoint it was entered for.
    if a.keep_password
        && let Ok(before) = ctx.store.mailbox(&m.name).await
        && before.endpoint() != m.endpoint()
        && (before.secret.is_some() || before.oauth.refresh.is_some())
    {
        bail!(
            "{} (mailbox {:?}: entered for {} {}:{} as {:?})",
            SettingsError::new(Field::Password, Problem::PasswordForNewEndpoint),
            m.name,
            before.protocol,
            before.host,
            before.port,
            before.username
        );
    }
    if let Some(pw) = new_password {
        m.secret =
            Some(crate::service::mailbox::seal_secret(&m, &ctx.key, postkorb_store::SecretColumn::Password, &pw)?);
    }
    let saved = ctx.store.save_mailbox_by(&m, ctx.clock.now_ms(), "cli").await?;
    println!("saved mailbox {} ({} {}:{})", saved.name, saved.protocol, saved.host, saved.port);
    let policy = crate::service::importer::policy_of(&saved);
    println!("sender verification: {}", VerifyChoice::from(&policy).english());
    if policy != Policy::Off {
        println!("  mail whose sender cannot be verified is kept (\"sender not verified\"), never routed;");
        println!("  for a test mailbox with unsigned mail use --verify off");
    }
    Ok(())
}

/// The CLI is the operator's: any path may be named. It must exist and is stored canonical.
pub(crate) struct AnyPath;

impl PathRule for AnyPath {
    fn maildir(&self, given: &str) -> Result<String, Problem> {
        canonical(given, true)
    }

    fn ca_file(&self, given: &str) -> Result<String, Problem> {
        canonical(given, false)
    }
}

fn canonical(given: &str, want_dir: bool) -> Result<String, Problem> {
    let path = std::fs::canonicalize(given).map_err(|_| Problem::PathMissing { root: None })?;
    let kind_ok = if want_dir { path.is_dir() } else { path.is_file() };
    if kind_ok { Ok(path.display().to_string()) } else { Err(Problem::PathMissing { root: None }) }
}
