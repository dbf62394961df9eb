//! The one validator of the SMTP settings („E-Mail-Versand“): the form and `smtp set` hand in what
//! a person typed and get typed settings or every error at once (the mailbox settings' errors).

use super::validate::{Errors, host_problem};
use super::{Field, PathRule, Problem, SettingsError, TlsMode};
use crate::EmailAddress;

/// The settings as typed; empty means not given.
#[derive(Clone, Debug, Default)]
pub struct SmtpInput<'a> {
    pub host: &'a str,
    /// Empty: 465 with implicit TLS, 587 with STARTTLS, 25 without.
    pub port: &'a str,
    pub tls: &'a str,
    /// Empty: no login (a relay that trusts this host).
    pub username: &'a str,
    /// Whether a password is given now or stored for this endpoint.
    pub has_password: bool,
    pub ca_file: &'a str,
    pub sender_address: &'a str,
    pub sender_name: &'a str,
}

/// Valid SMTP settings (the password is the caller's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub ca_file: Option<String>,
    /// The From of every mail Postkorb sends.
    pub sender: EmailAddress,
    pub sender_name: String,
}

/// The usual submission port of an encryption.
pub fn smtp_default_port(tls: TlsMode) -> u16 {
    match tls {
        TlsMode::Implicit => 465,
        TlsMode::StartTls => 587,
        TlsMode::None => 25,
    }
}

/// Whether `host` names this machine (the only place a password may go without TLS).
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks every setting and answers with all errors.
pub fn validate_smtp(input: &SmtpInput, paths: &dyn PathRule) -> Result<SmtpSettings, Vec<SettingsError>> {
    let mut errors = Errors(Vec::new());
    let host = input.host.trim();
    let host_ok = match host_problem(host) {
        Some(Problem::HostMissing) => errors.check(Field::Host, Err::<(), _>(Problem::SmtpHostMissing)),
        Some(p) => errors.check(Field::Host, Err::<(), _>(p)),
        None => Some(()),
    };
    let tls =
        errors.check(Field::Tls, TlsMode::from_code(input.tls).ok_or_else(|| Problem::UnknownTls(input.tls.into())));
    let port = match input.port.trim() {
        "" => Some(tls.map_or(0, smtp_default_port)),
        given => errors.check(Field::Port, given.parse::<u16>().ok().filter(|p| *p > 0).ok_or(Problem::PortInvalid)),
    };
    let username = input.username.trim();
    if !username.is_empty() {
        errors.check(Field::Password, if input.has_password { Ok(()) } else { Err(Problem::SmtpPasswordMissing) });
        if tls == Some(TlsMode::None) && host_ok.is_some() && !is_local_host(host) {
            errors.check(Field::Tls, Err::<(), _>(Problem::PlainLoginRemote));
        }
    }
    let ca_file = match input.ca_file.trim() {
        "" => Some(None),
        given => errors.check(Field::CaFile, paths.ca_file(given)).map(Some),
    };
    let sender = errors
        .check(Field::SenderAddress, EmailAddress::parse(input.sender_address.trim()).map_err(Problem::SenderInvalid));
    let name = input.sender_name.trim();
    let name_ok = name.chars().count() <= 100 && !name.contains(['\r', '\n']);
    errors.check(Field::SenderName, if name_ok { Ok(()) } else { Err(Problem::SenderNameInvalid) });
    match (host_ok, tls, port, ca_file, sender) {
        (Some(()), Some(tls), Some(port), Some(ca_file), Some(sender)) if errors.0.is_empty() => Ok(SmtpSettings {
            host: host.to_string(),
            port,
            tls,
            username: username.to_string(),
            ca_file,
            sender,
            sender_name: name.to_string(),
        }),
        _ => Err(errors.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoPaths;
    impl PathRule for NoPaths {
        fn maildir(&self, _: &str) -> Result<String, Problem> {
            Err(Problem::PathNoRoot)
        }
        fn ca_file(&self, given: &str) -> Result<String, Problem> {
            Ok(given.to_string())
        }
    }

    fn good() -> SmtpInput<'static> {
        SmtpInput {
            host: "smtp.buero.de",
            tls: "starttls",
            username: "versand@buero.de",
            has_password: true,
            sender_address: "vorgaenge@buero.de",
            sender_name: "Büro Muster",
            ..SmtpInput::default()
        }
    }

    #[test]
    fn good_settings_get_the_usual_port() {
        let s = validate_smtp(&good(), &NoPaths).unwrap();
        assert_eq!((s.port, s.tls, s.sender.as_str()), (587, TlsMode::StartTls, "vorgaenge@buero.de"));
        let s = validate_smtp(&SmtpInput { tls: "implicit", ..good() }, &NoPaths).unwrap();
        assert_eq!(s.port, 465);
    }

    #[test]
    fn each_mistake_is_named_at_its_field() {
        let cases: Vec<(SmtpInput, Field, Problem)> = vec![
            (SmtpInput { host: "", ..good() }, Field::Host, Problem::SmtpHostMissing),
            (SmtpInput { host: "smtp buero", ..good() }, Field::Host, Problem::HostHasSpace),
            (SmtpInput { port: "0", ..good() }, Field::Port, Problem::PortInvalid),
            (SmtpInput { tls: "ssl3", ..good() }, Field::Tls, Problem::UnknownTls("ssl3".into())),
            (SmtpInput { has_password: false, ..good() }, Field::Password, Problem::SmtpPasswordMissing),
            (SmtpInput { tls: "none", ..good() }, Field::Tls, Problem::PlainLoginRemote),
            (SmtpInput { sender_name: "A\r\nBcc: x@y.de", ..good() }, Field::SenderName, Problem::SenderNameInvalid),
        ];
        for (input, field, problem) in cases {
            let errors = validate_smtp(&input, &NoPaths).unwrap_err();
            assert!(errors.contains(&SettingsError::new(field, problem.clone())), "{problem:?}: {errors:?}");
            for e in &errors {
                assert!(!e.german().is_empty() && e.english().starts_with("--"), "{e:?}");
            }
        }
        let errors = validate_smtp(&SmtpInput { sender_address: "kein-at", ..good() }, &NoPaths).unwrap_err();
        assert_eq!(errors[0].field, Field::SenderAddress);
    }

    #[test]
    fn plain_text_is_fine_without_login_or_to_this_machine() {
        assert!(
            validate_smtp(&SmtpInput { tls: "none", username: "", has_password: false, ..good() }, &NoPaths).is_ok()
        );
        for host in ["localhost", "127.0.0.1", "::1"] {
            assert!(validate_smtp(&SmtpInput { tls: "none", host, ..good() }, &NoPaths).is_ok(), "{host}");
        }
    }
}
