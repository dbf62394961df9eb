//! A loopback TCP forwarder that tests put between client and server to kill connections on
//! purpose — at once (`cut`) or after a number of server bytes (`cut_after`) — so "connection
//! dropped in the middle of a fetch" is reproducible instead of a race.

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
        thread::spawn(move || pump(c2, s2, None));
        let down_shared = shared.clone();
        thread::spawn(move || pump(server, client, Some(down_shared)));
    }
}

/// Copies `from` → `to`; with `shared` (server→client direction) it honours the cut budget.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: Option<Arc<Shared>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
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
