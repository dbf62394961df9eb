//! The store's part of one Startmaske view, statement by statement, on several databases in one
//! run (issues 16 and 19: where does the view at 1,000,000 Vorgänge spend what the view at 100
//! does not?). One client, no HTTP, no rendering: each call as `crates/web/src/pages/home.rs`
//! makes it for the „Offen“ tab, timed alone, the databases alternating within each round.
//!
//! ```sh
//! cargo run --release -p postkorb-store --example view_statements -- \
//!     --employee 2 --calls 2000 --rounds 3 \
//!     sqlite://bench/out/search/sqlite-100/postkorb.db sqlite://bench/out/search/sqlite-1000000/postkorb.db
//! ```
//!
//! Prints, per statement, the median over the rounds of the mean time per call (µs), and the
//! ratio of the last database to the first. `claim_at_start` claims what waits for the employee,
//! as opening the Startmaske does: run it on copies of data that must stay as they are. Numbers
//! only; nothing here is a test.

use std::time::Instant;

use postkorb_core::EmployeeId;
use postkorb_store::{CaseFilter, Store};

fn usage() -> ! {
    eprintln!("usage: view_statements [--employee N] [--calls N] [--rounds N] DATABASE_URL...");
    std::process::exit(2)
}

/// Each statement's name and mean µs per call (`calls` calls each), then their sum.
async fn one_round(store: &Store, me: EmployeeId, calls: u32) -> postkorb_store::Result<Vec<(&'static str, f64)>> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let last_seen = store.last_seen(me).await?.unwrap_or(now);
    let mut out = Vec::new();
    macro_rules! timed {
        ($name:expr, $call:expr) => {{
            let t = Instant::now();
            for _ in 0..calls {
                let _ = $call.await?;
            }
            out.push(($name, t.elapsed().as_secs_f64() * 1e6 / f64::from(calls)));
        }};
    }
    timed!("claim_at_start", store.claim_at_start(me, true, now));
    timed!("last_seen", store.last_seen(me));
    timed!("hidden_counts", store.hidden_counts(me, last_seen, now));
    timed!("start_counts", store.start_counts(me, now));
    timed!("employees", store.employees());
    timed!("start_page (25)", store.start_page(me, CaseFilter::Undated, 25, 0));
    timed!("new_cases_since", store.new_cases_since(me, last_seen));
    let sum = out.iter().map(|(_, t)| t).sum();
    out.push(("the view's sum", sum));
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> postkorb_store::Result<()> {
    let (mut employee, mut calls, mut rounds, mut urls) = (2i64, 2000u32, 3usize, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse::<i64>().ok()).unwrap_or_else(|| usage());
        match a.as_str() {
            "--employee" => employee = value(),
            "--calls" => calls = u32::try_from(value()).unwrap_or_else(|_| usage()),
            "--rounds" => rounds = usize::try_from(value()).unwrap_or_else(|_| usage()),
            _ if a.starts_with("--") => usage(),
            _ => urls.push(a),
        }
    }
    if urls.is_empty() || rounds == 0 || calls == 0 {
        usage();
    }
    let me = EmployeeId(employee);
    let mut stores = Vec::new();
    for url in &urls {
        let store = Store::open(url).await?;
        let rows = store.start_page(me, CaseFilter::Undated, 25, 0).await?.len();
        eprintln!("{url}: employee {employee}, {rows} rows on the first page of „Offen“");
        stores.push(store);
    }
    // Per database, per statement: its name and one time per round; the databases' order turns
    // each round.
    let mut times: Vec<Vec<(&str, Vec<f64>)>> = vec![Vec::new(); stores.len()];
    for round in 0..rounds {
        let order: Vec<usize> =
            if round % 2 == 0 { (0..stores.len()).collect() } else { (0..stores.len()).rev().collect() };
        for i in order {
            for (s, (name, t)) in one_round(&stores[i], me, calls).await?.into_iter().enumerate() {
                if times[i].len() <= s {
                    times[i].push((name, Vec::new()));
                }
                times[i][s].1.push(t);
            }
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let head: Vec<String> = (1..=urls.len()).map(|i| format!("db {i} µs")).collect();
    println!("| statement | {} | last ÷ first |", head.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(urls.len()));
    for (s, (name, _)) in times[0].iter().enumerate() {
        let cells: Vec<f64> = times.iter().map(|t| median(&t[s].1)).collect();
        let shown: Vec<String> = cells.iter().map(|c| format!("{c:.1}")).collect();
        println!("| {name} | {} | {:.2} |", shown.join(" | "), cells[cells.len() - 1] / cells[0]);
    }
    for (i, url) in urls.iter().enumerate() {
        println!("\ndb {}: {url}", i + 1);
    }
    Ok(())
}
