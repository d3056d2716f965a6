//! The event feed: the publisher that creates events and the per-client mailboxes a server
//! strategy takes them from.
//!
//! The publisher is a seeded Poisson process. Per-client streams of rate λ over N clients are
//! generated as their sum — one stream of rate N·λ whose events each go to a uniformly random
//! client — which has exactly the same distribution and costs one timer instead of N. Event
//! times are rounded up to the next 1 ms tick (the simulation's resolution).
//!
//! Mailboxes keep events until the client acknowledges them ([`Feed::ack`]), so a strategy can
//! resend after a broken connection without losing or duplicating anything. A strategy may
//! bound them instead (`history`, as an SSE server's replay buffer): then the oldest event is
//! forgotten when a new one arrives, and an unsent event forgotten that way is lost.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;

use crate::metrics::{now_ms, RecorderHandle};
use crate::scenario::{Fanout, Scenario};

/// One event for one client. Ids start at 1 and increase in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Event id (shared by every recipient of a fan-out event).
    pub id: u64,
    /// Creation time, simulated ms.
    pub created_ms: u64,
    /// Index into the scenario's `events.types`.
    pub kind: u16,
}

/// The per-client mailboxes of the server host (cheap to clone: a shared handle).
#[derive(Clone)]
pub struct Feed {
    inner: Rc<Inner>,
}

struct Inner {
    boxes: RefCell<Vec<VecDeque<Event>>>,
    notify: Vec<Notify>,
    history: Option<usize>,
    payload_len: usize,
    types: Vec<String>,
    rec: RecorderHandle,
}

impl Feed {
    pub(crate) fn new(scenario: &Scenario, history: Option<usize>, rec: RecorderHandle) -> Feed {
        let clients = scenario.clients.count as usize;
        Feed {
            inner: Rc::new(Inner {
                boxes: RefCell::new(vec![VecDeque::new(); clients]),
                notify: (0..clients).map(|_| Notify::new()).collect(),
                history,
                payload_len: scenario.events.payload_bytes as usize,
                types: scenario.events.types.clone(),
                rec,
            }),
        }
    }

    /// Number of clients (valid client ids are `0..clients()`).
    pub fn clients(&self) -> usize {
        self.inner.notify.len()
    }

    fn push(&self, client: usize, event: Event) {
        let mut boxes = self.inner.boxes.borrow_mut();
        let queue = &mut boxes[client];
        let mut stored = 1;
        if self.inner.history.is_some_and(|h| queue.len() >= h) {
            // a bounded history forgets the oldest event, sent or not
            queue.pop_front();
            stored = 0;
        }
        queue.push_back(event);
        drop(boxes);
        if stored > 0 {
            self.inner.rec.borrow_mut().stored_events(stored);
        }
        self.inner.notify[client].notify_one();
    }

    /// Forget `client`'s events with id ≤ `upto`: the client has them.
    pub fn ack(&self, client: usize, upto: u64) {
        let mut boxes = self.inner.boxes.borrow_mut();
        let queue = &mut boxes[client];
        let mut forgotten = 0;
        while queue.front().is_some_and(|e| e.id <= upto) {
            queue.pop_front();
            forgotten += 1;
        }
        drop(boxes);
        if forgotten > 0 {
            self.inner.rec.borrow_mut().stored_events(-forgotten);
        }
    }

    /// `client`'s unacknowledged events, oldest first (they stay until acknowledged).
    pub fn pending(&self, client: usize) -> Vec<Event> {
        self.pending_after(client, 0)
    }

    /// `client`'s retained events with id above `after`, oldest first.
    pub fn pending_after(&self, client: usize, after: u64) -> Vec<Event> {
        self.inner.boxes.borrow()[client]
            .iter()
            .filter(|e| e.id > after)
            .copied()
            .collect()
    }

    /// The type name of `event`.
    pub fn type_name(&self, event: &Event) -> &str {
        &self.inner.types[event.kind as usize]
    }

    /// Wait until an event is pushed for `client` (may also return early: check [`Feed::pending`]).
    pub async fn changed(&self, client: usize) {
        self.inner.notify[client].notified().await
    }

    /// The payload bytes of `event`, exactly `payload_bytes` long; counted as payload sent.
    pub fn encode(&self, event: &Event) -> Bytes {
        self.inner
            .rec
            .borrow_mut()
            .payload_sent(self.inner.payload_len);
        crate::protocol::payload::encode(
            event.id,
            self.type_name(event),
            event.created_ms,
            self.inner.payload_len,
        )
    }
}

/// Create the scenario's events for `[0, duration_s)` and push them into `feed`.
pub(crate) async fn publish(feed: Feed, scenario: Rc<Scenario>, rec: RecorderHandle) {
    let (rate, fanout) = scenario.event_rate();
    let clients = feed.clients();
    let end_ms = (scenario.duration_s * 1000.0) as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed);
    rng.set_stream(u64::MAX); // apart from every client's stream
    let mut t = 0.0_f64; // seconds
    let mut id = 0;
    loop {
        // exponential inter-arrival time by inversion; 1 - u is in (0, 1]
        let u: f64 = rng.random();
        t += -(1.0 - u).ln() / rate;
        let at_ms = (t * 1000.0).ceil() as u64;
        if at_ms >= end_ms {
            break;
        }
        let now = now_ms();
        if at_ms > now {
            tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
        }
        id += 1;
        let types = scenario.events.types.len();
        let event = Event {
            id,
            created_ms: now_ms(),
            kind: if types > 1 {
                rng.random_range(0..types) as u16
            } else {
                0
            },
        };
        match fanout {
            Fanout::One => {
                let client = rng.random_range(0..clients);
                let mut r = rec.borrow_mut();
                r.event_generated(id, Some(client), 1, event.created_ms);
                r.trace_event(Some(client), id, feed.type_name(&event), event.created_ms);
                drop(r);
                feed.push(client, event);
            }
            Fanout::All => {
                let mut r = rec.borrow_mut();
                r.event_generated(id, None, clients as u64, event.created_ms);
                r.trace_event(None, id, feed.type_name(&event), event.created_ms);
                drop(r);
                for client in 0..clients {
                    feed.push(client, event);
                }
            }
        }
    }
    rec.borrow_mut().publisher_finished();
}
