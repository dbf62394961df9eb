//! `blob_dir` end to end: the `postkorb` binary with POSTKORB_BLOB_DIR imports a Maildir through
//! the real importer; the raw mail lives as a file, the database holds its hash, the attachment is
//! decoded from it on download, and the .eml read through the store is the file that was in the Maildir.

use postkorb_store::Store;

use crate::common::Env;

const MAIL: &str = "From: Anna <anna@mustermail.de>\r\n\
To: posteingang@buero.de\r\n\
Subject: Schadensmeldung mit Foto\r\n\
Message-ID: <blob-1@mustermail.de>\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Das Foto vom Schaden anbei.\r\n\
--b1\r\n\
Content-Type: application/octet-stream; name=\"schaden.bin\"\r\n\
Content-Disposition: attachment; filename=\"schaden.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAwQFBgcICQ==\r\n\
--b1--\r\n";

#[tokio::test]
async fn a_maildir_import_with_a_blob_dir_keeps_the_raw_mail_as_a_file_and_serves_the_attachment_from_it() {
    let env = Env::new();
    let dir = env.path();
    let env = env.with("POSTKORB_BLOB_DIR", dir.join("blobs"));
    env.office();
    let maildir = dir.join("inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(maildir.join("new/1700000000.blob1.test"), MAIL).unwrap();
    let maildir_arg = maildir.to_str().unwrap();
    env.ok(&["mailbox", "set", "--protocol", "maildir", "--path", maildir_arg, "--verify", "off"]);
    let fetched = env.ok(&["fetch", "--once"]);
    assert!(fetched.contains("1 new"), "{fetched}");

    let cases: serde_json::Value = serde_json::from_str(&env.ok(&["cases", "list", "--json"])).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 1, "{cases}");
    let case_id = cases[0]["id"].as_i64().unwrap();

    let blobs = dir.join("blobs");
    let url = format!("sqlite:{}", dir.join("postkorb.db").display());
    let store = Store::open_with(&url, Some(blobs.clone())).await.unwrap();
    let case = store.case(case_id).await.unwrap();
    assert_eq!(store.raw(case.raw_id).await.unwrap(), MAIL.as_bytes(), "the .eml is the Maildir file");
    assert_eq!(case.attachments.len(), 1);
    let (meta, bytes) = postkorb_web::view::attachment(&store, case_id, case.attachments[0].id).await.unwrap();
    assert_eq!((meta.name.as_str(), bytes), ("schaden.bin", (0u8..10).collect::<Vec<u8>>()));
    // A size that does not match what the raw mail gives is an error, never other bytes.
    sqlx::query("UPDATE attachments SET size = 99 WHERE id = $1")
        .bind(case.attachments[0].id)
        .execute(store.pool())
        .await
        .unwrap();
    let err = postkorb_web::view::attachment(&store, case_id, case.attachments[0].id).await.unwrap_err().to_string();
    assert!(err.contains("99") && err.contains("10 bytes"), "{err}");

    use sqlx::Row;
    let in_db: i64 = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM raw_messages WHERE blob IS NULL OR LENGTH(data) > 0)
              + (SELECT COUNT(*) FROM attachments WHERE in_raw = 0 OR blob IS NOT NULL OR LENGTH(data) > 0)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(in_db, 0, "no bytes in the database, only the reference to the raw mail");
    let hash: String = sqlx::query("SELECT blob FROM raw_messages").fetch_one(store.pool()).await.unwrap().get(0);
    assert_eq!(std::fs::read(blobs.join(&hash[..2]).join(&hash[2..4]).join(&hash)).unwrap(), MAIL.as_bytes());

    let swept = env.ok(&["blobs", "sweep"]);
    assert!(swept.contains("1 referenced, 0 removed"), "{swept}");

    // A lost raw mail: the Vorgang is still shown, without its text, saying why.
    let file = blobs.join(&hash[..2]).join(&hash[2..4]).join(&hash);
    std::fs::remove_file(&file).unwrap();
    let shown = postkorb_web::view::case(&store, case_id).await.unwrap();
    assert!(shown.text.is_empty(), "{:?}", shown.text);
    let why = shown.warnings.last().expect("a warning").english();
    assert!(why.contains("could not be read") && why.contains(&file.display().to_string()), "{why}");
}
