//! `postkorb mailbox oauth`: connects a mailbox's account by device code or in a browser, or a
//! Microsoft Graph mailbox for application access (`--flow app`), and says what it got.

use anyhow::{Context, bail};

use crate::service::oauth::{
    Connect, code_from_redirect, connect_app, connect_device, finish_auth_code, start_auth_code, token_status,
};

/// `postkorb mailbox oauth`: connects the account and stores the tokens.
pub async fn cli(ctx: &crate::Ctx, a: crate::cli::OAuthArgs) -> anyhow::Result<()> {
    let client_secret = match (&a.client_certificate, a.client_secret_stdin) {
        (Some(_), true) => bail!("give either --client-secret-stdin or --client-certificate, not both"),
        (Some(path), false) => Some(
            std::fs::read_to_string(path).with_context(|| format!("cannot read the certificate {}", path.display()))?,
        ),
        (None, true) => Some(crate::cli::read_secret("Client secret: ", true)?),
        (None, false) => None,
    };
    let stored = ctx.store.mailbox(&a.name).await?;
    let graph = stored.protocol == postkorb_source::Protocol::Graph.code();
    let c = Connect {
        provider: a.provider.clone(),
        client_id: a.client_id.clone(),
        client_secret,
        tenant: a.tenant.clone(),
        token_url: a.token_url.clone(),
        device_url: a.device_url.clone(),
        auth_url: None,
        net: ctx.settings.net(),
        graph,
    };
    let m = match a.flow.as_str() {
        "device" => {
            if a.provider == "google" {
                eprintln!("note: Google does not grant mail access by device code; if it refuses, use --flow browser");
            }
            connect_device(
                &ctx.store,
                &ctx.key,
                &ctx.clock,
                &a.name,
                &c,
                |p| {
                    println!(
                        "To connect mailbox {:?}, open {} and enter the code {}",
                        a.name, p.verification_uri, p.user_code
                    );
                    println!("(valid for {} minutes; waiting for you to sign in …)", p.expires_in.as_secs() / 60);
                },
                "cli",
            )
            .await?
        }
        "browser" => {
            let start = start_auth_code(&c, &a.redirect_uri)?;
            println!("Open this address in a browser and sign in with the mailbox's account:\n\n{}\n", start.url);
            println!("You are then sent to {} (the page may not load). Paste that whole address here:", a.redirect_uri);
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("cannot read the address")?;
            let (code, state) = code_from_redirect(line.trim())?;
            if state != start.state {
                bail!("the address does not belong to this sign-in (state differs); start again");
            }
            finish_auth_code(
                &ctx.store,
                &ctx.key,
                &ctx.clock,
                &a.name,
                &c,
                &a.redirect_uri,
                &code,
                &start.pkce_verifier,
                "cli",
            )
            .await?
        }
        "app" => {
            if !graph {
                bail!("application access (--flow app) is for Microsoft Graph mailboxes (--protocol graph)");
            }
            if c.client_secret.is_none() {
                bail!("application access needs the client secret (--client-secret-stdin) or --client-certificate");
            }
            connect_app(&ctx.store, &ctx.key, &ctx.clock, &a.name, &c, "cli").await?
        }
        other => bail!("unknown flow {other:?}: use device, browser or app"),
    };
    let entry = postkorb_core::AuditEntry::MailboxOauth { mailbox: m.name.clone(), provider: a.provider.clone() };
    ctx.store.audit_entry(ctx.clock.now_ms(), "cli", &entry).await?;
    let how = match (graph, a.flow.as_str()) {
        (true, "app") => "Microsoft Graph with the application's own token (application access)",
        (true, _) => "Microsoft Graph with OAuth2 (delegated)",
        _ => "OAuth2 (XOAUTH2)",
    };
    println!("connected: mailbox {} now logs in to {how}", m.name);
    if let Some(line) = token_status(&m, ctx.clock.now_ms()) {
        println!("{line}");
    }
    Ok(())
}
