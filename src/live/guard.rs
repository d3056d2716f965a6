//! The limits `serve` enforces, and the WebSocket frames a browser sends, checked on their way
//! through (RFC 6455 §5.2 framing, §5.1 masking, §7.4 close codes).

use std::time::Duration;

/// What `serve` allows one peer; beyond it a connection is refused or closed, with a log line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections to the front door at once.
    pub max_connections: usize,
    /// Bytes of one request head (request line and headers): hyper answers `431` beyond.
    pub max_head_bytes: usize,
    /// Bytes of one request body: `413` beyond.
    pub max_body_bytes: u64,
    /// A request head must arrive within this time (slow-loris clients).
    pub head_timeout: Duration,
    /// Payload bytes of one WebSocket frame from a browser (close 1009 beyond).
    pub ws_max_frame: u64,
    /// Payload bytes of one WebSocket message, all its fragments (close 1009 beyond).
    pub ws_max_message: u64,
    /// WebSocket frames a browser may send per second (close 1008 beyond).
    pub ws_max_frames_per_s: u32,
    /// A WebSocket with no byte either way for this long is closed (1001).
    pub ws_idle: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1_000,
            max_head_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            head_timeout: Duration::from_secs(10),
            ws_max_frame: 64 * 1024,
            ws_max_message: 1024 * 1024,
            ws_max_frames_per_s: 100,
            ws_idle: Duration::from_secs(120),
        }
    }
}

/// Why a browser's WebSocket is closed: the close code to send and a reason to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// RFC 6455 §7.4.1: 1002 protocol error, 1008 policy violation, 1009 message too big.
    pub code: u16,
    /// What happened, for the log and the close frame's reason.
    pub reason: String,
}

fn violation(code: u16, reason: impl Into<String>) -> Violation {
    Violation {
        code,
        reason: reason.into(),
    }
}

/// Reads the frames of a browser → server byte stream as they pass, without buffering them.
#[derive(Debug)]
pub struct FrameCheck {
    limits: Limits,
    /// Header bytes of the frame being read.
    head: Vec<u8>,
    /// Payload bytes of the current frame still to pass.
    left: u64,
    /// Payload bytes of the message so far (its fragments).
    message: u64,
    /// A fragmented data message is open (continuations expected).
    fragmented: bool,
    /// The second the frame count is of, and the count.
    second: u64,
    frames: u32,
    /// The current frame's masking key and how far into its payload we are.
    mask: [u8; 4],
    at: usize,
    /// What the current frame's payload is checked for.
    kind: Payload,
    /// Bytes of a UTF-8 character cut at a frame or chunk boundary, awaiting the rest.
    partial: Vec<u8>,
    /// A close frame's payload (at most 125 bytes), checked when it is complete.
    close: Vec<u8>,
    /// The open data message is text.
    text_message: bool,
}

/// What a payload must be (RFC 6455 §5.6, §5.5.1, §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// Anything (binary data, pings and pongs).
    Any,
    /// Text: valid UTF-8 across the message's fragments.
    Text,
    /// A close frame: nothing, or a 2-byte code and a UTF-8 reason.
    Close,
}

impl FrameCheck {
    /// A checker under `limits`.
    pub fn new(limits: Limits) -> FrameCheck {
        FrameCheck {
            limits,
            head: Vec::with_capacity(14),
            left: 0,
            message: 0,
            fragmented: false,
            second: 0,
            frames: 0,
            mask: [0; 4],
            at: 0,
            kind: Payload::Any,
            partial: Vec::new(),
            close: Vec::new(),
            text_message: false,
        }
    }

    /// Check the next `bytes` of the stream, which arrive at `now_ms`.
    pub fn feed(&mut self, mut bytes: &[u8], now_ms: u64) -> Result<(), Violation> {
        while !bytes.is_empty() {
            if self.left > 0 {
                let n = self.left.min(bytes.len() as u64) as usize;
                self.payload(&bytes[..n])?;
                self.left -= n as u64;
                bytes = &bytes[n..];
                if self.left == 0 {
                    self.payload_done()?;
                }
                continue;
            }
            self.head.push(bytes[0]);
            bytes = &bytes[1..];
            if let Some(len) = self.head_done()? {
                self.frame(len, now_ms)?;
                if len == 0 {
                    self.payload_done()?;
                }
            }
        }
        Ok(())
    }

    /// Check payload bytes of the current frame (unmasked with its key, RFC 6455 §5.3).
    fn payload(&mut self, masked: &[u8]) -> Result<(), Violation> {
        if self.kind == Payload::Any {
            return Ok(());
        }
        let start = self.at;
        self.at += masked.len();
        let plain = masked
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ self.mask[(start + i) % 4]);
        match self.kind {
            Payload::Close => self.close.extend(plain),
            _ => {
                self.partial.extend(plain);
                match std::str::from_utf8(&self.partial) {
                    Ok(_) => self.partial.clear(),
                    // a character cut at the end: keep its bytes for the next chunk
                    Err(e) if e.error_len().is_none() => {
                        self.partial.drain(..e.valid_up_to());
                    }
                    Err(_) => return Err(violation(1007, "a text frame that is not UTF-8")),
                }
            }
        }
        Ok(())
    }

    /// The current frame's payload is complete.
    fn payload_done(&mut self) -> Result<(), Violation> {
        match self.kind {
            Payload::Text if !self.fragmented && !self.partial.is_empty() => Err(violation(
                1007,
                "a text message ending inside a UTF-8 character",
            )),
            Payload::Close => {
                let c = std::mem::take(&mut self.close);
                if c.len() == 1 {
                    return Err(violation(1002, "a close frame with a 1-byte payload"));
                }
                if c.len() >= 2 && std::str::from_utf8(&c[2..]).is_err() {
                    return Err(violation(1007, "a close reason that is not UTF-8"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The payload length once the header is complete.
    fn head_done(&self) -> Result<Option<u64>, Violation> {
        let h = &self.head;
        if h.len() < 2 {
            return Ok(None);
        }
        let (ext, masked) = match h[1] & 0x7f {
            126 => (2, h[1] & 0x80 != 0),
            127 => (8, h[1] & 0x80 != 0),
            _ => (0, h[1] & 0x80 != 0),
        };
        if !masked {
            return Err(violation(
                1002,
                "an unmasked frame from a client (RFC 6455 §5.1)",
            ));
        }
        if h.len() < 2 + ext + 4 {
            return Ok(None);
        }
        let len = match ext {
            0 => (h[1] & 0x7f) as u64,
            2 => u16::from_be_bytes([h[2], h[3]]) as u64,
            _ => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
        };
        Ok(Some(len))
    }

    fn frame(&mut self, len: u64, now_ms: u64) -> Result<(), Violation> {
        let (b0, b1) = (self.head[0], self.head[1]);
        let m = self.head.len() - 4;
        self.mask.copy_from_slice(&self.head[m..]);
        self.at = 0;
        self.head.clear();
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        if b0 & 0x70 != 0 {
            return Err(violation(
                1002,
                "reserved bits set with no extension agreed",
            ));
        }
        if b1 & 0x7f == 127 && len >> 63 != 0 {
            return Err(violation(1002, "a 64-bit length with its top bit set"));
        }
        match opcode {
            0x8..=0xa => {
                if !fin || len > 125 {
                    return Err(violation(
                        1002,
                        "a control frame fragmented or longer than 125 bytes",
                    ));
                }
            }
            0x0 if !self.fragmented => {
                return Err(violation(1002, "a continuation frame with no message open"))
            }
            0x1 | 0x2 if self.fragmented => {
                return Err(violation(1002, "a new message inside a fragmented one"))
            }
            0x0..=0x2 => {}
            other => return Err(violation(1002, format!("unknown opcode {other:#x}"))),
        }
        if len > self.limits.ws_max_frame {
            return Err(violation(
                1009,
                format!(
                    "a {len}-byte frame (at most {} allowed)",
                    self.limits.ws_max_frame
                ),
            ));
        }
        self.kind = match opcode {
            0x1 => Payload::Text,
            0x0 if self.kind == Payload::Text || self.text_message => Payload::Text,
            0x8 => Payload::Close,
            _ => Payload::Any,
        };
        if opcode == 0x1 || opcode == 0x2 {
            self.text_message = opcode == 0x1;
        }
        if opcode <= 0x2 {
            if opcode != 0 {
                self.message = 0;
            }
            self.message += len;
            if self.message > self.limits.ws_max_message {
                return Err(violation(
                    1009,
                    format!("a message over {} bytes", self.limits.ws_max_message),
                ));
            }
            self.fragmented = !fin;
        }
        let second = now_ms / 1000;
        if second != self.second {
            self.second = second;
            self.frames = 0;
        }
        self.frames += 1;
        if self.frames > self.limits.ws_max_frames_per_s {
            return Err(violation(
                1008,
                format!(
                    "more than {} frames in a second",
                    self.limits.ws_max_frames_per_s
                ),
            ));
        }
        self.left = len;
        Ok(())
    }
}

/// Follows the frames of a server → browser byte stream, to know where one ends: a close
/// frame of our own may only go between two of the server's frames.
#[derive(Debug, Default)]
pub struct FrameBounds {
    head: Vec<u8>,
    left: u64,
}

impl FrameBounds {
    /// Follow the next `bytes` of the stream.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.left > 0 {
                let n = self.left.min(bytes.len() as u64);
                self.left -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            self.head.push(bytes[0]);
            bytes = &bytes[1..];
            let h = &self.head;
            if h.len() < 2 {
                continue;
            }
            let ext = match h[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let mask = if h[1] & 0x80 != 0 { 4 } else { 0 };
            if h.len() < 2 + ext + mask {
                continue;
            }
            self.left = match ext {
                0 => (h[1] & 0x7f) as u64,
                2 => u16::from_be_bytes([h[2], h[3]]) as u64,
                _ => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
            };
            self.head.clear();
        }
    }

    /// Bytes still to come before the current frame ends (0: between frames). Inside a
    /// header it is at least 1: read on, one byte at a time if need be.
    pub fn to_boundary(&self) -> u64 {
        if self.head.is_empty() {
            self.left
        } else {
            1
        }
    }
}

/// A server's close frame (unmasked): `code`, then `reason` cut to fit a control frame.
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut reason = reason.as_bytes();
    if reason.len() > 123 {
        let mut cut = 123;
        while std::str::from_utf8(&reason[..cut]).is_err() {
            cut -= 1;
        }
        reason = &reason[..cut];
    }
    let mut out = vec![0x88, 2 + reason.len() as u8];
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame by hand (RFC 6455 §5.2): `opcode`, FIN, a zero mask.
    fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut f = vec![(fin as u8) << 7 | opcode];
        match len {
            0..=125 => f.push(0x80 | len as u8),
            126..=65535 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend(std::iter::repeat_n(b'x', len));
        f
    }

    #[test]
    fn well_formed_frames_pass_in_any_split() {
        let mut bytes = frame(true, 1, 5);
        bytes.extend(frame(false, 1, 300));
        bytes.extend(frame(true, 9, 0)); // a ping between fragments is allowed (§5.4)
        bytes.extend(frame(true, 0, 70_000 - 65_536 + 1000));
        let limits = Limits {
            ws_max_frame: 70_000,
            ..Limits::default()
        };
        for split in [1, 2, 3, 7, 1000, bytes.len()] {
            let mut c = FrameCheck::new(limits);
            for chunk in bytes.chunks(split) {
                c.feed(chunk, 0).unwrap();
            }
            assert_eq!((c.left, c.head.len(), c.fragmented), (0, 0, false));
        }
    }

    #[test]
    fn bad_frames_get_the_close_code_rfc_6455_gives() {
        let limits = Limits::default();
        let check = |bytes: &[u8]| FrameCheck::new(limits).feed(bytes, 0).unwrap_err().code;
        let mut unmasked = frame(true, 1, 3);
        unmasked[1] &= 0x7f;
        assert_eq!(check(&unmasked), 1002);
        assert_eq!(check(&frame(true, 0x3, 1)), 1002); // reserved opcode
        assert_eq!(check(&[0xc1, 0x80, 0, 0, 0, 0]), 1002); // RSV1 without deflate
        assert_eq!(check(&frame(false, 0x9, 1)), 1002); // fragmented ping
        assert_eq!(check(&frame(true, 0x9, 126)), 1002); // long ping
        assert_eq!(check(&frame(true, 0x0, 1)), 1002); // continuation of nothing
        assert_eq!(check(&frame(true, 1, 64 * 1024 + 1)[..20]), 1009);
    }

    #[test]
    fn messages_and_rates_are_bounded() {
        let limits = Limits {
            ws_max_frame: 100,
            ws_max_message: 250,
            ws_max_frames_per_s: 5,
            ..Limits::default()
        };
        // three fragments of 100 bytes: 300 > 250
        let mut c = FrameCheck::new(limits);
        c.feed(&frame(false, 2, 100), 0).unwrap();
        c.feed(&frame(false, 0, 100), 0).unwrap();
        assert_eq!(c.feed(&frame(true, 0, 100), 0).unwrap_err().code, 1009);
        // five frames a second pass, the sixth does not; the next second starts afresh
        let mut c = FrameCheck::new(limits);
        for _ in 0..5 {
            c.feed(&frame(true, 1, 1), 1_500).unwrap();
        }
        c.feed(&frame(true, 1, 1), 2_000).unwrap();
        for _ in 0..4 {
            c.feed(&frame(true, 1, 1), 2_999).unwrap();
        }
        assert_eq!(c.feed(&frame(true, 1, 1), 2_999).unwrap_err().code, 1008);
    }

    /// A masked frame with a real key (the payload XORed with it, RFC 6455 §5.3).
    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut f = vec![(fin as u8) << 7 | opcode, 0x80 | payload.len() as u8];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        f
    }

    #[test]
    fn text_must_be_utf8_across_fragments_and_chunks() {
        let check = |bytes: Vec<u8>| {
            let mut c = FrameCheck::new(Limits::default());
            let mut r = Ok(());
            for chunk in bytes.chunks(3) {
                r = r.and_then(|()| c.feed(chunk, 0));
            }
            r.err().map(|v| v.code)
        };
        // "é" is c3 a9: split across two fragments it is still valid
        let mut ok = masked(false, 1, b"caf\xc3");
        ok.extend(masked(true, 0, b"\xa9!"));
        assert_eq!(check(ok), None);
        assert_eq!(check(masked(true, 1, b"\xff\xfeabc")), Some(1007));
        assert_eq!(check(masked(true, 1, b"caf\xc3")), Some(1007)); // ends mid-character
        assert_eq!(check(masked(true, 2, b"\xff\xfe")), None); // binary: anything
        assert_eq!(check(masked(true, 8, b"\x03")), Some(1002)); // 1-byte close payload
        assert_eq!(check(masked(true, 8, b"\x03\xe8\xff")), Some(1007)); // reason not UTF-8
        assert_eq!(check(masked(true, 8, b"\x03\xe8bye")), None);
        assert_eq!(check(masked(true, 8, b"")), None);
    }

    #[test]
    fn server_frames_are_followed_to_their_ends() {
        // unmasked server frames: 5-byte text, 300-byte binary (16-bit length), an empty ping
        let mut bytes = vec![0x81, 5];
        bytes.extend_from_slice(b"hello");
        bytes.extend([0x82, 126, 0x01, 0x2c]);
        bytes.extend(std::iter::repeat_n(0u8, 300));
        bytes.extend([0x89, 0]);
        let mut b = FrameBounds::default();
        let mut ends = Vec::new();
        for (i, byte) in bytes.iter().enumerate() {
            b.feed(std::slice::from_ref(byte));
            if b.to_boundary() == 0 {
                ends.push(i + 1);
            }
        }
        // between frames after byte 7, after 7 + 4 + 300 = 311, and after 313
        assert_eq!(ends, [7, 311, 313]);
    }

    #[test]
    fn close_frames_follow_section_5_5_1() {
        assert_eq!(
            close_frame(1001, "bye"),
            [0x88, 5, 0x03, 0xe9, b'b', b'y', b'e']
        );
        let long = "é".repeat(100); // 200 bytes: cut on a character boundary, 2 + 122 ≤ 125
        let f = close_frame(1009, &long);
        assert_eq!(f[1] as usize, f.len() - 2);
        assert!(f.len() - 2 <= 125);
        assert!(std::str::from_utf8(&f[4..]).is_ok());
    }
}
