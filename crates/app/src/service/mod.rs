//! What Postkorb does, for every face (CLI, web, serve loop): connect a mailbox with its sealed
//! secret (`mailbox`), run the one importer step (`importer`: a pass, a bulk import, a dry run),
//! hold a mailbox's fetch lease (`lease`), fetch every mailbox (`fetch`), tally a dry run
//! (`dryrun`), index older Vorgänge for the search (`search`), announce due Wiedervorlagen
//! (`follow_ups`), convert stored mails to encrypted storage (`sealing`), tell others what happened (`dispatch`: the outbox with its channels — webhooks,
//! e-mail notifications, Eingangsbestätigung), send mail (`smtp`: the office's SMTP settings,
//! `smtp::send`), and OAuth2 (`oauth`: providers, refresh, device code and PKCE flows). Nothing here
//! prints; `crate::cli` and `crate::serve` present the results.

pub mod dispatch;
pub mod dryrun;
pub mod fetch;
pub mod follow_ups;
pub mod importer;
pub mod lease;
pub mod mailbox;
pub mod oauth;
pub mod retention;
pub mod sealing;
pub mod search;
pub mod smtp;
