//! The Maildir adapter on a temp dir: keys, exact bytes, Maildir++ moves, deletes, config errors.

use crate::common;

use std::path::Path;

use common::config;
use postkorb_source::{Disposal, Protocol, Session, SourceConfig, SourceError};

fn maildir_config(root: &Path, disposal: Disposal) -> SourceConfig {
    let mut cfg = config(Protocol::Maildir, 0, disposal);
    cfg.maildir = Some(root.to_path_buf());
    cfg
}

fn make_maildir(root: &Path) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
}

fn keys(envelopes: &[postkorb_source::Envelope]) -> Vec<String> {
    envelopes.iter().map(|e| e.key.clone()).collect()
}

#[tokio::test]
async fn list_sees_new_and_cur_but_not_tmp_or_dotfiles_and_fetch_reads_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    std::fs::write(dir.path().join("new/1000.A.host"), common::simple_mail(1)).unwrap();
    std::fs::write(dir.path().join("cur/1001.B.host:2,S"), common::dotted_mail()).unwrap();
    std::fs::write(dir.path().join("tmp/1002.C.host"), b"halb geschrieben").unwrap();
    std::fs::write(dir.path().join("new/.hidden"), b"x").unwrap();
    let mut session = Session::connect(&maildir_config(dir.path(), Disposal::Delete)).await.unwrap();
    let mut listed = keys(&session.list().await.unwrap());
    listed.sort();
    assert_eq!(listed, ["maildir:1000.A.host", "maildir:1001.B.host"]);
    let fetched = session.fetch(&listed).await.unwrap();
    assert_eq!(fetched[0].raw, common::simple_mail(1));
    assert_eq!(fetched[1].raw, common::dotted_mail());
}

#[tokio::test]
async fn move_to_puts_the_file_into_the_maildir_plus_plus_subfolder_marked_seen() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    std::fs::write(dir.path().join("new/1000.A.host"), common::simple_mail(1)).unwrap();
    let mut session =
        Session::connect(&maildir_config(dir.path(), Disposal::MoveTo("Postkorb/Importiert".into()))).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    session.dispose(&listed).await.unwrap();
    session.dispose(&listed).await.unwrap();
    let moved = dir.path().join(".Postkorb.Importiert/cur/1000.A.host:2,S");
    assert_eq!(std::fs::read(moved).unwrap(), common::simple_mail(1));
    for sub in ["new", "tmp"] {
        assert!(dir.path().join(".Postkorb.Importiert").join(sub).is_dir());
    }
    assert!(session.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_removes_the_file_and_a_file_already_gone_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    std::fs::write(dir.path().join("cur/1000.A.host:2,"), b"x").unwrap();
    let mut session = Session::connect(&maildir_config(dir.path(), Disposal::Delete)).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    session.dispose(&listed).await.unwrap();
    session.dispose(&listed).await.unwrap();
    assert!(std::fs::read_dir(dir.path().join("cur")).unwrap().next().is_none());
    assert!(session.fetch(&listed).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_moved_from_new_to_cur_by_another_client_is_still_found() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    std::fs::write(dir.path().join("new/1000.A.host"), b"x").unwrap();
    let mut session = Session::connect(&maildir_config(dir.path(), Disposal::Delete)).await.unwrap();
    let listed = keys(&session.list().await.unwrap());
    std::fs::rename(dir.path().join("new/1000.A.host"), dir.path().join("cur/1000.A.host:2,S")).unwrap();
    assert_eq!(session.fetch(&listed).await.unwrap()[0].raw, &b"x"[..]);
}

#[tokio::test]
async fn a_directory_without_cur_new_tmp_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cur")).unwrap();
    let err = Session::connect(&maildir_config(dir.path(), Disposal::Delete)).await.err().unwrap();
    assert!(matches!(err, SourceError::Config(_)), "{err:?}");
    let mut cfg = maildir_config(dir.path(), Disposal::Delete);
    cfg.maildir = None;
    assert!(matches!(Session::connect(&cfg).await.err().unwrap(), SourceError::Config(_)));
}
