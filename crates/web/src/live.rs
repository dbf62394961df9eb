//! The live Startmaske (issue #17): one reader of the Vorgang event log per instance, feeding every
//! open `GET /ereignisse` stream of this instance (Server-Sent Events, see `live/stream.rs`).
//!
//! The reader polls [`Store::case_events_after`] (every [`LiveOptions::poll`]), reads each Vorgang
//! an event may concern once (`Fact`: the event, the Vorgang as it is now, its row as the screens
//! show it) and broadcasts it; each stream filters with `live/filter.rs` for its user. Several
//! instances each poll the database, so a change made on one reaches the streams of all. While no
//! stream is open the reader only follows the end of the log (one `MAX(id)` per poll).
//!
//! Start it once per process with [`Live::start`] and hand the handle to the web through
//! `WebState::live`; it stops when the last handle is dropped.

pub(crate) mod filter;
pub(crate) mod stream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use postkorb_core::EmployeeId;
use postkorb_store::{CaseDetail, LoggedEvent, Store, StoreError};
use serde::Serialize;
use tokio::sync::broadcast;

/// The timings and limits of the live Startmaske; [`Default`] is what `serve` uses.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// How often the reader asks the log for new events.
    pub poll: Duration,
    /// How often a stream checks that its session is still valid (logout, password change, a
    /// former employee): it ends at the first check that fails.
    pub recheck: Duration,
    /// A comment line this often keeps proxies from closing an idle stream.
    pub heartbeat: Duration,
    /// Open streams per employee (one per tab); more are refused with 429.
    pub per_user: usize,
    /// A reconnect with a `Last-Event-ID` more than this many events back gets „reload“ instead
    /// of the missed events.
    pub resume_max: i64,
    /// Events a slow stream may fall behind before it is told to reload.
    pub capacity: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            poll: Duration::from_millis(400),
            recheck: Duration::from_secs(15),
            heartbeat: Duration::from_secs(20),
            per_user: 8,
            resume_max: 1000,
            capacity: 1024,
        }
    }
}

/// The handle of this instance's reader: cheap to clone, shared by the streams.
#[derive(Clone)]
pub struct Live(Arc<Inner>);

struct Inner {
    store: Store,
    options: LiveOptions,
    tx: broadcast::Sender<Arc<Fact>>,
    /// The id of the last event broadcast (set before its batch is sent); -1 until the reader
    /// has read the end of the log once.
    position: AtomicI64,
    /// Held while a stream subscribes and while the idle reader moves `position` to the end of
    /// the log, so that no stream subscribes between the check for receivers and the move (it
    /// would miss the events skipped).
    gate: Mutex<()>,
    /// Open streams per employee.
    open: Mutex<HashMap<i64, usize>>,
}

/// One logged event with what the streams need to filter and show it.
pub(crate) struct Fact {
    pub event: LoggedEvent,
    /// The Vorgang as read after the event; `None` for kinds that concern nobody's Startmaske
    /// (`filter::KINDS`) or a Vorgang that could not be read.
    pub case: Option<Seen>,
}

/// A Vorgang as the streams see it.
#[derive(Clone)]
pub(crate) struct Seen {
    pub detail: Arc<CaseDetail>,
    pub row: Arc<CaseRow>,
}

/// What the page's script needs for a row, formatted as the Startmaske formats it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct CaseRow {
    pub subject: String,
    pub from: String,
    pub from_addr: String,
    pub received: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub attachments: i64,
}

impl Live {
    /// Starts the reader of this process (a tokio task; call it inside the runtime) and returns its
    /// handle for `WebState::live`.
    pub fn start(store: Store, options: LiveOptions) -> Live {
        let (tx, _) = broadcast::channel(options.capacity.max(1));
        let inner = Arc::new(Inner {
            store,
            options,
            tx,
            position: AtomicI64::new(-1),
            gate: Mutex::default(),
            open: Mutex::default(),
        });
        tokio::spawn(run(Arc::downgrade(&inner)));
        Live(inner)
    }

    pub(crate) fn options(&self) -> &LiveOptions {
        &self.0.options
    }

    pub(crate) fn store(&self) -> &Store {
        &self.0.store
    }

    /// Subscribes, then returns where the broadcast stands: every event after it reaches the
    /// receiver (the position is set before a batch is sent), the ones up to it are in the log.
    pub(crate) async fn subscribe(&self) -> Result<(broadcast::Receiver<Arc<Fact>>, i64), StoreError> {
        // The reader has not started yet: the end of the log is where both start.
        let end = if self.0.position.load(Ordering::SeqCst) < 0 { self.0.store.case_events_end().await? } else { 0 };
        let _gate = self.0.gate.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.0.tx.subscribe();
        let mut at = self.0.position.load(Ordering::SeqCst);
        if at < 0 {
            at = end;
            self.0.position.store(end, Ordering::SeqCst);
        }
        Ok((rx, at))
    }

    /// A place for one more stream of `employee`, or `None` when they have `per_user` open.
    pub(crate) fn slot(&self, employee: EmployeeId) -> Option<Slot> {
        let mut open = self.0.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(employee.0).or_insert(0);
        if *n >= self.0.options.per_user {
            return None;
        }
        *n += 1;
        Some(Slot { live: Arc::downgrade(&self.0), employee: employee.0 })
    }
}

/// One open stream of one employee; dropping it (the stream ended) frees the place.
pub(crate) struct Slot {
    live: Weak<Inner>,
    employee: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(inner) = self.live.upgrade() {
            let mut open = inner.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&self.employee) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.employee);
                }
            }
        }
    }
}

/// Events read per query.
const BATCH: i64 = 200;

/// The reader: until the last handle is gone, one step per `poll`.
async fn run(inner: Weak<Inner>) {
    loop {
        let Some(live) = inner.upgrade() else { return };
        if let Err(e) = live.step().await {
            tracing::warn!(error = %e, "live Startmaske: reading the event log failed, trying again");
        }
        let poll = live.options.poll;
        drop(live);
        tokio::time::sleep(poll).await;
    }
}

impl Inner {
    async fn step(&self) -> Result<(), StoreError> {
        if self.tx.receiver_count() == 0 || self.position.load(Ordering::SeqCst) < 0 {
            let end = self.store.case_events_end().await?;
            let _gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
            // A stream that subscribed meanwhile keeps the position it read (or set).
            if self.tx.receiver_count() == 0 || self.position.load(Ordering::SeqCst) < 0 {
                self.position.store(end, Ordering::SeqCst);
            }
            return Ok(());
        }
        loop {
            let from = self.position.load(Ordering::SeqCst);
            let events = self.store.case_events_after(from, BATCH).await?;
            let (Some(last), full) = (events.last().map(|e| e.id), events.len() as i64 == BATCH) else {
                return Ok(());
            };
            let facts = facts(&self.store, events).await?;
            self.position.store(last, Ordering::SeqCst);
            for fact in facts {
                // No receiver left: nothing to do; the next step follows the end again.
                let _ = self.tx.send(Arc::new(fact));
            }
            if !full {
                return Ok(());
            }
        }
    }
}

/// Reads the Vorgang of every event that may concern someone, once per Vorgang, and its row as the
/// Startmaske shows it (the reader's batches, a resumed stream's missed events).
pub(crate) async fn facts(store: &Store, events: Vec<LoggedEvent>) -> Result<Vec<Fact>, StoreError> {
    let now = crate::util::now_ms();
    let mut employees = None;
    let mut read: HashMap<i64, Option<Seen>> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        if !filter::KINDS.contains(&event.kind.as_str()) {
            out.push(Fact { event, case: None });
            continue;
        }
        let case = match read.get(&event.case_id) {
            Some(seen) => seen.clone(),
            None => {
                let seen = match store.case(event.case_id).await {
                    Ok(detail) => {
                        if employees.is_none() {
                            employees = Some(store.employees().await?);
                        }
                        let row = row(&detail, employees.as_deref().unwrap_or_default(), now);
                        Some(Seen { detail: Arc::new(detail), row: Arc::new(row) })
                    }
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                read.insert(event.case_id, seen.clone());
                seen
            }
        };
        out.push(Fact { event, case });
    }
    Ok(out)
}

/// The row of a Vorgang with the Startmaske's own formatting (`pages::home::row`).
fn row(detail: &CaseDetail, employees: &[postkorb_core::Employee], now: i64) -> CaseRow {
    let r = crate::pages::home_row(detail.summary.clone(), employees, now);
    CaseRow {
        subject: r.subject,
        from: r.from,
        from_addr: r.from_addr,
        received: r.received,
        status: r.status,
        status_class: r.status_class,
        attachments: r.attachments,
    }
}
