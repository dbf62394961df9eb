//! The private Dovecot's configuration file: loopback listeners on the chosen ports, a
//! passwd-file of plaintext test users, Maildir storage, TLS only when asked for, and an auth socket
//! (`run/auth-smtp`) the test Postfix checks SMTP logins against (Dovecot SASL).

use std::path::Path;
use std::time::Duration;

use crate::certs::TlsFiles;

/// The loopback ports of one instance; the TLS ones only with TLS.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    pub imap: u16,
    pub pop3: u16,
    pub imaps: Option<u16>,
    pub pop3s: Option<u16>,
}

pub(crate) fn write_config(
    dir: &Path,
    ports: Ports,
    tls: Option<&TlsFiles>,
    idle_keepalive: Option<Duration>,
    oauth2_introspection: Option<&str>,
) {
    let d = dir.display();
    let (mechanisms, oauth2_passdb) = match oauth2_introspection {
        Some(url) => {
            write_oauth2_conf(dir, url);
            (
                "plain login xoauth2 oauthbearer",
                format!(
                    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {d}/dovecot-oauth2.conf.ext\n}}\n"
                ),
            )
        }
        None => ("plain login", String::new()),
    };
    let Ports { imap, pop3, .. } = ports;
    let imaps = ports.imaps.unwrap_or(0);
    let pop3s = ports.pop3s.unwrap_or(0);
    let ssl = match tls {
        Some(files) => format!(
            "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
            files.server_cert.display(),
            files.server_key.display()
        ),
        None => "ssl = no\n".to_string(),
    };
    let keepalive = match idle_keepalive {
        Some(every) => format!("imap_idle_notify_interval = {} secs\n", every.as_secs().max(1)),
        None => String::new(),
    };
    let conf = format!(
        r#"# Private test instance written by postkorb-testkit.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
listen = 127.0.0.1
protocols = imap pop3
first_valid_uid = 1
{ssl}{keepalive}auth_mechanisms = {mechanisms}
disable_plaintext_auth = no
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u
pop3_uidl_format = %08Xu%08Xv
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
{oauth2_passdb}userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
service auth {{
  unix_listener auth-smtp {{
    mode = 0666
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
  }}
}}
"#
    );
    std::fs::write(dir.join("dovecot.conf"), conf).expect("write dovecot.conf");
}

/// Dovecot's oauth2 passdb settings: every XOAUTH2/OAUTHBEARER token is checked by POSTing it to
/// `url` (RFC 7662 introspection); the answer's `username` must be the login name and `active` true.
fn write_oauth2_conf(dir: &Path, url: &str) {
    let conf = format!(
        "introspection_mode = post\nintrospection_url = {url}\nusername_attribute = username\n\
         active_attribute = active\nactive_value = true\n"
    );
    std::fs::write(dir.join("dovecot-oauth2.conf.ext"), conf).expect("write dovecot-oauth2.conf.ext");
}
