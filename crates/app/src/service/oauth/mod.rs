//! OAuth2 for XOAUTH2 mailboxes (Microsoft 365, Gmail), by concern: `providers` (endpoints and
//! scopes), `client` (the HTTP client for token endpoints, token errors), `refresh` (before each
//! pass; a rotated token is never lost), `connect` (what a flow stores), `device` (device code
//! flow), `pkce` (authorization code flow with PKCE) and `app` (application access to Microsoft
//! Graph: the client credentials grant).

mod app;
mod assertion;
mod client;
mod connect;
mod device;
mod pkce;
mod providers;
mod refresh;

pub use app::connect_app;
pub use client::{TokenError, TokenFailure, german_failure, http_client};
pub use connect::Connect;
pub use device::{DevicePrompt, connect_device};
pub use pkce::{AuthStart, code_from_redirect, finish_auth_code, start_auth_code};
pub use providers::Provider;
pub use refresh::{REFRESH_MARGIN_MS, STALE_REFRESH_MS, ensure_fresh, fresh_config, token_status};
