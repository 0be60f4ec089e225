//! Per-connection bookkeeping: what a connection is doing when a graceful stop begins.
//!
//! The drain treats a connection by its state at that moment:
//!
//! * **in a request** (the head was read and the request is being answered): it is answered,
//!   with `Connection: close`, and the connection closes after the response;
//! * **holding part of a request head** (bytes arrived since the last complete head, and no
//!   head is complete): it is closed at once, never waited on;
//! * **idle** (nothing arrived since the last response, or a new connection that has sent
//!   nothing yet): it stays open for a short linger, so that a request already on its way is
//!   answered (with `Connection: close`) instead of lost; then it is closed.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// How long an idle connection stays open once the drain begins, to answer a request that
/// was already on its way when the stop came.
pub(crate) const IDLE_LINGER: Duration = Duration::from_millis(500);

/// The state of one connection, shared by its IO wrapper and its request handler.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// Requests whose head was read on this connection.
    requests: AtomicU64,
    /// A request head was read and its response is not built yet.
    in_request: AtomicBool,
    /// Bytes were read since the last complete request head (outside a request).
    unparsed: AtomicBool,
    /// When the connection was accepted.
    pub(crate) opened: Instant,
    /// The socket, to ask whether the client has closed its side (see [`Self::peer_closed`]).
    socket: OnceLock<Weak<TcpStream>>,
    /// The connection's slot under `options.http.max_connections`; a websocket takes it along
    /// when the connection is upgraded.
    slot: std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

/// What the drain does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainAction {
    /// A request is being answered: let it finish, then close.
    Finish,
    /// Part of a request head and nothing else: close now.
    Close,
    /// Part of a request head after earlier requests: let hyper close it (it finishes writing
    /// a response first, if one is still being written).
    Shutdown,
    /// Nothing pending: keep it open for the linger.
    Idle,
}

impl ConnState {
    pub(crate) fn new() -> Self {
        Self {
            requests: AtomicU64::new(0),
            in_request: AtomicBool::new(false),
            unparsed: AtomicBool::new(false),
            opened: Instant::now(),
            socket: OnceLock::new(),
            slot: std::sync::Mutex::new(None),
        }
    }

    /// Holds the connection's `max_connections` slot for as long as the connection lives.
    pub(crate) fn hold_slot(&self, slot: Option<tokio::sync::OwnedSemaphorePermit>) {
        if let Ok(mut held) = self.slot.lock() {
            *held = slot;
        }
    }

    /// Takes the connection's `max_connections` slot (for the websocket it becomes).
    pub(crate) fn take_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slot.lock().ok().and_then(|mut held| held.take())
    }

    /// Whether the client has closed its side of the connection (a FIN or a reset arrived),
    /// from the readiness the runtime already holds: no system call, nothing read. A client
    /// that gave up on a slow response has; so has one that only half-closed after its request
    /// (it still reads the answer, which is sent either way).
    pub(crate) fn peer_closed(&self) -> bool {
        let Some(socket) = self.socket.get().and_then(Weak::upgrade) else {
            return false;
        };
        matches!(
            socket.ready(Interest::READABLE).now_or_never(),
            Some(Ok(ready)) if ready.is_read_closed()
        )
    }

    /// The connection's local address (the server side of an accepted socket: the address a
    /// client reached, where the listener may be bound to `0.0.0.0`). One system call.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn local_addr(&self) -> Option<std::net::SocketAddr> {
        let socket = self.socket.get().and_then(Weak::upgrade)?;
        socket.local_addr().ok()
    }

    /// A request head was read: returns its number on the connection (from 1).
    pub(crate) fn request_started(&self) -> u64 {
        self.in_request.store(true, Ordering::Relaxed);
        self.unparsed.store(false, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The response of the current request is built (hyper writes it next).
    pub(crate) fn request_answered(&self) {
        self.in_request.store(false, Ordering::Relaxed);
    }

    fn bytes_read(&self) {
        if !self.in_request.load(Ordering::Relaxed) {
            self.unparsed.store(true, Ordering::Relaxed);
        }
    }

    /// What the drain does with this connection now.
    pub(crate) fn drain_action(&self) -> DrainAction {
        if self.in_request.load(Ordering::Relaxed) {
            DrainAction::Finish
        } else if !self.unparsed.load(Ordering::Relaxed) {
            DrainAction::Idle
        } else if self.requests.load(Ordering::Relaxed) == 0 {
            DrainAction::Close
        } else {
            DrainAction::Shutdown
        }
    }

    /// What the drain does with this connection at the end of the linger.
    pub(crate) fn after_linger(&self) -> DrainAction {
        match self.drain_action() {
            DrainAction::Idle if self.requests.load(Ordering::Relaxed) == 0 => DrainAction::Close,
            DrainAction::Idle => DrainAction::Shutdown,
            other => other,
        }
    }
}

/// A connection's socket, noting in its [`ConnState`] when bytes arrive between requests.
pub(crate) struct TrackedIo<T> {
    inner: T,
    state: Arc<ConnState>,
}

impl<T> TrackedIo<T> {
    pub(crate) fn new(inner: T, state: Arc<ConnState>) -> Self {
        Self { inner, state }
    }
}

impl TrackedIo<SharedTcp> {
    /// Wraps an accepted socket; its [`ConnState`] can ask it whether the client closed.
    pub(crate) fn tcp(stream: TcpStream, state: Arc<ConnState>) -> Self {
        let stream = Arc::new(stream);
        let _ = state.socket.set(Arc::downgrade(&stream));
        Self::new(SharedTcp(stream), state)
    }
}

/// A TCP socket the connection reads and writes while its [`ConnState`] can look at its
/// readiness (tokio's `&TcpStream` operations).
pub(crate) struct SharedTcp(Arc<TcpStream>);

impl AsyncRead for SharedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.0.poll_read_ready(cx))?;
            // SAFETY: the slice is only written to (never read) by `try_read_buf`, which
            // reports how many bytes it initialized; exactly those are marked initialized and
            // filled (what tokio's own `TcpStream::poll_read` does, which needs `&mut`).
            let mut unfilled = unsafe { buf.unfilled_mut() };
            match self.0.try_read_buf(&mut unfilled) {
                Ok(n) => {
                    // SAFETY: `try_read_buf` initialized the first `n` bytes of `unfilled`.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write);
        Poll::Ready(match result {
            // already closed by the peer: nothing left to shut down
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_action_follows_the_connection_state() {
        let state = ConnState::new();
        // A new connection that sent nothing: idle, closed after the linger.
        assert_eq!(state.drain_action(), DrainAction::Idle);
        assert_eq!(state.after_linger(), DrainAction::Close);
        // Half a head on a new connection: closed at once.
        state.bytes_read();
        assert_eq!(state.drain_action(), DrainAction::Close);
        // A complete head: answered.
        assert_eq!(state.request_started(), 1);
        state.bytes_read(); // body bytes
        assert_eq!(state.drain_action(), DrainAction::Finish);
        assert_eq!(state.after_linger(), DrainAction::Finish);
        // Answered: idle between requests, shut down after the linger.
        state.request_answered();
        assert_eq!(state.drain_action(), DrainAction::Idle);
        assert_eq!(state.after_linger(), DrainAction::Shutdown);
        // Half of the next head.
        state.bytes_read();
        assert_eq!(state.drain_action(), DrainAction::Shutdown);
        assert_eq!(state.request_started(), 2);
    }

    #[test]
    fn the_max_connections_slot_is_held_until_taken_or_dropped() {
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let state = ConnState::new();
        state.hold_slot(slots.clone().try_acquire_owned().ok());
        assert_eq!(slots.available_permits(), 0);
        let taken = state.take_slot();
        assert!(taken.is_some() && state.take_slot().is_none());
        drop(state);
        assert_eq!(slots.available_permits(), 0, "the websocket holds it");
        drop(taken);
        assert_eq!(slots.available_permits(), 1);
        let state = ConnState::new();
        state.hold_slot(slots.clone().try_acquire_owned().ok());
        drop(state);
        assert_eq!(slots.available_permits(), 1, "released with the connection");
    }
}
