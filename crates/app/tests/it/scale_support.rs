//! Shared setup of the scale-out tests: a fresh PostgreSQL database, a private Dovecot mailbox, and
//! several real `postkorb serve` processes on that one database (own data dirs and ports, one
//! shared key file).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postkorb_store::Store;
use postkorb_testkit::Dovecot;
use sqlx::Row;

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

/// A running `postkorb serve`; killed (SIGKILL) when dropped.
pub struct Instance {
    pub child: Child,
    pub port: u16,
    pub name: String,
    pub log: PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True if `holder` (a lease holder id: host-pid-random) is this process.
    pub fn holds(&self, holder: &str) -> bool {
        holder.rsplit('-').nth(1) == Some(self.pid().to_string().as_str())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process the hard way, as a crash or power loss would (SIGKILL).
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Asks the process to stop cleanly (SIGTERM) and waits for it.
    pub fn terminate(&mut self) {
        let ok = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("kill -TERM");
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait().expect("try_wait").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not stop within 15 s after SIGTERM\n{}", self.name, self.log());
    }
}

/// POST with a bearer token to an instance's port; the whole response.
pub fn post_to(port: u16, path: &str, token: &str) -> Option<String> {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn http(port: u16, request: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The test PostgreSQL server from `POSTKORB_TEST_POSTGRES`; these tests need it.
pub fn postgres_server() -> String {
    std::env::var("POSTKORB_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "POSTKORB_TEST_POSTGRES is not set: the scale-out tests need PostgreSQL. Run ./scripts/test, \
             which starts a private PostgreSQL and sets it."
        )
    })
}

/// Creates a new, empty database on the test server and returns its URL.
pub async fn fresh_postgres() -> String {
    use sqlx::Connection;
    let server = postgres_server();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "pk_scale_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000
    );
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
    format!("{base}/{name}")
}

impl Cluster {
    /// A fresh database and Dovecot user, and the mailbox set up through the CLI (verification
    /// off, storm limit off, polling every second as the fallback).
    pub async fn new(lease_secs: u64, batch_size: usize) -> Cluster {
        let db_url = fresh_postgres().await;
        let dovecot = Dovecot::start();
        dovecot.add_user(USER, PASSWORD);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&db_url).await.expect("open the test database");
        let c = Cluster { dir, db_url, store, dovecot, lease_secs, batch_size };
        std::fs::write(c.dir.path().join("postkorb.toml"), format!("batch_size = {batch_size}\n")).unwrap();
        let port = c.dovecot.imap_port().to_string();
        c.postkorb(
            &[
                "mailbox",
                "set",
                "--protocol",
                "imap",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--tls",
                "none",
                "--username",
                USER,
                "--password-stdin",
                "--verify",
                "off",
                "--poll-secs",
                "1",
                "--storm-max",
                "0",
            ],
            Some(PASSWORD),
        );
        c
    }

    fn command(&self, data_dir: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postkorb"));
        cmd.env("POSTKORB_CONFIG", self.dir.path().join("postkorb.toml"))
            .env("POSTKORB_DATABASE_URL", &self.db_url)
            .env("POSTKORB_DATA_DIR", self.dir.path().join(data_dir))
            .env("POSTKORB_KEY_FILE", self.dir.path().join("secret.key"))
            .env("POSTKORB_LEASE_SECS", self.lease_secs.to_string());
        cmd
    }

    /// Runs a CLI command against the shared database; panics with its output unless it succeeds.
    pub fn postkorb(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = self
            .command("cli")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "postkorb {args:?} failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
        text
    }

    /// Starts `postkorb serve` as instance `name` and waits until its /health answers.
    pub fn start(&self, name: &str) -> Instance {
        let port = postkorb_testkit::free_port();
        let log = self.dir.path().join(format!("{name}.log"));
        let child = self
            .command(name)
            .arg("serve")
            .env("POSTKORB_LISTEN", format!("127.0.0.1:{port}"))
            .env("POSTKORB_LOG", "postkorb_app=debug,info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.dir.path().join(format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let instance = Instance { child, port, name: name.into(), log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health =
                http(port, &format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"));
            if health.is_some_and(|h| h.starts_with("HTTP/1.1 200")) {
                return instance;
            }
            assert!(Instant::now() < deadline, "{name} did not come up\n{}", instance.log());
            std::thread::sleep(Duration::from_millis(100));
        }
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
