//! The `postkorb` binary as the tests run it — the one runner for every test that starts it: a data
//! directory (fresh, or one the test already has), environment, arguments and standard input
//! (passwords are never arguments), a guard against hangs, and `serve` on a port it bound itself.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::office::{ANNA_EMAIL, BERND_LICENSE, PASSWORD, USER};

/// Only a guard against a hang; no test asserts how long a command took.
pub const HANG_GUARD: Duration = Duration::from_secs(180);

/// A data directory: a fresh temp dir (removed with the last runner using it) or a given path.
#[derive(Clone)]
pub struct DataDir {
    path: PathBuf,
    _owned: Option<Arc<tempfile::TempDir>>,
}

impl DataDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Runs `postkorb` in one data directory with the test's environment (nothing from the caller's:
/// no `POSTKORB_CONFIG`, `POSTKORB_DATABASE_URL` or `POSTKORB_BLOB_DIR` unless set here).
#[derive(Clone)]
pub struct Env {
    pub dir: DataDir,
    vars: Vec<(String, String)>,
}

impl Env {
    /// A fresh data directory of its own.
    pub fn new() -> Env {
        let tmp = tempfile::Builder::new().prefix("postkorb-test-").tempdir().unwrap();
        Env { dir: DataDir { path: tmp.path().to_path_buf(), _owned: Some(Arc::new(tmp)) }, vars: Vec::new() }
    }

    /// The data directory `dir`, which the caller keeps.
    pub fn in_dir(dir: &Path) -> Env {
        Env { dir: DataDir { path: dir.to_path_buf(), _owned: None }, vars: Vec::new() }
    }

    /// The same runner with `key=value` set for every command it starts.
    pub fn with(&self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Env {
        let mut env = self.clone();
        env.vars.retain(|(k, _)| k != key);
        env.vars.push((key.into(), value.as_ref().to_string_lossy().into_owned()));
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The command with the data directory and environment; arguments still to add.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_postkorb"));
        cmd.env("POSTKORB_DATA_DIR", self.path())
            .env_remove("POSTKORB_CONFIG")
            .env_remove("POSTKORB_DATABASE_URL")
            .env_remove("POSTKORB_BLOB_DIR");
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `args` with `stdin` as standard input, to the end (killed and failed after the hang guard).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start postkorb");
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        finish(child, args)
    }

    /// Its stdout, or its stderr when it fails.
    pub fn try_run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let out = self.run(args, stdin);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Stdout of a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with_input(args, "")
    }

    pub fn ok_with_input(&self, args: &[&str], stdin: &str) -> String {
        self.try_run(args, Some(stdin)).unwrap_or_else(|stderr| panic!("postkorb {args:?} failed: {stderr}"))
    }

    /// Stderr of a command that must fail.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    /// The office through the CLI: Anna (sends from her work address) → Bernd (login `bernd`).
    pub fn office(&self) {
        self.ok(&["employee", "add", "--name", "Anna", "--email", ANNA_EMAIL]);
        self.ok(&["employee", "add", "--name", "Bernd", "--username", "bernd", "--license", BERND_LICENSE]);
        self.ok(&["route", "add", "--from", "Anna", "--to", "Bernd"]);
    }

    /// `mailbox set` for the office's mailbox `USER` on a Dovecot's plaintext IMAP `port`, the
    /// password on standard input; `extra` arguments after (e.g. `--verify off`).
    pub fn imap_mailbox(&self, port: u16, extra: &[&str]) -> String {
        self.imap_mailbox_as(port, USER, PASSWORD, extra)
    }

    pub fn imap_mailbox_as(&self, port: u16, user: &str, password: &str, extra: &[&str]) -> String {
        let port = port.to_string();
        let mut args = vec!["mailbox", "set", "--protocol", "imap", "--host", "127.0.0.1", "--port", &port];
        args.extend(["--tls", "none", "--username", user, "--password-stdin"]);
        args.extend_from_slice(extra);
        self.ok_with_input(&args, &format!("{password}\n"))
    }

    /// Starts `postkorb serve`. It binds `POSTKORB_LISTEN` (default `127.0.0.1:0`: a port of its
    /// own, no race for a free one) and the test learns the address from its first line.
    pub fn serve(&self, name: &str) -> Served {
        std::fs::create_dir_all(self.path()).unwrap();
        let out = self.path().join(format!("{name}.out"));
        let log = self.path().join(format!("{name}.log"));
        let mut cmd = self.command();
        if !self.vars.iter().any(|(k, _)| k == "POSTKORB_LISTEN") {
            cmd.env("POSTKORB_LISTEN", "127.0.0.1:0");
        }
        let child = cmd
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start postkorb serve");
        let mut served = Served { child, port: 0, name: name.into(), out, log };
        let started = Instant::now();
        served.port = loop {
            let text = std::fs::read_to_string(&served.out).unwrap_or_default();
            if let Some(port) = listening_port(&text) {
                break port;
            }
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("postkorb serve exited with {status}:\n{text}\n{}", served.log());
            }
            assert!(started.elapsed() < HANG_GUARD, "postkorb serve never said where it listens:\n{}", served.log());
            std::thread::sleep(Duration::from_millis(50));
        };
        served
    }
}

/// The port in serve's line "Postkorb is running: health at http://127.0.0.1:PORT/health".
fn listening_port(stdout: &str) -> Option<u16> {
    let line = stdout.lines().find(|l| l.starts_with("Postkorb is running"))?;
    let addr = line.split("http://").nth(1)?.split('/').next()?;
    addr.rsplit(':').next()?.parse().ok()
}

/// Waits for `child` while reading its output (so a full pipe cannot stall it); kills it and
/// panics after the hang guard.
fn finish(mut child: Child, args: &[&str]) -> Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("postkorb {args:?} hangs: killed after {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// A running `postkorb serve`; killed (SIGKILL) when dropped.
pub struct Served {
    pub child: Child,
    pub port: u16,
    pub name: String,
    out: PathBuf,
    log: PathBuf,
}

impl Served {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True if `holder` (a fetch lease holder id: `{host}-{start}-{pid}-{random}`) is this process.
    pub fn holds(&self, holder: &str) -> bool {
        holder.rsplit('-').nth(1) == Some(self.pid().to_string().as_str())
    }

    /// What it wrote to stderr so far (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_file(&self) -> &Path {
        &self.log
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A plain HTTP/1.1 request from loopback: the whole response, or None while nobody answers.
    pub fn request(&self, request: &str) -> Option<String> {
        http(self.port, request)
    }

    /// A GET from loopback: the whole response, or None while nobody answers.
    pub fn get(&self, path: &str) -> Option<String> {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
    }

    /// Stops the process the hard way, as a crash or power loss would (SIGKILL).
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Asks the process to stop cleanly (SIGTERM) and waits for it.
    pub fn terminate(&mut self) {
        let ok = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("kill -TERM");
        assert!(ok.success());
        let started = Instant::now();
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(started.elapsed() < HANG_GUARD, "{} did not stop after SIGTERM\n{}", self.name, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to a loopback port: the whole response, or None while nobody answers.
/// The key for mail at rest of the installation in `data_dir` (its `secret.key`, as `postkorb`
/// derives it): a store opened with it reads what the binary stored encrypted.
pub fn mail_key(data_dir: &Path) -> postkorb_store::MailKey {
    let bytes = std::fs::read(data_dir.join("secret.key")).expect("the key file");
    postkorb_store::MailKey::derive(&bytes.try_into().expect("32 bytes"))
}

pub fn http(port: u16, request: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}
