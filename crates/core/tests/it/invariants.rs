//! Architecture invariants that can be checked mechanically.

#[test]
fn core_depends_on_no_io_crates() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap().split("\n[").next().unwrap();
    for forbidden in ["tokio", "sqlx", "axum", "async-imap", "mail-parser", "rustls", "reqwest"] {
        assert!(!deps.contains(forbidden), "core must not depend on {forbidden}");
    }
    assert!(deps.contains("serde") && deps.contains("thiserror"), "the check reads the real dependency list");
}
