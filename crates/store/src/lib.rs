//! Storage for Postkorb: one API over SQLite (the embedded default) and PostgreSQL.
//!
//! The backend is chosen by the URL scheme (`sqlite:` / `postgres:`); every query is written once
//! in the dialect both understand (`$N` parameters, integers for flags and unix-ms times).
//! The import of a batch is one transaction: ledger row + Vorgang or kept mail + raw bytes, so that
//! the importer may dispose of the server copy only after [`Store::commit_batch`] returned.

mod absences;
mod audit;
mod blobs;
mod case_plan;
mod case_write;
mod cases;
mod dns_retry;
mod dump;
mod employees;
mod endpoint;
mod events;
mod graph_subscriptions;
mod holds;
mod import;
mod kept;
mod lease;
mod login_limit;
mod mailboxes;
pub mod notify;
mod oauth;
mod oauth_pending;
mod outbox;
mod person;
mod person_erase;
mod person_export;
mod retention;
mod routes;
mod rows;
mod seal;
mod sealing;
pub mod search;
mod sessions;
mod smtp;
mod source_state;
mod tokens;
mod webhooks;
mod workflow;
pub mod zip;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use absences::{Ended, StoredAbsence};
pub use audit::{AuditFilter, AuditRow};
pub use blobs::{BlobCopy, SweepReport, merge_blob_tree};
pub use cases::{
    AttachmentBytes, CaseDetail, CaseEvent, CaseFilter, CaseNote, CaseSummary, StartClaim, StoredAttachment,
};
pub use dns_retry::DnsRetry;
pub use dump::TableSum;
pub use employees::NewEmployee;
pub use endpoint::{Endpoint, OAuthEndpoint, SecretColumn};
pub use events::LoggedEvent;
pub use graph_subscriptions::GraphSubscription;
pub use holds::{HiddenCounts, Hold, HoldTarget, hidden_sql};
pub use import::{ImportItem, ImportOutcome, RawFile, WrittenAhead};
pub use kept::KeptMail;
pub use lease::{LeaseInfo, LeaseOutcome, Presence};
pub use login_limit::{LoginLimits, LoginRefused};
pub use mailboxes::{MailboxDeleted, MailboxRecord};
pub use oauth::{OAuthFields, OAuthTokens};
pub use outbox::{Attempt, Delivery, NewDelivery, OutboxItem};
pub use person::{FoundIn, PersonItem, PersonMatch, PersonQuery};
pub use person_erase::EraseAction;
pub use person_export::INDEX as EXPORT_INDEX;
pub use retention::{ClassRun, Deleted, DeletionEntry};
pub use seal::{Cipher, MailKey};
pub use sealing::{SealCursor, SealProgress};
pub use search::{
    IndexTerms, SEARCH_WINDOW, SearchHit, SearchPage, SearchProgress, SearchQuery, SearchStatus, Searcher,
};
pub use sessions::SessionUser;
pub use smtp::SmtpRecord;
pub use tokens::ApiToken;
pub use webhooks::Webhook;
pub use workflow::StartCounts;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Rules(RuleErrors),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid value: {0}")]
    Invalid(String),
    /// An employee record breaks a rule (e.g. a work e-mail another employee has).
    #[error("{0}")]
    Employee(postkorb_core::EmployeeError),
    /// The blob directory: a file missing, damaged or not writable.
    #[error("blob directory: {0}")]
    Blob(String),
    /// A change of a Vorgang that its state no longer allows (issue 16: taken meanwhile, not
    /// open, receiver not eligible …), with what happened.
    #[error("{}", .0.english())]
    Refused(postkorb_core::CaseRefusal),
}

/// The rules a sender row broke (all of them, so a form can show each).
#[derive(Debug, Clone)]
pub struct RuleErrors(pub Vec<postkorb_core::RouteError>);

impl std::fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| e.to_string()).collect();
        f.write_str(&parts.join("; "))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Placeholders `first`, `first + 1`, … `first + count - 1`, comma-separated, for a statement
    /// that numbers the ones before them itself. SQLite gets anonymous `?`: its parser looks each
    /// named `$N` up in a list of the names seen so far, quadratic in a statement of thousands of
    /// parameters, while `?` takes the next number. PostgreSQL needs `$N`.
    pub(crate) fn placeholders(self, first: usize, count: usize) -> String {
        let mut out = String::with_capacity(count * 6);
        for i in 0..count {
            if i > 0 {
                out.push_str(", ");
            }
            match self {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(first + i).to_string());
                }
            }
        }
        out
    }
}

/// Runs `work` on the blocking pool (sealing, opening, blob files); `what` names it in the error
/// should the task itself fail.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Blob(format!("{what} failed: {e}")))?
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Where raw mails and attachments go instead of the database (`blobs.rs`), if set.
    blobs: Option<blobs::BlobDir>,
    /// SQLite: the WAL checkpoint that runs beside the writer (see [`Store::checkpoint_soon`]).
    checkpoint: std::sync::Arc<Checkpointer>,
    /// The key for mail content at rest (`seal.rs`), if given ([`Store::with_mail_key`]): without
    /// it the store cannot seal new mails, nor open sealed ones.
    mail_key: Option<seal::MailKey>,
}

/// State of the background WAL checkpoint: one runs at a time; a request while it runs makes it
/// run once more.
#[derive(Default)]
struct Checkpointer {
    running: std::sync::atomic::AtomicBool,
    again: std::sync::atomic::AtomicBool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies the migrations; raw mails
    /// and attachments are stored in the database.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, None).await
    }

    /// Like [`Store::open`]; with `blob_dir`, new raw mails and attachments are written there
    /// (content-addressed files, durable before the commit that references them) and the rows
    /// hold their hash. Bytes already in the database stay readable either way.
    pub async fn open_with(url: &str, blob_dir: Option<std::path::PathBuf>) -> Result<Store> {
        let blobs = blob_dir.map(blobs::BlobDir::open).transpose()?;
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(format!(
                "unsupported database URL {url:?}: use sqlite:PATH or postgres://…"
            )));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        // The page size of a new SQLite database: 64 KiB where raw mails live inside it, whose
        // bytes then take a sixteenth of the page writes; 4 KiB with a blob directory (the
        // default), where the rows are small and the indexes with random keys (fingerprints)
        // would otherwise write a 64 KiB page for every entry they take: an import of 100,000
        // mails took 69.9 s with 64 KiB pages and 60.0 s with 4 KiB (docs/benchmarks.md).
        let page_size = if blobs.is_some() { 4096 } else { 65536 };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // A SQLite connection is a file handle in this process: it cannot go stale as a
            // server's connection can, so the ping before each use is left out, and with it
            // (vendor/sqlx-core) the ping after each use — each a trip to the connection's
            // thread and back for every statement run on the pool.
            .test_before_acquire(backend != Backend::Sqlite)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // A new database gets `page_size`; on an existing one this does nothing.
                        conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA page_size = {page_size}"))).await?;
                        // Durable (FULL) and concurrent readers (WAL); foreign keys on.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // What is deleted is overwritten, not left in free pages (retention runs,
                        // erasure, the conversion to sealed storage).
                        conn.execute("PRAGMA secure_delete = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        // The writer checkpoints itself only when the background checkpoint
                        // (`checkpoint_soon`) falls behind by this many pages.
                        conn.execute("PRAGMA wal_autocheckpoint = 4000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
                vacuum_rewritten(&pool).await?;
            }
        }
        Ok(Store { pool, backend, blobs, checkpoint: Default::default(), mail_key: None })
    }

    /// SQLite: copies committed WAL pages into the database file on another connection (its own
    /// thread), so the writer does not do it inside its next commit. An import writes every raw
    /// mail twice (WAL, then database file); this takes the second write off the import's path.
    /// PASSIVE: never blocks readers or the writer. The writer's own automatic checkpoint stays
    /// on as the fallback. Errors only delay the copy (the WAL keeps the pages), so they are logged.
    pub(crate) fn checkpoint_soon(&self) {
        use std::sync::atomic::Ordering;
        if self.backend != Backend::Sqlite {
            return;
        }
        self.checkpoint.again.store(true, Ordering::SeqCst);
        if self.checkpoint.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let (pool, state) = (self.pool.clone(), self.checkpoint.clone());
        tokio::spawn(async move {
            loop {
                while state.again.swap(false, Ordering::SeqCst) {
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_all(&pool).await {
                        tracing::warn!(error = %e, "background WAL checkpoint failed; the writer's own checkpoint takes over");
                    }
                }
                state.running.store(false, Ordering::SeqCst);
                // A request between the last check and the store above would be lost otherwise.
                if !state.again.load(Ordering::SeqCst) || state.running.swap(true, Ordering::SeqCst) {
                    break;
                }
            }
        });
    }

    /// The store with the key for mail content at rest: it opens sealed mails, and seals new ones
    /// while the setting is on ([`Store::seal_new`]).
    pub fn with_mail_key(mut self, key: seal::MailKey) -> Store {
        self.mail_key = Some(key);
        self
    }

    pub(crate) fn mail_key(&self) -> Option<&seal::MailKey> {
        self.mail_key.as_ref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`, waiting up to the busy timeout for another writer): a deferred transaction that
    /// reads first and writes later fails at its first write with SQLITE_BUSY_SNAPSHOT (517,
    /// "database is locked") whenever another connection committed in between — e.g. the fetch
    /// lease's renewal during a long batch commit — and no busy timeout helps there.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

/// PostgreSQL: a large table without a visibility map — rewritten by a migration (0032 and 0033
/// rewrite the search index's table) — is vacuumed in the background. Until then every index-only
/// scan reads the table's rows as well (the search's walk to its edge: 12–70 ms instead of 1 at
/// 1,000,000 Vorgänge), and autovacuum may not come for a long time: a rewrite counts as no change.
/// The check is one query; VACUUM blocks neither reading nor writing.
async fn vacuum_rewritten(pool: &sqlx::AnyPool) -> Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relpages > 1000 AND c.relallvisible = 0",
    )
    .fetch_all(pool)
    .await?;
    for table in tables {
        let pool = pool.clone();
        tokio::spawn(async move {
            tracing::info!(table, "vacuuming a table that has no visibility map (rewritten by a migration)");
            // The name comes from the catalog; quoted all the same.
            let sql = format!("VACUUM (ANALYZE) \"{}\"", table.replace('"', "\"\""));
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await {
                tracing::warn!(table, error = %e, "VACUUM failed; autovacuum takes over");
            }
        });
    }
    Ok(())
}
