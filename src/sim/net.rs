//! The two worlds a strategy can run in: turmoil's simulated network and clock, or real tokio
//! sockets on this machine and the real clock. Strategy code never sees the difference: its
//! contexts hand it [`Metered`](super::Metered) streams and [`Listener`](super::Listener)s
//! over either, and `now_ms()` reads whichever clock the harness started.
//!
//! The clock of either world is `metrics::now_ms()`: turmoil's simulated time, or the
//! milliseconds since a real run started (`metrics::start_real_clock`).

use std::cell::Cell;

use crate::metrics::now_ms;
use std::future::Future as _;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One draw of the simulator's one-way delay: `min + floor((max − min)·X)` with X ~ Exp(5),
/// capped at `max` (turmoil 0.7.2 draws link latencies this way; the closed forms use the
/// same distribution, [`crate::model::OneWay`]).
pub(crate) fn one_way_delay(
    rng: &mut rand_chacha::ChaCha8Rng,
    lat: crate::scenario::Latency,
) -> u64 {
    use rand::Rng as _;
    if lat.is_constant() {
        return lat.min_ms;
    }
    let range = (lat.max_ms - lat.min_ms) as f64;
    let u: f64 = rng.random(); // [0, 1)
    let x = -(1.0 - u).ln() / 5.0;
    lat.min_ms + ((range * x).floor() as u64).min(lat.max_ms - lat.min_ms)
}

/// Where a run's bytes travel.
#[derive(Clone)]
pub(crate) enum World {
    /// turmoil's simulated network (hosts `server`, `pool-0` …).
    Sim,
    /// Real sockets: the server listens on `bind` (port 0: any free port), clients connect
    /// to `server` (set once the server is bound, when both run in one process).
    Real(std::rc::Rc<RealNet>),
}

/// The addresses of a real run.
pub(crate) struct RealNet {
    /// The scenario's one-way latency, added to every byte read (see [`DelayLine`]); `None`
    /// on bare loopback.
    pub(crate) latency: Option<crate::scenario::Latency>,
    /// The socket the server listens on, bound by the harness before the run starts (so its
    /// port is known to the clients); taken by the server's first `listen`.
    pub(crate) listener: Cell<Option<std::net::TcpListener>>,
    /// Where the server listens, and where clients connect.
    pub(crate) server: SocketAddr,
}

/// A TCP stream of either world.
pub(crate) enum Stream {
    Sim(turmoil::net::TcpStream),
    Real(tokio::net::TcpStream),
    /// A real stream whose reads come late by the scenario's latency.
    Delayed(Box<DelayLine>),
}

impl Stream {
    fn real(s: tokio::net::TcpStream, net: &RealNet) -> io::Result<Stream> {
        s.set_nodelay(true)?;
        Ok(match net.latency {
            Some(lat) if lat.max_ms > 0 => Stream::Delayed(Box::new(DelayLine::new(s, lat))),
            _ => Stream::Real(s),
        })
    }
}

/// The scenario's link latency on real sockets: what this end reads is handed over one
/// one-way delay after it arrived (as `tc netem delay` does at an interface), in order; the
/// end of the stream too. Both ends of a connection delay their reads, so each direction
/// takes the delay once. A latency range draws each chunk's delay as the simulator does
/// (`min + floor((max − min)·X)`, X ~ Exp(5), capped at `max`), never overtaking the chunk
/// before it.
pub(crate) struct DelayLine {
    inner: tokio::net::TcpStream,
    lat: crate::scenario::Latency,
    rng: rand_chacha::ChaCha8Rng,
    /// Bytes arrived but not yet due: `(due ms, bytes)`.
    queue: std::collections::VecDeque<(u64, Vec<u8>)>,
    /// The end of the stream, arrived but not yet due (and its error, if it was one).
    end: Option<(u64, Option<io::ErrorKind>)>,
    last_due: u64,
    timer: Option<(u64, Pin<Box<tokio::time::Sleep>>)>,
}

impl DelayLine {
    fn new(inner: tokio::net::TcpStream, lat: crate::scenario::Latency) -> DelayLine {
        use rand::SeedableRng as _;
        let port = inner.local_addr().map_or(0, |a| a.port());
        DelayLine {
            inner,
            lat,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(port as u64),
            queue: Default::default(),
            end: None,
            last_due: 0,
            timer: None,
        }
    }

    fn due(&mut self) -> u64 {
        let d = one_way_delay(&mut self.rng, self.lat);
        self.last_due = self.last_due.max(now_ms() + d);
        self.last_due
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // take in everything that has arrived
        while self.end.is_none() {
            let mut chunk = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    let due = self.due();
                    self.end = Some((due, None));
                }
                Poll::Ready(Ok(())) => {
                    let due = self.due();
                    self.queue.push_back((due, rb.filled().to_vec()));
                }
                Poll::Ready(Err(e)) => {
                    let due = self.due();
                    self.end = Some((due, Some(e.kind())));
                }
                Poll::Pending => break,
            }
        }
        let now = now_ms();
        let next = match (self.queue.front_mut(), self.end) {
            (Some((due, bytes)), _) => {
                if *due <= now {
                    let n = bytes.len().min(buf.remaining());
                    buf.put_slice(&bytes[..n]);
                    bytes.drain(..n);
                    if bytes.is_empty() {
                        self.queue.pop_front();
                    }
                    return Poll::Ready(Ok(()));
                }
                *due
            }
            (None, Some((due, kind))) => {
                if due <= now {
                    return Poll::Ready(match kind {
                        None => Ok(()),
                        Some(k) => Err(io::Error::from(k)),
                    });
                }
                due
            }
            (None, None) => return Poll::Pending, // the socket's waker is registered
        };
        if self.timer.as_ref().is_none_or(|(at, _)| *at != next) {
            let wait = std::time::Duration::from_millis(next.saturating_sub(now));
            self.timer = Some((next, Box::pin(tokio::time::sleep(wait))));
        }
        let (_, sleep) = self.timer.as_mut().expect("set above");
        if sleep.as_mut().poll(cx).is_ready() {
            self.timer = None;
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl Stream {
    /// Connect to `addr` in `world`: in the simulation, `addr` names a simulated host.
    pub(crate) async fn connect(world: &World, sim_addr: (&str, u16)) -> io::Result<Stream> {
        match world {
            World::Sim => Ok(Stream::Sim(
                turmoil::net::TcpStream::connect(sim_addr).await?,
            )),
            World::Real(net) => {
                Stream::real(tokio::net::TcpStream::connect(net.server).await?, net)
            }
        }
    }

    /// Connect to a socket address in `world`.
    pub(crate) async fn connect_addr(world: &World, addr: SocketAddr) -> io::Result<Stream> {
        match world {
            World::Sim => Ok(Stream::Sim(turmoil::net::TcpStream::connect(addr).await?)),
            World::Real(net) => Stream::real(tokio::net::TcpStream::connect(addr).await?, net),
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Sim(s) => s.local_addr(),
            Stream::Real(s) => s.local_addr(),
            Stream::Delayed(d) => d.inner.local_addr(),
        }
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Sim(s) => s.peer_addr(),
            Stream::Real(s) => s.peer_addr(),
            Stream::Delayed(d) => d.inner.peer_addr(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Real(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Delayed(d) => d.poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Real(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Delayed(d) => Pin::new(&mut d.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Real(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Delayed(d) => Pin::new(&mut d.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Sim(s) => s.is_write_vectored(),
            Stream::Real(s) => s.is_write_vectored(),
            Stream::Delayed(d) => d.inner.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_flush(cx),
            Stream::Real(s) => Pin::new(s).poll_flush(cx),
            Stream::Delayed(d) => Pin::new(&mut d.inner).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Real(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Delayed(d) => Pin::new(&mut d.inner).poll_shutdown(cx),
        }
    }
}

/// A listening socket of either world.
pub(crate) enum Socket {
    Sim(turmoil::net::TcpListener),
    Real(tokio::net::TcpListener, std::rc::Rc<RealNet>),
}

impl Socket {
    /// The server's socket: simulated port `port`, or the real run's listening address.
    pub(crate) async fn bind_server(world: &World, port: u16) -> io::Result<Socket> {
        match world {
            World::Sim => Ok(Socket::Sim(
                turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?,
            )),
            World::Real(net) => {
                let std = match net.listener.take() {
                    Some(l) => l,
                    // a second listen (a restarted server): bind the same address again
                    None => std::net::TcpListener::bind(net.server)?,
                };
                std.set_nonblocking(true)?;
                Ok(Socket::Real(
                    tokio::net::TcpListener::from_std(std)?,
                    net.clone(),
                ))
            }
        }
    }

    /// A client's socket: simulated port `port`, or any free loopback port.
    pub(crate) async fn bind_client(world: &World, port: u16) -> io::Result<Socket> {
        match world {
            World::Sim => Ok(Socket::Sim(
                turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?,
            )),
            World::Real(net) => Ok(Socket::Real(
                tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?,
                net.clone(),
            )),
        }
    }

    pub(crate) async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        match self {
            Socket::Sim(l) => {
                let (s, a) = l.accept().await?;
                Ok((Stream::Sim(s), a))
            }
            Socket::Real(l, net) => {
                let (s, a) = l.accept().await?;
                Ok((Stream::real(s, net)?, a))
            }
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Socket::Sim(l) => l.local_addr(),
            Socket::Real(l, _) => l.local_addr(),
        }
    }
}
