//! A throw-away certificate authority and server certificate for the TLS tests, made with the
//! `openssl` command line tool (Debian's, already needed by Dovecot's own packaging).
//!
//! The server certificate names `127.0.0.1` and [`SERVER_NAME`] only, so connecting as
//! `localhost` is a reliable "wrong host name".

use std::path::{Path, PathBuf};
use std::process::Command;

/// The DNS name in the test server certificate (besides the IP address 127.0.0.1).
pub const SERVER_NAME: &str = "dovecot.postkorb.test";

/// The PEM files of one test CA and the server certificate it signed.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA certificate a client must trust (give it as `ca_file`).
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = Postkorb Test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:dovecot.postkorb.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// Writes a fresh CA and a server certificate (P-256, valid for three days) into `dir`.
/// Panics with an install hint when `openssl` is missing.
pub fn generate(dir: &Path) -> TlsFiles {
    std::fs::create_dir_all(dir).expect("create tls dir");
    let cnf = dir.join("openssl.cnf");
    std::fs::write(&cnf, OPENSSL_CONFIG).expect("write openssl.cnf");
    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    };
    let ca_key = dir.join("ca.key");
    let csr = dir.join("server.csr");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        dir,
        &[&["req", "-x509", "-config"], &[p(&cnf)], &["-extensions", "v3_ca"], &ec, &["-days", "3"]],
        &[("-keyout", &ca_key), ("-out", &files.ca_cert)],
    );
    openssl(
        dir,
        &[&["req", "-new", "-config"], &[p(&cnf)], &ec, &["-subj", &format!("/CN={SERVER_NAME}")]],
        &[("-keyout", &files.server_key), ("-out", &csr)],
    );
    openssl(
        dir,
        &[&["x509", "-req", "-CAcreateserial", "-days", "3", "-extfile"], &[p(&cnf)], &["-extensions", "v3_server"]],
        &[("-in", &csr), ("-CA", &files.ca_cert), ("-CAkey", &ca_key), ("-out", &files.server_cert)],
    );
    files
}

/// An application's certificate credential (Microsoft Entra „Zertifikate“): what Postkorb is given
/// (`pem`: the PKCS#8 private key and the certificate) and what the token endpoint knows of it.
#[derive(Clone, Debug)]
pub struct AppCertificate {
    pub pem: String,
    /// The certificate, DER (the token endpoint's `x5t` is its SHA-1).
    pub cert_der: Vec<u8>,
    /// The RSA public key, PKCS#1 DER (what the signature is checked with).
    pub public_key_der: Vec<u8>,
}

/// A fresh RSA 2048 key and self-signed certificate in `dir` (valid for two days).
pub fn app_certificate(dir: &Path) -> AppCertificate {
    std::fs::create_dir_all(dir).expect("create cert dir");
    let (key, cert, cert_der, public) =
        (dir.join("app.key"), dir.join("app.pem"), dir.join("app.der"), dir.join("app-pub.der"));
    let rsa = ["-newkey", "rsa:2048", "-nodes", "-subj", "/CN=postkorb-app"];
    openssl(dir, &[&["req", "-x509", "-days", "2"], &rsa], &[("-keyout", &key), ("-out", &cert)]);
    openssl(dir, &[&["x509", "-outform", "DER"]], &[("-in", &cert), ("-out", &cert_der)]);
    openssl(dir, &[&["rsa", "-RSAPublicKey_out", "-outform", "DER"]], &[("-in", &key), ("-out", &public)]);
    let read = |path: &PathBuf| std::fs::read(path).expect("read openssl output");
    let pem = format!(
        "{}{}",
        String::from_utf8(read(&key)).expect("PEM is ASCII"),
        String::from_utf8(read(&cert)).expect("PEM is ASCII")
    );
    AppCertificate { pem, cert_der: read(&cert_der), public_key_der: read(&public) }
}

fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn openssl(dir: &Path, args: &[&[&str]], paths: &[(&str, &PathBuf)]) {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir);
    for group in args {
        cmd.args(*group);
    }
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("openssl not runnable ({e}): run `apt-get install -y openssl`"));
    assert!(
        out.status.success(),
        "openssl {:?} failed:\n{}",
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
}
