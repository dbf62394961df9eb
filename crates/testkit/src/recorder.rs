//! A listener that plays a mail server's greeting and records every byte it is sent: the
//! "attacker's host" of the credential-exfiltration tests. Whatever Postkorb sends it — a LOGIN
//! with a password, an XOAUTH2 token — ends up in [`Recorder::received`].

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Recorder {
    port: u16,
    received: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<usize>>,
}

impl Recorder {
    /// Listens on a free loopback port; greets every connection with `greeting` (e.g.
    /// `"* OK IMAP4rev1 ready\r\n"`) and answers every line with `reply` (empty: hangs up after
    /// the greeting).
    pub fn start(greeting: &'static str, reply: &'static str) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (rec, conns) = (received.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                *conns.lock().unwrap() += 1;
                let rec = rec.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                    let _ = stream.write_all(greeting.as_bytes());
                    if reply.is_empty() {
                        // Greets and hangs up.
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        rec.lock().unwrap().extend_from_slice(&buf[..n]);
                        if buf[..n].contains(&b'\n') && stream.write_all(reply.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Recorder { port, received, connections }
    }

    /// An IMAP-looking server that accepts nothing.
    pub fn imap() -> Recorder {
        Recorder::start("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2] ready\r\n", "* BAD try again\r\n")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    /// Whether `needle` was ever sent to this listener.
    pub fn got(&self, needle: &str) -> bool {
        self.received().windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}
