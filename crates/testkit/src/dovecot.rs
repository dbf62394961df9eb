//! Starts a private Dovecot (IMAP + POP3 on loopback, plaintext unless TLS is asked for) in a temp
//! dir so integration tests run against a real server without touching the system's mail setup
//! or fixed ports.

use crate::certs::TlsFiles;
use crate::config::{Ports, write_config};
use crate::imap_client::{ImapClient, quote};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const INSTALL_HINT: &str =
    "dovecot not installed: run `apt-get install -y dovecot-imapd dovecot-pop3d` (the README's test command does this)";
const START_ATTEMPTS: usize = 8;
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How to start the private Dovecot; `Options::default()` is what [`Dovecot::start`] does.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Also listen with implicit TLS (imaps, pop3s) and offer STARTTLS/STLS on the plain ports,
    /// with a server certificate from a fresh test CA ([`Dovecot::ca_file`]).
    pub tls: bool,
    /// How often Dovecot sends `* OK Still here` during IDLE (Dovecot's default: every 2 min).
    pub idle_keepalive: Option<Duration>,
    /// Also accept XOAUTH2/OAUTHBEARER logins, checking each token at this introspection URL
    /// (Dovecot's oauth2 passdb, `introspection_mode = post`), e.g. [`crate::OAuthServer::introspection_url`].
    pub oauth2_introspection: Option<String>,
}

/// A running private Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: tempfile::TempDir,
    ports: Ports,
    tls: Option<TlsFiles>,
    child: Mutex<Option<Child>>,
    users: Mutex<Vec<(String, String)>>,
}

impl Dovecot {
    /// Starts a plaintext Dovecot on free loopback ports and waits until it accepts connections.
    /// Panics with the install hint if the binary is missing.
    pub fn start() -> Dovecot {
        Dovecot::start_with(Options::default())
    }

    /// Starts Dovecot with implicit TLS and STARTTLS/STLS besides plaintext (see [`Options::tls`]).
    pub fn start_tls() -> Dovecot {
        Dovecot::start_with(Options { tls: true, ..Options::default() })
    }

    /// Starts Dovecot with these options.
    pub fn start_with(options: Options) -> Dovecot {
        let binary = dovecot_binary().unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let dir = tempfile::Builder::new().prefix("postkorb-dovecot-").tempdir().expect("tempdir");
        // Dovecot's unprivileged processes (auth as `dovecot`, mail as `nobody`) must traverse it.
        set_mode(dir.path(), 0o755);
        for sub in ["run", "state", "mail", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create dovecot dirs");
        }
        chown_nobody(&dir.path().join("mail"));
        chown_nobody(&dir.path().join("home"));
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "").expect("write passwd");
        set_mode(&passwd, 0o644);
        let tls = options.tls.then(|| crate::certs::generate(&dir.path().join("tls")));

        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let ports = free_ports(options.tls);
            write_config(
                dir.path(),
                ports,
                tls.as_ref(),
                options.idle_keepalive,
                options.oauth2_introspection.as_deref(),
            );
            match spawn(&binary, dir.path(), ports) {
                Ok(child) => {
                    return Dovecot { dir, ports, tls, child: Mutex::new(Some(child)), users: Mutex::new(Vec::new()) };
                }
                // Someone took a port between our probe and Dovecot's bind: new ports.
                Err(log) if log.contains("in use") => last_log = log,
                Err(log) => panic!("dovecot did not start:\n{log}"),
            }
        }
        panic!("dovecot did not start after {START_ATTEMPTS} attempts:\n{last_log}");
    }

    pub fn imap_port(&self) -> u16 {
        self.ports.imap
    }

    pub fn pop3_port(&self) -> u16 {
        self.ports.pop3
    }

    /// IMAP with implicit TLS; panics unless started with TLS.
    pub fn imaps_port(&self) -> u16 {
        self.ports.imaps.expect("Dovecot was started without TLS")
    }

    /// POP3 with implicit TLS; panics unless started with TLS.
    pub fn pop3s_port(&self) -> u16 {
        self.ports.pop3s.expect("Dovecot was started without TLS")
    }

    /// The test CA (PEM) that signed the server certificate; panics unless started with TLS.
    pub fn ca_file(&self) -> PathBuf {
        self.tls.as_ref().expect("Dovecot was started without TLS").ca_cert.clone()
    }

    /// Root of a user's Maildir (INBOX is the root, subfolders are `.Name`).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user)
    }

    /// Dovecot's SASL socket for an SMTP server's logins (the same users as IMAP).
    pub fn sasl_socket(&self) -> PathBuf {
        self.dir.path().join("run").join("auth-smtp")
    }

    /// Dovecot's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Adds (or replaces) a user and returns once Dovecot accepts the login. Dovecot rereads the
    /// passwd-file at most once a second, hence the wait.
    pub fn add_user(&self, user: &str, password: &str) {
        let mut users = self.users.lock().expect("users lock");
        // With no users yet, no login has been tried, so Dovecot has not read the file yet.
        let first = users.is_empty();
        users.retain(|(u, _)| u != user);
        users.push((user.to_string(), password.to_string()));
        let content: String = users.iter().map(|(u, p)| format!("{u}:{{PLAIN}}{p}::::::\n")).collect();
        let path = self.dir.path().join("passwd");
        let tmp = self.dir.path().join("passwd.tmp");
        std::fs::write(&tmp, content).expect("write passwd");
        set_mode(&tmp, 0o644);
        std::fs::rename(&tmp, &path).expect("replace passwd");
        drop(users);
        // Dovecot syncs the file at most once per wall-clock second; after the next second
        // starts, the next lookup sees the new file. (Polling with failing logins would instead
        // trigger Dovecot's growing auth penalty.)
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let into_second = Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
        if !first {
            std::thread::sleep(Duration::from_secs(1) - into_second + Duration::from_millis(20));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut client = ImapClient::connect(self.ports.imap).expect("connect to dovecot imap");
            let login = client.command(&format!("LOGIN {} {}", quote(user), quote(password)));
            client.logout();
            match login {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!("new user {user} cannot log in: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    fn password(&self, user: &str) -> String {
        let users = self.users.lock().expect("users lock");
        users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("unknown test user {user}: call add_user first"))
    }

    /// Logs in as `user` with the tiny test client.
    pub fn client(&self, user: &str) -> ImapClient {
        ImapClient::login(self.ports.imap, user, &self.password(user))
    }

    /// Puts a raw message into the user's INBOX (IMAP APPEND, unseen).
    pub fn deliver(&self, user: &str, raw: &[u8]) {
        self.deliver_to(user, "INBOX", raw);
    }

    /// Puts a raw message straight into the user's Maildir INBOX (`new/`), as a local delivery
    /// agent would; works while Dovecot is stopped. The user must have logged in once.
    pub fn drop_into_maildir(&self, user: &str, raw: &[u8]) {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let root = self.maildir(user);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let name = format!("{}.P{}Q{n}.postkorb-testkit", stamp.as_secs(), std::process::id());
        let tmp = root.join("tmp").join(&name);
        for sub in ["", "tmp", "new", "cur"] {
            let path = root.join(sub);
            if !path.exists() {
                std::fs::create_dir_all(&path).expect("create maildir");
                chown_nobody(&path);
            }
        }
        std::fs::write(&tmp, raw).expect("write mail into maildir tmp");
        chown_nobody(&tmp);
        std::fs::rename(&tmp, root.join("new").join(&name)).expect("move mail into maildir new");
    }

    /// Puts a raw message into `folder` (IMAP APPEND, unseen).
    pub fn deliver_to(&self, user: &str, folder: &str, raw: &[u8]) {
        let mut client = self.client(user);
        client.append(folder, raw).unwrap_or_else(|e| panic!("APPEND to {folder} failed: {e}"));
        client.logout();
    }

    /// Messages in `folder`; 0 if the folder does not exist.
    pub fn count(&self, user: &str, folder: &str) -> usize {
        self.status(user, folder, "MESSAGES").unwrap_or(0) as usize
    }

    /// Messages without \Seen in `folder`.
    pub fn unseen(&self, user: &str, folder: &str) -> usize {
        self.status(user, folder, "UNSEEN").unwrap_or_else(|e| panic!("STATUS {folder}: {e}")) as usize
    }

    /// The folder's current UIDVALIDITY.
    pub fn uidvalidity(&self, user: &str, folder: &str) -> u32 {
        self.status(user, folder, "UIDVALIDITY").unwrap_or_else(|e| panic!("STATUS {folder}: {e}")) as u32
    }

    /// Whether `folder` exists for `user`.
    pub fn folder_exists(&self, user: &str, folder: &str) -> bool {
        self.status(user, folder, "MESSAGES").is_ok()
    }

    fn status(&self, user: &str, folder: &str, item: &str) -> std::io::Result<u64> {
        let mut client = self.client(user);
        let value = client.status(folder, item);
        client.logout();
        value
    }

    /// Makes Dovecot assign a new UIDVALIDITY to the user's INBOX by dropping its uid list and
    /// indexes (the messages stay). Panics if the value did not change.
    pub fn reset_uidvalidity(&self, user: &str) {
        let before = self.uidvalidity(user, "INBOX");
        let root = self.maildir(user);
        for entry in std::fs::read_dir(&root).expect("read maildir root").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "dovecot-uidlist" || name.starts_with("dovecot.index") || name == "dovecot-uidlist.lock" {
                std::fs::remove_file(entry.path()).expect("remove dovecot index file");
            }
        }
        let after = self.uidvalidity(user, "INBOX");
        assert_ne!(before, after, "UIDVALIDITY did not change");
    }

    /// Stops Dovecot (all connections drop); ports stay reserved for `restart`.
    pub fn stop(&self) {
        let mut child = self.child.lock().expect("child lock");
        if let Some(mut c) = child.take() {
            terminate(&mut c);
        }
    }

    /// Starts Dovecot again on the same ports (after `stop`, or restarts a running one).
    pub fn restart(&self) {
        self.stop();
        let binary = dovecot_binary().unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match spawn(&binary, self.dir.path(), self.ports) {
                Ok(child) => {
                    *self.child.lock().expect("child lock") = Some(child);
                    return;
                }
                Err(log) if log.contains("in use") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(log) => panic!("dovecot did not restart:\n{log}"),
            }
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawns the master in the foreground and waits for all listeners; Err(log) if it died.
fn spawn(binary: &Path, dir: &Path, ports: Ports) -> Result<Child, String> {
    let log_path = dir.join("dovecot.log");
    let log_start = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0) as usize;
    let mut child = Command::new(binary)
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("create stderr.log"))
        .spawn()
        .unwrap_or_else(|e| panic!("{INSTALL_HINT} ({e})"));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            let stderr = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("{stderr}{}", log.get(log_start..).unwrap_or(&log)));
        }
        let tls_up = [ports.imaps, ports.pop3s].into_iter().flatten().all(accepts);
        if greets(ports.imap, "* OK") && greets(ports.pop3, "+OK") && tls_up {
            return Ok(child);
        }
        if Instant::now() > deadline {
            terminate(&mut child);
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("dovecot did not accept connections within {READY_TIMEOUT:?}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn dovecot_binary() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"].iter().map(PathBuf::from).find(|p| p.exists()).or_else(|| {
        let out = Command::new("sh").arg("-c").arg("command -v dovecot").output().ok()?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// Two distinct free ports, four with TLS.
fn free_ports(tls: bool) -> Ports {
    loop {
        let mut ports: Vec<u16> = (0..if tls { 4 } else { 2 }).map(|_| crate::free_port()).collect();
        ports.sort_unstable();
        ports.dedup();
        let want = if tls { 4 } else { 2 };
        if ports.len() == want {
            let tls_port = |i: usize| tls.then(|| ports[i]);
            return Ports { imap: ports[0], pop3: ports[1], imaps: tls_port(2), pop3s: tls_port(3) };
        }
    }
}

/// A TLS listener is up once it accepts TCP (its greeting only comes after the handshake).
fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

fn greets(port: u16, prefix: &str) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with(prefix)
}

/// SIGTERM to the master (it stops its children and closes all connections), then wait.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn chown_nobody(path: &Path) {
    let status = Command::new("chown").arg("nobody:nogroup").arg(path).status().expect("run chown");
    assert!(status.success(), "chown nobody:nogroup {} failed", path.display());
}
