//! „Suche“ (issue 16): German words in every spelling, who finds what, escaped highlights,
//! pages, filters, the index written in the import's transaction, and nothing left of a moved or
//! deleted Vorgang. SQLite always, PostgreSQL with `POSTKORB_TEST_POSTGRES`.

use crate::common;
use common::backends;
use common::office::{Office, item, office};
use postkorb_core::{Decision, EmployeeId, Permission};
use postkorb_store::{ImportOutcome, NewEmployee, SearchPage, SearchQuery, SearchStatus, Searcher, Store};

fn case_of(outcome: &ImportOutcome) -> i64 {
    match outcome {
        ImportOutcome::Case { case_id, .. } => *case_id,
        other => panic!("not a Vorgang: {other:?}"),
    }
}

/// Imports one mail with `subject` and `text` for `decision` at `now_ms`; returns the Vorgang.
async fn import(store: &Store, o: &Office, subject: &str, text: &str, decision: Decision, now_ms: i64) -> i64 {
    let mut it = item(&format!("key-{subject}"), subject, decision);
    it.mail.text = text.into();
    it.mail.attachments.retain(|a| text.contains(&a.name));
    case_of(&store.commit_batch(o.mailbox, &[it], now_ms).await.unwrap()[0])
}

fn to(o: &Office, e: EmployeeId) -> Decision {
    Decision::Assign { sender: o.anna, to: e }
}

fn query(text: &str) -> SearchQuery {
    SearchQuery { text: text.into(), per_page: 20, page: 1, ..Default::default() }
}

async fn found(store: &Store, who: Searcher, q: &SearchQuery) -> Vec<i64> {
    let mut ids: Vec<i64> = store.search(who, q).await.unwrap().hits.iter().map(|h| h.case.id).collect();
    ids.sort();
    ids
}

/// A Vorgang row deleted by hand (as a later feature might): its index entry goes with it.
async fn delete_by_hand(store: &Store, id: i64) {
    for sql in [
        "DELETE FROM case_events WHERE case_id = $1",
        "DELETE FROM case_candidates WHERE case_id = $1",
        "DELETE FROM attachments WHERE case_id = $1",
        "UPDATE ledger SET case_id = NULL WHERE case_id = $1",
        "DELETE FROM cases WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(store.pool()).await.unwrap();
    }
}

/// The PostgreSQL store of [`backends`], when PostgreSQL is configured: for what only it has
/// (its list of the index's words, GIN's pending entries).
async fn postgres() -> Option<(Store, Option<tempfile::TempDir>)> {
    backends().await.into_iter().find(|(store, _)| store.backend() == postkorb_store::Backend::Postgres)
}

/// PostgreSQL: how many words the search's expansion knows begin with `prefix`: those of
/// `search_words` (migration 0034) and those queued for it (0038).
async fn words_beginning(store: &Store, prefix: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT word FROM search_words UNION
                                SELECT unnest(string_to_array(words, ' ')) FROM search_words_queue) w
          WHERE word LIKE $1",
    )
    .bind(format!("{prefix}%"))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

/// PostgreSQL: how many words of the list itself (`search_words`) begin with `prefix`, and how
/// many rows its queue holds.
async fn listed_and_queued(store: &Store, prefix: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM search_words WHERE word LIKE $1),
                (SELECT count(*) FROM search_words_queue)",
    )
    .bind(format!("{prefix}%"))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn index_rows(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM case_search").fetch_one(store.pool()).await.unwrap()
}

#[tokio::test]
async fn german_words_are_found_in_every_spelling_and_form() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let b = to(&o, o.bernd);
        let schaeden = import(&store, &o, "Schäden am Dach", "Sturm letzte Nacht", b.clone(), 1).await;
        let ae = import(&store, &o, "Wasser", "Die Schaeden im Keller", b.clone(), 2).await;
        let schaden = import(&store, &o, "Schaden gemeldet", "bitte melden", b.clone(), 3).await;
        let strasse = import(&store, &o, "Umzug", "Neue Adresse: Hauptstraße 5", b.clone(), 4).await;
        let other = import(&store, &o, "Kündigung", "zum Monatsende, siehe Schaden.pdf", b.clone(), 5).await;
        // (words, the Vorgänge found)
        let cases: &[(&str, &[i64])] = &[
            ("Schäden", &[schaeden, ae, schaden, other]),
            ("Schaeden", &[schaeden, ae, schaden, other]),
            ("schaden", &[schaeden, ae, schaden, other]),
            ("Hauptstrasse", &[strasse]),
            ("HAUPTSTRASSE", &[strasse]),
            ("Kuendigung", &[other]),
            ("Monatsende", &[other]),
            // Longer than SQLite's prefix index (6 letters): the whole word counts, not its start.
            ("Monatsanfang", &[]),
            ("Hauptsache", &[]),
            ("Hauptstr", &[strasse]),
            ("Schaden Keller", &[ae]),
            // The sender's name and address; the attachment's name.
            ("mustermail", &[schaeden, ae, schaden, strasse, other]),
            ("Anna", &[schaeden, ae, schaden, strasse, other]),
            ("pdf", &[other]),
            ("Hausrat", &[]),
            ("der die das", &[]),
        ];
        for (words, expected) in cases {
            assert_eq!(
                found(&store, Searcher::All, &query(words)).await,
                *expected,
                "{words:?} ({:?})",
                store.backend()
            );
        }
        // Subject weighs more than the text: the Vorgang with it in the subject comes first.
        let page = store.search(Searcher::All, &query("Schäden")).await.unwrap();
        assert!([schaeden, schaden].contains(&page.hits[0].case.id), "{:?}", store.backend());
        let hit = page.hits.iter().find(|h| h.case.id == ae).unwrap();
        assert_eq!(hit.snippet_html.as_deref(), Some("Die <mark>Schaeden</mark> im Keller"));
    }
}

/// Words of other scripts and with accents are found too: each indexed term is one token of the
/// index (SQLite's `ascii` tokenizer, migration 0031), also where a script writes vowels as
/// combining marks, which a Unicode tokenizer would split into a phrase the index (positions not
/// kept) could not answer.
#[tokio::test]
async fn words_of_other_scripts_and_with_accents_are_found() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let b = to(&o, o.bernd);
        let hindi = import(&store, &o, "Anfrage", "Kunde schreibt: हिन्दी भाषा", b.clone(), 1).await;
        let polish = import(&store, &o, "Umzug nach Łódź", "Neue Anschrift", b.clone(), 2).await;
        let french = import(&store, &o, "Rechnung", "Café Müller, Crème brûlée", b.clone(), 3).await;
        let japanese = import(&store, &o, "日本語 Vertrag", "Policenkopie", b.clone(), 4).await;
        let cases: &[(&str, &[i64])] = &[
            ("हिन्दी", &[hindi]),
            ("भाषा", &[hindi]),
            ("Łódź", &[polish]),
            ("Cafe", &[french]),
            ("creme brulee", &[french]),
            ("日本語", &[japanese]),
            ("日本語 Vertrag", &[japanese]),
        ];
        for (words, expected) in cases {
            assert_eq!(
                found(&store, Searcher::All, &query(words)).await,
                *expected,
                "{words:?} ({:?})",
                store.backend()
            );
        }
    }
}

/// Who may see a Vorgang is in the index (`seen`), but never a word one can find: searching for
/// its terms (`u{id}`, and on PostgreSQL their lexemes `/seen/u{id}`) finds nothing.
#[tokio::test]
async fn the_terms_of_who_may_see_a_vorgang_are_not_words_of_the_search() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let b = to(&o, o.bernd);
        let id = import(&store, &o, "Wasserschaden", "im Keller", b.clone(), 1).await;
        let bernd = o.bernd.0;
        for words in [format!("u{bernd}"), format!("/seen/u{bernd}"), "seen".to_string()] {
            for who in [Searcher::All, Searcher::Employee(o.bernd)] {
                assert_eq!(
                    found(&store, who.clone(), &query(&words)).await,
                    Vec::<i64>::new(),
                    "{words:?} ({:?})",
                    store.backend()
                );
            }
        }
        assert_eq!(found(&store, Searcher::Employee(o.bernd), &query("Wasserschaden")).await, vec![id]);
    }
}

#[tokio::test]
async fn a_person_finds_only_the_vorgaenge_they_may_open() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let dora = store
            .add_employee(
                &NewEmployee {
                    name: "Dora".into(),
                    username: Some("dora".into()),
                    is_current: true,
                    license: Some("L4".into()),
                    work_email: None,
                    permissions: vec![Permission::ManageMailImport],
                },
                1,
            )
            .await
            .unwrap()
            .id;
        let bernds = import(&store, &o, "Vertrag Bernd", "", to(&o, o.bernd), 1).await;
        let claras = import(&store, &o, "Vertrag Clara", "", to(&o, o.clara), 2).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let waiting = import(&store, &o, "Vertrag wartend", "", pool, 3).await;
        let q = query("Vertrag");
        assert_eq!(found(&store, Searcher::Employee(o.bernd), &q).await, [bernds, waiting]);
        assert_eq!(found(&store, Searcher::Employee(o.clara), &q).await, [claras, waiting]);
        assert_eq!(found(&store, Searcher::Employee(dora), &q).await, Vec::<i64>::new(), "not a candidate");
        assert_eq!(found(&store, Searcher::All, &q).await, [bernds, claras, waiting]);
        // Dora standing in for an absent Bernd finds his Vorgang, not Clara's.
        let covering = found(&store, Searcher::Covering(dora, vec![o.bernd]), &q).await;
        assert_eq!(covering, [bernds], "the Vertreterin finds the absent colleague's Vorgang");

        // Claimed by Clara: Bernd no longer finds it.
        store.claim(o.clara, 10).await.unwrap();
        assert_eq!(found(&store, Searcher::Employee(o.bernd), &q).await, [bernds]);
        assert_eq!(found(&store, Searcher::Employee(o.clara), &q).await, [claras, waiting]);

        // A candidate who lost the licence finds the waiting one no more, their own still.
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, dora] };
        let waiting2 = import(&store, &o, "Vertrag zwei", "", pool, 11).await;
        assert_eq!(found(&store, Searcher::Employee(dora), &q).await, [waiting2]);
        let mut d = store.employee(dora).await.unwrap();
        d.license = None;
        store.update_employee(&d).await.unwrap();
        assert_eq!(found(&store, Searcher::Employee(dora), &q).await, Vec::<i64>::new());
    }
}

/// The index's `seen` (migration 0025) of the Vorgang `id`.
async fn seen(store: &Store, id: i64) -> String {
    let key = if store.backend() == postkorb_store::Backend::Sqlite { "rowid" } else { "case_id" };
    let sql = format!("SELECT seen FROM case_search WHERE {key} = $1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(store.pool()).await.unwrap()
}

#[tokio::test]
async fn who_finds_a_vorgang_follows_every_change_of_bearbeiter_and_pool() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let q = query("Versicherungsschein");
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let a = import(&store, &o, "Versicherungsschein", "", pool, 1).await;
        let (b, c) = (format!("u{}", o.bernd.0), format!("u{}", o.clara.0));
        let ids = |who: &[&String]| who.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let both = if o.bernd.0 < o.clara.0 { ids(&[&b, &c]) } else { ids(&[&c, &b]) };
        // (after what, the index's `seen`, who finds it: Bernd, Clara)
        assert_eq!((seen(&store, a).await, found(&store, Searcher::Employee(o.bernd), &q).await), (both, vec![a]));
        store.claim(o.bernd, 2).await.unwrap();
        assert_eq!(seen(&store, a).await, b, "claimed by Bernd");
        assert_eq!(found(&store, Searcher::Employee(o.clara), &q).await, Vec::<i64>::new());
        store.hand_over(a, o.bernd, o.clara, o.bernd, None, 3).await.unwrap();
        assert_eq!(seen(&store, a).await, c, "handed to Clara");
        assert_eq!(found(&store, Searcher::Employee(o.bernd), &q).await, Vec::<i64>::new());
        assert_eq!(found(&store, Searcher::Employee(o.clara), &q).await, [a]);
        store.give_back(a, o.clara, o.clara, 4).await.unwrap();
        assert_eq!(seen(&store, a).await, b, "given back: Clara left the pool");
        assert_eq!(found(&store, Searcher::Employee(o.bernd), &q).await, [a]);
        assert_eq!(found(&store, Searcher::Employee(o.clara), &q).await, Vec::<i64>::new());
        // Indexed later (as before the index): the reindex writes who may see it too.
        let d = import(&store, &o, "Versicherungsschein neu", "", to(&o, o.clara), 5).await;
        sqlx::query("DELETE FROM case_search").execute(store.pool()).await.unwrap();
        while store.search_reindex_step(0, 100).await.unwrap().is_some() {}
        assert_eq!((seen(&store, a).await, seen(&store, d).await), (b.clone(), c.clone()));
        assert_eq!(found(&store, Searcher::Employee(o.clara), &q).await, [d]);
        // The `seen` terms are no words of the Vorgang: searching one finds nothing.
        assert_eq!(found(&store, Searcher::All, &query(&b)).await, Vec::<i64>::new(), "{:?}", store.backend());
    }
}

#[tokio::test]
async fn the_highlight_is_escaped_html_whose_only_tag_is_mark() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let subject = "<script>alert('Schaden')</script> Schaden";
        let text = "<img src=x onerror=alert(1)> Schaden & \"Schaden\"";
        import(&store, &o, subject, text, to(&o, o.bernd), 1).await;
        let page = store.search(Searcher::All, &query("Schaden <script>")).await.unwrap();
        let hit = &page.hits[0];
        assert_eq!(
            hit.subject_html,
            "&lt;<mark>script</mark>&gt;alert(&#39;<mark>Schaden</mark>&#39;)&lt;/<mark>script</mark>&gt; <mark>Schaden</mark>"
        );
        for html in [&hit.subject_html, &hit.from_html, hit.snippet_html.as_ref().unwrap()] {
            let bare = html.replace("<mark>", "").replace("</mark>", "");
            assert!(!bare.contains(['<', '>', '"', '\'']), "{html}");
        }
    }
}

#[tokio::test]
async fn hits_come_a_page_at_a_time() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let mut all = Vec::new();
        for i in 0..25 {
            all.push(import(&store, &o, &format!("Police {i}"), "", to(&o, o.bernd), i).await);
        }
        let mut seen = Vec::new();
        for (page, (n, more)) in [(10, true), (10, true), (5, false), (0, false)].into_iter().enumerate() {
            let q = SearchQuery { page: page as u32 + 1, per_page: 10, ..query("Police") };
            let p: SearchPage = store.search(Searcher::Employee(o.bernd), &q).await.unwrap();
            assert_eq!((p.hits.len(), p.more), (n, more), "page {}", page + 1);
            seen.extend(p.hits.iter().map(|h| h.case.id));
        }
        seen.sort();
        assert_eq!(seen, all, "every hit once");
        // Same rank: newest first.
        let first = store.search(Searcher::All, &SearchQuery { per_page: 1, ..query("Police") }).await.unwrap();
        assert_eq!(first.hits[0].case.id, *all.last().unwrap());
    }
}

#[tokio::test]
async fn filters_narrow_by_status_bearbeiter_and_date() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let early = import(&store, &o, "Angebot früh", "", to(&o, o.bernd), 1_000).await;
        let done = import(&store, &o, "Angebot erledigt", "", to(&o, o.bernd), 2_000).await;
        let claras = import(&store, &o, "Angebot Clara", "", to(&o, o.clara), 3_000).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let waiting = import(&store, &o, "Angebot wartend", "", pool, 4_000).await;
        store.set_case_done(done, true, o.bernd, 5_000).await.unwrap();
        let cases: &[(SearchQuery, &[i64])] = &[
            (SearchQuery { status: Some(SearchStatus::Done), ..query("Angebot") }, &[done]),
            (SearchQuery { status: Some(SearchStatus::Open), ..query("Angebot") }, &[early, claras]),
            (SearchQuery { status: Some(SearchStatus::Waiting), ..query("Angebot") }, &[waiting]),
            (SearchQuery { assignee: Some(o.clara), ..query("Angebot") }, &[claras]),
            (SearchQuery { from_ms: Some(2_000), until_ms: Some(4_000), ..query("Angebot") }, &[done, claras]),
            (SearchQuery { until_ms: Some(2_000), ..query("Angebot") }, &[early]),
        ];
        for (q, expected) in cases {
            assert_eq!(found(&store, Searcher::All, q).await, *expected, "{q:?}");
        }
        // A filter never widens what one may see.
        let q = SearchQuery { assignee: Some(o.clara), ..query("Angebot") };
        assert_eq!(found(&store, Searcher::Employee(o.bernd), &q).await, Vec::<i64>::new());
    }
}

#[tokio::test]
async fn the_index_is_written_in_the_import_transaction() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        // Committed: findable at once.
        let id = import(&store, &o, "Haftpflicht", "", to(&o, o.bernd), 1).await;
        assert_eq!(found(&store, Searcher::All, &query("Haftpflicht")).await, [id]);
        // Rolled back (the ledger rows come last in a batch): no Vorgang, no entry.
        common::refuse_inserts_into(&store, "ledger").await;
        let mut it = item("k-rb", "Rechtsschutz", to(&o, o.bernd));
        it.mail.text = "Rechtsschutz".into();
        assert!(store.commit_batch(o.mailbox, &[it], 2).await.is_err());
        assert_eq!(found(&store, Searcher::All, &query("Rechtsschutz")).await, Vec::<i64>::new());
        assert_eq!(index_rows(&store).await, 1);
    }
}

#[tokio::test]
async fn a_moved_or_deleted_vorgang_leaves_nothing_in_the_index() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let kept = import(&store, &o, "Kfz bleibt", "", to(&o, o.bernd), 1).await;
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.clara] };
        let moved = import(&store, &o, "Kfz wartend", "", pool, 2).await;
        let deleted = import(&store, &o, "Kfz weg", "", to(&o, o.bernd), 3).await;
        assert_eq!(index_rows(&store).await, 3);

        // Clara loses her licence: the waiting Vorgang goes to the kept mails, out of the index.
        let mut c = store.employee(o.clara).await.unwrap();
        c.license = None;
        store.update_employee(&c).await.unwrap();
        assert_eq!(store.sweep_orphan_pools(4).await.unwrap().len(), 1);
        // A Vorgang row deleted (by hand, by a later feature): its entry goes with it.
        delete_by_hand(&store, deleted).await;
        assert_eq!(found(&store, Searcher::All, &query("Kfz")).await, [kept]);
        assert_eq!(index_rows(&store).await, 1, "{moved} and {deleted} left no entry");
    }
}

#[tokio::test]
async fn older_vorgaenge_are_indexed_by_the_reindex_with_progress() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        for i in 0..5 {
            import(&store, &o, &format!("Bestand {i}"), "", to(&o, o.bernd), i).await;
        }
        // As before migration 0020: nothing indexed.
        sqlx::query("DELETE FROM case_search").execute(store.pool()).await.unwrap();
        let progress = store.search_progress().await.unwrap();
        assert_eq!((progress.indexed, progress.total), (0, 5));
        let mut after = 0;
        let mut steps = 0;
        while let Some(last) = store.search_reindex_step(after, 2).await.unwrap() {
            after = last;
            steps += 1;
        }
        assert_eq!(steps, 3);
        let progress = store.search_progress().await.unwrap();
        assert_eq!((progress.indexed, progress.total), (5, 5));
        // The text comes from the raw mail (its body is „body“).
        assert_eq!(found(&store, Searcher::All, &query("Bestand body")).await.len(), 5);
        assert_eq!(store.search_reindex_step(0, 10).await.unwrap(), None, "nothing left");
    }
}

#[tokio::test]
async fn a_note_is_found_with_its_vorgang() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let id = import(&store, &o, "Leben", "", to(&o, o.bernd), 1).await;
        let mut tx = store.pool().begin().await.unwrap();
        postkorb_store::search::index_note(&mut tx, store.backend(), id, 1, "Rückruf am Montag <b>").await.unwrap();
        tx.commit().await.unwrap();
        let page = store.search(Searcher::Employee(o.bernd), &query("Rueckruf")).await.unwrap();
        assert_eq!(page.hits.len(), 1);
        assert!(page.hits[0].snippet_html.as_ref().unwrap().contains("<mark>Rückruf</mark> am Montag &lt;b&gt;"));
    }
}

/// More matches than the ranked window (the newest 1,000): every one is found exactly once over
/// the pages — the window best first, then the older ones newest first.
#[tokio::test]
async fn beyond_the_ranked_window_the_older_matches_follow_newest_first() {
    const WINDOW: usize = postkorb_store::SEARCH_WINDOW as usize;
    const N: usize = WINDOW + 10;
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let items: Vec<_> = (0..N)
            .map(|i| {
                // Every 20th has the word in its subject too: ranked first within the window.
                let subject = if i % 20 == 0 { format!("Vollmacht Nr {i}") } else { format!("Brief {i}") };
                let mut it = item(&format!("w{i}"), &subject, to(&o, o.bernd));
                it.mail.text = "Die Vollmacht liegt bei.".into();
                it.mail.attachments.clear();
                it
            })
            .collect();
        let ids: Vec<i64> = store.commit_batch(o.mailbox, &items, 1).await.unwrap().iter().map(case_of).collect();
        // Every page, with PostgreSQL's first step walking `walk` entries (SQLite has no walk).
        let pages = |walk: u64| {
            let store = store.clone();
            async move {
                let (mut seen, mut page) = (Vec::new(), 1);
                loop {
                    let q = SearchQuery { page, per_page: 20, ..query("Vollmacht") };
                    let p = store.search_walking(Searcher::Employee(o.bernd), &q, walk).await.unwrap();
                    seen.extend(p.hits.iter().map(|h| h.case.id));
                    if !p.more {
                        return (seen, page);
                    }
                    page += 1;
                }
            }
        };
        let (seen, page) = pages(50_000).await;
        assert_eq!(page as usize, N.div_ceil(20));
        // The window: the newest WINDOW; those with the word in the subject first, newest first
        // (the oldest ones, below the window, are not among them), then the rest newest first;
        // then the 10 oldest, newest first.
        let subject_ones: Vec<i64> = (10..N).rev().filter(|i| i % 20 == 0).map(|i| ids[i]).collect();
        assert_eq!(seen[..subject_ones.len()], subject_ones[..], "{:?}", store.backend());
        assert_eq!(seen[subject_ones.len()], ids[N - 1]);
        assert_eq!(seen[WINDOW..], ids[..10].iter().rev().copied().collect::<Vec<_>>()[..]);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "each once");
        // A short walk (the window's rest from the older entries) gives the same order.
        for walk in [1, 7, 133, 205] {
            assert_eq!(pages(walk).await, (seen.clone(), page), "walk {walk} ({:?})", store.backend());
        }
    }
}

/// A word longer than SQLite's prefix index (six letters) is found alike whether it is rare among
/// the words sharing its first letters (FTS5 is asked for the whole word) or frequent (the first
/// letters are asked and the whole word is checked on each entry): the same Vorgänge, for „Leitung“
/// and for a clerk, on both backends.
#[tokio::test]
async fn a_long_word_is_found_alike_whether_rare_or_frequent_among_its_first_letters() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let mut items = Vec::new();
        let mut expect: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        for i in 0..60 {
            // 3 of 60 „Fahrraddiebstahl“ (rare among „fahrra…“), the rest „Fahrradhelm“; every
            // fourth for Clara, the rest for Bernd.
            let word = if i % 20 == 7 { "Fahrraddiebstahl" } else { "Fahrradhelm" };
            expect.entry(word).or_default().push(i);
            let who = if i % 4 == 0 { o.clara } else { o.bernd };
            let mut it = item(&format!("f{i}"), &format!("Meldung {i}"), to(&o, who));
            it.mail.text = format!("Es geht um den {word} von gestern.");
            it.mail.attachments.clear();
            it.fingerprint = format!("fp-f{i}");
            items.push(it);
        }
        let ids: Vec<i64> = store.commit_batch(o.mailbox, &items, 1).await.unwrap().iter().map(case_of).collect();
        let of = |is: &[usize], only: Option<EmployeeId>| {
            let mut v: Vec<i64> = is
                .iter()
                .filter(|i| only.is_none_or(|e| (if *i % 4 == 0 { o.clara } else { o.bernd }) == e))
                .map(|i| ids[*i])
                .collect();
            v.sort();
            v
        };
        let q = |words: &str| SearchQuery { per_page: 100, ..query(words) };
        for (words, is) in [
            ("Fahrraddiebstahl", &expect["Fahrraddiebstahl"]),
            ("fahrraddieb", &expect["Fahrraddiebstahl"]),
            ("Fahrradhelm", &expect["Fahrradhelm"]),
            ("Fahrraddiebstahl gestern", &expect["Fahrraddiebstahl"]),
        ] {
            assert_eq!(found(&store, Searcher::All, &q(words)).await, of(is, None), "{words} ({:?})", store.backend());
            assert_eq!(
                found(&store, Searcher::Employee(o.bernd), &q(words)).await,
                of(is, Some(o.bernd)),
                "{words} for Bernd ({:?})",
                store.backend()
            );
        }
        for words in ["Fahrradschloss", "Fahrraddiebstahlx"] {
            assert_eq!(found(&store, Searcher::All, &q(words)).await, Vec::<i64>::new(), "{words}");
        }
    }
}

/// Two words, one frequent and one rare: the same Vorgänge in the same order however PostgreSQL
/// finds them (the newest entries walked, the rest through GIN asked for the rare word only and
/// the other checked on its rows); SQLite alike.
#[tokio::test]
async fn a_rare_and_a_frequent_word_together_are_found_in_the_same_order_by_every_way() {
    const N: usize = 260;
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let items: Vec<_> = (0..N)
            .map(|i| {
                // Nearly all hold „Brief“; one in 60 „Vollmacht“ with it, one in 60 „Vollmacht“
                // alone (not found); every third is Clara's.
                let who = if i % 3 == 0 { o.clara } else { o.bernd };
                let mut it = item(&format!("r{i}"), &format!("Post {i}"), to(&o, who));
                it.mail.text = match i % 60 {
                    4 => "Brief mit Vollmacht".to_string(),
                    5 => "Vollmacht allein".to_string(),
                    _ => format!("Brief Nummer {i}"),
                };
                it.mail.attachments.clear();
                it.fingerprint = format!("fp-r{i}");
                it
            })
            .collect();
        let ids: Vec<i64> = store.commit_batch(o.mailbox, &items, 1).await.unwrap().iter().map(case_of).collect();
        for (who, only) in [(Searcher::All, None), (Searcher::Employee(o.bernd), Some(o.bernd))] {
            let expected: Vec<i64> = (0..N)
                .rev()
                .filter(|i| i % 60 == 4 && only.is_none_or(|e| e == (if i % 3 == 0 { o.clara } else { o.bernd })))
                .map(|i| ids[i])
                .collect();
            for walk in [1, 7, 40, 133, 205, 1000, 50_000] {
                let q = SearchQuery { per_page: 100, ..query("Vollmacht Brief") };
                let got: Vec<i64> =
                    store.search_walking(who.clone(), &q, walk).await.unwrap().hits.iter().map(|h| h.case.id).collect();
                assert_eq!(got, expected, "walk {walk} ({:?}, {:?})", store.backend(), who);
            }
        }
    }
}

/// Matches spread over PostgreSQL's blocks of Vorgänge by id (16,384 ids each, and groups of 8;
/// migration 0033),
/// with gaps between them: every page the same however the window is found (the newest entries
/// walked, or GIN asked for the newest blocks, block after block) — each match once, the window
/// best first, the older ones newest first; SQLite alike.
#[tokio::test]
async fn matches_in_many_blocks_of_ids_are_found_alike_by_every_way() {
    const WINDOW: usize = postkorb_store::SEARCH_WINDOW as usize;
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let mut ids = Vec::new();
        let mut n = 0;
        // Groups of 60 from these ids on: blocks 0, 1, 3 (twice), 5, 8 (group 1), 18 and 19
        // (group 2), 41 (group 5).
        for start in [0i64, 20_000, 50_000, 52_000, 90_000, 140_000, 300_000, 310_000, 680_000] {
            let bump = match store.backend() {
                postkorb_store::Backend::Postgres => "SELECT setval('cases_id_seq', $1)",
                postkorb_store::Backend::Sqlite => "UPDATE sqlite_sequence SET seq = $1 WHERE name = 'cases'",
            };
            if start > 0 {
                sqlx::query(bump).bind(start).execute(store.pool()).await.unwrap();
            }
            let items: Vec<_> = (n..n + 60)
                .map(|i| {
                    let who = if i % 3 == 1 { o.clara } else { o.bernd };
                    let subject = if i % 30 == 0 { format!("Vollmacht {i}") } else { format!("Post {i}") };
                    let mut it = item(&format!("b{i}"), &subject, to(&o, who));
                    it.mail.text = match i % 4 {
                        0 => format!("Brief mit Vollmacht {i}"),
                        1 if i % 50 == 1 => format!("Brief mit Erbschein {i}"),
                        _ => format!("Brief Nummer {i}"),
                    };
                    it.mail.attachments.clear();
                    it.fingerprint = format!("fp-b{i}");
                    it
                })
                .collect();
            ids.extend(store.commit_batch(o.mailbox, &items, 1).await.unwrap().iter().map(case_of));
            n += 60;
        }
        assert!(ids[60] > 20_000 && ids[480] > 680_000, "the ids are spread: {:?}", (ids[60], ids[480]));
        let owner = |i: usize| if i % 3 == 1 { o.clara } else { o.bernd };
        let pages = |who: Searcher, words: &'static str, walk: u64| {
            let store = store.clone();
            async move {
                let (mut seen, mut page) = (Vec::new(), 1);
                loop {
                    let q = SearchQuery { page, per_page: 20, ..query(words) };
                    let p = store.search_walking(who.clone(), &q, walk).await.unwrap();
                    seen.extend(p.hits.iter().map(|h| h.case.id));
                    if !p.more {
                        return seen;
                    }
                    page += 1;
                }
            }
        };
        for words in ["Vollmacht", "Brief", "Vollmacht Brief", "Erbschein", "Erbschein Brief", "Testament"] {
            for (who, only) in [(Searcher::All, None), (Searcher::Employee(o.bernd), Some(o.bernd))] {
                let matches: Vec<usize> = (0..n)
                    .filter(|i| {
                        let text = match i % 4 {
                            0 => "brief vollmacht",
                            1 if i % 50 == 1 => "brief erbschein",
                            _ => "brief",
                        };
                        let subject = if i % 30 == 0 { "vollmacht" } else { "" };
                        words.to_lowercase().split(' ').all(|w| text.contains(w) || subject.contains(w))
                            && only.is_none_or(|e| e == owner(*i))
                    })
                    .collect();
                let reference = pages(who.clone(), words, 50_000).await;
                let mut sorted = reference.clone();
                sorted.sort();
                let mut expected: Vec<i64> = matches.iter().map(|i| ids[*i]).collect();
                expected.sort();
                assert_eq!(sorted, expected, "{words}: each match once ({:?}, {who:?})", store.backend());
                if matches.len() > WINDOW {
                    // Below the window: the oldest matches, newest first.
                    let older: Vec<i64> = matches[..matches.len() - WINDOW].iter().rev().map(|i| ids[*i]).collect();
                    assert_eq!(reference[WINDOW..], older[..], "{words} ({:?}, {who:?})", store.backend());
                }
                for walk in [1, 7, 40, 133] {
                    assert_eq!(
                        pages(who.clone(), words, walk).await,
                        reference,
                        "{words}, walk {walk} ({:?}, {who:?})",
                        store.backend()
                    );
                }
            }
        }
    }
}

/// PostgreSQL asks GIN for the indexed words a query word begins (`search_words`, migration
/// 0034): every such word is found, a word that begins more than the expansion takes is still
/// found (as a prefix), and a word leaves the list with the last entry that holds it — nothing of
/// a deleted Vorgang stays in the index. SQLite finds the same.
#[tokio::test]
async fn a_query_word_finds_every_indexed_word_it_begins_and_a_deleted_vorgangs_words_leave() {
    for (store, _d) in backends().await {
        let pg = store.backend() == postkorb_store::Backend::Postgres;
        let o = office(&store).await;
        let a = import(&store, &o, "Erbschein Kellerraum", "Zeugnis folgt", to(&o, o.bernd), 1).await;
        let b = import(&store, &o, "Kellertür klemmt", "Zeugnis anbei", to(&o, o.bernd), 2).await;
        let c = import(&store, &o, "Weinkeller", "", to(&o, o.bernd), 3).await;
        // Words outside ASCII: PostgreSQL's expansion is a range of bytes (migration 0034's "C"
        // collation), up to the prefix with its last character stepped.
        let cyr = import(&store, &o, "Кота Котёнок", "", to(&o, o.bernd), 4).await;
        let cyr2 = import(&store, &o, "Кору Которая", "", to(&o, o.bernd), 5).await;
        // 40 words beginning „Zeta“: more than a query word is expanded to.
        let mut zetas = Vec::new();
        for i in 0..40 {
            zetas.push(import(&store, &o, &format!("Zeta{i}x Meldung"), "", to(&o, o.bernd), 10 + i).await);
        }
        if pg {
            assert!(words_beginning(&store, "zeta").await > 32, "more words than an expansion takes");
            assert!(words_beginning(&store, "erbsch").await >= 1);
        }
        let all = |words: &'static str| {
            let store = store.clone();
            async move { found(&store, Searcher::All, &SearchQuery { per_page: 100, ..query(words) }).await }
        };
        assert_eq!(all("Keller").await, [a, b], "{:?}", store.backend());
        assert_eq!(all("Erbschein").await, [a]);
        assert_eq!(all("Zeugnis Keller").await, [a, b]);
        assert_eq!(all("Zeta").await, zetas, "{:?}", store.backend());
        assert_eq!(all("Zeta Meldung").await, zetas);
        assert_eq!(all("Zeta7x").await, [zetas[7]]);
        assert_eq!(all("Kellerassel").await, Vec::<i64>::new());
        assert_eq!(all("Weinkeller").await, [c]);
        assert_eq!(all("Кот").await, [cyr, cyr2], "{:?}", store.backend());
        assert_eq!(all("котё").await, [cyr]);
        assert_eq!(all("Кор").await, [cyr2]);
        assert_eq!(all("Корz").await, Vec::<i64>::new());

        // Erbschein's Vorgang deleted: its own words leave, the shared ones stay.
        delete_by_hand(&store, a).await;
        if pg {
            assert!(words_beginning(&store, "erbsch").await >= 1, "noted as gone, not yet swept");
        }
        // Swept (as after every deletion of the store's own and every importer pass).
        let swept = store.sweep_search_words().await.unwrap();
        if pg {
            assert!(swept >= 2, "{swept}");
            assert_eq!(words_beginning(&store, "erbsch").await, 0, "a deleted Vorgang's own word left");
            assert_eq!(words_beginning(&store, "kellerraum").await, 0);
            assert!(words_beginning(&store, "zeugnis").await >= 1, "a word another entry holds stays");
            assert!(words_beginning(&store, "kellert").await >= 1);
        }
        assert_eq!(all("Erbschein").await, Vec::<i64>::new());
        assert_eq!(all("Keller").await, [b]);
        assert_eq!(all("Zeugnis").await, [b]);
    }
}

/// PostgreSQL: a new entry's words are queued in its transaction (migration 0038) and moved
/// into the list off the commit path. A query word finds them either way; a drain empties the
/// queue; and the sweep drains before it sweeps, so the words of a Vorgang deleted before its
/// words were drained do not come into the list afterwards, held by no entry.
#[tokio::test]
async fn new_words_are_found_while_queued_and_the_sweep_leaves_none_of_a_deleted_vorgang() {
    let Some((store, _d)) = postgres().await else { return };
    let o = office(&store).await;
    let a = import(&store, &o, "Zwiebelturm saniert", "Kostenvoranschlag anbei", to(&o, o.bernd), 1).await;
    assert_eq!(listed_and_queued(&store, "zwiebel").await, (0, 1), "queued, not listed");
    assert_eq!(found(&store, Searcher::All, &query("Zwiebel")).await, [a], "found while queued");
    assert_eq!(found(&store, Searcher::All, &query("Kostenvor")).await, [a]);
    assert_eq!(store.drain_search_words().await.unwrap(), 1);
    assert_eq!(listed_and_queued(&store, "zwiebel").await, (1, 0), "listed, the queue empty");
    assert_eq!(found(&store, Searcher::All, &query("Zwiebel")).await, [a], "found when listed");
    assert_eq!(store.drain_search_words().await.unwrap(), 0, "nothing left to drain");

    // Deleted while its words wait in the queue: after the sweep (and any later drain) its
    // own words are in neither; the words another Vorgang holds stay.
    let b = import(&store, &o, "Quastenflosser gesichtet", "Kostenvoranschlag folgt", to(&o, o.bernd), 2).await;
    assert_eq!(listed_and_queued(&store, "quastenflosser").await, (0, 1));
    delete_by_hand(&store, b).await;
    assert!(store.sweep_search_words().await.unwrap() >= 1);
    store.drain_search_words().await.unwrap();
    assert_eq!(listed_and_queued(&store, "quastenflosser").await, (0, 0), "none of the deleted Vorgang's own words");
    assert_eq!(words_beginning(&store, "gesichtet").await, 0);
    assert_eq!(listed_and_queued(&store, "kostenvoranschlag").await, (1, 0), "a word another entry holds stays");
    assert_eq!(found(&store, Searcher::All, &query("Quastenflosser")).await, Vec::<i64>::new());
    assert_eq!(found(&store, Searcher::All, &query("Kostenvoranschlag")).await, [a]);
}

/// PostgreSQL: GIN's list of pending entries is merged by `merge_search_pending` (the importer's
/// upkeep beside its commits), and an insert would merge it itself only past 32 MB (migration
/// 0038); the entries are found before and after the merge.
#[tokio::test]
async fn the_pending_entries_of_the_index_are_merged_off_the_commit_path() {
    let Some((store, _d)) = postgres().await else { return };
    let limit: Vec<String> =
        sqlx::query_scalar("SELECT unnest(reloptions) FROM pg_class WHERE relname = 'case_search_doc'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(limit, ["gin_pending_list_limit=32768"]);
    let o = office(&store).await;
    let a = import(&store, &o, "Hagelschaden Wintergarten", "", to(&o, o.bernd), 1).await;
    let b = import(&store, &o, "Hagelschaden Carport", "", to(&o, o.bernd), 2).await;
    assert_eq!(found(&store, Searcher::All, &query("Hagelschaden")).await, [a, b], "found while pending");
    store.merge_search_pending().await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT gin_clean_pending_list('case_search_doc'::regclass)")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0, "nothing left pending after the merge");
    assert_eq!(found(&store, Searcher::All, &query("Hagelschaden")).await, [a, b], "found when merged");
    assert_eq!(found(&store, Searcher::All, &query("Carport")).await, [b]);
}

/// PostgreSQL: the sweep of the index's words never takes a word a writer still counts on — an
/// entry gaining „Quittung“ in an open transaction while the last other entry with it is deleted
/// and swept: the sweep waits for the writer, and the word stays (without the lock over the list
/// it would see neither entry and remove it, and the Vorgang could not be found by it).
#[tokio::test]
async fn the_sweep_of_the_index_words_waits_for_a_writer_that_counts_on_a_word() {
    let Some((store, _d)) = postgres().await else { return };
    let o = office(&store).await;
    let x = import(&store, &o, "Quittung anbei", "", to(&o, o.bernd), 1).await;
    let y = import(&store, &o, "Rechnung", "", to(&o, o.bernd), 2).await;
    let mut writer = store.pool().begin().await.unwrap();
    postkorb_store::search::index_note(&mut writer, store.backend(), y, 1, "Quittung folgt").await.unwrap();
    delete_by_hand(&store, x).await;
    let sweep = tokio::spawn({
        let store = store.clone();
        async move { store.sweep_search_words().await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!sweep.is_finished(), "the sweep waits for the open writer");
    writer.commit().await.unwrap();
    let swept = sweep.await.unwrap();
    assert!(swept >= 1 && words_beginning(&store, "anbei").await == 0, "the sweep ran after the writer: {swept}");
    assert_eq!(words_beginning(&store, "quittung").await, 1, "the word the writer counted on stays");
    assert_eq!(found(&store, Searcher::All, &query("Quittung")).await, [y]);
}

/// PostgreSQL: a word swept from the index's list after its last Vorgang went — by this instance
/// or by another one on the same database — is added again with the next Vorgang holding it, or
/// that Vorgang could not be found by it (the list is how a query word finds the indexed words it
/// begins). A writer that remembered which words the list holds would have to notice the sweep.
#[tokio::test]
async fn a_word_swept_from_the_list_is_added_again_with_its_next_vorgang() {
    for (url, _d) in common::database_urls().await {
        let store = Store::open(&url).await.unwrap();
        if store.backend() != postkorb_store::Backend::Postgres {
            continue;
        }
        let other = Store::open(&url).await.unwrap();
        let o = office(&store).await;
        let all = |words: &'static str| {
            let store = store.clone();
            async move { found(&store, Searcher::All, &query(words)).await }
        };
        for (round, sweeper) in [(1, &store), (2, &other)] {
            // Twice: the second import finds the word in the list already.
            let a = import(&store, &o, &format!("Zebrafant {round}a"), "", to(&o, o.bernd), round * 10).await;
            let b = import(&store, &o, &format!("Zebrafant {round}b"), "", to(&o, o.bernd), round * 10 + 1).await;
            assert_eq!(all("Zebrafant").await, [a, b]);
            delete_by_hand(&store, a).await;
            delete_by_hand(&store, b).await;
            assert!(sweeper.sweep_search_words().await.unwrap() >= 1);
            assert_eq!(words_beginning(&store, "zebrafant").await, 0, "swept");
            let c = import(&store, &o, &format!("Zebrafant {round}c"), "", to(&o, o.bernd), round * 10 + 2).await;
            assert_eq!(words_beginning(&store, "zebrafant").await, 1, "round {round}: sent again");
            assert_eq!(all("Zebrafant").await, [c], "round {round}");
            delete_by_hand(&store, c).await;
            sweeper.sweep_search_words().await.unwrap();
        }
        // A sweep that removes nothing leaves the words where they are.
        let d = import(&store, &o, "Quokka eins", "", to(&o, o.bernd), 100).await;
        let e = import(&store, &o, "Quokka zwei", "", to(&o, o.bernd), 101).await;
        assert_eq!(other.sweep_search_words().await.unwrap(), 0);
        assert_eq!(all("Quokka").await, [d, e]);
    }
}

/// PostgreSQL: Postkorb writes the `tsvector` (migration 0036). An entry's as written at import,
/// after a note, a claim, a hand-over and the reindex equals `case_search_doc` of its columns;
/// where the terms are letters a–z and digits, also the generated column it replaced
/// (PostgreSQL's parser), so entries from before keep their lexemes, positions and weights.
/// Words the parser would split („m²“) are found as Postkorb's terms on both backends.
#[tokio::test]
async fn the_index_entry_postkorb_writes_is_the_one_postgresql_would_make() {
    for (store, _d) in backends().await {
        let o = office(&store).await;
        let b = to(&o, o.bernd);
        let texts = [
            (
                "Wohnung 120 m² Leitungswasser",
                "Der Schaden: 3 m² Parkett, 2. OG — Schaden gemeldet, Fotos in Schaden.pdf",
            ),
            ("Re: Re: Kfz-Schaden", "Kunde 'O''Brien' schreibt \\ und \"zitiert\"; 1e5 123abc abc123"),
            ("Анкета клиента", "Текст письма, ½ Jahr, x½y, Straße Strasse"),
            ("", ""),
            ("Wasser wasser WASSER", &format!("{} Schaden.pdf", "Wort ".repeat(300))),
        ];
        let mut ids = Vec::new();
        for (i, (subject, text)) in texts.iter().enumerate() {
            ids.push(import(&store, &o, subject, text, b.clone(), i as i64 + 1).await);
        }
        let pool = Decision::Pool { sender: o.anna, candidates: vec![o.bernd, o.clara] };
        let pooled = import(&store, &o, "Versicherungsschein Rückfrage", "bitte prüfen", pool, 10).await;
        let mut tx = store.pool().begin().await.unwrap();
        postkorb_store::search::index_note(&mut tx, store.backend(), ids[0], 1, "Rückruf am Montag, 5 m²")
            .await
            .unwrap();
        postkorb_store::search::index_note(&mut tx, store.backend(), ids[0], 2, "Rückruf erledigt").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(found(&store, Searcher::All, &query("m²")).await, [ids[0]], "{:?}", store.backend());
        assert_eq!(found(&store, Searcher::All, &query("x½y")).await, [ids[2]], "{:?}", store.backend());
        assert_eq!(found(&store, Searcher::All, &query("Rückruf")).await, [ids[0]], "{:?}", store.backend());
        if store.backend() != postkorb_store::Backend::Postgres {
            continue;
        }
        let check = |when: &'static str| {
            let store = &store;
            async move {
                let differ: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT case_id, doc::text, case_search_doc(subject, sender, attachments, notes, body, seen, case_id)::text
                       FROM case_search
                      WHERE doc <> case_search_doc(subject, sender, attachments, notes, body, seen, case_id)",
                )
                .fetch_all(store.pool())
                .await
                .unwrap();
                assert_eq!(differ, vec![], "{when}: written and made from the columns differ");
                let parsed: Vec<(i64, String, String)> = sqlx::query_as(
                    r"SELECT case_id, doc::text, parsed::text FROM (
                        SELECT case_id, doc, subject || sender || attachments || notes || body AS terms,
                               setweight(to_tsvector('simple', subject), 'A')
                               || setweight(to_tsvector('simple', sender), 'B')
                               || setweight(to_tsvector('simple', attachments), 'B')
                               || setweight(to_tsvector('simple', notes), 'C')
                               || setweight(to_tsvector('simple', body), 'D')
                               || to_tsvector('simple', regexp_replace(seen, '(u[0-9]+)', '/seen/\1', 'g'))
                               || to_tsvector('simple', '/block/' || (case_id >> 14) || ' /block8/' || (case_id >> 17))
                               AS parsed
                          FROM case_search) e
                      WHERE terms !~ '[^a-z0-9 ]'",
                )
                .fetch_all(store.pool())
                .await
                .unwrap();
                assert!(parsed.len() >= 3, "{when}: entries of plain terms {parsed:?}");
                for (id, doc, parsed) in parsed {
                    assert_eq!(doc, parsed, "{when}: Vorgang {id} differs from what the parser made");
                }
            }
        };
        check("at import, with notes").await;
        store.claim(o.clara, 11).await.unwrap();
        store.hand_over(pooled, o.clara, o.bernd, o.clara, None, 12).await.unwrap();
        check("after a claim and a hand-over").await;
        sqlx::query("DELETE FROM case_search").execute(store.pool()).await.unwrap();
        while store.search_reindex_step(0, 100).await.unwrap().is_some() {}
        check("after the reindex").await;
        assert_eq!(found(&store, Searcher::All, &query("m²")).await, [ids[0]]);
        assert_eq!(found(&store, Searcher::Employee(o.bernd), &query("Versicherungsschein")).await, [pooled]);
    }
}
