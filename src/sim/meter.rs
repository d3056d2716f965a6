//! The metering adaptor every simulated TCP stream is wrapped in.
//!
//! Bytes are counted once, by the sender, when `write` accepts them: a client's writes are
//! `app_bytes_up`, the server's `app_bytes_down`. Reads pass through. The server side also
//! keeps the open-connection gauge (accept: +1, drop: −1); the client side counts connects.

use std::io::{self, IoSlice};
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
    /// Whether this stream's writes are kept for [`crate::RunResult::capture`].
    capture: bool,
}

impl Metered {
    /// The client end of a connection: its writes travel up.
    pub(crate) fn client(inner: TcpStream, rec: RecorderHandle) -> Metered {
        let capture = {
            let mut r = rec.borrow_mut();
            r.connection_opened();
            wire::handshake(now_ms(), &mut r);
            r.claim_capture(Direction::Up)
        };
        Metered {
            inner,
            sends: Direction::Up,
            rec,
            acks: AckState::default(),
            capture,
        }
    }

    /// The server end of a connection: its writes travel down.
    pub(crate) fn server(inner: TcpStream, rec: RecorderHandle) -> Metered {
        let capture = {
            let mut r = rec.borrow_mut();
            r.open_connections(1);
            r.claim_capture(Direction::Down)
        };
        Metered {
            inner,
            sends: Direction::Down,
            rec,
            acks: AckState::default(),
            capture,
        }
    }

    /// A connection a client accepted (a server callback): its writes travel up.
    pub(crate) fn accepted_by_client(inner: TcpStream, rec: RecorderHandle) -> Metered {
        Metered {
            inner,
            sends: Direction::Up,
            rec,
            acks: AckState::default(),
            capture: false,
        }
    }

    /// A connection the server opened to a client (a callback): its writes travel down, it
    /// counts as open at the server, and its handshake goes the other way.
    pub(crate) fn server_outbound(inner: TcpStream, rec: RecorderHandle) -> Metered {
        {
            let mut r = rec.borrow_mut();
            r.connection_opened();
            r.open_connections(1);
            wire::handshake_from_server(now_ms(), &mut r);
        }
        Metered {
            inner,
            sends: Direction::Down,
            rec,
            acks: AckState::default(),
            capture: false,
        }
    }

    fn count(&mut self, bytes: &[u8]) {
        let t = now_ms();
        let mut rec = self.rec.borrow_mut();
        rec.bytes_sent(self.sends, bytes.len());
        self.acks.sent(t, bytes.len() as u64, self.sends, &mut rec);
        if self.capture {
            rec.captured(t, self.sends, bytes);
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let mut rec = self.rec.borrow_mut();
        self.acks.close(now_ms(), self.sends, &mut rec);
        if self.sends == Direction::Down {
            rec.open_connections(-1);
        }
    }
}

impl AsyncRead for Metered {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let t = now_ms();
            let this = &mut *self;
            this.acks.settle(t, this.sends, &mut this.rec.borrow_mut());
            this.acks.received(t);
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
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A listening socket; every accepted stream comes out metered.
pub struct Listener {
    inner: TcpListener,
    rec: RecorderHandle,
    at_server: bool,
}

impl Listener {
    pub(crate) async fn bind(port: u16, rec: RecorderHandle) -> io::Result<Listener> {
        let inner = TcpListener::bind(("0.0.0.0", port)).await?;
        Ok(Listener {
            inner,
            rec,
            at_server: true,
        })
    }

    /// A listener on a client (for server callbacks).
    pub(crate) async fn bind_client(port: u16, rec: RecorderHandle) -> io::Result<Listener> {
        let inner = TcpListener::bind(("0.0.0.0", port)).await?;
        Ok(Listener {
            inner,
            rec,
            at_server: false,
        })
    }

    /// Wait for the next connection.
    pub async fn accept(&self) -> io::Result<Metered> {
        let (stream, _peer) = self.inner.accept().await?;
        Ok(if self.at_server {
            Metered::server(stream, self.rec.clone())
        } else {
            Metered::accepted_by_client(stream, self.rec.clone())
        })
    }
}
