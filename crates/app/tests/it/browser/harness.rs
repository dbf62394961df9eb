//! What the browser tests stand on: the real `postkorb` binary with its own data dir (through the
//! one runner, `common::Env`), Debian's chromedriver + Chromium driven through fantoccini,
//! screenshots under `target/screenshots/`, and polling with deadlines instead of fixed sleeps.

use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::common::{Env, Served, http};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "the browser tests need Debian's Chromium and chromedriver: run \
     `apt-get install -y chromium chromium-driver` (./scripts/test installs them when missing)";

/// How long a page, an import or a process may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// Runs one browser test on its own runtime. The tests take turns: a handful of Chromiums on a
/// two-core machine would make every deadline a gamble.
pub fn run<F: Future<Output = ()>>(test: F) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test);
}

/// Polls `probe` until it yields a value, failing with `what` and the last observation at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() > deadline => panic!("timed out waiting for {what}; last seen: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn screenshot_dir(test: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots").join(test)
}

// ---------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------

/// One office: a data dir prepared with the CLI, then `postkorb serve` (both through the one runner).
pub struct App {
    env: Env,
    port: u16,
    serve: Option<Served>,
}

impl App {
    pub fn new() -> App {
        App { env: Env::new(), port: 0, serve: None }
    }

    /// Runs the CLI like a user would; panics with its stderr when it fails.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.try_cli(args, stdin).unwrap_or_else(|stderr| panic!("postkorb {args:?} failed: {stderr}"))
    }

    /// Runs the CLI; its stdout, or its stderr when it fails.
    pub fn try_cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        self.env.try_run(args, stdin)
    }

    /// Adds an employee. `username` and `password` make a login; `permissions` as the CLI takes them.
    pub fn employee(&self, e: Person) {
        let mut args = vec!["employee", "add", "--name", e.name];
        for (flag, value) in [
            ("--username", e.username),
            ("--email", e.email),
            ("--license", e.license),
            ("--permissions", e.permissions),
        ] {
            if !value.is_empty() {
                args.extend([flag, value]);
            }
        }
        self.cli(&args, None);
        if !e.password.is_empty() {
            self.cli(&["employee", "set", e.username, "--password-stdin"], Some(&format!("{}\n", e.password)));
        }
    }

    pub fn route(&self, from: &str, to: &str) {
        self.cli(&["route", "add", "--from", from, "--to", to], None);
    }

    /// The mailbox as the admin would enter it, through the CLI: plaintext IMAP on the test Dovecot,
    /// trusting the Authentication-Results of the office's own server `authserv_id`.
    pub fn imap_mailbox(&self, port: u16, username: &str, password: &str, authserv_id: &str) {
        let verify = format!("auth-results:{authserv_id}");
        self.env.imap_mailbox_as(port, username, password, &["--poll-secs", "1", "--verify", &verify]);
    }

    /// Starts `postkorb serve` and waits until it answers on `/health`. Its port is chosen here,
    /// not by the process: the OAuth redirect needs the public URL before the start.
    pub fn serve(&mut self) {
        assert!(self.serve.is_none(), "already serving");
        self.port = postkorb_testkit::free_port();
        let env = self
            .env
            .with("POSTKORB_LISTEN", format!("127.0.0.1:{}", self.port))
            .with("POSTKORB_PUBLIC_URL", format!("http://127.0.0.1:{}", self.port));
        self.serve = Some(env.serve("serve"));
        let deadline = Instant::now() + PATIENCE;
        while self.health().is_none() {
            assert!(Instant::now() < deadline, "postkorb serve did not answer on /health:\n{}", self.serve_log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn serve_log(&self) -> String {
        self.serve.as_ref().map(Served::log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A GET over plain HTTP from loopback: the status line and body, or None while the server
    /// does not answer.
    fn http_get(&self, path: &str) -> Option<String> {
        http(self.port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
    }

    /// `/health` as JSON, or None while the server does not answer.
    pub fn health(&self) -> Option<Value> {
        let out = self.http_get("/health")?;
        let body = out.strip_prefix("HTTP/1.1 200")?.split_once("\r\n\r\n")?.1;
        serde_json::from_str(body).ok()
    }

    /// The value of a `/metrics` sample of the first mailbox, e.g. `postkorb_imported_total` with
    /// `outcome="case"`.
    fn metric(&self, family: &str, outcome: &str) -> Option<u64> {
        let text = self.http_get("/metrics")?;
        text.lines()
            .find(|l| l.starts_with(family) && l.contains(&format!("outcome=\"{outcome}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    }

    /// Waits until the importer has made `n` Vorgänge from the mailbox.
    pub async fn wait_for_imported_cases(&self, n: u64) {
        eventually(&format!("{n} imported Vorgang/Vorgänge"), || async {
            if self.metric("postkorb_imported_total", "kept").unwrap_or(0) > 0 {
                panic!("the mail was kept instead of becoming a Vorgang: {:?}", self.http_get("/metrics"));
            }
            match self.metric("postkorb_imported_total", "case") {
                Some(got) if got >= n => Ok(()),
                got => Err(format!("{got:?} imported")),
            }
        })
        .await;
    }
}

impl App {
    /// Waits until the importer has made `cases` Vorgänge and kept `kept` mails.
    pub async fn wait_for_import(&self, cases: u64, kept: u64) {
        eventually(&format!("{cases} Vorgänge and {kept} kept mails"), || async {
            let got = (
                self.metric("postkorb_imported_total", "case").unwrap_or(0),
                self.metric("postkorb_imported_total", "kept").unwrap_or(0),
            );
            if got.0 >= cases && got.1 >= kept { Ok(()) } else { Err(format!("{got:?} imported")) }
        })
        .await;
    }
}

/// An employee for [`App::employee`]; empty fields are left out.
#[derive(Clone, Copy, Default)]
pub struct Person {
    pub name: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub email: &'static str,
    pub license: &'static str,
    pub permissions: &'static str,
}

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

/// A window size of the screen tests.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub width: u32,
    pub height: u32,
    pub phone: bool,
}

impl Size {
    /// A common phone (390×844 CSS pixels).
    pub const PHONE: Size = Size { width: 390, height: 844, phone: true };
    /// A common office laptop.
    pub const DESKTOP: Size = Size { width: 1366, height: 900, phone: false };

    /// For screenshot names: `390` or `1366`.
    pub fn label(self) -> String {
        self.width.to_string()
    }
}

/// A private chromedriver (in its own process group, so the Chromiums it starts die with it).
pub struct Driver {
    test: &'static str,
    child: Child,
    port: u16,
    profiles: Vec<tempfile::TempDir>,
    /// Numbers the screenshots of all windows in the order they were taken.
    shots: Arc<AtomicUsize>,
}

impl Driver {
    /// Starts chromedriver for `test`; its screenshots go to `target/screenshots/<test>/`.
    /// Fails (never skips) when Chromium or chromedriver is missing.
    pub fn start(test: &'static str) -> Driver {
        for binary in [CHROMEDRIVER, CHROMIUM] {
            assert!(Path::new(binary).exists(), "{binary} not found: {INSTALL_HINT}");
        }
        let shots = screenshot_dir(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("create target/screenshots");
        let mut last = String::new();
        for _attempt in 0..3 {
            let port = postkorb_testkit::free_port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}; {INSTALL_HINT}"));
            let mut driver = Driver { test, child, port, profiles: Vec::new(), shots: Arc::default() };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = driver.child.try_wait() {
                    last = format!("chromedriver exited with {status}");
                    break;
                }
                if driver.answers() {
                    return driver;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if last.is_empty() {
                last = format!("chromedriver did not answer on port {port}");
            }
        }
        panic!("{last}");
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if write!(s, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.contains("\"ready\"")
    }

    /// A fresh Chromium window with its own profile (so its own cookies).
    pub async fn browser(&mut self, app: &App) -> Browser {
        self.browser_sized(app, None).await
    }

    /// A fresh window of `size`: a desktop window, or a phone (Chromium's mobile emulation: the
    /// viewport, overlay scrollbars and `width=device-width` as on a phone).
    pub async fn browser_at(&mut self, app: &App, size: Size) -> Browser {
        let browser = self.browser_sized(app, Some(size)).await;
        // A phone lays out a page without `width=device-width` at 980 px: measure on one of ours.
        browser.goto("/anmeldung").await;
        let inner = || async {
            let seen = browser.client.execute("return [window.innerWidth, window.innerHeight];", vec![]).await;
            let seen = seen.unwrap_or_else(|e| panic!("window size: {e}"));
            (seen[0].as_u64().unwrap_or(0) as u32, seen[1].as_u64().unwrap_or(0) as u32)
        };
        if !size.phone {
            // The window's size includes Chromium's own bars: grow it by their size.
            let (w, h) = inner().await;
            let (outer_w, outer_h) = ((2 * size.width).saturating_sub(w), (2 * size.height).saturating_sub(h));
            browser.client.set_window_size(outer_w, outer_h).await.unwrap_or_else(|e| panic!("resize: {e}"));
        }
        assert_eq!(inner().await, (size.width, size.height), "the window is not {size:?}");
        browser
    }

    async fn browser_sized(&mut self, app: &App, size: Option<Size>) -> Browser {
        let window = match size {
            Some(s) if !s.phone => format!("--window-size={},{}", s.width, s.height),
            _ => "--window-size=1280,1000".into(),
        };
        let profile = tempfile::Builder::new().prefix("postkorb-chromium-").tempdir().expect("profile dir");
        let caps = json!({
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", window, "--lang=de-DE",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(mut caps) = caps else { unreachable!() };
        if let Some(s) = size.filter(|s| s.phone) {
            caps["goog:chromeOptions"]["mobileEmulation"] = json!({
                "deviceMetrics": { "width": s.width, "height": s.height, "pixelRatio": 1.0, "mobile": true, "touch": true },
            });
        }
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}; {INSTALL_HINT}"));
        self.profiles.push(profile);
        Browser {
            client,
            base: app.url(""),
            test: self.test,
            who: Mutex::new("gast".into()),
            shots: self.shots.clone(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

/// One user's browser window on the app.
pub struct Browser {
    pub client: Client,
    base: String,
    test: &'static str,
    /// Who is logged in, for the screenshot names.
    who: Mutex<String>,
    shots: Arc<AtomicUsize>,
}

impl Browser {
    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.expect("current url").path().to_string()
    }

    /// Saves what the window shows as `target/screenshots/<test>/<nn>-<who>-<screen>.png`, `who` being
    /// the user logged in last in this window.
    pub async fn screenshot(&self, screen: &str) {
        let n = self.shots.fetch_add(1, Ordering::SeqCst) + 1;
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot of {screen}: {e}"));
        let who = self.who.lock().expect("who").clone();
        let file = screenshot_dir(self.test).join(format!("{n:02}-{who}-{screen}.png"));
        std::fs::write(&file, png).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element {css} on {}: {e}", self.path().await),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.client.find_all(Locator::Css(css)).await.expect("find_all").is_empty()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear field");
        field.send_keys(value).await.expect("type into field");
    }

    pub async fn select(&self, css: &str, label: &str) {
        self.find(css).await.select_by_label(label).await.unwrap_or_else(|e| panic!("choose {label:?} in {css}: {e}"));
    }

    pub async fn choose_value(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose value {value:?} in {css}: {e}"));
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn click_link(&self, text: &str) {
        let link = self.client.find(Locator::LinkText(text)).await.unwrap_or_else(|e| panic!("no link {text:?}: {e}"));
        link.click().await.unwrap_or_else(|e| panic!("click link {text:?}: {e}"));
    }

    /// Waits until the element `css` exists and its text contains `needle`; returns the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        eventually(&format!("{needle:?} in {css}"), || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => {
                    let text = el.text().await.map_err(|e| e.to_string())?;
                    if text.contains(needle) { Ok(text) } else { Err(text) }
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    }

    pub async fn wait_for_path(&self, path: &str) {
        eventually(&format!("the page {path}"), || async {
            let now = self.path().await;
            if now == path { Ok(()) } else { Err(now) }
        })
        .await;
    }

    /// Anmeldung with username and password; lands on the Startmaske.
    pub async fn login(&self, username: &str, password: &str) {
        self.goto("/anmeldung").await;
        self.wait_for_text("h1", "Anmeldung").await;
        *self.who.lock().expect("who") = username.to_string();
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.screenshot("anmeldung").await;
        self.click("form[action='/anmeldung'] button[type=submit]").await;
        self.wait_for_text("h1", "Startmaske").await;
        assert_eq!(self.path().await, "/");
    }

    pub async fn logout(&self) {
        self.click("form.logout button[type=submit]").await;
        self.wait_for_text("h1", "Anmeldung").await;
    }

    /// The menu entries in the header.
    pub async fn menu(&self) -> Vec<String> {
        let mut out = Vec::new();
        for link in self.client.find_all(Locator::Css("header nav a")).await.expect("menu links") {
            out.push(link.text().await.expect("menu text"));
        }
        out
    }

    /// Fails if any script of a mail ran in the current frame: no alert, no `window.__pwned`, the
    /// title untouched and no `data-pwned` mark on the document.
    pub async fn assert_nothing_ran(&self, where_: &str) {
        if let Ok(text) = self.client.get_alert_text().await {
            panic!("an alert is open on {where_}: {text:?}");
        }
        let seen = self
            .client
            .execute(
                "return { pwned: window.__pwned === undefined ? null : String(window.__pwned), title: document.title, \
                 mark: document.documentElement.getAttribute('data-pwned') };",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("inspect {where_}: {e}"));
        assert_eq!(seen["pwned"], Value::Null, "a script set window.__pwned on {where_}: {seen}");
        assert_eq!(seen["mark"], Value::Null, "a script marked the document on {where_}: {seen}");
        let title = seen["title"].as_str().unwrap_or_default();
        assert!(!title.contains("PWNED"), "a script changed the title on {where_}: {seen}");
    }

    pub async fn close(self) {
        self.client.close().await.expect("close the browser");
    }
}
