//! XOAUTH2 logins (IMAP AUTHENTICATE, POP3 AUTH) against Dovecot's oauth2 passdb, which checks
//! every token at a local introspection endpoint standing in for Microsoft's or Google's.

use crate::common;

use common::*;
use postkorb_source::{Auth, Session, SourceConfig, SourceError};
use postkorb_testkit::{Dovecot, OAuthServer, Options};

/// Dovecot with the usual password user (for delivering) that also accepts XOAUTH2 tokens
/// the local OAuth server vouches for.
fn oauth_dovecot() -> (Dovecot, OAuthServer) {
    let oauth = OAuthServer::start();
    let dovecot =
        Dovecot::start_with(Options { oauth2_introspection: Some(oauth.introspection_url()), ..Options::default() });
    dovecot.add_user(USER, PASSWORD);
    (dovecot, oauth)
}

fn with_token(mut cfg: SourceConfig, token: &str) -> SourceConfig {
    cfg.password = String::new();
    cfg.auth = Auth::XOAuth2 { access_token: token.into() };
    cfg
}

async fn fetch_all(cfg: &SourceConfig) -> Result<Vec<Vec<u8>>, SourceError> {
    let mut session = Session::connect(cfg).await?;
    let keys: Vec<String> = session.list().await?.into_iter().map(|e| e.key).collect();
    let raw = session.fetch(&keys).await?.into_iter().map(|f| f.raw.to_vec()).collect();
    session.close().await?;
    Ok(raw)
}

#[tokio::test]
async fn imap_and_pop3_log_in_with_a_valid_access_token_and_fetch() {
    let (dovecot, oauth) = oauth_dovecot();
    dovecot.deliver(USER, &simple_mail(1));
    let (access, _refresh) = oauth.issue(USER);
    let imap =
        fetch_all(&with_token(imap(&dovecot), &access)).await.unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(imap, vec![simple_mail(1)]);
    let pop3 =
        fetch_all(&with_token(pop3(&dovecot), &access)).await.unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(pop3, vec![simple_mail(1)]);
    assert!(oauth.requests().iter().any(|r| r == "POST /introspect"), "Dovecot never asked the token endpoint");
}

#[tokio::test]
async fn an_invalid_or_revoked_token_is_a_login_error_over_imap_and_pop3() {
    let (dovecot, oauth) = oauth_dovecot();
    let (access, _refresh) = oauth.issue(USER);
    oauth.revoke(&access);
    for cfg in [with_token(imap(&dovecot), &access), with_token(pop3(&dovecot), "made-up-token")] {
        match Session::connect(&cfg).await {
            Err(SourceError::Login(detail)) => {
                assert!(detail.starts_with(postkorb_source::XOAUTH2_FAILED), "{detail}");
                assert!(!detail.contains(&access), "the token leaked into the error: {detail}");
            }
            Err(other) => panic!("{:?}: expected a login error, got {other}", cfg.protocol),
            Ok(_) => panic!("{:?}: a revoked token logged in", cfg.protocol),
        }
    }
}

#[tokio::test]
async fn a_long_token_works_and_pop3_sends_it_after_the_servers_challenge_instead_of_inline() {
    let (dovecot, oauth) = oauth_dovecot();
    dovecot.deliver(USER, &simple_mail(2));
    // Microsoft's tokens are well over a kilobyte: too long for the 255-octet POP3 command line.
    oauth.long_tokens(1500);
    let (access, _refresh) = oauth.issue(USER);
    assert!(access.len() >= 1500);
    let pop3 =
        fetch_all(&with_token(pop3(&dovecot), &access)).await.unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(pop3, vec![simple_mail(2)]);
    let imap =
        fetch_all(&with_token(imap(&dovecot), &access)).await.unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(imap, vec![simple_mail(2)]);
}

#[test]
fn the_access_token_never_shows_in_debug_output() {
    let cfg = with_token(
        common::config(postkorb_source::Protocol::Imap, 1, postkorb_source::Disposal::Delete),
        "tok-SECRET-42",
    );
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("tok-SECRET-42"), "{shown}");
    assert!(shown.contains("XOAuth2"), "{shown}");
}
