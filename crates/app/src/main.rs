//! The `postkorb` binary: parses the command line and runs one command.

use clap::Parser;

fn main() {
    // Before the async runtime starts its threads: this may replace the process.
    bounded_heap();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POSTKORB_LOG").unwrap_or_else(|_| "postkorb=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = postkorb_app::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the async runtime starts");
    if let Err(e) = runtime.block_on(postkorb_app::run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The allocator settings Postkorb runs with (glibc): a fixed mmap threshold of 4 MiB, so the
/// buffers of large mails go back to the system when freed instead of staying in the heap, and
/// two arenas for our few busy threads. Without them glibc raises its threshold as large batches
/// come and go and resident memory follows the largest batch ever seen (issue 6: memory).
const GLIBC_TUNABLES: &str = "glibc.malloc.mmap_threshold=4194304:glibc.malloc.arena_max=2";

/// glibc reads its tunables only at start, and setting them from Rust needs `unsafe` (forbidden
/// here): so when they are not set, the binary replaces itself once with the same arguments and
/// `GLIBC_TUNABLES` set (same process id). An operator's own `GLIBC_TUNABLES` is left alone.
fn bounded_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        let Ok(me) = std::env::current_exe() else { return };
        let err = std::process::Command::new(me)
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
            .exec();
        // Only reached when exec failed: run with the default settings.
        eprintln!("note: could not apply the allocator settings ({err}); running without them");
    }
}
