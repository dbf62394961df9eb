//! The `postkorb` binary: parses the command line and runs one command.

use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POSTKORB_LOG").unwrap_or_else(|_| "postkorb=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = postkorb_app::cli::Cli::parse();
    if let Err(e) = postkorb_app::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
