//! Public client addresses: who holds which address when (docs/addresses.md).
//!
//! The clients share a finite pool of public addresses (`[clients] address_pool`), drawn
//! from 198.18.0.0/15, the block RFC 2544 reserves for benchmarks (never routed on the
//! Internet, so no real address appears in the output). A client takes an address when it
//! starts and when it comes back from an absence (churn), and takes a new one each time its
//! address changes (`address_change_per_hour`); the address it leaves goes back to the pool
//! and, after resting `address_reuse_after_s`, is handed to whoever asks next, least recently
//! released first (as a DHCP server prefers, RFC 2131 §4.3.1).
//!
//! The whole plan is drawn before the run from the seed, so the simulation only looks it up:
//! which address a client has now ([`AddressPlan::address_of`]), who holds an address now
//! ([`AddressPlan::holder`]), and when a client's address goes away.

use std::collections::{BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::Scenario;

/// The first address of the pool: 198.18.0.0 (RFC 2544's benchmarking block).
const BASE: u32 = u32::from_be_bytes([198, 18, 0, 0]);
/// Addresses in 198.18.0.0/15.
const BLOCK: u32 = 1 << 17;
/// The port a client listens on for callbacks (the next /15 block's worth of addresses uses
/// the next port).
pub const CALLBACK_PORT: u16 = 8080;
/// How long a client is without an address when it changes: the handover itself (1 ms, one
/// tick: the new address is there at once; what costs time is reconnecting).
pub const HANDOVER_MS: u64 = 1;

/// Address `index` of the pool as a socket address.
pub fn public(index: u32) -> SocketAddr {
    SocketAddr::from((
        Ipv4Addr::from(BASE + index % BLOCK),
        CALLBACK_PORT + (index / BLOCK) as u16,
    ))
}

/// The pool index of a public address, if it is one.
pub fn index_of(addr: SocketAddr) -> Option<u32> {
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        return None;
    };
    let ip = u32::from(ip);
    let port = addr.port().checked_sub(CALLBACK_PORT)? as u32;
    if !(BASE..BASE + BLOCK).contains(&ip) {
        return None;
    }
    port.checked_mul(BLOCK)?.checked_add(ip - BASE)
}

/// One stretch of time a client holds one address: `[from, to)` ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// When the client takes the address, ms.
    pub from: u64,
    /// When it leaves it (`u64::MAX`: never), ms.
    pub to: u64,
    /// The address's index in the pool ([`public`] turns it into a socket address).
    pub address: u32,
    /// The session starts after an absence (or the client's start), not an address change:
    /// the client knows it has just come online.
    pub after_absence: bool,
}

/// Who holds which address when.
#[derive(Debug, Default)]
pub struct AddressPlan {
    /// Each client's sessions in time order.
    sessions: Vec<Vec<Session>>,
    /// Each address's holders `(from, to, client)` in time order.
    holders: Vec<Vec<(u64, u64, u32)>>,
    /// Address changes within the run (not counting starts and returns).
    pub changes: u64,
    /// When each client starts.
    starts: Vec<u64>,
    /// Times a client had to wait for an address to rest (the pool was short).
    pub waits: u64,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // at one instant, addresses are released before they are asked for
    Release,
    Acquire { after_absence: bool },
}

impl AddressPlan {
    /// The plan of `s`, given each client's churn absences `away` (empty without churn);
    /// `None` when addresses never move (no churn and no changes: client `c` has address `c`).
    pub(crate) fn of(s: &Scenario, away: &[Vec<(u64, u64)>]) -> Option<AddressPlan> {
        let c = &s.clients;
        if c.address_change_per_hour <= 0.0 && away.iter().all(Vec::is_empty) {
            return None;
        }
        let n = c.count as usize;
        let end = (s.duration_s * 1000.0).round() as u64;
        let start = |id: usize| (c.connect_over_s * 1000.0) as u64 * id as u64 / n as u64;
        let rest = (c.address_reuse_after_s * 1000.0).round() as u64;
        let pool = c
            .address_pool
            .unwrap_or_else(|| crate::scenario::default_address_pool(c));

        // every client's online stretches and the address changes within them
        let mut heap = BinaryHeap::new();
        let mut seq = 0u64;
        let mut push = |heap: &mut BinaryHeap<_>, t: u64, kind: Kind, id: usize, until: u64| {
            seq += 1;
            heap.push(std::cmp::Reverse((t, kind, id, seq, until)));
        };
        let rate_per_ms = c.address_change_per_hour / 3_600_000.0;
        for id in 0..n {
            let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x6164_6472);
            rng.set_stream(id as u64);
            let mut online = Vec::new();
            let mut t = start(id);
            for &(from, to) in away.get(id).map_or(&[][..], Vec::as_slice) {
                online.push((t, from));
                t = to;
            }
            online.push((t, u64::MAX));
            for (from, to) in online {
                let mut at = from;
                let mut first = true;
                // changes only while events are generated (as absences): the end is calm
                loop {
                    let next = if rate_per_ms > 0.0 {
                        let u: f64 = rng.random();
                        // (a float beyond u64 saturates: a change that never comes)
                        at.saturating_add(((-(1.0 - u).ln() / rate_per_ms).round() as u64).max(1))
                    } else {
                        u64::MAX
                    };
                    // the next session must start (a handover later) before this stretch ends
                    let stop = next.saturating_add(HANDOVER_MS) >= to || next >= end;
                    let session_end = if stop { to } else { next };
                    push(
                        &mut heap,
                        at,
                        Kind::Acquire {
                            after_absence: first,
                        },
                        id,
                        session_end,
                    );
                    if session_end != u64::MAX {
                        push(&mut heap, session_end, Kind::Release, id, 0);
                    }
                    if stop {
                        break;
                    }
                    at = next + HANDOVER_MS;
                    first = false;
                }
            }
        }

        let mut plan = AddressPlan {
            sessions: vec![Vec::new(); n],
            holders: vec![Vec::new(); pool as usize],
            changes: 0,
            starts: (0..n).map(start).collect(),
            waits: 0,
        };
        // free addresses, least recently released first: (address, released at)
        let mut free: VecDeque<(u32, Option<u64>)> = (0..pool as u32).map(|a| (a, None)).collect();
        let mut holding: Vec<Option<(u32, u64)>> = vec![None; n];
        while let Some(std::cmp::Reverse((t, kind, id, _, until))) = heap.pop() {
            match kind {
                Kind::Release => {
                    if let Some((a, from)) = holding[id].take() {
                        plan.holders[a as usize].push((from, t, id as u32));
                        free.push_back((a, Some(t)));
                    }
                }
                Kind::Acquire { after_absence } => {
                    debug_assert!(holding[id].is_none(), "client {id} holds two addresses");
                    if t >= until {
                        continue; // the stretch is over before it could begin
                    }
                    let ready = |r: Option<u64>| r.map_or(0, |r| r + rest);
                    match free.front() {
                        Some(&(a, released)) if ready(released) <= t => {
                            free.pop_front();
                            holding[id] = Some((a, t));
                            plan.sessions[id].push(Session {
                                from: t,
                                to: until,
                                address: a,
                                after_absence,
                            });
                            if !after_absence && t < end {
                                plan.changes += 1;
                            }
                        }
                        other => {
                            // nothing has rested long enough: wait for the next address to
                            // (or for one to be released), unless the stretch is over first
                            plan.waits += 1;
                            let retry = other.map_or(t + 1_000, |&(_, r)| ready(r).max(t + 1));
                            if retry < until {
                                push(&mut heap, retry, Kind::Acquire { after_absence }, id, until);
                            }
                        }
                    }
                }
            }
        }
        for (id, h) in holding.iter().enumerate() {
            if let Some((a, from)) = h {
                plan.holders[*a as usize].push((*from, u64::MAX, id as u32));
            }
        }
        for h in &mut plan.holders {
            h.sort_unstable();
        }
        Some(plan)
    }

    /// The sessions of `client`, in time order.
    pub fn sessions(&self, client: usize) -> &[Session] {
        &self.sessions[client]
    }

    /// The session of `client` at `t`, if it is online with an address.
    pub fn session_at(&self, client: usize, t: u64) -> Option<&Session> {
        let s = &self.sessions[client];
        let i = s.partition_point(|x| x.to <= t);
        s.get(i).filter(|x| x.from <= t)
    }

    /// The address `client` has at `t`, if it has one.
    pub fn address_of(&self, client: usize, t: u64) -> Option<u32> {
        self.session_at(client, t).map(|s| s.address)
    }

    /// Who holds address `a` at `t`, if anyone.
    pub fn holder(&self, a: u32, t: u64) -> Option<usize> {
        let h = self.holders.get(a as usize)?;
        let i = h.partition_point(|x| x.1 <= t);
        h.get(i).filter(|x| x.0 <= t).map(|x| x.2 as usize)
    }

    /// Each client's times without an address after its start (absences, handovers and
    /// waits for an address), `[from, to)`, as churn absences are given.
    pub(crate) fn gaps(&self) -> Vec<Vec<(u64, u64)>> {
        self.sessions
            .iter()
            .zip(&self.starts)
            .map(|(s, &start)| {
                // before the first address (a client that starts away, or waits for one)
                let first = s.first().map_or(u64::MAX, |f| f.from);
                (start < first)
                    .then_some((start, first))
                    .into_iter()
                    .chain(
                        s.windows(2)
                            .filter(|w| w[0].to < w[1].from)
                            .map(|w| (w[0].to, w[1].from)),
                    )
                    .collect()
            })
            .collect()
    }
}

/// Client `c`'s offline windows under churn: at its start it is away with probability
/// off/(on + off) (the steady mix, so the measured window does not begin with everyone online),
/// then it stays online for an exponential time of mean `on` seconds, away for one of mean
/// `off`, and so on; nobody
/// is away after the events end (absences are cut there, so what waits for a client can
/// arrive). Whole milliseconds, at least one; the client's own seeded stream.
pub(crate) fn away(s: &Scenario, c: usize, on: f64, off: f64) -> Vec<(u64, u64)> {
    let n = s.clients.count as usize;
    let start = (s.clients.connect_over_s * 1000.0) as u64 * c as u64 / n as u64;
    let end = (s.duration_s * 1000.0) as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x0063_6875_726e);
    rng.set_stream(c as u64);
    let away_first: f64 = rng.random();
    let mut exp = |mean_s: f64| {
        let u: f64 = rng.random();
        ((-(1.0 - u).ln() * mean_s * 1000.0).round() as u64).max(1)
    };
    let mut out = Vec::new();
    let mut t = start;
    // the run starts in the steady mix: a client is away at its start with probability
    // off/(on + off), for the rest of an absence (exponential: memoryless)
    if away_first < off / (on + off) {
        let back = (t + exp(off)).min(end);
        if back > t {
            out.push((t, back));
        }
        t = back;
    }
    loop {
        t += exp(on);
        if t >= end {
            return out;
        }
        // everyone is back when the events end, so what waits for them can arrive
        let back = (t + exp(off)).min(end);
        out.push((t, back));
        t = back;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_round_trip_and_stay_in_the_benchmark_block() {
        for i in [0, 1, 255, 131_071, 131_072, 399_999] {
            assert_eq!(index_of(public(i)), Some(i));
        }
        assert_eq!(public(0).to_string(), "198.18.0.0:8080");
        assert_eq!(public(131_071).to_string(), "198.19.255.255:8080");
        assert_eq!(index_of("10.0.0.1:8080".parse().unwrap()), None);
    }

    fn plan(extra: &str) -> std::rc::Rc<AddressPlan> {
        let s = crate::scenario::Scenario::from_toml(&crate::scenario::Source {
            label: "t".into(),
            text: &format!(
                "name = \"t\"\nduration_s = 300\n[clients]\ncount = 300\nconnect_over_s = 3\n{extra}\n\
                 [events]\nrate_per_client_per_s = 0.1\n"
            ),
        })
        .unwrap();
        let n = s.clients.count as usize;
        let away: Vec<Vec<(u64, u64)>> = match (s.clients.online_s, s.clients.offline_s) {
            (Some(on), Some(off)) => (0..n).map(|c| super::away(&s, c, on, off)).collect(),
            _ => Vec::new(),
        };
        std::rc::Rc::new(AddressPlan::of(&s, &away).expect("a plan"))
    }

    /// What a pool must guarantee (RFC 2131 §4.3.1, RFC 6888 REQ-8): nobody holds an address
    /// another client holds, a released address rests `address_reuse_after_s` before anyone
    /// else gets it, and the least recently released address that has rested is handed out
    /// first.
    #[test]
    fn the_pool_never_shares_an_address_and_rests_released_ones() {
        let rest = 7_000;
        let p = plan(
            "online_s = 30\noffline_s = 10\naddress_change_per_hour = 120\n\
             address_pool = 320\naddress_reuse_after_s = 7",
        );
        assert!(p.changes > 1000, "{}", p.changes);
        for (a, h) in p.holders.iter().enumerate() {
            for w in h.windows(2) {
                assert!(w[0].1 <= w[1].0, "address {a} held twice at once: {w:?}");
                if w[0].2 != w[1].2 {
                    assert!(
                        w[1].0 >= w[0].1 + rest,
                        "address {a} reused after {} ms",
                        w[1].0 - w[0].1
                    );
                }
            }
        }
        for s in &p.sessions {
            for w in s.windows(2) {
                assert!(w[0].to <= w[1].from && w[0].from < w[0].to);
            }
        }
        // least recently released first: at each hand-out, no address that had rested
        // longer was free
        // the release before time t of address b, if b was free just before t (`Some(None)`:
        // never used)
        let free_before = |b: usize, t: u64| {
            let h = &p.holders[b];
            let i = h.partition_point(|x| x.0 < t);
            match i.checked_sub(1).map(|i| h[i]) {
                Some(prev) if prev.1 > t => None, // held at t
                Some(prev) => Some(Some(prev.1)),
                None => Some(None),
            }
        };
        // taken by someone at exactly t (an earlier request of the same instant)
        let taken_at = |b: usize, t: u64| p.holders[b].iter().any(|x| x.0 == t);
        for (c, sessions) in p.sessions.iter().enumerate() {
            for s in sessions {
                let mine = free_before(s.address as usize, s.from).expect("free when taken");
                for b in 0..p.holders.len() {
                    if b == s.address as usize || taken_at(b, s.from) {
                        continue;
                    }
                    if let Some(theirs) = free_before(b, s.from) {
                        let rested = theirs.is_none_or(|r| r + rest <= s.from);
                        let older = match (theirs, mine) {
                            (None, Some(_)) => true,
                            (Some(r), Some(m)) => r < m,
                            _ => false,
                        };
                        assert!(
                            !(rested && older),
                            "client {c} got {} at {} while {b} had rested longer",
                            s.address,
                            s.from
                        );
                    }
                }
            }
        }
    }

    /// A pool with no spare address and a rest: a client that changes must wait for an
    /// address to rest (its own old one included), and the wait shows as a gap.
    #[test]
    fn a_full_pool_makes_clients_wait_for_a_rested_address() {
        let p = plan("address_change_per_hour = 60\naddress_pool = 300\naddress_reuse_after_s = 2");
        assert!(p.waits > 0);
        let gaps = p.gaps();
        let longest = gaps.iter().flatten().map(|g| g.1 - g.0).max().unwrap();
        assert!(longest >= 2_000, "{longest}");
    }
}
