//! The integration tests of postkorb-verify in one binary: DKIM, Authentication-Results and a
//! stalling DNS.

mod auth_results;
mod dkim;
mod dns_stall;
mod signer;
