//! „Synchronisieren“ across instances: 32 concurrent claims through the JSON API of two
//! `postkorb serve` processes on one PostgreSQL database give exactly one winner per Vorgang.

use crate::scale_support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use scale_support::Cluster;

const RECEIVERS: usize = 8;
const SENDERS: usize = 4;
const MAILS: usize = 240;

#[tokio::test(flavor = "multi_thread")]
async fn thirty_two_concurrent_claims_across_two_instances_give_exactly_one_winner_per_vorgang() {
    let Some(c) = Cluster::new(5, 50).await else { return };
    // Four senders, each routed to a pool of four of the eight receivers (the pools overlap).
    for s in 0..SENDERS {
        c.postkorb(
            &["employee", "add", "--name", &format!("Sender {s}"), "--email", &format!("s{s}@mustermail.de")],
            None,
        );
    }
    let mut tokens = Vec::new();
    for r in 0..RECEIVERS {
        let user = format!("r{r}");
        c.postkorb(
            &[
                "employee",
                "add",
                "--name",
                &format!("Empfänger {r}"),
                "--username",
                &user,
                "--license",
                &format!("L-{r}"),
            ],
            None,
        );
        let out = c.postkorb(&["employee", "token", &user], None);
        tokens.push(out.trim().rsplit(' ').next().expect("a token").to_string());
    }
    c.postkorb(&["employee", "set", "r0", "--password-stdin"], Some("r0-passwort-2026"));
    // A new password revokes the employee's API tokens: r0 takes a fresh one.
    let out = c.postkorb(&["employee", "token", "r0"], None);
    tokens[0] = out.trim().rsplit(' ').next().expect("a token").to_string();
    for s in 0..SENDERS {
        for k in 0..4 {
            let to = format!("r{}", (2 * s + k) % RECEIVERS);
            c.postkorb(&["route", "add", "--from", &format!("Sender {s}"), "--to", &to], None);
        }
    }
    let ids = c.deliver(MAILS, "pool", |i| format!("s{}@mustermail.de", i % SENDERS));
    let a = c.start("a");
    let b = c.start("b");
    c.wait_imported(MAILS as i64, Duration::from_secs(120), &[&a, &b]).await;
    c.assert_exactly_once(&ids).await;
    assert_eq!(c.count("SELECT COUNT(*) FROM cases WHERE status = 'waiting'").await, MAILS as i64, "all pooled");

    // 32 claims at once: each receiver four times, half through each instance.
    let start = std::sync::Arc::new(std::sync::Barrier::new(32));
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let token = tokens[i % RECEIVERS].clone();
            let instance = if i % 2 == 0 { &a } else { &b };
            let (port, name, log) = (instance.port, instance.name.clone(), instance.log_file().to_path_buf());
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let reply = scale_support::post_to(port, "/api/v1/sync", &token).unwrap_or_else(|| {
                    panic!("POST /api/v1/sync to {name} failed\n{}", std::fs::read_to_string(&log).unwrap_or_default())
                });
                (i % RECEIVERS, reply)
            })
        })
        .collect();
    let mut won: HashMap<i64, usize> = HashMap::new();
    for t in threads {
        let (receiver, reply) = t.join().unwrap();
        let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        for id in json["claimed"].as_array().expect("claimed ids") {
            let id = id.as_i64().unwrap();
            assert!(won.insert(id, receiver).is_none(), "Vorgang {id} was won twice");
        }
    }

    // Every Vorgang has exactly one winner, who was one of its candidates; the database agrees.
    assert_eq!(won.len(), MAILS, "claimed Vorgänge");
    assert_eq!(c.count("SELECT COUNT(*) FROM cases WHERE status = 'waiting' OR assignee IS NULL").await, 0);
    assert_eq!(c.count("SELECT COUNT(*) FROM case_events WHERE kind = 'claimed'").await, MAILS as i64, "claim events");
    let rows: Vec<(i64, i64)> = {
        use sqlx::Row;
        sqlx::query("SELECT c.id, e.username FROM cases c JOIN employees e ON e.id = c.assignee")
            .fetch_all(c.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)[1..].parse::<i64>().unwrap()))
            .collect()
    };
    for (case, assignee) in rows {
        assert_eq!(
            won.get(&case).map(|r| *r as i64),
            Some(assignee),
            "Vorgang {case}: the API and the database disagree"
        );
        let candidates: HashSet<i64> = {
            use sqlx::Row;
            sqlx::query("SELECT e.username FROM case_candidates k JOIN employees e ON e.id = k.employee_id WHERE k.case_id = $1")
                .bind(case)
                .fetch_all(c.store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0)[1..].parse::<i64>().unwrap())
                .collect()
        };
        assert!(candidates.contains(&assignee), "Vorgang {case} went to r{assignee}, not a candidate");
    }
}
