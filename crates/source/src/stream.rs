//! The byte stream every network adapter talks over: plain TCP or TLS, with a per-read/per-write
//! inactivity timeout so a dead server turns into an error instead of a hang.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::client::TlsStream;

use crate::SourceError;

/// Plain TCP or TLS over TCP.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The inactivity limit, shared so IMAP IDLE can lift it while it waits on purpose.
#[derive(Clone, Debug)]
pub(crate) struct Limit(Arc<AtomicU64>);

impl Limit {
    pub(crate) fn new(limit: Duration) -> Limit {
        Limit(Arc::new(AtomicU64::new(limit.as_millis() as u64)))
    }

    pub(crate) fn set(&self, limit: Duration) {
        self.0.store(limit.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }
}

/// Fails a read or write that makes no progress for `limit` with `io::ErrorKind::TimedOut`.
pub(crate) struct Timed {
    inner: Conn,
    limit: Limit,
    read_deadline: Option<Pin<Box<Sleep>>>,
    write_deadline: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for Timed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Conn::Plain(_) => "plain",
            Conn::Tls(_) => "tls",
        };
        f.debug_struct("Timed").field("conn", &kind).field("limit", &self.limit.get()).finish()
    }
}

impl Timed {
    pub(crate) fn new(inner: Conn, limit: Limit) -> Timed {
        Timed { inner, limit, read_deadline: None, write_deadline: None }
    }

    /// The connection, to start TLS on it (SMTP STARTTLS).
    pub(crate) fn into_inner(self) -> Conn {
        self.inner
    }
}

/// Pending with a running deadline: error once it passes.
fn check_deadline(deadline: &mut Option<Pin<Box<Sleep>>>, limit: &Limit, cx: &mut Context<'_>) -> Poll<io::Error> {
    let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit.get())));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *deadline = None;
            Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer from the server for {} s", limit.get().as_secs()),
            ))
        }
        Poll::Pending => Poll::Pending,
    }
}

use std::future::Future;

impl AsyncRead for Timed {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => check_deadline(&mut this.read_deadline, &this.limit, cx).map(Err),
        }
    }
}

impl AsyncWrite for Timed {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.write_deadline = None;
                // A new command starts a new wait for the answer.
                this.read_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => check_deadline(&mut this.write_deadline, &this.limit, cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                this.write_deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => check_deadline(&mut this.write_deadline, &this.limit, cx).map(Err),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The addresses `host` resolves to, all allowed by `net` (a name with any internal address is
/// refused as a whole: it could point anywhere next time). Resolved once, so the check and the
/// connection see the same addresses.
pub(crate) async fn resolve_checked(
    host: &str,
    port: u16,
    limit: Duration,
    net: crate::NetPolicy,
) -> Result<Vec<std::net::SocketAddr>, SourceError> {
    let at = format!("{host}:{port}");
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::time::timeout(limit, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(e)) => return Err(SourceError::NotFound(format!("{at}: {e}"))),
            Err(_) => {
                return Err(SourceError::TimedOut(format!("{at}: name lookup took longer than {} s", limit.as_secs())));
            }
        };
    if addrs.is_empty() {
        return Err(SourceError::NotFound(format!("{at}: no address")));
    }
    if let Some(bad) = addrs.iter().find(|a| !net.allows(a.ip())) {
        return Err(SourceError::Blocked(format!("{at} resolves to {}", bad.ip())));
    }
    Ok(addrs)
}

/// Opens the TCP connection to an address `host` resolves to that `net` allows (resolved once:
/// the check and the connection see the same addresses). Failures are classified: not found,
/// refused, no answer, blocked by the policy.
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    limit: Duration,
    net: crate::NetPolicy,
) -> Result<TcpStream, SourceError> {
    let at = format!("{host}:{port}");
    let addrs = resolve_checked(host, port, limit, net).await?;
    let mut last = SourceError::NotFound(format!("{at}: no address"));
    for addr in addrs {
        match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                last = SourceError::Refused(format!("{at} ({addr}): {e}"));
            }
            Ok(Err(e)) => last = SourceError::TimedOut(format!("{at} ({addr}): {e}")),
            Err(_) => {
                last = SourceError::TimedOut(format!("{at} ({addr}): no answer within {} s", limit.as_secs()));
            }
        }
    }
    Err(last)
}

/// Maps an I/O error from an established session: TLS alerts stay `Tls`, the rest is `Io`.
pub(crate) fn io_error(e: io::Error) -> SourceError {
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return SourceError::Tls(crate::tls::describe(tls, None));
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            SourceError::Io(format!("connection lost: {e}"))
        }
        _ => SourceError::Io(e.to_string()),
    }
}
