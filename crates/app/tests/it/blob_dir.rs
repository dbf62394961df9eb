//! `blob_dir` end to end: the `postkorb` binary with POSTKORB_BLOB_DIR imports a Maildir through
//! the real importer; the raw mail lives as a file, encrypted (the default of a new installation,
//! issue 18 item 7) and named by its keyed hash, the database holds that name, the attachment is
//! decoded from it on download, and the .eml read through the store is the file that was in the
//! Maildir. Nothing of the mail's text or attachment is anywhere in the data directory in plain form.

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
    let store = Store::open_with(&url, Some(blobs.clone())).await.unwrap().with_mail_key(crate::common::mail_key(dir));
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
    let stored = std::fs::read(blobs.join(&hash[..2]).join(&hash[2..4]).join(&hash)).unwrap();
    assert!((stored.starts_with(b"pkm1") || stored.starts_with(b"pkm2")) && stored.len() > MAIL.len(), "sealed");
    let plain_sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(MAIL.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_ne!(hash, plain_sha, "not named by its plain SHA-256");
    assert_ne!(hash, postkorb_mail::digests(MAIL.as_bytes(), None).raw_digest, "nor by its plain BLAKE3");
    // Nowhere in the data directory (database, WAL, blob files) in plain form; the Maildir beside it
    // is the mail's source, not Postkorb's.
    store.checkpoint().await.unwrap();
    for needle in ["Das Foto vom Schaden anbei.", "AAECAwQFBgcICQ==", "Message-ID: <blob-1@mustermail.de>"] {
        let found: Vec<_> =
            files_with(dir, needle.as_bytes()).into_iter().filter(|p| !p.starts_with(&maildir)).collect();
        assert!(found.is_empty(), "{needle:?} in plain form in {found:?}");
    }
    // Without the key file the mail is not readable, and says why.
    let keyless = Store::open_with(&url, Some(blobs.clone())).await.unwrap();
    let err = keyless.raw(case.raw_id).await.unwrap_err().to_string();
    assert!(err.contains("encrypted") && err.contains("key file"), "{err}");

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

/// Files under `dir` whose bytes contain `needle`.
fn files_with(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_with(&p, needle));
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            out.push(p);
        }
    }
    out
}
