//! The plain data of a scenario: what the file says, with defaults filled in. Parsing and
//! validation live beside it (`mod.rs`, `validate.rs`); nothing here knows a strategy.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::de::{HeaderProfile, Latency};

/// Largest client count a scenario may ask for (memory stays under a few GB up to here).
pub const MAX_CLIENTS: u64 = 200_000;
/// Longest simulated run, in seconds.
pub const MAX_DURATION_S: f64 = 3_600.0;
/// Most event deliveries (events × recipients) one run may generate.
pub const MAX_DELIVERIES: f64 = 50_000_000.0;
/// Largest payload.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 20;

/// A validated scenario: every field has its final value.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Output folder name: lowercase letters, digits and `-`.
    pub name: String,
    /// What the scenario teaches (free text).
    pub description: String,
    /// Seed for every random choice in the run (turmoil's RNG, the publisher, the clients).
    pub seed: u64,
    /// Events are generated in `[0, duration_s)`.
    pub duration_s: f64,
    /// Seconds at the start excluded from summaries.
    pub warmup_s: f64,
    /// Strategy ids to run, in order. A file without `strategies` gets every registered
    /// strategy (filled in by [`crate::Lab::parse`]).
    pub strategies: Vec<String>,
    /// Whether the file had a `strategies` list.
    pub(crate) strategies_listed: bool,
    /// Client population.
    pub clients: Clients,
    /// The event feed.
    pub events: Events,
    /// Network conditions.
    pub network: Network,
    /// HTTP header profile.
    pub http: Http,
    /// Client → server messages, if any.
    pub upstream: Option<Upstream>,
    /// What the server keeps of client addresses.
    pub privacy: Privacy,
    /// Knobs of the simulation itself.
    pub simulation: Simulation,
    /// What the server's work and state cost, and its capacity (`[server]`).
    pub server: Server,
    /// How clients wait before connecting again (`[reconnect] policy`); `None`: each
    /// strategy's own default ([`crate::Strategy::reconnect`]).
    pub reconnect: Option<super::reconnect::Reconnect>,
    /// Per-strategy overrides of `[reconnect]` (`reconnect = ...` in a strategy's table).
    pub strategy_reconnect: BTreeMap<String, super::reconnect::Reconnect>,
    /// Timed faults (`[[faults]]`), in file order.
    pub faults: Vec<Fault>,
    /// An intermediary between clients and server (`[proxy]`).
    pub proxy: Proxy,
    /// Raw per-strategy tables (`[short-polling]` …), keyed by strategy id; each strategy parses
    /// and checks its own.
    pub strategy_tables: BTreeMap<String, toml::Table>,
    /// The expanded `[sweep]`, if the file has one.
    pub sweep: Option<SweepPlan>,
}

/// `[clients]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clients {
    /// How many clients connect.
    #[serde(default = "default_count")]
    pub count: u64,
    /// Clients start spread evenly over this many seconds.
    #[serde(default)]
    pub connect_over_s: f64,
    /// Churn: the mean time a client stays online, seconds (exponential, seeded); with
    /// `offline_s`. `None`: clients stay for the whole run.
    pub online_s: Option<f64>,
    /// The mean time a client stays away (offline: no connection), seconds.
    pub offline_s: Option<f64>,
    /// How often a client's public address changes while it is online (mobile handovers,
    /// DHCP leases, carrier-grade NAT remapping), per hour (exponential gaps, seeded; 0: never).
    /// It loses its connections and reconnects from the new address.
    #[serde(default)]
    pub address_change_per_hour: f64,
    /// How many public addresses the clients share (`None`: enough that nobody waits,
    /// [`default_address_pool`]). A released address goes back to the pool and is handed out
    /// again, least recently released first.
    pub address_pool: Option<u64>,
    /// How long a released address rests before it is handed to another client, seconds
    /// (default 120: RFC 6888's REQ-8 for a carrier-grade NAT's ports).
    #[serde(default = "default_reuse_after")]
    pub address_reuse_after_s: f64,
    /// What the clients are: `"app"` (a native program: it can listen for connections, if
    /// its network lets anyone reach it) or `"browser"` (a web page: it can open connections
    /// but never accept one).
    #[serde(default)]
    pub kind: ClientKind,
}

/// `[clients] kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// A native program.
    #[default]
    App,
    /// A web page: no API lets it accept a connection.
    Browser,
}

/// The default `[clients] address_pool`: enough that nobody waits for an address — the
/// clients, the addresses resting after release (acquisitions per second × the rest), and a
/// quarter of the clients spare (a pool about 80 % used, as in IPv4-starved access networks;
/// our choice, documented in docs/addresses.md).
pub fn default_address_pool(c: &Clients) -> u64 {
    let n = c.count as f64;
    let returns = match (c.online_s, c.offline_s) {
        (Some(on), Some(off)) if on + off > 0.0 => 1.0 / (on + off),
        _ => 0.0,
    };
    let per_s = n * (c.address_change_per_hour / 3600.0 + returns);
    c.count + (per_s * c.address_reuse_after_s).ceil() as u64 + c.count.div_ceil(4)
}

fn default_reuse_after() -> f64 {
    120.0
}

/// `[events]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Each client gets its own Poisson stream of this rate (events per second).
    pub rate_per_client_per_s: Option<f64>,
    /// One global Poisson stream of this rate, sent according to `fanout`.
    pub rate_per_s: Option<f64>,
    /// With `rate_per_s`: each event to one random client or to all.
    pub fanout: Option<Fanout>,
    /// Bytes of every event's payload on the wire.
    #[serde(default = "default_payload")]
    pub payload_bytes: u64,
    /// Event types; each event gets one, uniformly at random (SSE sends it as `event:`).
    #[serde(default = "default_types")]
    pub types: Vec<String>,
}

/// `[upstream]`: client → server messages (chat, acknowledgements, telemetry).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Each client sends a Poisson stream of messages of this rate.
    pub rate_per_client_per_s: f64,
    /// Bytes of every message's payload.
    #[serde(default = "default_upstream_payload")]
    pub payload_bytes: u64,
}

/// Who receives an event of the global stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fanout {
    /// One client, chosen uniformly at random.
    One,
    /// Every client.
    All,
}

/// `[network]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way latency between every client and the server.
    #[serde(default)]
    pub latency_ms: Latency,
    /// Probability that a TCP segment is lost (and retransmitted one RTO later).
    #[serde(default)]
    pub loss: f64,
    /// Retransmission timeout of a lost segment, ms (doubles on each repeated loss).
    #[serde(default = "d_rto")]
    pub rto_ms: u64,
}

/// Linux's minimum retransmission timeout (`TCP_RTO_MIN`, 200 ms): on a short path the RTO
/// of a Linux sender is about this (RFC 6298 asks for 1 s; Linux, and most servers, use less).
fn d_rto() -> u64 {
    200
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: Latency::default(),
            loss: 0.0,
            rto_ms: d_rto(),
        }
    }
}

/// One `[[faults]]` entry: something that goes wrong at a set time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// The server host crashes at `at_s` (every connection is reset, its memory is lost unless
    /// `[server] durable`) and is serving again `down_s` later.
    ServerRestart {
        /// When it crashes, seconds into the run.
        at_s: f64,
        /// How long it is down, seconds.
        down_s: f64,
    },
    /// A share of the clients loses its network for `for_s` from `at_s`: their packets are
    /// held, not lost, and arrive when it ends.
    Outage {
        /// When it starts, seconds into the run.
        at_s: f64,
        /// How long it lasts, seconds.
        for_s: f64,
        /// The share of clients affected, 0 to 1 (which ones: drawn from the seed).
        #[serde(default = "one")]
        clients: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl Fault {
    /// `(start, end)` of the fault, simulated ms.
    pub fn window_ms(&self) -> (u64, u64) {
        let ms = |s: f64| (s * 1000.0).round() as u64;
        match *self {
            Fault::ServerRestart { at_s, down_s } => (ms(at_s), ms(at_s) + ms(down_s)),
            Fault::Outage { at_s, for_s, .. } => (ms(at_s), ms(at_s) + ms(for_s)),
        }
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::ServerRestart { .. } => "server-restart",
            Fault::Outage { .. } => "outage",
        }
    }
}

/// `[proxy]`: a reverse proxy or load balancer between every client and the server.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// Close a connection with no bytes either way for this long (a held request gets `504`).
    pub idle_timeout_s: Option<f64>,
    /// Forget the connection without telling either end, as a NAT or a stateful firewall
    /// does: later segments are dropped, so each end waits until its own liveness check
    /// (a ping, a read timeout) gives up — a half-open connection.
    #[serde(default)]
    pub silent: bool,
}

/// `[http]`
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Which request/response heads the HTTP strategies send.
    #[serde(default)]
    pub headers: HeaderProfile,
}

/// `[privacy]`: what the server keeps of a client's address.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// How addresses are stored in the server's per-client registry.
    #[serde(default)]
    pub store_addresses: StoreAddresses,
    /// The server writes an access-log line, with the client's address, for every HTTP
    /// request it answers (a WebSocket upgrade and an SSE `GET` are one request each).
    #[serde(default)]
    pub access_log: bool,
    /// How long access logs are kept, days (default 14: Debian's nginx log rotation keeps 14
    /// daily files).
    #[serde(default = "default_retention_days")]
    pub retention_days: f64,
}

fn default_retention_days() -> f64 {
    14.0
}

impl Default for Privacy {
    fn default() -> Self {
        Privacy {
            store_addresses: StoreAddresses::default(),
            access_log: false,
            retention_days: default_retention_days(),
        }
    }
}

/// How the server stores a client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreAddresses {
    /// The whole IPv4 address and port (6 bytes): the server can reach the client again, and
    /// anyone who reads the registry can locate it.
    #[default]
    Full,
    /// The /24 network prefix only (3 bytes), as common analytics anonymisation does: the
    /// rough location survives, the host and port do not, so the server cannot call back.
    Truncated,
    /// A keyed hash of address and port (16 bytes): the same client is recognisable, nothing
    /// else is, unless the key leaks; the server cannot call back either.
    Hashed,
}

impl StoreAddresses {
    /// Bytes of one registry entry: an 8-byte client id plus the stored address.
    pub fn entry_bytes(self) -> u64 {
        8 + match self {
            StoreAddresses::Full => 6,
            StoreAddresses::Truncated => 3,
            StoreAddresses::Hashed => 16,
        }
    }
}

/// `[simulation]`: how the simulator is driven (rarely changed).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Client pool hosts the clients are spread over (default: one per 1,000 clients, 1 to 10).
    pub pool_hosts: Option<u64>,
    /// Extra simulated seconds after `duration_s` to deliver what is still in flight
    /// (default: the strategy's longest period + 10 s).
    pub grace_s: Option<f64>,
    /// The client whose exchange is kept for the sequence diagrams and `trace` (default 0).
    pub trace_client: Option<u64>,
}

/// `[server]`: the server's costs (always accounted) and, when asked, its capacity.
///
/// Without `cores`, the server is infinitely fast: work is counted (`server_cpu_s`) but
/// nothing waits for it. With `cores = K`, work queues first-in first-out on K cores and
/// every answer, frame and record leaves only when its work is done. The limits
/// (`max_connections`, `accept_backlog`) apply only when given. Every default and its source:
/// `docs/server-costs.md`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// CPU cores of the server machine; `None`: unlimited (nothing queues).
    pub cores: Option<u64>,
    /// Most connections open at once (a file-descriptor limit); more are refused.
    pub max_connections: Option<u64>,
    /// Most connections waiting to be accepted (the listen backlog); more are refused.
    pub accept_backlog: Option<u64>,
    /// Whether the server's state (mailboxes, the SSE replay history) survives a restart, as
    /// if kept in a database or message log instead of the process's memory (the callback
    /// registry does not: docs/faults.md, "Limits").
    #[serde(default)]
    pub durable: bool,
    /// CPU cost of each operation.
    #[serde(default)]
    pub cost: Costs,
    /// Memory cost of each piece of server state.
    #[serde(default)]
    pub memory: MemoryCosts,
}

impl Server {
    /// Whether connections can be refused (a limit is set).
    pub fn limits_connections(&self) -> bool {
        self.max_connections.is_some() || self.accept_backlog.is_some()
    }
}

/// `[server.cost]`: CPU time per operation, in microseconds (per byte: nanoseconds).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Costs {
    /// Accepting a TCP connection and closing it later (also a callback's connect).
    #[serde(default = "d_connect")]
    pub connect_us: f64,
    /// A TLS handshake on every new connection; 0 = no TLS.
    #[serde(default)]
    pub tls_handshake_us: f64,
    /// Parsing one HTTP request and writing its response (a poll, an upgrade, a stream
    /// request, an upstream `POST`, a callback `POST`).
    #[serde(default = "d_request")]
    pub request_us: f64,
    /// Per byte the server reads or writes.
    #[serde(default = "d_byte")]
    pub byte_ns: f64,
    /// Writing or reading one WebSocket data frame.
    #[serde(default = "d_frame")]
    pub frame_us: f64,
    /// Writing one SSE record or keep-alive comment.
    #[serde(default = "d_frame")]
    pub sse_record_us: f64,
    /// Sending one ping and reading its pong.
    #[serde(default = "d_ping")]
    pub ping_us: f64,
}

/// `[server.memory]`: bytes per piece of server state.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryCosts {
    /// Every open TCP connection: kernel socket plus an idle HTTP connection's user space.
    #[serde(default = "d_connection_bytes")]
    pub connection_bytes: u64,
    /// On top of its connection, every long-lived stream (a WebSocket session, an SSE
    /// stream): its buffers and session state.
    #[serde(default = "d_stream_bytes")]
    pub stream_bytes: u64,
    /// On top of its connection, every request held open (a parked long poll).
    #[serde(default = "d_parked_bytes")]
    pub parked_request_bytes: u64,
    /// Every event kept for a client (a mailbox or replay-history entry), on top of its
    /// payload.
    #[serde(default = "d_history_bytes")]
    pub history_event_bytes: u64,
    /// Every entry of a callback registry (client id → address).
    #[serde(default = "d_registry_bytes")]
    pub registry_entry_bytes: u64,
}

fn d_connect() -> f64 {
    20.0
}
fn d_request() -> f64 {
    10.0
}
fn d_byte() -> f64 {
    0.5
}
fn d_frame() -> f64 {
    15.0
}
fn d_ping() -> f64 {
    20.0
}
fn d_connection_bytes() -> u64 {
    4_352
}
fn d_stream_bytes() -> u64 {
    25_600
}
fn d_parked_bytes() -> u64 {
    10_240
}
fn d_history_bytes() -> u64 {
    64
}
fn d_registry_bytes() -> u64 {
    128
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            connect_us: d_connect(),
            tls_handshake_us: 0.0,
            request_us: d_request(),
            byte_ns: d_byte(),
            frame_us: d_frame(),
            sse_record_us: d_frame(),
            ping_us: d_ping(),
        }
    }
}

impl Default for MemoryCosts {
    fn default() -> Self {
        MemoryCosts {
            connection_bytes: d_connection_bytes(),
            stream_bytes: d_stream_bytes(),
            parked_request_bytes: d_parked_bytes(),
            history_event_bytes: d_history_bytes(),
            registry_entry_bytes: d_registry_bytes(),
        }
    }
}

/// Where the scenario came from, for error messages.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// A file path, or a label such as `<embedded quickstart>`.
    pub label: String,
    /// The TOML text.
    pub text: &'a str,
}

/// A scenario that cannot be used, with the message a user sees.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScenarioError {
    /// The file (or label) the scenario came from.
    pub file: String,
    /// What is wrong, naming the field, its line where known, and what is allowed.
    pub message: String,
}

fn default_count() -> u64 {
    100
}
fn default_payload() -> u64 {
    100
}
fn default_upstream_payload() -> u64 {
    80
}
fn default_types() -> Vec<String> {
    vec!["message".to_string()]
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            count: default_count(),
            connect_over_s: 0.0,
            online_s: None,
            offline_s: None,
            address_change_per_hour: 0.0,
            address_pool: None,
            address_reuse_after_s: default_reuse_after(),
            kind: ClientKind::App,
        }
    }
}

impl Default for Events {
    fn default() -> Self {
        Events {
            rate_per_client_per_s: None,
            rate_per_s: None,
            fanout: None,
            payload_bytes: default_payload(),
            types: default_types(),
        }
    }
}

/// The top-level fields of a scenario file that are not tables.
pub(crate) const SCENARIO_FIELDS: [&str; 6] = [
    "name",
    "description",
    "seed",
    "duration_s",
    "warmup_s",
    "strategies",
];

/// The tables a scenario file may have besides strategy tables.
pub(crate) const SCENARIO_TABLES: [&str; 12] = [
    "reconnect",
    "faults",
    "proxy",
    "clients",
    "events",
    "network",
    "http",
    "upstream",
    "privacy",
    "simulation",
    "server",
    "sweep",
];

/// `text` with control characters (terminal escape sequences, newlines) shown as escapes, for
/// echoing user input in a message without letting it act on the terminal.
pub(crate) fn escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// User input shown in a message: control characters escaped, at most 80 characters.
pub(crate) fn shown(text: &str) -> String {
    let mut out = escape(&text.chars().take(80).collect::<String>());
    if text.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// The expanded sweep of a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlan {
    /// Swept keys, as dotted paths (`clients.count`, `events.rate_per_client_per_s`, …).
    pub keys: Vec<String>,
    /// Every point, in order.
    pub points: Vec<SweepPoint>,
}

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Position in the sweep (0-based).
    pub index: usize,
    /// The value of each swept key, in the order of [`SweepPlan::keys`].
    pub values: Vec<f64>,
    /// The seed of this point.
    pub seed: u64,
    /// The complete scenario of this point.
    pub scenario: Scenario,
    /// The values as written in the file (`true`, `1000`), for labels.
    pub shown: Vec<String>,
}

impl SweepPoint {
    /// `clients.count = 100, seed = 2`: the point's values under the sweep's `keys`.
    pub fn label(&self, keys: &[String]) -> String {
        point_label(keys, self.shown.iter(), self.seed)
    }

    /// `clients.count = 100`: the swept values only (the seed is said elsewhere).
    pub fn values_label(&self, keys: &[String]) -> String {
        keys.iter()
            .zip(&self.shown)
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `k1 = v1, k2 = v2, seed = s`.
pub(crate) fn point_label<V: std::fmt::Display>(
    keys: &[String],
    values: impl Iterator<Item = V>,
    seed: u64,
) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| format!("{k} = {v}"))
        .chain([format!("seed = {seed}")])
        .collect::<Vec<_>>()
        .join(", ")
}
