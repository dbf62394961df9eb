//! The integration tests of the postkorb app in one binary: the importer against a real Dovecot,
//! the serve loop, the CLI as a process, the web over HTTP and in Chromium, and the scale-out on
//! PostgreSQL.

mod absence_import;
mod api_schema;
mod blob_dir;
mod browser;
mod cli;
mod common;
mod dns_stall;
mod dovecot_import;
mod hostile_import;
mod layers;
mod lease_crash;
mod mailboxes_two;
mod oauth;
mod office;
mod onboarding;
mod push_idle;
mod scale_claims;
mod scale_import;
mod scale_migrate;
mod scale_support;
mod serve;
mod smtp_send;
mod test_dns;
mod web_absence;
mod web_cases;
mod web_http;
mod web_mailboxes;
mod web_office;
mod web_search;
mod web_smtp;
mod web_workflow;
