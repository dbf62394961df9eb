//! Sending mail with the office's SMTP settings („E-Mail-Versand“): [`send`] loads them, opens the
//! password for exactly the endpoint it was entered for, connects (net policy, TLS, no downgrade)
//! and submits one composed mail. What the lead's dispatcher calls for notifications and
//! Eingangsbestätigungen; the form's „Testnachricht senden“ and `postkorb smtp test` go through
//! [`send_test`].
//!
//! ```ignore
//! // A notification:
//! let mail = service::smtp::outgoing(&ctx, to, subject, text, AutoSubmitted::Generated).await?;
//! service::smtp::send(&ctx, &mail).await?;
//! // An Eingangsbestätigung, from `LoggedEvent::ack_facts` of a `created` event (or `Store::kept_ack_facts`):
//! if let Some(ack) = postkorb_core::ack::decide(&facts, &arrival, &mailbox.ack, &own_addresses)
//!     && ctx.store.ack_claim(mailbox.id, &ack.to, now_ms, mailbox.ack.hours).await?
//! {
//!     let s = ctx.store.smtp_settings().await?.ok_or(SendError::NotConfigured)?;
//!     service::smtp::send(&ctx, &service::smtp::ack_mail(&s, &ack, now_ms)).await?;
//! }
//! ```

use postkorb_core::mailbox::TlsMode;
use postkorb_mail::compose::{AutoSubmitted, Mailbox, Outgoing, compose, message_id};
use postkorb_source::smtp::{SmtpConfig, SmtpError, send_mail};
use postkorb_store::SmtpRecord;

use crate::Ctx;
use crate::secret::SecretKey;

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no SMTP settings: run `postkorb smtp set` or fill in „E-Mail-Versand“")]
    NotConfigured,
    /// The stored password was entered for other settings (or the key file changed).
    #[error("the stored SMTP password does not open for these settings: enter it again")]
    Secret,
    #[error("{0}")]
    Smtp(#[from] SmtpError),
    #[error("database: {0}")]
    Store(#[from] postkorb_store::StoreError),
}

impl SendError {
    /// Worth trying again later (the dispatcher's retry).
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Smtp(e) => e.is_transient(),
            SendError::Store(_) => true,
            SendError::NotConfigured | SendError::Secret => false,
        }
    }

    /// For the screens: what went wrong, never the server's own words.
    pub fn german(&self) -> String {
        match self {
            SendError::NotConfigured => "Der E-Mail-Versand ist noch nicht eingerichtet.".into(),
            SendError::Secret => "Das gespeicherte Passwort gilt nicht für diese Einstellungen. Bitte geben Sie es \
                                  erneut ein."
                .into(),
            SendError::Smtp(e) => e.german(),
            SendError::Store(_) => {
                "Die Einstellungen konnten nicht gelesen werden. Bitte später erneut versuchen.".into()
            }
        }
    }
}

/// The connection settings of `s`, its password opened for its endpoint.
pub fn config(s: &SmtpRecord, key: &SecretKey, net: postkorb_source::NetPolicy) -> Result<SmtpConfig, SendError> {
    let password = match &s.secret {
        Some(blob) => key.open(blob, &s.secret_binding()).map_err(|_| SendError::Secret)?,
        None => String::new(),
    };
    Ok(SmtpConfig {
        host: s.host.clone(),
        port: u16::try_from(s.port).unwrap_or(0),
        tls: TlsMode::from_code(&s.tls).unwrap_or(TlsMode::StartTls),
        username: s.username.clone(),
        password,
        ca_file: s.ca_file.clone().filter(|p| !p.trim().is_empty()).map(Into::into),
        net,
    })
}

/// `s` with `password` sealed for it, as it is about to be saved.
pub fn with_password(mut s: SmtpRecord, key: &SecretKey, password: &str) -> anyhow::Result<SmtpRecord> {
    s.secret = Some(key.seal(password, &s.secret_binding())?);
    Ok(s)
}

/// A mail from the office's sender to `to`, dated now with a fresh Message-ID.
pub async fn outgoing(
    ctx: &Ctx,
    to: &str,
    subject: &str,
    text: &str,
    auto: AutoSubmitted,
) -> Result<Outgoing, SendError> {
    let s = ctx.store.smtp_settings().await?.ok_or(SendError::NotConfigured)?;
    Ok(outgoing_from(&s, to, subject, text, auto, ctx.clock.now_ms()))
}

/// [`outgoing`] with the settings and the time given.
pub fn outgoing_from(
    s: &SmtpRecord,
    to: &str,
    subject: &str,
    text: &str,
    auto: AutoSubmitted,
    now_ms: i64,
) -> Outgoing {
    let mut unique = [0u8; 8];
    let _ = getrandom::fill(&mut unique);
    let domain = s.sender_address.rsplit('@').next().unwrap_or_default();
    Outgoing {
        from: Mailbox { name: s.sender_name.clone(), address: s.sender_address.clone() },
        to: vec![Mailbox { name: String::new(), address: to.to_string() }],
        subject: subject.to_string(),
        date_ms: now_ms,
        message_id: message_id(now_ms, u64::from_le_bytes(unique), domain),
        auto,
        in_reply_to: None,
        references: Vec::new(),
        text: text.to_string(),
    }
}

/// The Eingangsbestätigung `ack` (from `postkorb_core::ack::decide`, after `Store::ack_claim`
/// said yes) as a mail: `Auto-Submitted: auto-replied`, answering the sender's Message-ID.
pub fn ack_mail(s: &SmtpRecord, ack: &postkorb_core::ack::Ack, now_ms: i64) -> Outgoing {
    let mut mail = outgoing_from(s, &ack.to, &ack.subject, &ack.text, AutoSubmitted::Replied, now_ms);
    mail.in_reply_to = ack.in_reply_to.clone();
    mail.references = ack.in_reply_to.iter().cloned().collect();
    mail
}

/// Sends one mail with the stored settings (envelope sender: the office's sender address).
pub async fn send(ctx: &Ctx, mail: &Outgoing) -> Result<(), SendError> {
    let s = ctx.store.smtp_settings().await?.ok_or(SendError::NotConfigured)?;
    send_with(&s, &ctx.key, ctx.settings.net(), mail).await
}

/// [`send`] with these settings.
pub async fn send_with(
    s: &SmtpRecord,
    key: &SecretKey,
    net: postkorb_source::NetPolicy,
    mail: &Outgoing,
) -> Result<(), SendError> {
    let cfg = config(s, key, net)?;
    let to: Vec<String> = mail.to.iter().map(|m| m.address.clone()).collect();
    send_mail(&cfg, &s.sender_address, &to, &compose(mail)).await?;
    Ok(())
}

/// „Testnachricht senden“: a short German mail to `to`.
pub async fn send_test(ctx: &Ctx, to: &str) -> Result<(), SendError> {
    let text = "Diese Testnachricht hat Postkorb gesendet. Der E-Mail-Versand ist richtig eingerichtet.\n\n\
                Postkorb sendet damit Benachrichtigungen und – wenn eingeschaltet – Eingangsbestätigungen.";
    let mail = outgoing(ctx, to.trim(), "Testnachricht von Postkorb", text, AutoSubmitted::Generated).await?;
    send(ctx, &mail).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use postkorb_core::ack::{Ack, AckFacts, AckSettings, Arrival, Verified, decide};

    #[test]
    fn an_acknowledgement_answers_the_mail_and_reads_back_as_auto_replied() {
        let s = SmtpRecord {
            sender_address: "vorgaenge@buero.test".into(),
            sender_name: "Büro Muster".into(),
            ..SmtpRecord::default()
        };
        let facts = AckFacts {
            sender: Some("kunde@example.de".into()),
            verified: Verified::Yes,
            message_id: Some("m1@example.de".into()),
            subject: "Schäden am Dach".into(),
            ..AckFacts::default()
        };
        let settings = AckSettings { enabled: true, ..AckSettings::default() };
        let ack: Ack =
            decide(&facts, &Arrival::Vorgang { bearbeiter: Some("Bernd Büro".into()) }, &settings, &[]).unwrap();
        let raw = compose(&ack_mail(&s, &ack, 1_800_000_000_000));
        let parsed = postkorb_mail::parse(&raw);
        assert_eq!(parsed.subject, "Eingangsbestätigung: Schäden am Dach");
        assert!(parsed.text.contains("wird von Bernd Büro bearbeitet"), "{}", parsed.text);
        assert!(parsed.automatic.as_deref().is_some_and(|a| a.contains("auto-replied")));
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("In-Reply-To: <m1@example.de>") && text.contains("References: <m1@example.de>"));
        assert!(text.contains("To: <kunde@example.de>"), "{text}");
    }
}
