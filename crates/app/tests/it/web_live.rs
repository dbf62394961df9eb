//! The live Startmaske over HTTP (issue #17): `GET /ereignisse` streams to each user only the
//! Vorgang events that concern them (a hostile Betreff as JSON text, a Vorgang taken from them
//! without its Betreff), resumes after `Last-Event-ID` (or says „reload“ when that is too old),
//! refuses without a session and beyond the open streams per user, and ends at logout.
//! The filter's rule itself is tested data-driven in crates/web/src/live/filter.rs.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::http::{Request, StatusCode, header};
use postkorb_core::{Decision, EmployeeId};
use postkorb_store::{MailboxRecord, NewEmployee};
use postkorb_web::{Live, LiveOptions};
use serde_json::Value;
use tower::ServiceExt;

use crate::web_http::{App, PW, app, hostile_item, import_item};

/// Short timings, so a test waits milliseconds, not the default seconds.
fn quick(per_user: usize) -> LiveOptions {
    LiveOptions {
        poll: Duration::from_millis(30),
        recheck: Duration::from_millis(100),
        per_user,
        resume_max: 20,
        ..LiveOptions::default()
    }
}

/// The app with Clara (licensed) besides Bernd, a mailbox for the imports, and a quick reader.
async fn live_app(per_user: usize) -> (App, i64, EmployeeId, EmployeeId, EmployeeId) {
    let mut app = app().await;
    let store = app.ctx.store.clone();
    let clara = NewEmployee {
        name: "Clara Czerny".into(),
        username: Some("clara".into()),
        is_current: true,
        license: Some("L3".into()),
        ..Default::default()
    };
    let clara = store.add_employee(&clara, 1).await.unwrap().id;
    store.set_password_hash(clara, &postkorb_web::hash_password(PW)).await.unwrap();
    let mb = store
        .save_mailbox(&MailboxRecord { name: "t".into(), protocol: "maildir".into(), ..Default::default() }, 1)
        .await
        .unwrap();
    app.router =
        postkorb_app::serve::http::router_with_live(&app.ctx, Live::start(store.clone(), quick(per_user))).unwrap();
    let bernd = store.find_employee("bernd").await.unwrap().id;
    let anna = store.find_employee("anna").await.unwrap().id;
    (app, mb.id, anna, bernd, clara)
}

fn mail(subject: &str) -> Vec<u8> {
    format!("From: Anna <anna@mustermail.de>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x>\r\n\r\nText\r\n")
        .into_bytes()
}

/// One message of the stream.
#[derive(Debug)]
struct Message {
    event: String,
    id: Option<i64>,
    data: String,
}

impl Message {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// An open `GET /ereignisse`, read frame by frame.
struct Stream {
    body: Body,
    buf: String,
}

impl Stream {
    /// The next message (heartbeat comments skipped); `None` when the stream ended. Panics when
    /// nothing comes within `within`.
    async fn next(&mut self, within: Duration) -> Option<Message> {
        tokio::time::timeout(within, self.read()).await.unwrap_or_else(|_| panic!("no message within {within:?}"))
    }

    /// True when no message comes within `d` (and the stream is still open).
    async fn quiet_for(&mut self, d: Duration) -> bool {
        match tokio::time::timeout(d, self.read()).await {
            Err(_) => true,
            Ok(m) => panic!("expected nothing, got {m:?}"),
        }
    }

    async fn read(&mut self) -> Option<Message> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let mut m = Message { event: String::new(), id: None, data: String::new() };
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        m.event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        m.id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        m.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if !m.event.is_empty() {
                    return Some(m);
                }
            }
            let frame = std::future::poll_fn(|cx| Pin::new(&mut self.body).poll_frame(cx)).await?;
            if let Ok(data) = frame.unwrap().into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&data).replace("\r\n", "\n"));
            }
        }
    }
}

async fn open(app: &App, cookie: Option<&str>, last_event_id: Option<i64>) -> Result<Stream, (StatusCode, String)> {
    let mut b = Request::get("/ereignisse");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    if let Some(id) = last_event_id {
        b = b.header("Last-Event-ID", id.to_string());
    }
    let res = app.router.clone().oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    if status != StatusCode::OK {
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        return Err((status, String::from_utf8_lossy(&body).to_string()));
    }
    let ct = res.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().to_string();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    Ok(Stream { body: res.into_body(), buf: String::new() })
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn each_user_gets_only_what_concerns_them_and_a_hostile_betreff_stays_text() {
    let (app, mb, anna, bernd, clara) = live_app(8).await;
    let store = &app.ctx.store;
    let (err, _) = open(&app, None, None).await.err().expect("refused without a session");
    assert_eq!(err, StatusCode::UNAUTHORIZED);
    let (bernd_cookie, _) = app.login("bernd").await;
    let (clara_cookie, _) = app.login("clara").await;
    let mut b = open(&app, Some(&bernd_cookie), None).await.unwrap();
    let mut c = open(&app, Some(&clara_cookie), None).await.unwrap();

    // A hostile mail for Bernd: he gets its row, the Betreff as JSON text.
    let mut hostile = hostile_item(bernd, anna);
    hostile.decision = Decision::Assign { sender: anna, to: bernd };
    store.commit_batch(mb, &[hostile], 1).await.unwrap();
    let m = b.next(WAIT).await.unwrap();
    let d = m.json();
    assert_eq!((m.event.as_str(), d["kind"].as_str()), ("vorgang", Some("new")), "{d}");
    assert_eq!(d["row"]["subject"], "<script>window.__pwned=1</script><img src=x onerror=alert(1)>", "{d}");
    assert_eq!(d["row"]["status"], "offen");
    assert_eq!(d["counts"]["offen"], 1, "{d}");
    let case_id = d["case_id"].as_i64().unwrap();
    assert_eq!(d["href"], format!("/vorgang/{case_id}"));

    // A pool of Bernd and Clara: both are told it waits.
    let pool = Decision::Pool { sender: anna, candidates: vec![bernd, clara] };
    store.commit_batch(mb, &[import_item("pool", &mail("Gemeinsam"), pool)], 2).await.unwrap();
    for s in [&mut b, &mut c] {
        let d = s.next(WAIT).await.unwrap().json();
        assert_eq!((d["kind"].as_str(), d["row"]["subject"].as_str()), (Some("waiting"), Some("Gemeinsam")), "{d}");
    }
    // Clara claims it: hers; for Bernd it is gone, without its Betreff.
    store.claim(clara, 3).await.unwrap();
    let d = c.next(WAIT).await.unwrap().json();
    assert_eq!((d["kind"].as_str(), d["row"]["subject"].as_str()), (Some("new"), Some("Gemeinsam")), "{d}");
    let m = b.next(WAIT).await.unwrap();
    assert_eq!(m.json()["kind"], "gone");
    assert!(m.json().get("row").is_none() && !m.data.contains("Gemeinsam"), "{}", m.data);

    // Bernd hands the hostile one to Clara: gone for him (no Betreff), new for her.
    store.hand_over(case_id, bernd, clara, bernd, None, 4).await.unwrap();
    let m = b.next(WAIT).await.unwrap();
    let d = m.json();
    assert_eq!(
        (d["kind"].as_str(), d["case_id"].as_i64(), d["counts"]["offen"].as_i64()),
        (Some("gone"), Some(case_id), Some(0))
    );
    assert!(!m.data.contains("script"), "no Betreff of a Vorgang no longer his: {}", m.data);
    let d = c.next(WAIT).await.unwrap().json();
    assert_eq!((d["kind"].as_str(), d["case_id"].as_i64()), (Some("new"), Some(case_id)), "{d}");
    assert_eq!(d["counts"]["offen"], 2, "{d}");

    // A mail for Clara alone: nothing reaches Bernd.
    let to_clara = Decision::Assign { sender: anna, to: clara };
    store.commit_batch(mb, &[import_item("c", &mail("Nur Clara"), to_clara)], 5).await.unwrap();
    assert_eq!(c.next(WAIT).await.unwrap().json()["row"]["subject"], "Nur Clara");
    assert!(b.quiet_for(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn a_reconnect_resumes_after_its_last_event_and_one_too_old_is_told_to_reload() {
    let (app, mb, anna, bernd, _clara) = live_app(8).await;
    let store = &app.ctx.store;
    let (cookie, _) = app.login("bernd").await;
    let to_bernd = Decision::Assign { sender: anna, to: bernd };
    let mut s = open(&app, Some(&cookie), None).await.unwrap();
    store.commit_batch(mb, &[import_item("1", &mail("Erste"), to_bernd.clone())], 1).await.unwrap();
    let first = s.next(WAIT).await.unwrap();
    drop(s);
    // While the tab was away: two more.
    for key in ["2", "3"] {
        store
            .commit_batch(mb, &[import_item(key, &mail(&format!("Nummer {key}")), to_bernd.clone())], 2)
            .await
            .unwrap();
    }
    let mut s = open(&app, Some(&cookie), first.id).await.unwrap();
    let subjects = [s.next(WAIT).await.unwrap().json(), s.next(WAIT).await.unwrap().json()]
        .map(|d| d["row"]["subject"].as_str().unwrap().to_string());
    assert_eq!(subjects, ["Nummer 2", "Nummer 3"]);
    assert!(s.quiet_for(Duration::from_millis(200)).await, "nothing twice");
    // Too far back (more than `resume_max` events): reload, then the stream ends.
    let mut old = open(&app, Some(&cookie), Some(-100)).await.unwrap();
    assert_eq!(old.next(WAIT).await.unwrap().event, "reload");
    assert!(old.next(WAIT).await.is_none());
    // Without Last-Event-ID: from the end, nothing of before.
    let mut fresh = open(&app, Some(&cookie), None).await.unwrap();
    assert!(fresh.quiet_for(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn the_streams_per_user_are_capped_and_end_at_logout() {
    let (app, _mb, _anna, _bernd, _clara) = live_app(2).await;
    let (cookie, csrf) = app.login("bernd").await;
    let mut one = open(&app, Some(&cookie), None).await.unwrap();
    let _two = open(&app, Some(&cookie), None).await.unwrap();
    let (status, body) = open(&app, Some(&cookie), None).await.err().expect("a third tab is refused");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("zu vielen Fenstern"), "{body}");
    let (clara, _) = app.login("clara").await;
    let _hers = open(&app, Some(&clara), None).await.expect("the cap is per user");

    assert_eq!(app.post("/abmelden", Some(&cookie), &format!("csrf={csrf}")).await.status, StatusCode::SEE_OTHER);
    assert!(one.next(WAIT).await.is_none(), "the stream ends with its session");
    let (err, _) = open(&app, Some(&cookie), None).await.err().expect("the old cookie opens nothing");
    assert_eq!(err, StatusCode::UNAUTHORIZED);
    drop(one);
    drop(_two);
    // Their places are free again once they ended (the second ends at its next check).
    let (again, _) = app.login("bernd").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _a = open(&app, Some(&again), None).await.unwrap();
    let _b = open(&app, Some(&again), None).await.expect("both places were given back");
}
