//! The office's records (issue 15) on both backends: one work e-mail per employee (refused on save,
//! enforced by the database, cleaned up by migration 0017), typed kept reasons, „Nur diese E-Mail
//! zuweisen an …“ and the typed, filterable audit log.

use postkorb_core::{
    AuditEntry, Decision, EmailAddress, EmployeeError, EmployeeId, FromProblem, KeepReason, Person, RouteError,
};
use postkorb_store::{AuditFilter, ImportOutcome, NewEmployee, Store, StoreError};
use sqlx::Row;

use crate::common::office::{item, office};
use crate::common::{backends, database_urls};

fn with_email(name: &str, email: &str) -> NewEmployee {
    NewEmployee {
        name: name.into(),
        is_current: true,
        work_email: Some(EmailAddress::parse(email).unwrap()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_work_email_another_employee_has_is_refused_in_any_case_naming_that_employee() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let refused = store.add_employee(&with_email("Anna Zwei", "ANNA@MusterMail.de"), 2).await;
        let Err(StoreError::Employee(EmployeeError::DuplicateWorkEmail { email, other })) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!((email.as_str(), other.as_str()), ("anna@mustermail.de", "Anna"));
        // Changing Bernd to Anna's address is refused the same way; his own address is fine.
        let mut bernd = store.employee(o.bernd).await.unwrap();
        bernd.work_email = Some(EmailAddress::parse("Anna@mustermail.de").unwrap());
        assert!(matches!(store.update_employee(&bernd).await, Err(StoreError::Employee(_))));
        let mut anna = store.employee(o.anna).await.unwrap();
        anna.name = "Anna Admin".into();
        store.update_employee(&anna).await.unwrap();
        // The database itself refuses it (the backstop for a writer that skips the check).
        let raw = sqlx::query("UPDATE employees SET work_email = 'ANNA@mustermail.de' WHERE id = $1")
            .bind(o.bernd.0)
            .execute(store.pool())
            .await;
        assert!(raw.is_err(), "the unique index refuses the same address in other case");
    }
}

/// Runs migrations 0001–0016 only, on a new database of each backend.
async fn migrated_to_0016(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let backend = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().as_ref() < "0017" {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let url = if backend == "sqlite" { format!("{url}?mode=rwc") } else { url.to_string() };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(dir.path()).await.unwrap().run(&pool).await.unwrap();
    pool
}

#[tokio::test]
async fn the_upgrade_keeps_a_duplicate_address_at_the_lowest_id_and_records_each_one_cleared() {
    for (url, _d) in database_urls().await {
        let pool = migrated_to_0016(&url).await;
        for (name, email) in [
            ("Bernd Büro", "bernd@firma.de"),
            ("Bernd \"Zwei\"", "Bernd@Firma.de"),
            ("Bernd Drei", "BERND@firma.de"),
            ("Clara", "clara@firma.de"),
        ] {
            sqlx::query("INSERT INTO employees (name, is_current, work_email, permissions, created_ms) VALUES ($1, 1, $2, '', 1)")
                .bind(name)
                .bind(email)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
        let store = Store::open(&url).await.unwrap();
        let emails: Vec<(String, Option<String>)> = store
            .employees()
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.work_email.map(|a| a.to_string())))
            .collect();
        assert!(emails.contains(&("Bernd Büro".into(), Some("bernd@firma.de".into()))), "{emails:?}");
        assert!(emails.contains(&("Bernd \"Zwei\"".into(), None)) && emails.contains(&("Bernd Drei".into(), None)));
        assert!(emails.contains(&("Clara".into(), Some("clara@firma.de".into()))));
        let (rows, total) = store.audit_page(&AuditFilter::default(), 10, 0).await.unwrap();
        assert_eq!(total, 2, "{rows:?}");
        let cleared: Vec<AuditEntry> = rows.into_iter().map(|r| r.entry.expect("typed")).collect();
        let bueros = Person { id: 1, name: "Bernd Büro".into() };
        assert!(cleared.contains(&AuditEntry::ClearDuplicateEmail {
            employee: Person { id: 2, name: "Bernd \"Zwei\"".into() },
            email: "Bernd@Firma.de".into(),
            kept_by: bueros.clone(),
        }));
        assert!(
            cleared.iter().all(|e| matches!(e, AuditEntry::ClearDuplicateEmail { kept_by, .. } if *kept_by == bueros))
        );
    }
}

#[tokio::test]
async fn kept_reasons_are_stored_typed_and_old_free_text_rows_still_read() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let reason = KeepReason::RouteInactive(vec![RouteError::NoLicense { name: "Frank Teilzeit".into() }]);
        let out =
            store.commit_batch(o.mailbox, &[item("k1", "eins", Decision::Keep(reason.clone()))], 5).await.unwrap();
        let ImportOutcome::Kept { kept_id, .. } = out[0] else { panic!("{out:?}") };
        let k = store.kept_mail(kept_id).await.unwrap();
        assert_eq!(k.reason_with_old_text(), Some((reason, None)));
        // A row of an older version: a free English detail.
        sqlx::query("UPDATE kept SET reason_code = 'no_usable_from', reason_detail = 'nested angle brackets in From' WHERE id = $1")
            .bind(kept_id)
            .execute(store.pool())
            .await
            .unwrap();
        let k = store.kept_mail(kept_id).await.unwrap();
        assert_eq!(
            k.reason_with_old_text(),
            Some((KeepReason::NoUsableFrom(FromProblem::AngleBrackets), Some("nested angle brackets in From".into())))
        );
    }
}

#[tokio::test]
async fn routing_one_kept_mail_by_hand_creates_no_row_keeps_the_arrival_and_says_who_and_why() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let out = store
            .commit_batch(o.mailbox, &[item("k1", "Rückruf", Decision::Keep(KeepReason::NoRoute))], 5)
            .await
            .unwrap();
        let ImportOutcome::Kept { kept_id, .. } = out[0] else { panic!("{out:?}") };
        let mail = crate::common::office::mail("anna@mustermail.de", "Rückruf");
        // Anna has no licence: she cannot be given a Vorgang, and nothing changes.
        let refused = store.route_once(kept_id, &mail, o.anna, "admin", 50).await;
        assert!(matches!(refused, Err(StoreError::Rules(_))), "{refused:?}");
        assert_eq!(store.kept_mail(kept_id).await.unwrap().status, "open");

        let case_id = store.route_once(kept_id, &mail, o.clara, "admin", 60).await.unwrap();
        assert!(store.routes().await.unwrap().is_empty(), "no row was created");
        let case = store.case(case_id).await.unwrap();
        assert_eq!(case.summary.received_ms, 5, "the mail's arrival, not the time it was routed");
        assert_eq!(case.summary.assignee, Some(o.clara.0));
        let kinds: Vec<&str> = case.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["created", "routed_by_hand", "assigned"]);
        let by_hand = &case.events[1];
        assert_eq!((by_hand.detail.as_str(), by_hand.at_ms), ("admin:no_route", 60));
        let kept = store.kept_mail(kept_id).await.unwrap();
        assert_eq!((kept.status.as_str(), kept.case_id), ("routed", Some(case_id)));
        let (log, _) = store
            .audit_page(&AuditFilter { action: Some("route_once".into()), ..Default::default() }, 5, 0)
            .await
            .unwrap();
        assert_eq!(
            log[0].entry,
            Some(AuditEntry::RouteOnce {
                kept: kept_id,
                subject: "Rückruf".into(),
                to: Person { id: o.clara.0, name: "Clara".into() },
                case: case_id,
                unverified: false
            })
        );
        assert!(store.route_once(kept_id, &mail, o.clara, "admin", 70).await.is_err(), "only once");
        let _ = EmployeeId(0);
    }
}

#[tokio::test]
async fn the_audit_log_filters_by_kind_actor_and_time_and_pages() {
    for (store, _d) in backends().await {
        let p = |id, name: &str| Person { id, name: name.into() };
        for (at, actor) in [(10, "anna"), (20, "bernd"), (30, "anna"), (40, "anna")] {
            let entry = AuditEntry::AddRoute { row: at, from: p(1, "Anna"), to: p(2, "Bernd"), kept: None };
            store.audit_entry(at, actor, &entry).await.unwrap();
        }
        store.audit(35, "cli", "remove_route", "row 7").await.unwrap();
        let page = |f: AuditFilter, limit, offset| {
            let store = store.clone();
            async move {
                let (rows, total) = store.audit_page(&f, limit, offset).await.unwrap();
                (rows.iter().map(|r| r.at_ms).collect::<Vec<_>>(), total)
            }
        };
        assert_eq!(page(AuditFilter::default(), 2, 0).await, (vec![35, 40], 5), "newest written first");
        assert_eq!(page(AuditFilter::default(), 2, 4).await, (vec![10], 5));
        let anna = AuditFilter { actor: Some("anna".into()), ..Default::default() };
        assert_eq!(page(anna, 10, 0).await, (vec![40, 30, 10], 3));
        let kind = AuditFilter { action: Some("remove_route".into()), ..Default::default() };
        assert_eq!(page(kind, 10, 0).await, (vec![35], 1));
        let time = AuditFilter { from_ms: Some(20), to_ms: Some(35), ..Default::default() };
        assert_eq!(page(time, 10, 0).await, (vec![30, 20], 2));
        assert_eq!(store.audit_actors().await.unwrap(), ["anna", "bernd", "cli"]);
        let old = store.audit_page(&AuditFilter::default(), 1, 0).await.unwrap().0.remove(0);
        assert_eq!((old.entry, old.detail.as_str()), (None, "row 7"));
        let r = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE params <> ''").fetch_one(store.pool()).await.unwrap();
        assert_eq!(r.get::<i64, _>(0), 4);
    }
}
