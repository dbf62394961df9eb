//! The DNS the app's in-process tests verify senders with. They share one process, so they share
//! the importer's process-wide resolver (`importer::set_resolver`, settable once): this one,
//! installed by every fixture before anything verifies. Its name server on loopback swallows every
//! query (no test depends on outside DNS; a lookup fails after 2 s), and the Ed25519 DKIM key of
//! mustermail.de (selector s1) is pinned, so mails signed with `signing_key` verify.

use std::net::UdpSocket;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use mail_auth::common::crypto::Ed25519Key;

pub struct TestDns {
    pkcs8: Vec<u8>,
    _silent: UdpSocket,
}

impl TestDns {
    /// The private key whose public half is pinned for every domain `pin`ned (mustermail.de).
    pub fn signing_key(&self) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(&self.pkcs8).unwrap()
    }
}

/// Installs the test resolver (once per process) and returns it.
pub fn install() -> &'static TestDns {
    static DNS: OnceLock<TestDns> = OnceLock::new();
    DNS.get_or_init(|| {
        let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let resolver = postkorb_verify::Resolver::with_name_server(silent.local_addr().unwrap())
            .unwrap()
            .with_lookup_timeout(Duration::from_secs(2));
        let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
        let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
        resolver.add_dkim_key("s1", "mustermail.de", &format!("v=DKIM1; k=ed25519; p={public}")).unwrap();
        assert!(
            postkorb_app::service::importer::set_resolver(resolver),
            "something verified a sender before the test resolver was installed: call \
             test_dns::install() in that test's fixture"
        );
        TestDns { pkcs8, _silent: silent }
    })
}
