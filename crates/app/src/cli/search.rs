//! `postkorb cases search` (the „Suche“ from the terminal: every Vorgang, or what one employee may
//! see with `--as`) and `postkorb search reindex` (older Vorgänge into the index, with progress).

use anyhow::{anyhow, bail};
use postkorb_store::{SearchQuery, SearchStatus, Searcher};

use crate::Ctx;
use crate::cli::SearchArgs;
use crate::clock::format_ms;

pub async fn search(ctx: &Ctx, args: SearchArgs) -> anyhow::Result<()> {
    let who = match &args.as_user {
        Some(u) => Searcher::Employee(ctx.store.find_employee(u).await?.id),
        None => Searcher::All,
    };
    let day = |d: &Option<String>| -> anyhow::Result<Option<i64>> {
        d.as_deref()
            .map(|s| postkorb_core::time::parse_berlin_day(s).ok_or_else(|| anyhow!("not a day (YYYY-MM-DD): {s}")))
            .transpose()
    };
    let status = match args.status.as_deref() {
        Some(s) => Some(SearchStatus::from_code(s).ok_or_else(|| anyhow!("--status is waiting, open or done: {s}"))?),
        None => None,
    };
    let assignee = match &args.assignee {
        Some(u) => Some(ctx.store.find_employee(u).await?.id),
        None => None,
    };
    let q = SearchQuery {
        text: args.words.join(" "),
        status,
        assignee,
        from_ms: day(&args.from)?,
        // Until the end of that office day.
        until_ms: day(&args.until)?.and(args.until.as_deref().and_then(postkorb_core::time::parse_berlin_day_end)),
        page: args.page,
        per_page: args.per_page,
    };
    if postkorb_store::search::query_terms(&q.text).is_empty() {
        bail!("nothing to search for: give words of letters or digits (not only der, die, das, …)");
    }
    let page = ctx.store.search(who, &q).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    println!("{:<7} {:<8} {:<17} {:<22} BETREFF", "ID", "STATUS", "EINGANG (UTC)", "BEARBEITER");
    for h in &page.hits {
        let c = &h.case;
        let assignee = c.assignee_name.as_deref().unwrap_or("(wartet)");
        println!("{:<7} {:<8} {:<17} {:<22} {}", c.id, c.status, format_ms(c.received_ms), assignee, c.subject);
    }
    if page.more {
        println!("(more: --page {})", page.page + 1);
    }
    Ok(())
}

pub async fn reindex(ctx: &Ctx) -> anyhow::Result<()> {
    let before = ctx.store.search_progress().await?;
    println!("search index: {} of {} Vorgänge indexed", before.indexed, before.total);
    let end = crate::service::search::reindex(&ctx.store, |p| {
        eprint!("\rindexing: {} of {} ({}%)   ", p.indexed, p.total, p.indexed * 100 / p.total.max(1));
    })
    .await?;
    if end.indexed != before.indexed {
        eprintln!();
    }
    println!("search index: {} of {} Vorgänge indexed", end.indexed, end.total);
    Ok(())
}
