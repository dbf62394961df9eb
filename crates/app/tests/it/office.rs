//! The office the app's integration tests work in, defined once. In process (`Office`): a real
//! Postkorb data directory opened as the binary opens it (`Ctx`), the employees Anna
//! (anna@mustermail.de) → Bernd and Info (info@mustermail.de) → Bernd and Clara (a pool), and a
//! private Dovecot holding the office's mailbox `USER`. Through the CLI the same people come from
//! `common::Env::office`. A test differs only in the mailbox it saves (`Office::mailbox_record`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postkorb_app::Ctx;
use postkorb_app::clock::Clock;
use postkorb_app::service::importer::{self, ImportError, RunReport};
use postkorb_app::service::mailbox::source_config;
use postkorb_app::settings::Settings;
use postkorb_core::{EmailAddress, EmployeeId};
use postkorb_store::{MailboxRecord, NewEmployee};
use postkorb_testkit::{Dovecot, Options};

/// The office's dedicated mailbox on the test Dovecot, and its password there.
pub const USER: &str = "vorgaenge@office.test";
pub const PASSWORD: &str = "geheim";
pub const ANNA_EMAIL: &str = "anna@mustermail.de";
pub const INFO_EMAIL: &str = "info@mustermail.de";
pub const BERND_LICENSE: &str = "L2";
/// The fixed time of the tests' import passes (in 2027).
pub const NOW: i64 = 1_800_000_000_000;

pub struct Office {
    pub ctx: Ctx,
    pub dovecot: Arc<Dovecot>,
    pub anna: EmployeeId,
    pub info: EmployeeId,
    pub bernd: EmployeeId,
    pub clara: EmployeeId,
    _dir: tempfile::TempDir,
}

/// The office is used like the `Ctx` it holds: `o.store`, `o.key`, `o.settings`.
impl std::ops::Deref for Office {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

impl Office {
    pub async fn start() -> Office {
        Office::start_with(Options::default(), PASSWORD).await
    }

    /// With Dovecot started with `options`; `password` is the mailbox user's password there.
    pub async fn start_with(options: Options, password: &str) -> Office {
        crate::test_dns::install();
        let dovecot = Dovecot::start_with(options);
        dovecot.add_user(USER, password);
        let dir = tempfile::Builder::new().prefix("postkorb-office-").tempdir().unwrap();
        let ctx = Ctx::open(Settings { data_dir: dir.path().to_path_buf(), ..Settings::default() }).await.unwrap();
        let add = |name: &str, license: Option<&str>, email: Option<&str>| NewEmployee {
            name: name.into(),
            username: Some(name.to_lowercase()),
            is_current: true,
            license: license.map(str::to_string),
            work_email: email.map(|e| EmailAddress::parse(e).unwrap()),
            permissions: vec![],
        };
        let store = &ctx.store;
        let anna = store.add_employee(&add("Anna", None, Some(ANNA_EMAIL)), 1).await.unwrap().id;
        let info = store.add_employee(&add("Info", None, Some(INFO_EMAIL)), 1).await.unwrap().id;
        let bernd = store.add_employee(&add("Bernd", Some(BERND_LICENSE), None), 1).await.unwrap().id;
        let clara = store.add_employee(&add("Clara", Some("L3"), None), 1).await.unwrap().id;
        store.add_route(anna, bernd, 1).await.unwrap();
        store.add_route(info, bernd, 1).await.unwrap();
        store.add_route(info, clara, 1).await.unwrap();
        Office { ctx, dovecot: Arc::new(dovecot), anna, info, bernd, clara, _dir: dir }
    }

    /// The data directory, shared with `postkorb` processes of the test (`Env::in_dir`).
    pub fn data_dir(&self) -> &Path {
        &self.settings.data_dir
    }

    pub fn key_file(&self) -> PathBuf {
        self.settings.key_file()
    }

    /// The office's mailbox on its Dovecot as most tests want it, not saved yet: plaintext
    /// `protocol` on `port`, named `{protocol}-{port}`, moved to `Postkorb/Importiert` after the
    /// commit, polled every minute, sender verification off (verification has its own tests).
    pub fn mailbox_record(&self, protocol: &str, port: u16) -> MailboxRecord {
        MailboxRecord {
            name: format!("{protocol}-{port}"),
            protocol: protocol.into(),
            host: "127.0.0.1".into(),
            port: port.into(),
            tls: "none".into(),
            username: USER.into(),
            secret: None,
            folder: "INBOX".into(),
            disposal: "move".into(),
            target_folder: "Postkorb/Importiert".into(),
            poll_secs: 60,
            verify_policy: postkorb_verify::Policy::Off.to_storage(),
            enabled: true,
            ..Default::default()
        }
    }

    /// `m` with `password` sealed for its endpoint (so set every other field first).
    pub fn sealed(&self, m: MailboxRecord, password: &str) -> MailboxRecord {
        postkorb_app::service::mailbox::with_password(m, &self.key, password).unwrap()
    }

    /// `m` sealed with `password` and saved.
    pub async fn save(&self, m: MailboxRecord, password: &str) -> MailboxRecord {
        self.store.save_mailbox(&self.sealed(m, password), 1).await.unwrap()
    }

    /// [`Office::mailbox_record`] saved with `password`.
    pub async fn mailbox(&self, protocol: &str, port: u16, password: &str) -> MailboxRecord {
        self.save(self.mailbox_record(protocol, port), password).await
    }

    /// One importer pass over `m` at `now_ms`, in batches of three, as `fetch` runs it.
    pub async fn pass_at(&self, m: &MailboxRecord, now_ms: i64) -> Result<RunReport, ImportError> {
        let cfg = source_config(m, &self.key, Default::default()).unwrap();
        importer::run_once(&self.store, m, &cfg, 3, &Clock::fixed(now_ms)).await
    }

    pub async fn pass(&self, m: &MailboxRecord) -> Result<RunReport, ImportError> {
        self.pass_at(m, NOW).await
    }
}
