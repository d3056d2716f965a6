//! Recording the traced client's connections, inside the recorder.
//!
//! A connection is known as the traced client's from its client end: the client opens it
//! (its local address is noted), or the server opens it to an address the client listens on
//! (a callback; the server end's local address is noted). The other end finds its connection
//! by address when its first bytes flow — by then the opener has registered it.

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::{Message, Trace, TracedEvent, What, KEEP_BYTES, KEEP_MESSAGES};

/// One direction of a traced connection.
#[derive(Debug, Default)]
struct Flow {
    written: u64,
    read: u64,
    /// Messages not yet fully read: (index, end offset).
    unread: VecDeque<(usize, u64)>,
    /// The sender's close, not yet seen by the reader.
    fin: Option<usize>,
}

#[derive(Debug)]
struct Conn {
    up: Flow,
    down: Flow,
    connect: Option<usize>,
}

/// The traced client's connections as they happen.
#[derive(Debug)]
pub(crate) struct Tracer {
    client: usize,
    trace: Trace,
    conns: Vec<Conn>,
    /// The address of each connection's opening end, for the other end to find it.
    addrs: Vec<(SocketAddr, u32)>,
    /// Addresses the client listens on.
    listening: Vec<SocketAddr>,
}

impl Tracer {
    pub(crate) fn new(client: usize) -> Tracer {
        Tracer {
            client,
            trace: Trace {
                client,
                ..Trace::default()
            },
            conns: Vec::new(),
            addrs: Vec::new(),
            listening: Vec::new(),
        }
    }

    /// Whether `client` is the traced one.
    pub(crate) fn traces(&self, client: usize) -> bool {
        self.client == client
    }

    fn push(&mut self, m: Message) -> Option<usize> {
        if self.trace.messages.len() >= KEEP_MESSAGES {
            self.trace.truncated = true;
            return None;
        }
        self.trace.messages.push(m);
        Some(self.trace.messages.len() - 1)
    }

    /// A connection opened by the client (`up`) or by the server to the client, from local
    /// address `addr`, its handshake started at `started_ms`; returns its number.
    pub(crate) fn open(&mut self, addr: SocketAddr, up: bool, started_ms: u64) -> u32 {
        let conn = self.conns.len() as u32 + 1;
        let connect = self.push(Message {
            conn,
            up,
            what: What::Connect,
            sent_ms: started_ms,
            arrived_ms: None,
            len: 0,
            bytes: Vec::new(),
        });
        self.conns.push(Conn {
            up: Flow::default(),
            down: Flow::default(),
            connect,
        });
        self.addrs.push((addr, conn));
        conn
    }

    /// The client listens on `addr`.
    pub(crate) fn listening(&mut self, addr: SocketAddr) {
        self.listening.push(addr);
    }

    /// Whether a server connecting to `addr` reaches the traced client.
    pub(crate) fn is_listening(&self, addr: SocketAddr) -> bool {
        self.listening.contains(&addr)
    }

    /// The connection whose opening end has address `peer`, as seen from the other end, which
    /// accepted it at `accepted_ms`.
    pub(crate) fn find(&mut self, peer: SocketAddr, accepted_ms: u64) -> Option<u32> {
        let conn = self.addrs.iter().find(|(a, _)| *a == peer)?.1;
        if let Some(i) = self.conns[conn as usize - 1].connect {
            self.trace.messages[i].arrived_ms.get_or_insert(accepted_ms);
        }
        Some(conn)
    }

    fn flow(&mut self, conn: u32, up: bool) -> &mut Flow {
        let c = &mut self.conns[conn as usize - 1];
        if up {
            &mut c.up
        } else {
            &mut c.down
        }
    }

    /// `bytes` written at `t` on `conn`, going up or down.
    pub(crate) fn wrote(&mut self, conn: u32, up: bool, t: u64, bytes: &[u8]) {
        let len = bytes.len() as u64;
        let index = self.push(Message {
            conn,
            up,
            what: What::Data,
            sent_ms: t,
            arrived_ms: None,
            len,
            bytes: bytes[..bytes.len().min(KEEP_BYTES)].to_vec(),
        });
        let flow = self.flow(conn, up);
        flow.written += len;
        if let Some(i) = index {
            let end = flow.written;
            flow.unread.push_back((i, end));
        }
    }

    /// The other end of `conn` read `n` bytes going up or down at `t`.
    pub(crate) fn read(&mut self, conn: u32, up: bool, t: u64, n: u64) {
        let flow = self.flow(conn, up);
        flow.read += n;
        let read = flow.read;
        let mut arrived = Vec::new();
        while let Some(&(i, end)) = flow.unread.front() {
            if end > read {
                break;
            }
            arrived.push(i);
            flow.unread.pop_front();
        }
        for i in arrived {
            self.trace.messages[i].arrived_ms = Some(t);
        }
    }

    /// The sender of flow `up` closed `conn` at `t`.
    pub(crate) fn closed(&mut self, conn: u32, up: bool, t: u64) {
        let index = self.push(Message {
            conn,
            up,
            what: What::Close,
            sent_ms: t,
            arrived_ms: None,
            len: 0,
            bytes: Vec::new(),
        });
        self.flow(conn, up).fin = index;
    }

    /// The reader of flow `up` saw end-of-stream at `t`.
    pub(crate) fn ended(&mut self, conn: u32, up: bool, t: u64) {
        if let Some(i) = self.flow(conn, up).fin.take() {
            self.trace.messages[i].arrived_ms = Some(t);
        }
    }

    /// An event created at `created_ms` for the traced client.
    pub(crate) fn event(&mut self, id: u64, event_type: &str, created_ms: u64) {
        self.trace.events.push(TracedEvent {
            id,
            event_type: event_type.to_string(),
            created_ms,
        });
    }

    /// The run is over at `t`: the server closes its connections.
    pub(crate) fn closing(&mut self, t: u64) {
        self.trace.closing_ms = Some(t);
    }

    /// What was kept.
    pub(crate) fn trace(&self) -> &Trace {
        &self.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read that covers two writes and part of a third marks exactly the first two as
    /// arrived; the third arrives with the read that passes its last byte.
    #[test]
    fn arrival_is_when_the_reader_passes_the_last_byte() {
        let addr: SocketAddr = "192.168.0.2:49152".parse().unwrap();
        let mut t = Tracer::new(0);
        let c = t.open(addr, true, 5);
        assert_eq!(t.find(addr, 30), Some(c));
        t.wrote(c, false, 100, b"abc");
        t.wrote(c, false, 101, b"de");
        t.wrote(c, false, 102, b"fghij");
        t.read(c, false, 150, 7); // abc de fg
        t.read(c, false, 160, 3); // hij
        let m = &t.trace().messages;
        assert_eq!(m[0].arrived_ms, Some(30), "handshake arrives when accepted");
        assert_eq!(
            m[1..].iter().map(|m| m.arrived_ms).collect::<Vec<_>>(),
            vec![Some(150), Some(150), Some(160)]
        );
        t.closed(c, true, 200);
        t.ended(c, true, 230);
        assert_eq!(t.trace().messages[4].what, What::Close);
        assert_eq!(t.trace().messages[4].arrived_ms, Some(230));
        let other: SocketAddr = "192.168.0.2:49153".parse().unwrap();
        assert_eq!(t.find(other, 40), None);
    }
}
