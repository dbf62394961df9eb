//! The search index of Vorgänge from before it existed (migration 0020) or copied by `migrate-db`:
//! indexed a step at a time until none is left; `serve` runs it in the background, `postkorb
//! search reindex` in the foreground with progress. New Vorgänge are indexed at import.

use postkorb_store::{SearchProgress, Store};

/// Vorgänge per step (one write transaction each, short so the import is not held up).
const STEP: i64 = 500;

/// Steps between two drains of the queued words and merges of GIN's pending entries
/// (PostgreSQL): 8,000 entries, below the 32 MB at which an insert would merge them itself.
const UPKEEP_EVERY_STEPS: u64 = 16;

/// Steps between two progress reports (counting costs a scan of the Vorgänge).
const REPORT_EVERY: u64 = 20;

/// Indexes every Vorgang not in the index yet; `on_step` gets the progress every
/// [`REPORT_EVERY`] steps. Returns the progress at the end.
pub async fn reindex(store: &Store, mut on_step: impl FnMut(SearchProgress)) -> anyhow::Result<SearchProgress> {
    let mut after = 0;
    let mut steps = 0u64;
    while let Some(last) = store.search_reindex_step(after, STEP).await? {
        after = last;
        steps += 1;
        // PostgreSQL (migration 0038): the steps' queued words moved into the list and GIN's
        // pending entries merged now and then — larger merges than the importer's, cheaper per
        // entry; the search reads both queue and pending entries meanwhile.
        if steps.is_multiple_of(UPKEEP_EVERY_STEPS) {
            store.drain_search_words().await?;
            store.merge_search_pending().await?;
        }
        if steps.is_multiple_of(REPORT_EVERY) {
            on_step(store.search_progress().await?);
        }
    }
    store.drain_search_words().await?;
    store.merge_search_pending().await?;
    Ok(store.search_progress().await?)
}

/// `serve`: runs [`reindex`] in the background when the index lacks Vorgänge, logging progress.
pub fn spawn_reindex(store: Store) {
    tokio::spawn(async move {
        match store.search_progress().await {
            Ok(p) if p.indexed >= p.total => return,
            Ok(p) => tracing::info!(indexed = p.indexed, total = p.total, "search index: indexing older Vorgänge"),
            Err(e) => tracing::warn!(error = %e, "search index: progress unknown"),
        }
        let done = reindex(&store, |p| {
            tracing::info!(indexed = p.indexed, total = p.total, "search index: indexing older Vorgänge");
        })
        .await;
        match done {
            Ok(p) => tracing::info!(indexed = p.indexed, total = p.total, "search index: complete"),
            Err(e) => {
                tracing::warn!(error = %e, "search index: indexing older Vorgänge failed; `postkorb search reindex` tries again")
            }
        }
    });
}
