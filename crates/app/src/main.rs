//! The `postkorb` binary: parses the command line, opens the store and runs one command.

mod admin;
mod cli;
mod clock;
mod demo;
mod importer;
mod mail_cmds;
mod mailbox;
mod mbox;
mod secret;
mod serve;
mod settings;

use clap::Parser;
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
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data directory {}", settings.data_dir.display()))?;
        let url = settings.database_url();
        let store = Store::open(&url).await.with_context(|| format!("cannot open database {url}"))?;
        let key = SecretKey::load_or_create(&settings.key_file())?;
        Ok(Ctx { settings, store, key, clock: Clock::system() })
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POSTKORB_LOG").unwrap_or_else(|_| "postkorb=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Demo { no_serve, reset } = cli.command {
        return demo::run(settings, !no_serve, reset).await;
    }
    let ctx = Ctx::open(settings).await?;
    match cli.command {
        Command::Serve => serve::run(&ctx).await,
        Command::Fetch { once: _ } => mail_cmds::fetch_all(&ctx, true).await.map(|_| ()),
        Command::Demo { .. } => unreachable!("handled above"),
        Command::Explain { file } => mail_cmds::explain(&ctx, &file).await,
        Command::Employee(cmd) => admin::employee(&ctx, cmd).await,
        Command::Route(cmd) => admin::route(&ctx, cmd).await,
        Command::Mailbox(cmd) => admin::mailbox(&ctx, cmd).await,
        Command::Sync { user } => mail_cmds::sync(&ctx, &user).await,
        Command::Cases(cmd) => mail_cmds::cases(&ctx, cmd).await,
        Command::Kept(cmd) => mail_cmds::kept(&ctx, cmd).await,
        Command::Import(args) => mail_cmds::import(&ctx, args).await,
    }
}
