//! Test databases for the storage contract: a fresh SQLite file, and a fresh PostgreSQL database
//! on the test server (`postkorb_testkit::postgres`: required in CI, never silently skipped there).
//! Shared by every test file of the store.
#![allow(dead_code)]

pub mod office;

use postkorb_store::Store;

/// The URL of a new, empty database of each backend, with what must live as long as it.
pub async fn database_urls() -> Vec<(String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(format!("sqlite:{}", dir.path().join("t.db").display()), Some(dir))];
    if let Some(url) = postkorb_testkit::postgres::database("the storage contract").await {
        out.push((url, None));
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

/// An attachment's bytes as a reader gets them: stored, or decoded from the raw mail (what
/// `postkorb_web::view::attachment` does above the store), checked against the recorded size.
#[allow(dead_code)]
pub async fn attachment_bytes(
    store: &Store,
    case_id: i64,
    attachment_id: i64,
) -> Result<Vec<u8>, postkorb_store::StoreError> {
    let (meta, bytes) = store.attachment(case_id, attachment_id).await?;
    Ok(match bytes {
        postkorb_store::AttachmentBytes::Stored(data) => data,
        postkorb_store::AttachmentBytes::InRaw { raw, index } => {
            let (_, data) = postkorb_mail::attachment_at(&raw, index).expect("the attachment is in its raw mail");
            assert_eq!(data.len() as i64, meta.size, "the size recorded at import");
            data
        }
    })
}

/// Makes every INSERT into `table` fail, so the transaction doing it rolls back.
pub async fn refuse_inserts_into(store: &Store, table: &str) {
    let statements = match store.backend() {
        postkorb_store::Backend::Sqlite => {
            vec![format!("CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END")]
        }
        postkorb_store::Backend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
                .to_string(),
            format!("CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()"),
        ],
    };
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(store.pool()).await.unwrap();
    }
}
