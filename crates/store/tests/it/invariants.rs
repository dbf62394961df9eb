//! Architecture invariants of the store that can be checked by reading its source.

use std::path::{Path, PathBuf};

/// The one module that writes a Vorgang's rows and its events (`case_write::apply`).
const WRITE_MODULE: &str = "case_write.rs";

/// Statements that write a Vorgang, its candidates, attachments, pager count or events; written
/// the way SQL is written in the store (lower-cased, whitespace collapsed), including the heads
/// of the multi-row inserts (`insert_rows(…, "cases (…)", …)`).
const VORGANG_WRITES: &[&str] = &[
    "insert into cases",
    "update cases",
    "delete from cases",
    "\"cases (",
    "insert into case_candidates",
    "delete from case_candidates",
    "\"case_candidates (",
    "insert into attachments",
    "update attachments",
    "delete from attachments",
    "\"attachments (",
    "insert into case_counts",
    "update case_counts",
    "delete from case_counts",
    "\"case_counts (",
    "insert into case_events",
    "update case_events",
    "delete from case_events",
    "\"case_events (",
    "insert into case_notes",
    "update case_notes",
    "delete from case_notes",
    "\"case_notes (",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn normalised(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap().to_lowercase();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn only_case_write_writes_a_vorgang_and_it_writes_the_event_too() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut found = Vec::new();
    for file in &files {
        if file.file_name().is_some_and(|n| n == WRITE_MODULE) {
            continue;
        }
        let text = normalised(file);
        for needle in VORGANG_WRITES {
            if text.contains(needle) {
                found.push(format!("{}: {needle}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a Vorgang is written only through case_write::apply, which appends its event in the same \
         transaction; add a CaseChange instead of writing here:\n{}",
        found.join("\n")
    );

    // The check reads the real code: the write module is there and writes both.
    let write = files.iter().find(|f| f.file_name().is_some_and(|n| n == WRITE_MODULE)).expect("case_write.rs");
    let text = normalised(write);
    assert!(text.contains("\"cases (") && text.contains("update cases"), "the Vorgang rows");
    assert!(text.contains("\"case_events ("), "the events");
}
