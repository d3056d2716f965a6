//! The data of a trace: messages, events, steps and their names.

/// What a traced message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The TCP handshake of a new connection (sent by its opener).
    Connect,
    /// Application bytes.
    Data,
    /// One side closed the connection (its `FIN`).
    Close,
}

/// One message on one of the traced client's connections.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The connection, numbered from 1 in the order they were opened.
    pub conn: u32,
    /// Client → server (`true`) or server → client.
    pub up: bool,
    /// What it is.
    pub what: What,
    /// When the sender wrote it (the opener started the handshake, the closer closed), ms.
    pub sent_ms: u64,
    /// When the other end had read all of it (accepted the connection, read end-of-stream);
    /// `None` if it never did before the run ended.
    pub arrived_ms: Option<u64>,
    /// Bytes written (0 for a handshake or a close).
    pub len: u64,
    /// The bytes, up to [`KEEP_BYTES`] of them.
    pub bytes: Vec<u8>,
}

/// An event created for the traced client (addressed to it, or to every client).
#[derive(Debug, Clone, PartialEq)]
pub struct TracedEvent {
    /// Event id.
    pub id: u64,
    /// Its type.
    pub event_type: String,
    /// When the publisher created it, ms.
    pub created_ms: u64,
}

/// Bytes kept of one write (the length is always kept).
pub const KEEP_BYTES: usize = 64 * 1024;
/// Messages kept per run; later ones are counted but not kept ([`Trace::truncated`]).
pub const KEEP_MESSAGES: usize = 50_000;

/// Everything kept of the traced client's exchange in one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// The traced client.
    pub client: usize,
    /// Its messages, in the order they were sent.
    pub messages: Vec<Message>,
    /// Events created for it, in creation order.
    pub events: Vec<TracedEvent>,
    /// Whether messages were left out ([`KEEP_MESSAGES`]).
    pub truncated: bool,
    /// When the run was over and the server began closing its connections, ms (what
    /// follows is the end of the run, not its steady state).
    pub closing_ms: Option<u64>,
}

/// One line of the exchange: a message or an event, with its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When it was sent (or created), ms.
    pub at_ms: u64,
    /// When it arrived, ms (`None`: never read, or an event).
    pub arrived_ms: Option<u64>,
    /// Who sent it.
    pub from: Side,
    /// The connection (0 for an event).
    pub conn: u32,
    /// Bytes written (0 for a handshake, a close or an event).
    pub len: u64,
    /// What it was.
    pub label: Label,
}

/// The two ends of the exchange, plus the publisher behind the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The traced client.
    Client,
    /// The server.
    Server,
    /// An event created (drawn on the server's lifeline).
    Event,
}

impl Side {
    /// `client`, `server` or `event` (the `from` column of `sequence.csv`).
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
            Side::Event => "event",
        }
    }

    /// Parse [`Side::name`].
    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "client" => Some(Side::Client),
            "server" => Some(Side::Server),
            "event" => Some(Side::Event),
            _ => None,
        }
    }
}

impl Message {
    /// The bytes as text, with `\r`, `\n` shown and non-printable bytes escaped.
    ///
    /// A write that starts with a non-printable byte is taken as a WebSocket frame (RFC 6455
    /// §5.2): its whole header — opcode, length, masking key — is shown in hex.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut header = 0;
        if let [b0, b1, ..] = self.bytes[..] {
            if !(0x20..=0x7e).contains(&b0) {
                header =
                    2 + match b1 & 0x7f {
                        126 => 2,
                        127 => 8,
                        _ => 0,
                    } + if b1 & 0x80 != 0 { 4 } else { 0 };
            }
        }
        for (i, &b) in self.bytes.iter().enumerate() {
            if i < header {
                out.push_str(&format!("\\x{b:02x}"));
                continue;
            }
            match b {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n\n"),
                0x20..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\x{b:02x}")),
            }
        }
        out
    }
}

/// The name of one message: a short `kind` (what the sequence diagram picks one of each
/// from) and the text shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// What kind of message: `connect`, `close`, `GET`, `204`, `ws text`, `ws ping`,
    /// `sse event`, `event`…
    pub kind: String,
    /// The text shown on the arrow or the transcript line.
    pub text: String,
}

impl Label {
    /// A label of `kind` reading `text`.
    pub fn new(kind: impl Into<String>, text: impl Into<String>) -> Label {
        Label {
            kind: kind.into(),
            text: text.into(),
        }
    }
}
