//! A private Postfix for the sending tests: three loopback SMTP listeners on free ports (plain
//! without STARTTLS, submission with STARTTLS and AUTH, implicit TLS with AUTH), TLS from a
//! throw-away CA ([`crate::certs`]), logins checked by the test Dovecot (Dovecot SASL), and every
//! mail — whatever its domain — delivered as Maildir into that Dovecot's mail directory, so a sent
//! mail is read back over IMAP. Nothing is ever relayed elsewhere.
//!
//! Why Postfix and not OpenSMTPD: Debian 12's OpenSMTPD 6.8.0p2 cannot do TLS with OpenSSL 3 —
//! every handshake fails with "missing private key … EVP lib" for RSA and ECDSA keys alike
//! (OpenSMTPD issues #1171 and #1239, fixed only in 7.x), and TLS is what the tests are about.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Dovecot;
use crate::certs::TlsFiles;

const INSTALL_HINT: &str = "postfix not installed: run `echo 'postfix postfix/main_mailer_type select No configuration' \
     | debconf-set-selections && apt-get install -y postfix` (the README's test command does this)";
const START_ATTEMPTS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The loopback ports of one instance.
#[derive(Clone, Copy, Debug)]
pub struct SmtpPorts {
    /// Plain SMTP, no STARTTLS offered, no AUTH; accepts mail from loopback.
    pub plain: u16,
    /// Submission: STARTTLS required before anything, AUTH required to send.
    pub starttls: u16,
    /// Implicit TLS (smtps), AUTH required to send.
    pub smtps: u16,
}

/// A running private Postfix; stopped when dropped.
pub struct Postfix {
    dir: tempfile::TempDir,
    ports: SmtpPorts,
    tls: TlsFiles,
}

impl Postfix {
    /// Starts Postfix delivering mail for `recipients` (Dovecot users) into `dovecot`'s mailboxes
    /// — any other recipient bounces — and checking logins against its users (add a sending
    /// account with [`Dovecot::add_user`]). Panics with the install hint if Postfix is missing.
    pub fn start(dovecot: &Dovecot, recipients: &[&str]) -> Postfix {
        let postfix = binary().unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        let dir = tempfile::Builder::new().prefix("postkorb-postfix-").tempdir().expect("tempdir");
        set_mode(dir.path(), 0o755);
        // Explicit modes: the calling process's umask (Postkorb's own is 077) must not close them
        // to Postfix's unprivileged daemons.
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create postfix dirs");
            set_mode(&dir.path().join(sub), 0o755);
        }
        chown(&dir.path().join("data"), "postfix");
        let tls = crate::certs::generate(&dir.path().join("tls"));
        let mail_root = dovecot.maildir("x").parent().expect("maildir root").to_path_buf();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let ports = free_ports();
            write_config(dir.path(), ports, &tls, &mail_root, &dovecot.sasl_socket(), recipients);
            match try_start(&postfix, dir.path(), ports) {
                Ok(()) => return Postfix { dir, ports, tls },
                // Someone took a port between our probe and Postfix's bind: new ports.
                Err(log) if log.contains("in use") => last = log,
                Err(log) => panic!("postfix did not start:\n{log}"),
            }
        }
        panic!("postfix did not start after {START_ATTEMPTS} attempts:\n{last}");
    }

    pub fn ports(&self) -> SmtpPorts {
        self.ports
    }

    /// The test CA (PEM) that signed the server certificate (names 127.0.0.1).
    pub fn ca_file(&self) -> PathBuf {
        self.tls.ca_cert.clone()
    }

    /// Postfix's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Waits until `dovecot` holds `n` messages in `user`'s INBOX; panics with the log after 20 s.
    pub fn wait_delivered(&self, dovecot: &Dovecot, user: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while dovecot.count(user, "INBOX") < n {
            assert!(Instant::now() < deadline, "mail for {user} not delivered:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if let Some(postfix) = binary() {
            stop(&postfix, self.dir.path());
        }
    }
}

/// `postfix start`, then waits until all three listeners accept; Err(log) when it did not come up.
fn try_start(postfix: &Path, dir: &Path, ports: SmtpPorts) -> Result<(), String> {
    // The queue directories Postfix creates: not with the calling process's umask.
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" -c \"$1\" start")
        .arg(postfix)
        .arg(dir.join("etc"))
        .output()
        .unwrap_or_else(|e| panic!("{INSTALL_HINT} ({e})"));
    let log = || {
        let maillog = std::fs::read_to_string(dir.join("maillog")).unwrap_or_default();
        format!("{}{}{maillog}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    if !out.status.success() {
        stop(postfix, dir);
        return Err(log());
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if [ports.plain, ports.starttls, ports.smtps].into_iter().all(accepts) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(postfix, dir);
    Err(log())
}

fn stop(postfix: &Path, dir: &Path) {
    let etc = dir.join("etc");
    let ok = Command::new(postfix).arg("-c").arg(&etc).arg("stop").output();
    if !ok.is_ok_and(|o| o.status.success()) {
        let _ = Command::new(postfix).arg("-c").arg(&etc).arg("abort").output();
    }
}

fn write_config(dir: &Path, ports: SmtpPorts, tls: &TlsFiles, mail_root: &Path, sasl: &Path, recipients: &[&str]) {
    let d = dir.display();
    std::fs::write(dir.join("domains"), "/./ OK\n").expect("write domains");
    // Dovecot's Maildir of a user is `mail/<user>`, below `virtual_mailbox_base`.
    let mailboxes: String = recipients.iter().map(|r| format!("{r} {r}/\n")).collect();
    std::fs::write(dir.join("mailboxes"), mailboxes).expect("write mailboxes");
    let main = format!(
        "# Private test instance written by postkorb-testkit.
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = smtp.postkorb.test
myorigin = postkorb.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
virtual_mailbox_domains = regexp:{d}/domains
virtual_mailbox_maps = texthash:{d}/mailboxes
virtual_mailbox_base = {root}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_tls_chain_files = {key}, {cert}
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl}
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
",
        root = mail_root.display(),
        key = tls.server_key.display(),
        cert = tls.server_cert.display(),
        sasl = sasl.display(),
    );
    std::fs::write(dir.join("etc/main.cf"), main).expect("write main.cf");
    let submit = "-o smtpd_sasl_auth_enable=yes -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject";
    let master = format!(
        "127.0.0.1:{plain} inet n - n - - smtpd -o smtpd_tls_security_level=none -o smtpd_sasl_auth_enable=no
127.0.0.1:{starttls} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes {submit}
127.0.0.1:{smtps} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt {submit}
{SERVICES}",
        plain = ports.plain,
        starttls = ports.starttls,
        smtps = ports.smtps,
    );
    std::fs::write(dir.join("etc/master.cf"), master).expect("write master.cf");
    for file in ["domains", "mailboxes", "etc/main.cf", "etc/master.cf"] {
        set_mode(&dir.join(file), 0o644);
    }
}

/// The internal services a Postfix needs to take a mail in and deliver it locally.
const SERVICES: &str = "\
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
";

fn binary() -> Option<PathBuf> {
    ["/usr/sbin/postfix", "/usr/local/sbin/postfix"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn free_ports() -> SmtpPorts {
    loop {
        let mut ports: Vec<u16> = (0..3).map(|_| crate::free_port()).collect();
        ports.sort_unstable();
        ports.dedup();
        if ports.len() == 3 {
            return SmtpPorts { plain: ports[0], starttls: ports[1], smtps: ports[2] };
        }
    }
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn chown(path: &Path, user: &str) {
    let status = Command::new("chown").arg(user).arg(path).status().expect("run chown");
    assert!(status.success(), "chown {user} {} failed", path.display());
}
