//! The test PostgreSQL: the server `POSTKORB_TEST_POSTGRES` names (`./scripts/test` starts a private
//! one) and a fresh, empty database on it per test. In CI a missing server fails the run loudly;
//! only outside CI (a developer's `cargo test`) are the PostgreSQL parts skipped, with a note.

/// The variable naming the test server, e.g. `postgres://postgres@127.0.0.1:55432/postgres`.
pub const SERVER_VAR: &str = "POSTKORB_TEST_POSTGRES";

/// True when the tests run in CI (`CI` set and not `0`/`false`; `./scripts/test` sets it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The test server's URL. Unset: panics in CI; elsewhere says on stderr that `what` was not
/// tested on PostgreSQL and returns `None`, so the caller skips exactly that part.
pub fn server(what: &str) -> Option<String> {
    match std::env::var(SERVER_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!(
            "{SERVER_VAR} is not set, but {what} needs PostgreSQL and this is CI: run the tests with \
             ./scripts/test, which starts a private PostgreSQL and sets it"
        ),
        _ => {
            eprintln!("note: {SERVER_VAR} not set, {what} not tested on PostgreSQL");
            None
        }
    }
}

/// Creates a new, empty database on `server` and returns its URL.
pub async fn fresh_database(server: &str) -> String {
    use sqlx::Connection;
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = format!("pk_{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst), nanos % 1_000_000);
    let mut admin = sqlx::PgConnection::connect(server).await.expect("connect to the test PostgreSQL");
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SWEPT.swap(true, Ordering::SeqCst) {
        drop_leftovers(&mut admin).await;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
    format!("{base}/{name}")
}

/// Drops the databases earlier test processes left behind (`pk_<pid>_…` of a process that no longer
/// runs on this machine): a developer's repeated runs would otherwise fill the server's disk. One in
/// use cannot be dropped and stays.
async fn drop_leftovers(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'pk\\_%'")
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_none_or(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&mut *admin).await;
        }
    }
}

/// A fresh database for `what` on the test server ([`server`]'s rules when it is not set).
pub async fn database(what: &str) -> Option<String> {
    Some(fresh_database(&server(what)?).await)
}
