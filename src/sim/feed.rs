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
    generation: RefCell<Vec<u64>>,
    /// The newest event id given to any mailbox.
    newest: std::cell::Cell<u64>,
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
                generation: RefCell::new(vec![0; clients]),
                newest: std::cell::Cell::new(0),
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

    /// Put `event` in `client`'s mailbox at `now` (the time now, read by the publisher).
    fn push(&self, now: u64, client: usize, event: Event) {
        self.inner.newest.set(self.inner.newest.get().max(event.id));
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
            self.inner.rec.borrow_mut().stored_events_at(now, stored);
        }
        self.inner.notify[client].notify_one();
    }

    /// The server crashed: unless its state is durable, every mailbox is gone (what was in
    /// them is lost).
    pub(crate) fn crash(&self, durable: bool) {
        if durable {
            return;
        }
        let mut forgotten = 0;
        for queue in self.inner.boxes.borrow_mut().iter_mut() {
            forgotten += queue.len() as i64;
            queue.clear();
        }
        if forgotten > 0 {
            self.inner.rec.borrow_mut().stored_events(-forgotten);
        }
    }

    /// Forget every event waiting for `client` (a strategy without resume: a client that
    /// reconnects has lost what came while it was away).
    pub fn drop_pending(&self, client: usize) {
        self.ack(client, u64::MAX);
    }

    /// Forget `client`'s events created before `before_ms` (a resume window that has passed).
    pub fn forget_before(&self, client: usize, before_ms: u64) {
        let mut boxes = self.inner.boxes.borrow_mut();
        let queue = &mut boxes[client];
        let mut forgotten = 0;
        while queue.front().is_some_and(|e| e.created_ms < before_ms) {
            queue.pop_front();
            forgotten += 1;
        }
        drop(boxes);
        if forgotten > 0 {
            self.inner.rec.borrow_mut().stored_events(-forgotten);
        }
    }

    /// A new connection of `client` takes over from any older one still waiting (a half-open
    /// connection the server has not noticed is dead): returns its generation; the older
    /// ones see [`Feed::is_current`] turn false and stop.
    pub fn claim(&self, client: usize) -> u64 {
        let mut gens = self.inner.generation.borrow_mut();
        gens[client] += 1;
        let g = gens[client];
        drop(gens);
        self.inner.notify[client].notify_waiters();
        g
    }

    /// Whether generation `g` of `client` is still the newest.
    pub fn is_current(&self, client: usize, g: u64) -> bool {
        self.inner.generation.borrow()[client] == g
    }

    /// Pass a wake-up on to the other waiter of `client` (an older connection that is stopping
    /// may have taken one meant for the newer).
    pub fn pass_on(&self, client: usize) {
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

    /// The newest event id created so far (0 before the first): an id a client claims to have
    /// seen beyond it is not one this server gave.
    pub fn newest_id(&self) -> u64 {
        self.inner.newest.get()
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

/// Where the publisher is in its sequence of events: kept outside the server host, so a
/// restarted server's publisher carries on where the crashed one stopped.
pub(crate) struct Publisher {
    rng: ChaCha8Rng,
    /// Seconds of the last event drawn.
    t: f64,
    /// The last id given.
    id: u64,
    /// The next event's time, drawn but not yet created (ms).
    next: Option<u64>,
}

impl Publisher {
    pub(crate) fn new(seed: u64) -> Rc<RefCell<Publisher>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::MAX); // apart from every client's stream
        Rc::new(RefCell::new(Publisher {
            rng,
            t: 0.0,
            id: 0,
            next: None,
        }))
    }
}

/// Create the scenario's events for `[0, duration_s)` and push them into `feed`.
///
/// The events come from the application behind the server (a message bus, a database), so
/// they go on while the server is down: a restarted server's publisher first creates the
/// events of its down time, at their own times; they reach the mailboxes only if the server
/// is durable (otherwise nobody was there to take them: they are lost).
pub(crate) async fn publish(
    feed: Feed,
    scenario: Rc<Scenario>,
    rec: RecorderHandle,
    state: Rc<RefCell<Publisher>>,
    faults: Option<Rc<crate::sim::faults::Faults>>,
) {
    let (rate, fanout) = scenario.event_rate();
    let clients = feed.clients();
    let end_ms = (scenario.duration_s * 1000.0) as u64;
    loop {
        let at_ms = {
            let mut st = state.borrow_mut();
            match st.next {
                Some(at) => at,
                None => {
                    // exponential inter-arrival time by inversion; 1 - u is in (0, 1]
                    let u: f64 = st.rng.random();
                    st.t += -(1.0 - u).ln() / rate;
                    let at = (st.t * 1000.0).ceil() as u64;
                    st.next = Some(at);
                    at
                }
            }
        };
        if at_ms >= end_ms {
            break;
        }
        let now = now_ms();
        // the time the event is created: now, or after the sleep
        let mut created = now;
        if at_ms > now {
            tokio::time::sleep(Duration::from_millis(at_ms - now)).await;
            created = now_ms();
        }
        let mut st = state.borrow_mut();
        st.next = None;
        st.id += 1;
        let id = st.id;
        let types = scenario.events.types.len();
        let event = Event {
            id,
            // an event of the server's down time keeps its own time
            created_ms: if faults.is_some() && at_ms < now {
                at_ms
            } else {
                created
            },
            kind: if types > 1 {
                st.rng.random_range(0..types) as u16
            } else {
                0
            },
        };
        let stored = faults
            .as_ref()
            .is_none_or(|f| f.durable || !f.server_down(event.created_ms));
        match fanout {
            Fanout::One => {
                let client = st.rng.random_range(0..clients);
                drop(st);
                let mut r = rec.borrow_mut();
                r.event_generated(id, Some(client), 1, event.created_ms);
                r.trace_event(Some(client), id, feed.type_name(&event), event.created_ms);
                drop(r);
                if stored {
                    feed.push(created, client, event);
                }
            }
            Fanout::All => {
                drop(st);
                let mut r = rec.borrow_mut();
                r.event_generated(id, None, clients as u64, event.created_ms);
                r.trace_event(None, id, feed.type_name(&event), event.created_ms);
                drop(r);
                if stored {
                    for client in 0..clients {
                        feed.push(created, client, event);
                    }
                }
            }
        }
    }
    rec.borrow_mut().publisher_finished();
}
