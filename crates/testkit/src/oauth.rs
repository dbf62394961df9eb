//! A tiny local OAuth2 server for the XOAUTH2 tests, standing in for Microsoft's and Google's:
//! Dovecot's oauth2 passdb asks it whether an access token is valid (RFC 7662 introspection,
//! `POST /introspect`), and Postkorb uses it as token endpoint (`POST /token`: refresh with
//! rotation, device code) and device authorization endpoint (`POST /devicecode`); its sign-in page
//! (`GET /authorize`) has a link „Zustimmen“ that sends the browser back with a code.
//!
//! Refresh tokens rotate strictly: each refresh issues a new access token and a new refresh
//! token and invalidates the old refresh token, so a client that loses the rotated one is locked out.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::{encode, parse_form};

#[derive(Default)]
struct State {
    /// access token → user
    access: HashMap<String, String>,
    /// refresh token → user (only the current one per grant is valid)
    refresh: HashMap<String, String>,
    counter: u64,
    /// Characters appended to every new access token (to make them long).
    padding: usize,
    refreshes: Vec<String>,
    device_polls: u32,
    /// device code → user once "approved"
    device: HashMap<String, String>,
    requests: Vec<String>,
    /// Applications allowed the client credentials grant: client ID → secret.
    apps: HashMap<String, String>,
    /// Applications with a certificate credential: client ID → (x5t, RSA public key, PKCS#1 DER).
    app_certs: HashMap<String, (String, Vec<u8>)>,
}

/// The running mock; it serves until the test process ends.
#[derive(Clone)]
pub struct OAuthServer {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl OAuthServer {
    /// Binds a free loopback port and serves each request on a thread.
    pub fn start() -> OAuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind oauth mock");
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let server = OAuthServer { port, state };
        let serving = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = serving.clone();
                std::thread::spawn(move || s.serve(stream));
            }
        });
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Dovecot's `introspection_url`.
    pub fn introspection_url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    /// The sign-in page of the browser flow, on the given loopback host name (`localhost` is
    /// another site than `127.0.0.1` for the browser's cookie rules).
    pub fn authorize_url(&self, host: &str) -> String {
        format!("http://{host}:{}/authorize", self.port)
    }

    /// The token endpoint (refresh, device code grant).
    pub fn token_url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The device authorization endpoint.
    pub fn device_url(&self) -> String {
        format!("http://127.0.0.1:{}/devicecode", self.port)
    }

    /// Makes every access token issued from now on at least `len` characters long.
    pub fn long_tokens(&self, len: usize) {
        self.lock().padding = len;
    }

    /// Issues a fresh access token and refresh token for `user`, as a completed consent would.
    pub fn issue(&self, user: &str) -> (String, String) {
        let mut st = self.lock();
        let access = new_access(&mut st, user);
        let refresh = new_refresh(&mut st, user);
        (access, refresh)
    }

    /// Who an access token stands for: the user's address, or `app:{client_id}` for a token of
    /// the client credentials grant; None once revoked or expired. The Graph double asks this.
    pub fn principal_of(&self, access_token: &str) -> Option<String> {
        self.lock().access.get(access_token).cloned()
    }

    /// Allows the client credentials grant (application access) for `client_id` with `secret`.
    pub fn register_app(&self, client_id: &str, secret: &str) {
        self.lock().apps.insert(client_id.into(), secret.into());
    }

    /// Allows the client credentials grant for `client_id` with a client assertion (RFC 7523) signed
    /// by the key of `cert` — Microsoft's certificate credential: header `x5t` = the certificate's
    /// SHA-1, `aud` = this token URL, `iss` = `sub` = the client ID, RS256.
    pub fn register_app_certificate(&self, client_id: &str, cert: &crate::certs::AppCertificate) {
        use base64::Engine;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.cert_der);
        let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1.as_ref());
        self.lock().app_certs.insert(client_id.into(), (x5t, cert.public_key_der.clone()));
    }

    /// Lets an access token expire (as `revoke`: it is no longer accepted anywhere).
    pub fn expire(&self, access_token: &str) {
        self.revoke(access_token);
    }

    /// Revokes an access token (it no longer passes introspection).
    pub fn revoke(&self, access_token: &str) {
        self.lock().access.remove(access_token);
    }

    /// Whether this refresh token is the currently valid one.
    pub fn refresh_valid(&self, refresh_token: &str) -> bool {
        self.lock().refresh.contains_key(refresh_token)
    }

    /// The refresh tokens presented to `/token` so far, accepted or not, in order.
    pub fn refreshes(&self) -> Vec<String> {
        self.lock().refreshes.clone()
    }

    /// Request lines (method + path) seen so far.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The user code approves the next device flow for `user` after the client polled once; an
    /// authorization code grant with the code `code-ok` also signs in as `user`.
    pub fn approve_devices_for(&self, user: &str) {
        self.lock().device.insert("*".into(), user.into());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(match stream.try_clone() {
            Ok(s) => s,
            Err(_) => return,
        });
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        let mut form = parse_form(&String::from_utf8_lossy(&body));
        if method == "GET" {
            form.extend(parse_form(target.split_once('?').map(|x| x.1).unwrap_or("")));
        }
        self.lock().requests.push(format!("{method} {path}"));
        if path == "/authorize" {
            // The provider's sign-in page: the user approves there (a click on this page, as on
            // Microsoft's), and the provider's page sends the browser back with a code — a
            // navigation started by the provider's site, as in real life.
            let redirect = form.get("redirect_uri").cloned().unwrap_or_default();
            let state = form.get("state").cloned().unwrap_or_default();
            let back = format!("{}?code=code-ok&amp;state={}", redirect.replace('"', ""), encode(&state));
            let page = format!(
                "<!doctype html><html><body><h1>Anmelden</h1><a id=\"approve\" href=\"{back}\">Zustimmen</a></body></html>"
            );
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let mut stream = stream;
            let _ = stream.write_all(answer.as_bytes());
            return;
        }
        let (status, json) = match path {
            "/introspect" => self.introspect(&form),
            "/token" => self.token(&form),
            "/devicecode" => self.device_code(),
            _ => (404, r#"{"error":"not_found"}"#.to_string()),
        };
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let answer = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        );
        let mut stream = stream;
        let _ = stream.write_all(answer.as_bytes());
        let _ = stream.flush();
    }

    fn introspect(&self, form: &HashMap<String, String>) -> (u16, String) {
        let token = form.get("token").cloned().unwrap_or_default();
        match self.lock().access.get(&token) {
            Some(user) => (200, format!(r#"{{"active":true,"username":"{user}"}}"#)),
            None => (200, r#"{"active":false}"#.to_string()),
        }
    }

    fn token(&self, form: &HashMap<String, String>) -> (u16, String) {
        let mut st = self.lock();
        match form.get("grant_type").map(String::as_str) {
            Some("refresh_token") => {
                let presented = form.get("refresh_token").cloned().unwrap_or_default();
                st.refreshes.push(presented.clone());
                let Some(user) = st.refresh.remove(&presented) else {
                    return (
                        400,
                        r#"{"error":"invalid_grant","error_description":"refresh token unknown or used"}"#.into(),
                    );
                };
                let access = new_access(&mut st, &user);
                let refresh = new_refresh(&mut st, &user);
                (200, token_json(&access, Some(&refresh)))
            }
            Some("urn:ietf:params:oauth:grant-type:device_code") => {
                st.device_polls += 1;
                if st.device_polls < 2 {
                    return (400, r#"{"error":"authorization_pending"}"#.into());
                }
                let Some(user) = st.device.get("*").cloned() else {
                    return (400, r#"{"error":"access_denied"}"#.into());
                };
                let access = new_access(&mut st, &user);
                let refresh = new_refresh(&mut st, &user);
                (200, token_json(&access, Some(&refresh)))
            }
            // The authorization code grant: the code `code-ok`, sent with a PKCE verifier.
            Some("authorization_code") => {
                let pkce = form.get("code_verifier").is_some_and(|v| v.len() >= 43);
                if form.get("code").map(String::as_str) != Some("code-ok") || !pkce {
                    return (
                        400,
                        r#"{"error":"invalid_grant","error_description":"bad code or no PKCE verifier"}"#.into(),
                    );
                }
                let user = st.device.get("*").cloned().unwrap_or_default();
                let access = new_access(&mut st, &user);
                let refresh = new_refresh(&mut st, &user);
                (200, token_json(&access, Some(&refresh)))
            }
            // Application access: the secret in the body (or Basic auth is not offered); no refresh token.
            Some("client_credentials") => {
                let id = form.get("client_id").cloned().unwrap_or_default();
                let secret = form.get("client_secret").cloned().unwrap_or_default();
                let by_certificate = form.get("client_assertion_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
                let accepted = if by_certificate {
                    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
                    secret.is_empty()
                        && st
                            .app_certs
                            .get(&id)
                            .is_some_and(|(x5t, key)| assertion_ok(&assertion, &id, x5t, key, &self.token_url()))
                } else {
                    !secret.is_empty() && st.apps.get(&id).is_some_and(|s| *s == secret)
                };
                if !accepted {
                    return (
                        401,
                        r#"{"error":"invalid_client","error_description":"unknown client or wrong secret"}"#.into(),
                    );
                }
                let access = new_access(&mut st, &format!("app:{id}"));
                (200, token_json(&access, None))
            }
            other => (400, format!(r#"{{"error":"unsupported_grant_type","error_description":"{other:?}"}}"#)),
        }
    }

    fn device_code(&self) -> (u16, String) {
        let url = format!("http://127.0.0.1:{}/device", self.port);
        (
            200,
            format!(
                r#"{{"device_code":"dev-1","user_code":"ABCD-EFGH","verification_uri":"{url}","expires_in":900,"interval":1}}"#
            ),
        )
    }
}

/// Whether `jwt` is a client assertion for `client_id` at `token_url`, signed (RS256) by `key` of
/// the certificate `x5t`, not expired (by this machine's clock).
fn assertion_ok(jwt: &str, client_id: &str, x5t: &str, key: &[u8], token_url: &str) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else { return false };
    let json = |part: &str| -> Option<serde_json::Value> { serde_json::from_slice(&b64.decode(part).ok()?).ok() };
    let (Some(h), Some(p), Ok(sig)) = (json(header), json(payload), b64.decode(signature)) else { return false };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let claims_ok = text(&h, "alg") == "RS256"
        && text(&h, "x5t") == x5t
        && text(&p, "aud") == token_url
        && text(&p, "iss") == client_id
        && text(&p, "sub") == client_id
        && !text(&p, "jti").is_empty()
        && p.get("exp").and_then(|e| e.as_i64()).is_some_and(|e| e > now);
    let signed = format!("{header}.{payload}");
    claims_ok
        && ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
            .verify(signed.as_bytes(), &sig)
            .is_ok()
}

fn token_json(access: &str, refresh: Option<&str>) -> String {
    let refresh = refresh.map(|r| format!(r#","refresh_token":"{r}""#)).unwrap_or_default();
    format!(r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600{refresh}}}"#)
}

fn new_access(st: &mut State, user: &str) -> String {
    st.counter += 1;
    let mut token = format!("access-{}", st.counter);
    while token.len() < st.padding {
        token.push('x');
    }
    st.access.insert(token.clone(), user.to_string());
    token
}

fn new_refresh(st: &mut State, user: &str) -> String {
    st.counter += 1;
    let token = format!("refresh-{}", st.counter);
    st.refresh.insert(token.clone(), user.to_string());
    token
}
