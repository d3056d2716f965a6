//! From application bytes to wire bytes: a TCP/IPv4 overhead model applied to what each
//! metered stream writes and reads.
//!
//! turmoil moves application bytes, not packets, so packets are modelled (figures from
//! `docs/sources.md`, "TCP and IP overhead", after RFC 9293/7323 and Linux defaults):
//! - every data segment carries 52 bytes of IPv4 + TCP headers (with timestamps), and a write
//!   is split into segments of at most 1,448 bytes (the MSS with timestamps);
//! - the three-way handshake is 172 bytes (SYN 60 and ACK 52 up, SYN-ACK 60 down);
//! - each side's teardown is a FIN and the ACK of the peer's FIN: 2 × 52 bytes;
//! - received data is acknowledged once per burst: the ACK rides on the receiver's next data
//!   segment if it sends within the 40 ms delayed-ACK window, otherwise a 52-byte pure ACK goes
//!   out when the window ends.
//!
//! That gives 3 packets for a short poll, 2 for a pushed event (data + ACK) and 3 for a
//! WebSocket ping/pong, as `docs/sources.md` counts them. Not modelled: ACKs every second full segment
//! (bulk transfers), window updates, TLS, IPv6 (+20 bytes a packet).

use crate::metrics::{Direction, Recorder};

/// IPv4 + TCP header bytes per segment, with the timestamp option.
pub const HEADER: u64 = 52;
/// Largest segment payload with timestamps on a 1,500-byte MTU.
pub const MSS: u64 = 1448;
/// SYN and SYN-ACK size (with options).
pub const SYN: u64 = 60;
/// How long a receiver waits for outgoing data to carry its ACK.
pub const DELAYED_ACK_MS: u64 = 40;

/// One side's view of a connection: what it must acknowledge.
#[derive(Debug, Default)]
pub struct AckState {
    owed_since: Option<u64>,
}

impl AckState {
    /// Data arrived at `t`: an ACK is owed (one per burst).
    pub fn received(&mut self, t: u64) {
        self.owed_since.get_or_insert(t);
    }

    /// Send the pure ACK owed, if its delay ran out before `t`.
    pub fn settle(&mut self, t: u64, sends: Direction, rec: &mut Recorder) {
        if let Some(since) = self.owed_since {
            if t > since + DELAYED_ACK_MS {
                rec.wire(since + DELAYED_ACK_MS, sends, 1, HEADER);
                self.owed_since = None;
            }
        }
    }

    /// This side writes `n` bytes at `t`: data segments, carrying any owed ACK.
    pub fn sent(&mut self, t: u64, n: u64, sends: Direction, rec: &mut Recorder) {
        self.settle(t, sends, rec);
        self.owed_since = None; // piggybacked
        let segments = n.div_ceil(MSS).max(1);
        rec.wire(t, sends, segments, n + segments * HEADER);
    }

    /// The connection closes at `t` (or the run ended): a still-owed ACK goes out when its delay
    /// ends, then this side's FIN and its ACK of the peer's FIN.
    pub fn close(&mut self, t: u64, sends: Direction, rec: &mut Recorder) {
        if let Some(since) = self.owed_since.take() {
            rec.wire(since + DELAYED_ACK_MS, sends, 1, HEADER);
        }
        if t > 0 {
            rec.wire(t, sends, 2, 2 * HEADER);
        }
    }
}

/// The three-way handshake at `t` of a connection a client opens.
pub fn handshake(t: u64, rec: &mut Recorder) {
    rec.wire(t, Direction::Up, 2, SYN + HEADER);
    rec.wire(t, Direction::Down, 1, SYN);
}

/// The three-way handshake at `t` of a connection the server opens to a client.
pub fn handshake_from_server(t: u64, rec: &mut Recorder) {
    rec.wire(t, Direction::Down, 2, SYN + HEADER);
    rec.wire(t, Direction::Up, 1, SYN);
}
