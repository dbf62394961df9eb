//! OAuth2 settings and tokens on both backends: saving settings never erases stored tokens, a
//! refresh stores the rotated refresh token with the new access token, and is no settings change.

use crate::common;
use common::backends;
use postkorb_store::{MailboxRecord, OAuthFields, OAuthTokens};

fn record() -> MailboxRecord {
    MailboxRecord {
        host: "outlook.office365.com".into(),
        port: 993,
        tls: "implicit".into(),
        username: "vorgaenge@office.test".into(),
        ..common::office::mailbox_record("m365")
    }
}

#[tokio::test]
async fn a_new_mailbox_logs_in_with_a_password_unless_told_otherwise() {
    for (store, _dir) in backends().await {
        let saved = store.save_mailbox(&record(), 1).await.unwrap();
        assert_eq!(saved.auth, "password");
        assert_eq!(saved.oauth, OAuthFields::default());
    }
}

#[tokio::test]
async fn saving_the_form_without_tokens_keeps_the_stored_tokens_and_oauth_settings() {
    for (store, _dir) in backends().await {
        let mut m = record();
        m.auth = "xoauth2".into();
        m.oauth = OAuthFields {
            provider: Some("microsoft".into()),
            client_id: Some("client-1".into()),
            tenant: Some("office.test".into()),
            refresh: Some(b"enc-refresh-1".to_vec()),
            access: Some(b"enc-access-1".to_vec()),
            expires_ms: Some(5_000),
            refreshed_ms: Some(1_000),
            ..Default::default()
        };
        store.save_mailbox(&m, 1).await.unwrap();
        // The form knows nothing of tokens or the login method: it leaves them empty.
        let form = MailboxRecord { poll_secs: 30, ..record() };
        let saved = store.save_mailbox(&form, 2).await.unwrap();
        assert_eq!(saved.poll_secs, 30);
        assert_eq!(saved.auth, "xoauth2");
        assert_eq!(saved.oauth, m.oauth);
        assert!(!format!("{saved:?} {:?}", saved.oauth).contains("enc-refresh"), "tokens in Debug output");
        // An explicit switch back to the password is kept.
        let saved = store.save_mailbox(&MailboxRecord { auth: "password".into(), ..record() }, 3).await.unwrap();
        assert_eq!(saved.auth, "password");
        assert!(store.save_mailbox(&MailboxRecord { auth: "magic".into(), ..record() }, 4).await.is_err());
    }
}

#[tokio::test]
async fn a_refresh_stores_the_rotated_refresh_token_and_is_no_settings_change() {
    for (store, _dir) in backends().await {
        let mut m = record();
        m.auth = "xoauth2".into();
        m.oauth.refresh = Some(b"r1".to_vec());
        let saved = store.save_mailbox(&m, 10).await.unwrap();
        let rotated = OAuthTokens { access: b"a2".to_vec(), expires_ms: Some(99), refresh: Some(b"r2".to_vec()) };
        store.store_oauth_tokens(saved.id, &rotated, 20).await.unwrap();
        let after = store.mailbox("m365").await.unwrap();
        assert_eq!(after.oauth.refresh.as_deref(), Some(&b"r2"[..]));
        assert_eq!(after.oauth.access.as_deref(), Some(&b"a2"[..]));
        assert_eq!((after.oauth.expires_ms, after.oauth.refreshed_ms), (Some(99), Some(20)));
        assert_eq!(after.updated_ms, saved.updated_ms, "a refresh must not look like new settings");
        // A server that does not rotate: the refresh token stays.
        let kept = OAuthTokens { access: b"a3".to_vec(), expires_ms: Some(199), refresh: None };
        store.store_oauth_tokens(saved.id, &kept, 30).await.unwrap();
        let after = store.mailbox("m365").await.unwrap();
        assert_eq!(after.oauth.refresh.as_deref(), Some(&b"r2"[..]));
        assert_eq!(after.oauth.refreshed_ms, Some(20));
        assert!(store.store_oauth_tokens(9999, &kept, 40).await.is_err());
    }
}
