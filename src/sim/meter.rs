//! The metering adaptor every simulated TCP stream is wrapped in.
//!
//! Bytes are counted once, by the sender, when `write` accepts them: a client's writes are
//! `app_bytes_up`, the server's `app_bytes_down`. Reads pass through. The server side also
//! keeps the open-connection gauge (accept: +1, drop: −1); the client side counts connects.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use turmoil::net::{TcpListener, TcpStream};

use super::wire::{self, AckState};
use crate::metrics::{now_ms, Direction, RecorderHandle};

/// A TCP stream that reports the bytes it sends to the recorder.
pub struct Metered {
    inner: TcpStream,
    sends: Direction,
    rec: RecorderHandle,
    acks: AckState,
    /// Whether this stream is one of the traced client's ([`crate::trace`]).
    trace: Slot,
    closed: bool,
    /// The server's accept work on this connection: nothing is read or written before it is
    /// done (only on a server with `[server] cores`).
    gate: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// A stream's place in the trace.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Not traced.
    Off,
    /// Maybe traced: the connection whose opening end has address `peer` (found when bytes
    /// first flow, when the opener has surely registered it).
    Find { peer: SocketAddr, accepted_ms: u64 },
    /// Traced connection number.
    On(u32),
}

fn in_simulation() -> bool {
    turmoil::sim_elapsed().is_some()
}

impl Metered {
    /// The client end of a connection client `client` started opening at `started_ms`: its
    /// writes travel up.
    pub(crate) fn client(
        inner: TcpStream,
        rec: RecorderHandle,
        client: usize,
        started_ms: u64,
    ) -> Metered {
        let trace = {
            let mut r = rec.borrow_mut();
            r.connection_opened();
            wire::handshake(now_ms(), &mut r);
            match (r.tracer(), inner.local_addr()) {
                (Some(t), Ok(addr)) if t.traces(client) => Slot::On(t.open(addr, true, started_ms)),
                _ => Slot::Off,
            }
        };
        Metered {
            inner,
            sends: Direction::Up,
            rec,
            acks: AckState::default(),
            trace,
            closed: false,
            gate: None,
        }
    }

    /// The server end of a connection: its writes travel down.
    pub(crate) fn server(inner: TcpStream, rec: RecorderHandle) -> Metered {
        let trace = {
            let mut r = rec.borrow_mut();
            r.open_connections(1);
            Self::maybe_traced(&inner, &mut r, true)
        };
        Metered {
            inner,
            sends: Direction::Down,
            rec,
            acks: AckState::default(),
            trace,
            closed: false,
            gate: None,
        }
    }

    /// A connection client `client` accepted (a server callback): its writes travel up.
    pub(crate) fn accepted_by_client(
        inner: TcpStream,
        rec: RecorderHandle,
        client: usize,
    ) -> Metered {
        let trace = {
            let mut r = rec.borrow_mut();
            let traced = r.tracer().is_some_and(|t| t.traces(client));
            Self::maybe_traced(&inner, &mut r, traced)
        };
        Metered {
            inner,
            sends: Direction::Up,
            rec,
            acks: AckState::default(),
            trace,
            closed: false,
            gate: None,
        }
    }

    fn maybe_traced(inner: &TcpStream, r: &mut crate::metrics::Recorder, traced: bool) -> Slot {
        match (r.tracer(), inner.peer_addr()) {
            (Some(_), Ok(peer)) if traced => Slot::Find {
                peer,
                accepted_ms: now_ms(),
            },
            _ => Slot::Off,
        }
    }

    /// A connection the server started opening to a client at `started_ms` (a callback): its
    /// writes travel down, it counts as open at the server, and its handshake goes the other
    /// way.
    pub(crate) fn server_outbound(
        inner: TcpStream,
        rec: RecorderHandle,
        started_ms: u64,
    ) -> Metered {
        let trace = {
            let mut r = rec.borrow_mut();
            r.connection_opened();
            r.open_connections(1);
            wire::handshake_from_server(now_ms(), &mut r);
            match (r.tracer(), inner.peer_addr(), inner.local_addr()) {
                (Some(t), Ok(peer), Ok(local)) if t.is_listening(peer) => {
                    Slot::On(t.open(local, false, started_ms))
                }
                _ => Slot::Off,
            }
        };
        Metered {
            inner,
            sends: Direction::Down,
            rec,
            acks: AckState::default(),
            trace,
            closed: false,
            gate: None,
        }
    }

    /// This stream's traced connection, if any (finding it on first use).
    fn traced(&mut self, rec: &mut crate::metrics::Recorder) -> Option<u32> {
        match self.trace {
            Slot::Off => None,
            Slot::On(c) => Some(c),
            Slot::Find { peer, accepted_ms } => {
                let found = rec.tracer().and_then(|t| t.find(peer, accepted_ms));
                self.trace = found.map_or(Slot::Off, Slot::On);
                found
            }
        }
    }

    /// Hold reads and writes until tick `at_ms` (the accept work's departure).
    fn gated_until(mut self, at_ms: Option<u64>) -> Metered {
        if let Some(at) = at_ms {
            let wait = std::time::Duration::from_millis(at.saturating_sub(now_ms()));
            self.gate = Some(Box::pin(tokio::time::sleep(wait)));
        }
        self
    }

    /// Poll the accept gate: `Ready` once it is open.
    fn poll_gate(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.gate.as_mut() {
            None => Poll::Ready(()),
            Some(sleep) => {
                std::task::ready!(sleep.as_mut().poll(cx));
                self.gate = None;
                Poll::Ready(())
            }
        }
    }

    fn count(&mut self, bytes: &[u8]) {
        let t = now_ms();
        let rec = self.rec.clone();
        let mut rec = rec.borrow_mut();
        rec.bytes_sent(self.sends, bytes.len());
        if self.sends == Direction::Down {
            rec.server.bytes(t, bytes.len() as u64);
        }
        self.acks.sent(t, bytes.len() as u64, self.sends, &mut rec);
        if let Some(c) = self.traced(&mut rec) {
            if let Some(tracer) = rec.tracer() {
                tracer.wrote(c, self.sends == Direction::Up, t, bytes);
            }
        }
    }

    /// This end closes (shuts down its sending side, or is dropped): its FIN, once.
    fn close(&mut self, rec: &mut crate::metrics::Recorder) {
        if std::mem::replace(&mut self.closed, true) || !in_simulation() {
            return;
        }
        if let Some(c) = self.traced(rec) {
            if let Some(tracer) = rec.tracer() {
                tracer.closed(c, self.sends == Direction::Up, now_ms());
            }
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let rec = self.rec.clone();
        let mut rec = rec.borrow_mut();
        self.acks.close(now_ms(), self.sends, &mut rec);
        if self.sends == Direction::Down {
            rec.open_connections(-1);
        }
        self.close(&mut rec);
    }
}

impl AsyncRead for Metered {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_gate(cx));
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        let this = &mut *self;
        if read > 0 {
            let t = now_ms();
            let rec = this.rec.clone();
            let mut rec = rec.borrow_mut();
            if this.sends == Direction::Down {
                rec.server.bytes(t, read);
            }
            this.acks.settle(t, this.sends, &mut rec);
            this.acks.received(t);
            if let Some(c) = this.traced(&mut rec) {
                if let Some(tracer) = rec.tracer() {
                    // what this end reads was sent the other way
                    tracer.read(c, this.sends == Direction::Down, t, read);
                }
            }
        } else if room && matches!(res, Poll::Ready(Ok(()))) && !matches!(this.trace, Slot::Off) {
            // end of stream: the peer's FIN has arrived
            let rec = this.rec.clone();
            let mut rec = rec.borrow_mut();
            if let Some(c) = this.traced(&mut rec) {
                if let Some(tracer) = rec.tracer() {
                    tracer.ended(c, this.sends == Direction::Down, now_ms());
                }
            }
        }
        res
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_gate(cx));
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            self.count(&buf[..n]);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_gate(cx));
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            // the first n bytes across the slices were written
            let mut written = Vec::with_capacity(n);
            for b in bufs {
                let take = (n - written.len()).min(b.len());
                written.extend_from_slice(&b[..take]);
            }
            self.count(&written);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let res = Pin::new(&mut self.inner).poll_shutdown(cx);
        if res.is_ready() && !matches!(self.trace, Slot::Off) {
            let rec = self.rec.clone();
            self.close(&mut rec.borrow_mut());
        }
        res
    }
}

/// A listening socket; every accepted stream comes out metered.
pub struct Listener {
    inner: TcpListener,
    rec: RecorderHandle,
    /// `None` at the server, the client's id on a client.
    client: Option<usize>,
}

impl Listener {
    pub(crate) async fn bind(port: u16, rec: RecorderHandle) -> io::Result<Listener> {
        let inner = TcpListener::bind(("0.0.0.0", port)).await?;
        Ok(Listener {
            inner,
            rec,
            client: None,
        })
    }

    /// A listener on client `client`, whose host is `host` (for server callbacks).
    pub(crate) async fn bind_client(
        port: u16,
        rec: RecorderHandle,
        client: usize,
        host: &str,
    ) -> io::Result<Listener> {
        let inner = TcpListener::bind(("0.0.0.0", port)).await?;
        if let Some(t) = rec.borrow_mut().tracer() {
            if t.traces(client) {
                t.listening(SocketAddr::new(turmoil::lookup(host), port));
            }
        }
        Ok(Listener {
            inner,
            rec,
            client: Some(client),
        })
    }

    /// Wait for the next connection.
    pub async fn accept(&self) -> io::Result<Metered> {
        let (stream, _peer) = self.inner.accept().await?;
        Ok(match self.client {
            None => {
                let departs = {
                    let now = now_ms();
                    let mut rec = self.rec.borrow_mut();
                    let done = rec.server.accepted(now);
                    rec.server.departure(now, done)
                };
                Metered::server(stream, self.rec.clone()).gated_until(departs)
            }
            Some(c) => Metered::accepted_by_client(stream, self.rec.clone(), c),
        })
    }
}
