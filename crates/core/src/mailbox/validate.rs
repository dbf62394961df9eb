//! The one validator of mailbox settings: the form and `mailbox set` hand in what a person typed and
//! get typed settings or every error at once.

use super::error::POLL_SECS;
use super::{Disposal, Field, Problem, Protocol, SettingsError, TlsMode, VerifyChoice};
use crate::ack::{self, AckSettings};

const DEFAULT_FOLDER: &str = "INBOX";
const DEFAULT_TARGET_FOLDER: &str = "Postkorb/Importiert";

/// The settings as a person typed them (form fields, arguments of `mailbox set`); empty means not given.
#[derive(Clone, Debug, Default)]
pub struct SettingsInput<'a> {
    pub protocol: &'a str,
    pub host: &'a str,
    /// Empty: the usual port of protocol and encryption.
    pub port: &'a str,
    pub tls: &'a str,
    pub username: &'a str,
    /// Whether a password is given or already stored (a server mailbox needs one; Maildir does not).
    pub has_password: bool,
    pub folder: &'a str,
    pub disposal: &'a str,
    pub target_folder: &'a str,
    pub maildir_path: &'a str,
    pub poll_secs: &'a str,
    /// `dkim`, `dkim-strict`, `auth-results` (ids in `authserv_ids`) or `auth-results:ID,ID`, `off`.
    pub verify: &'a str,
    pub authserv_ids: &'a str,
    /// `YYYY-MM-DD`; empty or `all`: every mail.
    pub since: &'a str,
    pub ca_file: &'a str,
    /// The Eingangsbestätigung: on/off, wording (empty: the default), period in hours (empty: 24),
    /// and whether (and how) mail that could not be assigned is answered.
    pub ack_enabled: bool,
    pub ack_text: &'a str,
    pub ack_hours: &'a str,
    pub ack_unassigned: bool,
    pub ack_unassigned_text: &'a str,
}

/// Which server paths the caller lets a person name. It does the IO (canonicalising, looking below
/// a root) and answers with the path to store or the problem.
pub trait PathRule {
    /// A Maildir directory.
    fn maildir(&self, given: &str) -> Result<String, Problem>;
    /// A CA certificate file.
    fn ca_file(&self, given: &str) -> Result<String, Problem>;
}

/// Valid mailbox settings (the login secret is the caller's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxSettings {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub folder: String,
    /// Always `Delete` for POP3.
    pub disposal: Disposal,
    pub target_folder: String,
    /// Only for Maildir, as the [`PathRule`] answered.
    pub maildir_path: Option<String>,
    pub poll_secs: i64,
    pub verify: VerifyChoice,
    /// Onboarding cut-off in unix ms (0 = all mails).
    pub import_since_ms: i64,
    pub ca_file: Option<String>,
    pub ack: AckSettings,
}

/// `all` or empty → 0; `YYYY-MM-DD` → unix ms of that day (UTC).
pub fn parse_since(s: &str) -> Result<i64, SettingsError> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("all") {
        return Ok(0);
    }
    crate::time::parse_iso_date(s).ok_or_else(|| SettingsError::new(Field::Since, Problem::BadDate(s.to_string())))
}

/// Checks every setting and answers with all errors, so a form can show each next to its field.
pub fn validate(input: &SettingsInput, paths: &dyn PathRule) -> Result<MailboxSettings, Vec<SettingsError>> {
    let mut errors = Errors(Vec::new());

    let protocol = errors.check(
        Field::Protocol,
        Protocol::from_code(input.protocol).ok_or_else(|| Problem::UnknownProtocol(input.protocol.into())),
    );
    let tls =
        errors.check(Field::Tls, TlsMode::from_code(input.tls).ok_or_else(|| Problem::UnknownTls(input.tls.into())));
    let disposal = errors.check(
        Field::Disposal,
        Disposal::from_code(input.disposal).ok_or_else(|| Problem::UnknownDisposal(input.disposal.into())),
    );
    let graph = protocol == Some(Protocol::Graph);
    let server = protocol.is_some_and(|p| p != Protocol::Maildir && p != Protocol::Graph);
    let host = input.host.trim();
    let (host, tls) = if graph { graph_endpoint(host, tls, &mut errors) } else { (host, tls) };
    if graph {
        let address = input.username.trim();
        let plausible = address.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
        errors.check(Field::Username, if plausible { Ok(()) } else { Err(Problem::GraphAddress) });
    }
    if server {
        errors.check(Field::Host, host_problem(host).map_or(Ok(()), Err));
        errors.check(
            Field::Username,
            if input.username.trim().is_empty() { Err(Problem::UsernameMissing) } else { Ok(()) },
        );
        errors.check(Field::Password, if input.has_password { Ok(()) } else { Err(Problem::PasswordMissing) });
    }
    let port = match input.port.trim() {
        // graph.microsoft.com is always port 443: a port left from other settings is not asked about.
        _ if graph && host.eq_ignore_ascii_case("graph.microsoft.com") => Some(443),
        "" => Some(protocol.zip(tls).map_or(0, |(p, t)| p.default_port(t))),
        given => errors.check(Field::Port, given.parse::<u16>().ok().filter(|p| *p > 0).ok_or(Problem::PortInvalid)),
    };
    let maildir_path = match (protocol, input.maildir_path.trim()) {
        (Some(Protocol::Maildir), "") => errors.check(Field::MaildirPath, Err(Problem::MaildirMissing)),
        (Some(Protocol::Maildir), given) => errors.check(Field::MaildirPath, paths.maildir(given)).map(Some),
        _ => Some(None),
    };
    let ca_file = match input.ca_file.trim() {
        "" => Some(None),
        given => errors.check(Field::CaFile, paths.ca_file(given)).map(Some),
    };
    let poll_secs = errors.check(
        Field::PollSecs,
        input.poll_secs.trim().parse::<i64>().ok().filter(|s| POLL_SECS.contains(s)).ok_or(Problem::PollOutOfRange),
    );
    let verify = errors.take(VerifyChoice::parse(input.verify, input.authserv_ids));
    let since = errors.take(parse_since(input.since));
    let ack = ack_settings(input, &mut errors);

    match (protocol, tls, disposal, port, maildir_path, ca_file, poll_secs, verify, since) {
        (
            Some(protocol),
            Some(tls),
            Some(disposal),
            Some(port),
            Some(maildir_path),
            Some(ca_file),
            Some(poll_secs),
            Some(verify),
            Some(import_since_ms),
        ) if errors.0.is_empty() && ack.is_some() => Ok(MailboxSettings {
            protocol,
            host: host.to_string(),
            port,
            tls,
            username: input.username.trim().to_string(),
            folder: or_default(input.folder, DEFAULT_FOLDER),
            disposal: if protocol == Protocol::Pop3 { Disposal::Delete } else { disposal },
            target_folder: or_default(input.target_folder, DEFAULT_TARGET_FOLDER),
            maildir_path,
            poll_secs,
            verify,
            import_since_ms,
            ca_file,
            ack: ack.unwrap_or_default(),
        }),
        _ => Err(errors.0),
    }
}

/// The Eingangsbestätigung's settings; `None` after an error.
fn ack_settings(input: &SettingsInput, errors: &mut Errors) -> Option<AckSettings> {
    let text = errors.check(Field::AckText, ack::check_text(input.ack_text).map_err(Problem::Ack));
    let unassigned =
        errors.check(Field::AckUnassignedText, ack::check_text(input.ack_unassigned_text).map_err(Problem::Ack));
    let hours = errors.check(Field::AckHours, ack::parse_hours(input.ack_hours).map_err(Problem::Ack));
    Some(AckSettings {
        enabled: input.ack_enabled,
        text: text.map(|()| input.ack_text.trim().to_string())?,
        hours: hours?,
        unassigned: input.ack_unassigned,
        unassigned_text: unassigned.map(|()| input.ack_unassigned_text.trim().to_string())?,
    })
}

/// The errors found so far.
pub(super) struct Errors(pub(super) Vec<SettingsError>);

impl Errors {
    pub(super) fn check<T>(&mut self, field: Field, r: Result<T, Problem>) -> Option<T> {
        r.map_err(|p| self.0.push(SettingsError::new(field, p))).ok()
    }

    fn take<T>(&mut self, r: Result<T, SettingsError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }
}

/// Microsoft Graph's server: graph.microsoft.com over TLS (also when left empty), or a loopback
/// address (a local test server, with the encryption given); nothing else, so no mailbox's settings
/// can send its token or requests to another host.
fn graph_endpoint<'a>(host: &'a str, tls: Option<TlsMode>, errors: &mut Errors) -> (&'a str, Option<TlsMode>) {
    const GRAPH_HOST: &str = "graph.microsoft.com";
    if host.is_empty() || host.eq_ignore_ascii_case(GRAPH_HOST) {
        return (GRAPH_HOST, Some(TlsMode::Implicit));
    }
    let loopback =
        host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback || tls == Some(TlsMode::StartTls) {
        errors.check::<()>(Field::Host, Err(Problem::GraphHost));
    }
    (host, tls)
}

pub(super) fn host_problem(host: &str) -> Option<Problem> {
    if host.is_empty() {
        Some(Problem::HostMissing)
    } else if host.contains(char::is_whitespace) {
        Some(Problem::HostHasSpace)
    } else {
        None
    }
}

fn or_default(given: &str, default: &str) -> String {
    if given.trim().is_empty() { default.to_string() } else { given.trim().to_string() }
}
