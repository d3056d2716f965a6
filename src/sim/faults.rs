//! Faults and the imperfect network: what `[[faults]]`, `[proxy]` and `[network] loss` do to
//! the simulated connections (docs/faults.md has the model and where it departs from reality).
//!
//! turmoil moves bytes, not packets, so every effect is applied where the bytes are read, in
//! [`super::Metered`]:
//!
//! - **server restart**: the harness crashes the server host (turmoil drops its tasks and
//!   sockets: every peer gets a FIN or a reset) and starts it again `down_s` later; the feed
//!   loses its mailboxes unless `[server] durable`;
//! - **outage**: an affected client's connections deliver nothing, either way, until the
//!   outage ends; then what was sent arrives (TCP retransmits until the path is back). A new
//!   connection's SYN gets through when the outage ends;
//! - **proxy idle timeout**: a connection with no bytes either way for `idle_timeout_s` is cut
//!   at both ends; a request still waiting for its answer gets `504 Gateway Timeout` first;
//! - **loss**: each segment (a write, split into 1,448-byte segments) is lost with probability
//!   p and arrives one RTO later, doubling for each repeated loss; bytes behind a late segment
//!   wait for it (in-order delivery: head-of-line blocking). A lost SYN is resent after 1 s.
//!
//! Connections are matched across their two ends by the client's address: the client end
//! registers a [`Link`], the server end finds it by its peer address when it first reads.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Waker;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::{Fault, Scenario};

/// TCP's maximum segment size with timestamps on an Ethernet path.
pub const MSS: usize = 1_448;

/// The initial retransmission timeout of a SYN (RFC 6298 §2.1 and §5.7; Linux's
/// `TCP_TIMEOUT_INIT`): a lost SYN is resent 1 s later, then 2 s, 4 s, …
pub const SYN_RTO_MS: u64 = 1_000;

/// A `504` a proxy sends for a request whose answer did not come in its idle timeout.
pub const GATEWAY_TIMEOUT: &[u8] =
    b"HTTP/1.1 504 Gateway Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// One outage: `[from, to)` ms, and which clients it cuts off.
#[derive(Debug)]
pub(crate) struct Outage {
    pub from: u64,
    pub to: u64,
    pub affected: Vec<bool>,
}

/// The faults of one run (built only when the scenario has some: the fault-free path does
/// not pay for them).
pub(crate) struct Faults {
    /// Server down windows `[crash, back)`, ms.
    pub restarts: Vec<(u64, u64)>,
    pub outages: Vec<Outage>,
    pub idle_ms: Option<u64>,
    /// The idle cut is silent (a NAT forgetting the connection).
    pub silent: bool,
    pub loss: f64,
    pub rto_ms: u64,
    pub durable: bool,
    seed: u64,
    /// Churn: each client's offline windows `[from, to)`, in time order (empty without churn).
    pub away: Vec<Vec<(u64, u64)>>,
    /// Who holds which public address when (with churn or address changes).
    pub plan: Option<Rc<crate::addresses::AddressPlan>>,
    links: RefCell<BTreeMap<SocketAddr, Rc<Link>>>,
    /// Connections opened so far (numbers each link's random stream).
    opened: Cell<u64>,
}

impl Faults {
    /// The faults of `scenario`, or `None` if it has none.
    pub(crate) fn of(s: &Scenario) -> Option<Rc<Faults>> {
        let churn = s.clients.online_s.zip(s.clients.offline_s);
        let has_any = !s.faults.is_empty()
            || s.proxy.idle_timeout_s.is_some()
            || s.network.loss > 0.0
            || churn.is_some()
            || s.clients.address_change_per_hour > 0.0;
        if !has_any {
            return None;
        }
        let n = s.clients.count as usize;
        let mut restarts = Vec::new();
        let mut outages = Vec::new();
        for (i, f) in s.faults.iter().enumerate() {
            let (from, to) = f.window_ms();
            match *f {
                Fault::ServerRestart { .. } => restarts.push((from, to)),
                Fault::Outage { clients, .. } => {
                    outages.push(Outage {
                        from,
                        to,
                        affected: choose(n, clients, s.seed, i as u64),
                    });
                }
            }
        }
        let mut away_windows: Vec<Vec<(u64, u64)>> = match churn {
            None => Vec::new(),
            Some((on, off)) => (0..n)
                .map(|c| crate::addresses::away(s, c, on, off))
                .collect(),
        };
        let plan = crate::addresses::AddressPlan::of(s, &away_windows).map(Rc::new);
        if let Some(p) = &plan {
            // a client is without connections while it has no address: away, changing it,
            // or waiting for one to rest
            away_windows = p.gaps();
        }
        Some(Rc::new(Faults {
            restarts,
            outages,
            idle_ms: s.proxy.idle_timeout_s.map(|t| (t * 1000.0).round() as u64),
            silent: s.proxy.silent,
            loss: s.network.loss,
            rto_ms: s.network.rto_ms,
            durable: s.server.durable,
            seed: s.seed,
            away: away_windows,
            plan,
            links: RefCell::new(BTreeMap::new()),
            opened: Cell::new(0),
        }))
    }

    /// If `client` is cut off at `now`, when its outage ends.
    pub(crate) fn cut_off_until(&self, client: usize, now: u64) -> Option<u64> {
        self.outages
            .iter()
            .filter(|o| o.from <= now && now < o.to && o.affected[client])
            .map(|o| o.to)
            .max()
    }

    /// If `client` is away (churn) at `now`, when it comes back.
    pub(crate) fn offline_until(&self, client: usize, now: u64) -> Option<u64> {
        let windows = self.away.get(client)?;
        let i = windows.partition_point(|w| w.1 <= now);
        windows.get(i).filter(|w| w.0 <= now).map(|w| w.1)
    }

    /// When `client` next goes away after `now` (churn), if it does.
    pub(crate) fn next_offline(&self, client: usize, now: u64) -> Option<u64> {
        let windows = self.away.get(client)?;
        let i = windows.partition_point(|w| w.0 <= now);
        windows.get(i).map(|w| w.0)
    }

    /// Whether the server is down at `t` (events created then reach no mailbox unless the
    /// server is durable).
    pub(crate) fn server_down(&self, t: u64) -> bool {
        self.restarts.iter().any(|&(a, b)| a <= t && t < b)
    }

    /// A new connection of `client`, registered under its local address.
    pub(crate) fn open_link(&self, client: usize, local: SocketAddr, now: u64) -> Rc<Link> {
        let k = self.opened.get();
        self.opened.set(k + 1);
        let rng = |dir: u64| {
            let mut r = ChaCha8Rng::seed_from_u64(self.seed ^ 0x6c6f_7373);
            r.set_stream((k << 1) | dir);
            RefCell::new(r)
        };
        let link = Rc::new(Link {
            client,
            last_activity: Cell::new(now),
            proxy_cut: Cell::new(false),
            silent_since: Cell::new(None),
            server_gone_at: Cell::new(None),
            client_gone: Cell::new(false),
            counted: Cell::new(false),
            upgraded: Cell::new(false),
            awaiting_answer: Cell::new(false),
            wakers: RefCell::new([None, None]),
            rng: [rng(0), rng(1)],
        });
        self.links.borrow_mut().insert(local, link.clone());
        link
    }

    /// The link whose client end has address `peer`.
    pub(crate) fn find(&self, peer: SocketAddr) -> Option<Rc<Link>> {
        self.links.borrow().get(&peer).cloned()
    }

    /// Forget `link`, registered under `local` (both its ends are gone) — unless a newer
    /// connection from the same port has taken its place.
    pub(crate) fn forget(&self, local: SocketAddr, link: &Rc<Link>) {
        let mut links = self.links.borrow_mut();
        if links.get(&local).is_some_and(|l| Rc::ptr_eq(l, link)) {
            links.remove(&local);
        }
    }

    /// The extra delay of a chunk of `len` bytes read at one end: each of its segments is lost
    /// with probability `loss`, and arrives one RTO later per loss, the RTO doubling (the chunk
    /// is ready when its last segment is).
    pub(crate) fn loss_delay(&self, rng: &mut ChaCha8Rng, len: usize) -> u64 {
        let mut worst = 0;
        for _ in 0..len.div_ceil(MSS).max(1) {
            let (mut extra, mut rto) = (0, self.rto_ms);
            while rng.random::<f64>() < self.loss {
                extra += rto;
                rto = (rto * 2).min(120_000);
            }
            worst = worst.max(extra);
        }
        worst
    }

    /// How long a SYN takes to get through: each loss costs [`SYN_RTO_MS`], doubling.
    pub(crate) fn syn_delay(&self, rng: &mut ChaCha8Rng) -> u64 {
        let (mut extra, mut rto) = (0, SYN_RTO_MS);
        while self.loss > 0.0 && rng.random::<f64>() < self.loss {
            extra += rto;
            rto *= 2;
        }
        extra
    }
}

/// `round(share × n)` clients, chosen by the seed (a partial Fisher–Yates shuffle).
fn choose(n: usize, share: f64, seed: u64, salt: u64) -> Vec<bool> {
    let k = ((share * n as f64).round() as usize).clamp(1, n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6f75_7461_6765);
    rng.set_stream(salt);
    let mut ids: Vec<usize> = (0..n).collect();
    let mut out = vec![false; n];
    for i in 0..k {
        let j = rng.random_range(i..n);
        ids.swap(i, j);
        out[ids[i]] = true;
    }
    out
}

/// What the two ends of one connection share.
pub(crate) struct Link {
    pub client: usize,
    /// When bytes last went either way (for the proxy's idle timeout).
    pub last_activity: Cell<u64>,
    /// The proxy cut the connection.
    pub proxy_cut: Cell<bool>,
    /// When a silent cut (a NAT forgetting it) made the connection dead, if one did.
    pub silent_since: Cell<Option<u64>>,
    /// When the server end went away (crash, close, drop), if it has.
    pub server_gone_at: Cell<Option<u64>>,
    /// The client end has noticed the connection is over (or dropped it).
    pub client_gone: Cell<bool>,
    /// The server has accepted it (its accept work done): from then on the client counts as
    /// connected through it, until either end is gone.
    pub counted: Cell<bool>,
    /// The server answered `101 Switching Protocols`: no longer an HTTP exchange.
    pub upgraded: Cell<bool>,
    /// The client wrote last: a request is waiting for its answer.
    pub awaiting_answer: Cell<bool>,
    /// The reading task of each end (0: client, 1: server), woken when the proxy cuts.
    pub wakers: RefCell<[Option<Waker>; 2]>,
    /// Loss draws for the bytes each end reads (0: client, 1: server).
    pub rng: [RefCell<ChaCha8Rng>; 2],
}

impl Link {
    /// Bytes went through at `now`; `from_client` says who wrote them.
    pub(crate) fn wrote(&self, now: u64, from_client: bool, bytes: &[u8]) {
        self.last_activity.set(now);
        self.awaiting_answer.set(from_client);
        if !from_client && bytes.starts_with(b"HTTP/1.1 101") {
            self.upgraded.set(true);
        }
    }

    /// The proxy cuts the connection: both ends learn it (unless the cut is silent).
    pub(crate) fn cut(&self, now: u64, silent: bool) {
        self.proxy_cut.set(true);
        if silent {
            // neither end is told; for the client it is dead from now on
            self.silent_since.set(Some(now));
            return;
        }
        for w in self.wakers.borrow_mut().iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_cuts_off_the_share_it_names() {
        let chosen = choose(1000, 0.3, 7, 0);
        assert_eq!(chosen.iter().filter(|&&c| c).count(), 300);
        assert_ne!(chosen, choose(1000, 0.3, 8, 0), "the seed chooses");
        assert_eq!(choose(10, 1.0, 1, 0), vec![true; 10]);
    }

    /// One segment, loss p: the extra delay is RTO·(2^k − 1) after k losses, so
    /// P(extra > 0) = p and E[extra] = Σ p^k (1 − p) RTO (2^k − 1) = RTO·p/(1 − 2p).
    #[test]
    fn loss_delays_follow_the_geometric_retransmissions() {
        let f = Faults {
            restarts: vec![],
            outages: vec![],
            idle_ms: None,
            silent: false,
            loss: 0.1,
            rto_ms: 200,
            durable: false,
            seed: 1,
            away: Vec::new(),
            plan: None,
            links: RefCell::new(BTreeMap::new()),
            opened: Cell::new(0),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 200_000;
        let draws: Vec<u64> = (0..n).map(|_| f.loss_delay(&mut rng, 100)).collect();
        let late = draws.iter().filter(|&&d| d > 0).count() as f64 / n as f64;
        let mean = draws.iter().sum::<u64>() as f64 / n as f64;
        assert!((late - 0.1).abs() < 0.003, "{late}");
        let expected = 200.0 * 0.1 / (1.0 - 0.2);
        assert!(
            (mean - expected).abs() < 0.05 * expected,
            "{mean} vs {expected}"
        );
        assert!(draws
            .iter()
            .all(|d| [0, 200, 600, 1400, 3000, 6200].contains(d) || *d > 6200));
    }
}
