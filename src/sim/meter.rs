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

use super::net::{Socket, Stream, World};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use std::collections::VecDeque;
use std::rc::Rc;

use super::faults::{Faults, Link, GATEWAY_TIMEOUT};
use super::wire::{self, AckState};
use crate::metrics::{now_ms, Direction, RecorderHandle};

/// A TCP stream that reports the bytes it sends to the recorder.
pub struct Metered {
    inner: Stream,
    sends: Direction,
    rec: RecorderHandle,
    acks: AckState,
    /// Whether this stream is one of the traced client's ([`crate::trace`]).
    trace: Slot,
    closed: bool,
    /// The server's accept work on this connection: nothing is read or written before it is
    /// done (only on a server with `[server] cores`).
    gate: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The client whose connection this is, at its client end (for `connected_clients`).
    live_for: Option<usize>,
    /// Faults acting on this connection (only in a scenario with faults).
    fault: Option<Box<FaultEnd>>,
}

/// One end of a connection under faults (see [`super::faults`]).
struct FaultEnd {
    faults: Rc<Faults>,
    link: Option<Rc<Link>>,
    /// The server end: the client's address, by which it finds the link.
    peer: Option<SocketAddr>,
    /// The client end: its own address, under which the link is registered.
    local: Option<SocketAddr>,
    /// 0: the client end, 1: the server end.
    side: usize,
    /// The one timer this end waits on (an outage's end, a late segment, the idle timeout).
    timer: Option<(u64, Pin<Box<tokio::time::Sleep>>)>,
    /// Bytes read but not yet due (a lost segment and what follows it): `(due ms, bytes)`.
    late: VecDeque<(u64, Vec<u8>)>,
    /// The end of the stream, read but not yet due: when, and the error if it was one.
    end: Option<(u64, Option<io::ErrorKind>)>,
    /// When the last late chunk is due (in-order delivery).
    last_due: u64,
    /// How much of the proxy's `504` this (client) end has read.
    sent_504: usize,
    /// Whether the 504 applies (decided when the proxy cuts).
    owes_504: Option<bool>,
    /// This end has seen its connection end.
    over: bool,
}

impl FaultEnd {
    fn new(faults: Rc<Faults>, side: usize) -> FaultEnd {
        FaultEnd {
            faults,
            link: None,
            peer: None,
            local: None,
            side,
            timer: None,
            late: VecDeque::new(),
            end: None,
            last_due: 0,
            sent_504: 0,
            owes_504: None,
            over: false,
        }
    }

    /// The link, found by the peer address at the server end.
    fn link(&mut self) -> Option<Rc<Link>> {
        if self.link.is_none() {
            if let Some(peer) = self.peer {
                self.link = self.faults.find(peer);
            }
        }
        self.link.clone()
    }

    /// Wait until `at` ms; `Ready` once it has come.
    fn wait_until(&mut self, at: u64, cx: &mut Context<'_>) -> Poll<()> {
        if self.timer.as_ref().is_none_or(|(t, _)| *t != at) {
            let wait = std::time::Duration::from_millis(at.saturating_sub(now_ms()));
            self.timer = Some((at, Box::pin(tokio::time::sleep(wait))));
        }
        let (_, sleep) = self.timer.as_mut().expect("set above");
        std::task::ready!(sleep.as_mut().poll(cx));
        self.timer = None;
        Poll::Ready(())
    }
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
    crate::metrics::running()
}

impl Metered {
    /// The client end of a connection client `client` started opening at `started_ms`: its
    /// writes travel up.
    pub(crate) fn client(
        inner: Stream,
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
            live_for: Some(client),
            fault: None,
        }
    }

    /// The server end of a connection: its writes travel down.
    pub(crate) fn server(inner: Stream, rec: RecorderHandle) -> Metered {
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
            live_for: None,
            fault: None,
        }
    }

    /// A connection client `client` accepted (a server callback): its writes travel up.
    pub(crate) fn accepted_by_client(inner: Stream, rec: RecorderHandle, client: usize) -> Metered {
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
            live_for: None,
            fault: None,
        }
    }

    fn maybe_traced(inner: &Stream, r: &mut crate::metrics::Recorder, traced: bool) -> Slot {
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
    pub(crate) fn server_outbound(inner: Stream, rec: RecorderHandle, started_ms: u64) -> Metered {
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
            live_for: None,
            fault: None,
        }
    }

    /// The client end of a connection under `faults`: registers the link both ends share.
    pub(crate) fn client_faults(mut self, faults: Option<&Rc<Faults>>) -> Metered {
        let Some(client) = self.live_for else {
            return self;
        };
        match (faults, self.inner.local_addr()) {
            (Some(f), Ok(local)) => {
                // connected once the server has accepted it (see `accepted_link`)
                let mut end = FaultEnd::new(f.clone(), 0);
                end.link = Some(f.open_link(client, local, now_ms()));
                end.local = Some(local);
                self.fault = Some(Box::new(end));
            }
            _ => self.rec.borrow_mut().client_live(client, 1),
        }
        self
    }

    /// At the server end, once the accept work is done and the link found: the client is
    /// connected through it.
    fn accepted_link(&mut self) {
        let Some(fe) = self.fault.as_mut() else {
            return;
        };
        if fe.side != 1 {
            return;
        }
        if let Some(link) = fe.link() {
            if !link.counted.replace(true) && !link.client_gone.get() {
                self.rec.borrow_mut().client_live(link.client, 1);
            }
        }
    }

    /// The server end of a connection under `faults`: finds its link by the peer address.
    fn server_faults(mut self, faults: Option<&Rc<Faults>>) -> Metered {
        if let (Some(f), Ok(peer)) = (faults, self.inner.peer_addr()) {
            let mut end = FaultEnd::new(f.clone(), 1);
            end.peer = Some(peer);
            self.fault = Some(Box::new(end));
        }
        self
    }

    /// This end has learnt that its connection is over (an end of stream, a reset, a cut):
    /// for the client end, the client is no longer connected through it.
    fn learnt_over(&mut self) {
        let Some(fe) = self.fault.as_mut() else {
            return;
        };
        if std::mem::replace(&mut fe.over, true) || fe.side != 0 {
            return;
        }
        if let Some(link) = fe.link.clone() {
            let mut rec = self.rec.borrow_mut();
            if !link.client_gone.replace(true) {
                // dead since the server end went, or since a NAT silently forgot it
                let dead_since = match (link.server_gone_at.get(), link.silent_since.get()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                rec.connection_lost(link.client, dead_since, link.counted.get());
            }
        }
    }

    /// Read under faults: outages hold the bytes, lost segments make them (and what follows)
    /// late, the proxy cuts idle connections.
    fn poll_read_faulty(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let now = now_ms();
            self.accepted_link();
            let fe = self.fault.as_mut().expect("faulty path");
            let link = fe.link();
            if let Some(link) = &link {
                if link.silent_since.get().is_some() {
                    // nothing gets through any more, not even an end of stream
                    return self.read_void(cx);
                }
                if link.proxy_cut.get() {
                    return self.read_cut(buf);
                }
                if fe.side == 0 && fe.faults.offline_until(link.client, now).is_some() {
                    // churn: the client went away, closing what it had open
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::ConnectionAborted)));
                }
                if let Some(until) = fe.faults.cut_off_until(link.client, now) {
                    link.wakers.borrow_mut()[fe.side] = Some(cx.waker().clone());
                    std::task::ready!(fe.wait_until(until, cx));
                    continue;
                }
            }
            let lossy = fe.faults.loss > 0.0;
            let res = if lossy {
                self.poll_read_lossy(cx, buf, now)
            } else {
                Pin::new(&mut self.inner).poll_read(cx, buf)
            };
            if res.is_ready() {
                return res;
            }
            let fe = self.fault.as_mut().expect("faulty path");
            let mut due = fe.late.front().map(|(t, _)| *t).or(fe.end.map(|(t, _)| t));
            if let (0, Some(link)) = (fe.side, &link) {
                // wake when the client goes away (churn)
                if let Some(at) = fe.faults.next_offline(link.client, now) {
                    link.wakers.borrow_mut()[0] = Some(cx.waker().clone());
                    due = Some(due.map_or(at, |d| d.min(at)));
                }
            }
            if let (Some(idle), Some(link)) = (fe.faults.idle_ms, &link) {
                let deadline = link.last_activity.get() + idle;
                if now >= deadline {
                    let silent = fe.faults.silent;
                    link.cut(now, silent);
                    let mut rec = self.rec.borrow_mut();
                    rec.proxy_cut();
                    if silent && link.counted.get() && !link.client_gone.get() {
                        // the client still thinks it is connected: it is not
                        rec.client_dead(link.client, 1);
                    }
                    drop(rec);
                    continue;
                }
                link.wakers.borrow_mut()[fe.side] = Some(cx.waker().clone());
                due = Some(due.map_or(deadline, |d| d.min(deadline)));
            }
            match due {
                Some(at) => {
                    std::task::ready!(fe.wait_until(at, cx));
                }
                None => return Poll::Pending,
            }
        }
    }

    /// Pull what has arrived into the late queue (each chunk delayed by its lost segments,
    /// never before the chunk ahead of it), then hand out what is due.
    fn poll_read_lossy(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        now: u64,
    ) -> Poll<io::Result<()>> {
        let fe = self.fault.as_mut().expect("faulty path");
        let link = fe.link();
        while fe.end.is_none() {
            let mut tmp = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Pending => break,
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    fe.end = Some((now.max(fe.last_due), None));
                }
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    let extra = match &link {
                        Some(l) => fe.faults.loss_delay(&mut l.rng[fe.side].borrow_mut(), n),
                        None => 0,
                    };
                    let due = (now + extra).max(fe.last_due);
                    fe.last_due = due;
                    fe.late.push_back((due, rb.filled().to_vec()));
                }
                Poll::Ready(Err(e)) => fe.end = Some((now.max(fe.last_due), Some(e.kind()))),
            }
        }
        if let Some((due, chunk)) = fe.late.front_mut() {
            if *due <= now {
                let take = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..take]);
                chunk.drain(..take);
                if chunk.is_empty() {
                    fe.late.pop_front();
                }
                return Poll::Ready(Ok(()));
            }
            return Poll::Pending;
        }
        match fe.end {
            Some((due, kind)) if due <= now => Poll::Ready(match kind {
                None => Ok(()),
                Some(k) => Err(io::Error::from(k)),
            }),
            _ => Poll::Pending,
        }
    }

    /// Read from a connection a NAT forgot: whatever the other end sends is dropped on the
    /// way, so nothing ever arrives (the bytes are read and thrown away).
    fn read_void(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut tmp = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => continue,
                Poll::Ready(_) => return Poll::Pending, // its end, too, is lost
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Read from a connection the proxy cut: a client waiting for an answer gets the proxy's
    /// `504` first; then the end of the stream.
    fn read_cut(&mut self, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let fe = self.fault.as_mut().expect("faulty path");
        let link = fe.link.clone().expect("cut links exist");
        let owes = *fe
            .owes_504
            .get_or_insert(fe.side == 0 && link.awaiting_answer.get() && !link.upgraded.get());
        if owes && fe.sent_504 < GATEWAY_TIMEOUT.len() {
            let rest = &GATEWAY_TIMEOUT[fe.sent_504..];
            let take = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..take]);
            fe.sent_504 += take;
            return Poll::Ready(Ok(()));
        }
        self.learnt_over();
        Poll::Ready(Ok(()))
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
        rec.bytes_sent_at(t, self.sends, bytes.len());
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

    /// A write on a connection the proxy has cut fails.
    fn write_fault(&mut self) -> Option<io::Error> {
        let fe = self.fault.as_mut()?;
        let link = fe.link()?;
        if fe.side == 0 && fe.faults.offline_until(link.client, now_ms()).is_some() {
            self.learnt_over();
            return Some(io::Error::from(io::ErrorKind::ConnectionAborted));
        }
        if link.proxy_cut.get() && link.silent_since.get().is_none() {
            self.learnt_over();
            return Some(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        None
    }

    /// Bytes written at this end pass the proxy now.
    fn note_activity(&mut self, bytes: &[u8]) {
        if let Some(fe) = self.fault.as_mut() {
            if let Some(link) = fe.link() {
                link.wrote(now_ms(), fe.side == 0, bytes);
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
        if self.fault.as_ref().is_some_and(|f| f.side == 0) {
            self.learnt_over();
        }
        let rec = self.rec.clone();
        let mut rec = rec.borrow_mut();
        self.acks.close(now_ms(), self.sends, &mut rec);
        if self.sends == Direction::Down {
            rec.open_connections(-1);
        }
        if let Some(client) = self.live_for {
            match self.fault.as_ref().and_then(|f| f.link.as_ref()) {
                // under faults a connection counts once the server accepted it; learnt_over
                // has counted it dead since
                Some(link) if link.counted.get() => {
                    rec.client_live(client, -1);
                    rec.client_dead(client, -1);
                }
                Some(_) => {}
                None => rec.client_live(client, -1),
            }
        }
        // after the simulation (its hosts being dropped) nothing is a fault any more
        if let Some(fe) = self.fault.as_mut().filter(|_| in_simulation()) {
            if let Some(link) = fe.link() {
                if fe.side == 1 && link.server_gone_at.get().is_none() {
                    link.server_gone_at.set(Some(now_ms()));
                    let counted_dead = link.silent_since.get().is_some();
                    if link.counted.get() && !link.client_gone.get() && !counted_dead {
                        rec.client_dead(link.client, 1); // connected through a dead connection
                    }
                }
                if link.client_gone.get() && link.server_gone_at.get().is_some() {
                    if let Some(local) = fe.local.or(fe.peer) {
                        fe.faults.forget(local, &link);
                    }
                }
            }
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
        let res = if self.fault.is_some() {
            let res = self.poll_read_faulty(cx, buf);
            let ended = match &res {
                Poll::Ready(Ok(())) => buf.filled().len() == before && room,
                Poll::Ready(Err(_)) => true,
                Poll::Pending => false,
            };
            if ended {
                self.learnt_over();
            }
            res
        } else {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        };
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
        if let Some(e) = self.write_fault() {
            return Poll::Ready(Err(e));
        }
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            self.count(&buf[..n]);
            self.note_activity(&buf[..n]);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_gate(cx));
        if let Some(e) = self.write_fault() {
            return Poll::Ready(Err(e));
        }
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            // the first n bytes across the slices were written
            let mut written = Vec::with_capacity(n);
            for b in bufs {
                let take = (n - written.len()).min(b.len());
                written.extend_from_slice(&b[..take]);
            }
            self.count(&written);
            self.note_activity(&written);
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

/// Errors of `accept` that concern one connection or a moment, not the listener.
fn accept_error_passes(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || e.raw_os_error().is_some_and(|c| c == 24 || c == 23) // EMFILE, ENFILE
}

/// A listening socket; every accepted stream comes out metered.
pub struct Listener {
    inner: Socket,
    rec: RecorderHandle,
    /// `None` at the server, the client's id on a client.
    client: Option<usize>,
    faults: Option<Rc<Faults>>,
}

impl Listener {
    pub(crate) async fn bind(
        world: &World,
        port: u16,
        rec: RecorderHandle,
        faults: Option<Rc<Faults>>,
    ) -> io::Result<Listener> {
        let inner = Socket::bind_server(world, port).await?;
        Ok(Listener {
            inner,
            rec,
            client: None,
            faults,
        })
    }

    /// A listener on client `client`, whose host is `host` (for server callbacks).
    pub(crate) async fn bind_client(
        world: &World,
        port: u16,
        rec: RecorderHandle,
        client: usize,
        host: &str,
    ) -> io::Result<Listener> {
        let inner = Socket::bind_client(world, port).await?;
        if let Some(t) = rec.borrow_mut().tracer() {
            if t.traces(client) {
                let at = match world {
                    World::Sim => SocketAddr::new(turmoil::lookup(host), port),
                    World::Real(_) => inner.local_addr()?,
                };
                t.listening(at);
            }
        }
        Ok(Listener {
            inner,
            rec,
            client: Some(client),
            faults: None,
        })
    }

    /// Wait for the next connection.
    pub async fn accept(&self) -> io::Result<Metered> {
        let (stream, _peer) = loop {
            match self.inner.accept().await {
                Ok(accepted) => break accepted,
                // on a real machine: out of file descriptors, or a connection reset before it
                // was accepted; the listener itself is fine, so keep accepting
                Err(e) if matches!(self.inner, Socket::Real(..)) && accept_error_passes(&e) => {
                    super::log::line(format_args!("accept failed ({e}); still listening"));
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        };
        Ok(match self.client {
            None => {
                let departs = {
                    let now = now_ms();
                    let mut rec = self.rec.borrow_mut();
                    let done = rec.server.accepted(now);
                    rec.server.departure(now, done)
                };
                Metered::server(stream, self.rec.clone())
                    .gated_until(departs)
                    .server_faults(self.faults.as_ref())
            }
            Some(c) => Metered::accepted_by_client(stream, self.rec.clone(), c),
        })
    }
}
