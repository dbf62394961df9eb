//! Postkorb as a library: the commands, the importer step and the serve loop, so that integration
//! tests drive exactly the code the `postkorb` binary runs.

pub mod cli;
pub mod clock;
pub mod secret;
pub mod serve;
pub mod service;
pub mod settings;

use postkorb_store::Store;

use crate::cli::{Cli, Command};
use crate::clock::Clock;
use crate::secret::SecretKey;
use crate::settings::Settings;

/// What every command needs, built once.
pub struct Ctx {
    pub settings: Settings,
    pub store: Store,
    pub key: SecretKey,
    pub clock: Clock,
}

impl Ctx {
    pub async fn open(settings: Settings) -> anyhow::Result<Ctx> {
        use anyhow::Context;
        private_files();
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data directory {}", settings.data_dir.display()))?;
        if settings.ca_dir.is_none() {
            // Where the operator puts CA certificates the mailbox form may name.
            let _ = std::fs::create_dir_all(settings.ca_dir());
        }
        let url = settings.database_url();
        let key = SecretKey::load_or_create(&settings.key_file())?;
        let store = Store::open_with(&url, settings.effective_blob_dir())
            .await
            .with_context(|| format!("cannot open database {}", settings.database_url_redacted()))?
            .with_mail_key(key.mail_key());
        let rebound = secret::rebind_legacy(&store, &key).await.context("cannot bind the stored secrets")?;
        if rebound > 0 {
            tracing::info!(rebound, "stored mailbox secrets bound to their endpoints");
        }
        service::importer::set_dns_give_up(settings.dns_give_up());
        Ok(Ctx { settings, store, key, clock: Clock::system() })
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    private_files();
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Demo { no_serve, reset } = cli.command {
        return cli::demo::run(settings, !no_serve, reset).await;
    }
    if let Command::Restore { file, force } = &cli.command {
        return cli::db::restore(&settings, file, *force).await;
    }
    let ctx = Ctx::open(settings).await?;
    match cli.command {
        Command::Serve => {
            // Two instances starting together on a new database race to create the first admin;
            // the loser must still serve.
            if let Err(e) = announce_admin(&ctx).await {
                eprintln!("warning: no first admin created here ({e:#}); another instance may have just done it");
            }
            let listener = serve::bind(&ctx).await?;
            serve::run(&ctx, listener, serve::shutdown_signal()).await
        }
        Command::Fetch { once: _ } => cli::mail::fetch_each(&ctx, true, true).await.map(|_| ()),
        Command::Demo { .. } => unreachable!("handled above"),
        Command::Explain { file, mailbox } => cli::mail::explain(&ctx, &file, mailbox).await,
        Command::Employee(cmd) => cli::admin::employee(&ctx, cmd).await,
        Command::Route(cmd) => cli::admin::route(&ctx, cmd).await,
        Command::Mailbox(cmd) => cli::mailbox::run(&ctx, cmd).await,
        Command::Sync { user } => cli::mail::sync(&ctx, &user).await,
        Command::Cases(cli::CasesCmd::List(cmd)) => cli::mail::cases(&ctx, cmd).await,
        Command::Cases(cli::CasesCmd::Search(args)) => cli::search::search(&ctx, args).await,
        Command::Cases(cli::CasesCmd::Work(cmd)) => cli::work::run(&ctx, cmd).await,
        Command::Search(cli::SearchCmd::Reindex) => cli::search::reindex(&ctx).await,
        Command::Kept(cmd) => cli::mail::kept(&ctx, cmd).await,
        Command::Absence(cmd) => cli::absence::run(&ctx, cmd).await,
        Command::Smtp(cmd) => cli::smtp::run(&ctx, cmd).await,
        Command::Retention(cmd) => cli::retention::run(&ctx, cmd).await,
        Command::Encryption(cmd) => cli::encryption::run(&ctx, cmd).await,
        Command::Privacy(cmd) => cli::privacy::run(&ctx, cmd).await,
        Command::Import(args) => cli::mail::import(&ctx, args).await,
        Command::MigrateDb { to } => cli::db::migrate_db(&ctx, &to).await,
        Command::Backup { file } => cli::db::backup(&ctx, &file).await,
        Command::Blobs(cli::BlobsCmd::Sweep { grace_minutes }) => cli::db::sweep_blobs(&ctx, grace_minutes).await,
        Command::Restore { .. } => unreachable!("handled above"),
        Command::Dispatch { once: _ } => cli::dispatch::once(&ctx).await,
        Command::Webhook(cmd) => cli::dispatch::webhook(&ctx, cmd).await,
    }
}

/// On an installation where nobody can log in yet, creates `admin` and prints its one-time password once.
pub async fn announce_admin(ctx: &Ctx) -> anyhow::Result<()> {
    if let Some(password) = postkorb_web::bootstrap_admin(&ctx.store).await? {
        println!("First start: created the user \"admin\" with the one-time password: {password}");
        println!(
            "Log in with it: the web UI asks for a new password first (or: postkorb employee set admin --password-stdin)."
        );
    }
    Ok(())
}

/// Files and directories this process creates (database, WAL, blobs, backups, key) are for its own
/// user only: 0600 / 0700, whatever the umask it was started with.
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}
