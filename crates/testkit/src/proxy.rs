//! A loopback TCP forwarder that tests put between client and server to kill connections on
//! purpose — at once (`cut`) or after a number of server bytes (`cut_after`) — so "connection
//! dropped in the middle of a fetch" is reproducible instead of a race. It also records what the
//! clients sent (`client_bytes`), to prove nothing secret crossed the wire in plaintext.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Default)]
struct Shared {
    /// Both ends of every live connection, so `cut` can shut them down.
    conns: Mutex<Vec<(TcpStream, TcpStream)>>,
    /// Server→client bytes still allowed before everything is cut; None = unlimited.
    budget: Mutex<Option<u64>>,
    /// Every byte any client sent, so tests can check what went over the wire in plaintext.
    from_clients: Mutex<Vec<u8>>,
    stopping: AtomicBool,
}

impl Shared {
    fn cut_all(&self) {
        let conns = std::mem::take(&mut *self.conns.lock().expect("conns lock"));
        for (client, server) in conns {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }
}

/// Forwards 127.0.0.1:`port()` to 127.0.0.1:`target`. Stops accepting when dropped.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        thread::spawn(move || accept_loop(listener, target, accept_shared));
        Proxy { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills every live connection now (both directions). New connections are still accepted.
    pub fn cut(&self) {
        self.shared.cut_all();
    }

    /// Kills the oldest connection only (both directions); the others go on.
    pub fn cut_oldest(&self) {
        let mut conns = self.shared.conns.lock().expect("conns lock");
        if !conns.is_empty() {
            let (client, server) = conns.remove(0);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }

    /// Everything clients have sent through the proxy so far, as seen on the wire.
    pub fn client_bytes(&self) -> Vec<u8> {
        self.shared.from_clients.lock().expect("recording lock").clone()
    }

    /// Lets `bytes` more server→client bytes through, then cuts every connection.
    pub fn cut_after(&self, bytes: u64) {
        *self.shared.budget.lock().expect("budget lock") = Some(bytes);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.cut_all();
        // Wake the blocking accept so the thread sees `stopping`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn accept_loop(listener: TcpListener, target: u16, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) =
            (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone())
        else {
            continue;
        };
        shared.conns.lock().expect("conns lock").push((c3, s3));
        let up_shared = shared.clone();
        thread::spawn(move || pump(c2, s2, Direction::Up(up_shared)));
        let down_shared = shared.clone();
        thread::spawn(move || pump(server, client, Direction::Down(down_shared)));
    }
}

/// Client→server bytes are recorded; server→client bytes count against the cut budget.
enum Direction {
    Up(Arc<Shared>),
    Down(Arc<Shared>),
}

/// Copies `from` → `to`.
fn pump(mut from: TcpStream, mut to: TcpStream, direction: Direction) {
    let shared = match &direction {
        Direction::Up(_) => None,
        Direction::Down(shared) => Some(shared.clone()),
    };
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Direction::Up(shared) = &direction {
            shared.from_clients.lock().expect("recording lock").extend_from_slice(&buf[..n]);
        }
        let mut allowed = n;
        let mut cut_now = false;
        if let Some(shared) = &shared {
            let mut budget = shared.budget.lock().expect("budget lock");
            if let Some(left) = *budget {
                if (n as u64) >= left {
                    allowed = left as usize;
                    cut_now = true;
                    *budget = None;
                } else {
                    *budget = Some(left - n as u64);
                }
            }
        }
        if to.write_all(&buf[..allowed]).is_err() {
            break;
        }
        if cut_now {
            let _ = to.flush();
            if let Some(shared) = &shared {
                shared.cut_all();
            }
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
