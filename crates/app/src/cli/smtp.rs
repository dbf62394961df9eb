//! `postkorb smtp set|show|test`: the SMTP settings („E-Mail-Versand“) through core's validator,
//! the password read from stdin and sealed for its endpoint, and a test message.

use anyhow::bail;
use postkorb_core::mailbox::{Field, Problem, SettingsError, SmtpInput, validate_smtp};
use postkorb_store::SmtpRecord;

use crate::Ctx;
use crate::cli::mailbox::AnyPath;
use crate::cli::{SmtpArgs, SmtpCmd, read_secret};
use crate::clock::format_ms;
use crate::service::smtp;

pub async fn run(ctx: &Ctx, cmd: SmtpCmd) -> anyhow::Result<()> {
    match cmd {
        SmtpCmd::Set(a) => set(ctx, *a).await,
        SmtpCmd::Show => {
            let Some(s) = ctx.store.smtp_settings().await? else {
                println!("no SMTP settings yet: postkorb smtp set --host … --sender …");
                return Ok(());
            };
            println!("server        {}:{} (encryption {})", s.host, s.port, s.tls);
            let login = if s.username.is_empty() { "none".to_string() } else { s.username.clone() };
            println!("login         {login}");
            println!("password      {}", if s.secret.is_some() { "set (encrypted)" } else { "not set" });
            if let Some(ca) = &s.ca_file {
                println!("extra CA      {ca}");
            }
            println!("sender        {} <{}>", s.sender_name, s.sender_address);
            println!("saved         {}", format_ms(s.updated_ms));
            Ok(())
        }
        SmtpCmd::Test { to } => match smtp::send_test(ctx, &to).await {
            Ok(()) => {
                println!("OK: test message sent to {to}");
                Ok(())
            }
            Err(e) => bail!("test message not sent ({}): {e}", kind(&e)),
        },
    }
}

fn kind(e: &smtp::SendError) -> &'static str {
    match e {
        smtp::SendError::Smtp(e) => e.kind(),
        smtp::SendError::NotConfigured => "not_configured",
        smtp::SendError::Secret => "secret",
        smtp::SendError::Store(_) => "database",
    }
}

async fn set(ctx: &Ctx, a: SmtpArgs) -> anyhow::Result<()> {
    let before = ctx.store.smtp_settings().await?;
    let input = SmtpInput {
        host: &a.host,
        port: &a.port,
        tls: &a.tls,
        username: &a.username,
        // Read below (or kept with --keep-password, checked against the endpoint below).
        has_password: true,
        ca_file: &a.ca_file,
        sender_address: &a.sender,
        sender_name: &a.sender_name,
    };
    let s = validate_smtp(&input, &AnyPath).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.english()).collect();
        anyhow::anyhow!("{}", lines.join("\n"))
    })?;
    let mut record = SmtpRecord {
        host: s.host,
        port: i64::from(s.port),
        tls: s.tls.code().into(),
        username: s.username,
        secret: None,
        ca_file: s.ca_file,
        sender_address: s.sender.as_str().to_string(),
        sender_name: s.sender_name,
        updated_ms: 0,
    };
    if a.keep_password {
        if let Some(b) = &before
            && b.secret.is_some()
            && b.secret_binding() != record.secret_binding()
        {
            bail!("{}", SettingsError::new(Field::Password, Problem::PasswordForNewEndpoint));
        }
    } else if !record.username.is_empty() {
        let password = read_secret("SMTP password: ", a.password_stdin)?;
        record = smtp::with_password(record, &ctx.key, &password)?;
    }
    let saved = ctx.store.save_smtp_by(&record, ctx.clock.now_ms(), "cli").await?;
    println!("saved SMTP settings ({}:{}, {}), sender {}", saved.host, saved.port, saved.tls, saved.sender_address);
    Ok(())
}
