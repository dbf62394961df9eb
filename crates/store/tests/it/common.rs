//! Test databases for the storage contract: a fresh SQLite file, and — when
//! `POSTKORB_TEST_POSTGRES` names a server — a fresh PostgreSQL database on it. In CI the
//! PostgreSQL run is required, never silently skipped. Shared by every test file of the store.
#![allow(dead_code)]

use postkorb_store::Store;

/// The URL of a new, empty database of each backend, with what must live as long as it.
pub async fn database_urls() -> Vec<(String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(format!("sqlite:{}", dir.path().join("t.db").display()), Some(dir))];
    match std::env::var("POSTKORB_TEST_POSTGRES") {
        Ok(server) => out.push((fresh_postgres(&server).await, None)),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("POSTKORB_TEST_POSTGRES is not set: run the tests with ./scripts/test, which starts PostgreSQL")
        }
        Err(_) => eprintln!("note: POSTKORB_TEST_POSTGRES not set, the store tests ran on SQLite only"),
    }
    out
}

/// A new, empty store of each backend.
pub async fn backends() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    for (url, dir) in database_urls().await {
        out.push((Store::open(&url).await.unwrap(), dir));
    }
    out
}

/// Creates a new database on the test server and returns its URL.
pub async fn fresh_postgres(server: &str) -> String {
    use sqlx::Connection;
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "pk_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000
    );
    let mut admin = sqlx::PgConnection::connect(server).await.expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
    format!("{base}/{name}")
}

/// A raw mail whose first (and only) attachment holds `attachment` (base64): the store decodes
/// attachments from the raw mail on download, so a test's raw bytes must really contain them.
#[allow(dead_code)]
pub fn raw_with_attachment(subject: &str, body: &str, attachment: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(attachment);
    let lines: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!(
        "From: anna@mustermail.de\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"Anhang.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"Anhang.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {}\r\n--b1--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}
