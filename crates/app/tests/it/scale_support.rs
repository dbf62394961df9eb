//! Shared setup of the scale-out tests: a fresh PostgreSQL database, a private Dovecot mailbox, and
//! several real `postkorb serve` processes on that one database (own data dirs and ports, one
//! shared key file).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use postkorb_store::Store;
use postkorb_testkit::Dovecot;
use sqlx::Row;

use crate::common::{Env, HANG_GUARD, Served};

pub const USER: &str = "vorgaenge";
pub const PASSWORD: &str = "geheim-123";

/// One office on PostgreSQL with one Dovecot mailbox, and the settings every instance shares.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub store: Store,
    pub dovecot: Dovecot,
    pub lease_secs: u64,
    pub batch_size: usize,
}

/// A running `postkorb serve` instance; killed (SIGKILL) when dropped.
pub type Instance = Served;

/// POST with a bearer token to an instance's port; the whole response.
pub fn post_to(port: u16, path: &str, token: &str) -> Option<String> {
    crate::common::http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
}

impl Cluster {
    /// A fresh database and Dovecot user, and the mailbox set up through the CLI (verification
    /// off, storm limit off, polling every second as the fallback). None when there is no test
    /// PostgreSQL outside CI (`postkorb_testkit::postgres`).
    pub async fn new(lease_secs: u64, batch_size: usize) -> Option<Cluster> {
        let db_url = postkorb_testkit::postgres::database("the scale-out test").await?;
        let dovecot = Dovecot::start();
        dovecot.add_user(USER, PASSWORD);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&db_url).await.expect("open the test database");
        let c = Cluster { dir, db_url, store, dovecot, lease_secs, batch_size };
        std::fs::write(c.dir.path().join("postkorb.toml"), format!("batch_size = {batch_size}\n")).unwrap();
        let extra = ["--verify", "off", "--poll-secs", "1", "--storm-max", "0"];
        c.env("cli").imap_mailbox_as(c.dovecot.imap_port(), USER, PASSWORD, &extra);
        Some(c)
    }

    /// The `postkorb` runner of instance `data_dir` on the shared database, config and key file.
    pub fn env(&self, data_dir: &str) -> Env {
        let dir = self.dir.path().join(data_dir);
        std::fs::create_dir_all(&dir).unwrap();
        Env::in_dir(&dir)
            .with("POSTKORB_CONFIG", self.dir.path().join("postkorb.toml"))
            .with("POSTKORB_DATABASE_URL", &self.db_url)
            .with("POSTKORB_KEY_FILE", self.dir.path().join("secret.key"))
            .with("POSTKORB_LEASE_SECS", self.lease_secs.to_string())
    }

    /// Runs a CLI command against the shared database; panics with its output unless it succeeds.
    pub fn postkorb(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.env("cli").ok_with_input(args, stdin.unwrap_or(""))
    }

    /// Starts `postkorb serve` as instance `name` and waits until its /health answers.
    pub fn start(&self, name: &str) -> Instance {
        let instance = self.env(name).with("POSTKORB_LOG", "postkorb_app=debug,info").serve(name);
        let started = Instant::now();
        while !instance.get("/health").is_some_and(|h| h.starts_with("HTTP/1.1 200")) {
            assert!(started.elapsed() < HANG_GUARD, "{name} did not come up\n{}", instance.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        instance
    }

    /// Drops `n` mails straight into the mailbox's Maildir (as a delivery agent would) and returns
    /// their Message-IDs. `from(i)` gives the sender of mail `i`.
    pub fn deliver(&self, n: usize, tag: &str, from: impl Fn(usize) -> String) -> Vec<String> {
        (0..n)
            .map(|i| {
                let id = format!("{tag}-{i}@scale.test");
                let raw = format!(
                    "From: {}\r\nTo: {USER}@example.test\r\nSubject: Vorgang {tag} Nr. {i}\r\nMessage-ID: <{id}>\r\n\
                     Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                     Bitte um Rückruf wegen Vertrag {i}.\r\n",
                    from(i)
                );
                self.dovecot.drop_into_maildir(USER, raw.as_bytes());
                id
            })
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(self.store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    pub async fn mailbox_id(&self) -> i64 {
        self.store.mailbox("default").await.unwrap().id
    }

    /// Waits until the ledger holds `n` entries and the INBOX is empty; panics after `limit`.
    pub async fn wait_imported(&self, n: i64, limit: Duration, instances: &[&Instance]) {
        let deadline = Instant::now() + limit;
        loop {
            let ledger = self.count("SELECT COUNT(*) FROM ledger").await;
            if ledger >= n && self.dovecot.count(USER, "INBOX") == 0 {
                return;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> =
                    instances.iter().map(|i| format!("--- {}:\n{}", i.name, tail(&i.log()))).collect();
                panic!("after {limit:?}: {ledger} of {n} mails imported\n{}", logs.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every delivered mail exactly once: one ledger entry each, no duplicates, one Vorgang or
    /// kept mail each, and nothing left in the INBOX.
    pub async fn assert_exactly_once(&self, ids: &[String]) {
        let n = ids.len() as i64;
        assert_eq!(self.count("SELECT COUNT(*) FROM ledger").await, n, "ledger entries");
        assert_eq!(self.count("SELECT COUNT(*) FROM ledger WHERE outcome = 'duplicate'").await, 0, "duplicates");
        let stored = self.count("SELECT COUNT(*) FROM cases").await + self.count("SELECT COUNT(*) FROM kept").await;
        assert_eq!(stored, n, "Vorgänge + kept mails");
        assert_eq!(self.count("SELECT COUNT(*) FROM raw_messages").await, n, "raw messages");
        assert_eq!(self.count("SELECT COUNT(DISTINCT source_key) FROM ledger").await, n, "distinct source keys");
        assert_eq!(self.count("SELECT COUNT(DISTINCT fingerprint) FROM ledger").await, n, "distinct fingerprints");
        let rows = sqlx::query("SELECT message_id FROM ledger").fetch_all(self.store.pool()).await.unwrap();
        let mut got: Vec<String> = rows
            .iter()
            .map(|r| r.get::<Option<String>, _>(0).unwrap_or_default().trim_matches(['<', '>']).to_string())
            .collect();
        let mut want = ids.to_vec();
        got.sort();
        want.sort();
        assert!(got == want, "the ledger's Message-IDs differ from the delivered ones");
        assert_eq!(self.dovecot.count(USER, "INBOX"), 0, "mails left in the INBOX");
    }
}

/// The last lines of a log, for failure messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
