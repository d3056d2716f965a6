//! Deterministic masks for the client's WebSocket frames.
//!
//! RFC 6455 §5.3 makes a client mask every frame with a fresh 4-byte key, so that a cache or
//! proxy cannot be tricked into reading attacker-chosen bytes. tungstenite draws those keys
//! from the operating system's random generator and does not let us supply them, so the same
//! seed would give different bytes on the wire. This adaptor sits between tungstenite and the
//! metered stream and re-masks every frame with a key from the client's seeded generator:
//! for each payload byte, `p ^ old[i % 4]` becomes `p ^ new[i % 4]`, which is the old byte xor
//! `old[i % 4] ^ new[i % 4]`. The server unmasks with the key in the header, so it sees the
//! same payload; only the key and the masked bytes change, and lengths never do.
//!
//! Everything before the end of the upgrade request (`\r\n\r\n`) passes through unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the writer is in the byte stream.
#[derive(Debug)]
enum State {
    /// In the HTTP upgrade request; `matched` bytes of `\r\n\r\n` seen.
    Head { matched: usize },
    /// In a frame header; the bytes so far.
    Header { bytes: Vec<u8> },
    /// In a payload: `left` bytes to go, re-masked with `xor`, `at` bytes done.
    Payload { left: u64, xor: [u8; 4], at: usize },
}

/// A stream whose written WebSocket frames are re-masked with seeded keys.
pub(crate) struct Remask<S> {
    inner: S,
    rng: ChaCha8Rng,
    state: State,
    /// Transformed bytes accepted from the caller but not yet taken by `inner`.
    pending: Vec<u8>,
    sent: usize,
}

impl<S> Remask<S> {
    /// Wrap `inner`; masks come from `rng`.
    pub(crate) fn new(inner: S, rng: ChaCha8Rng) -> Remask<S> {
        Remask {
            inner,
            rng,
            state: State::Head { matched: 0 },
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// Transform `buf` into `pending`.
    fn transform(&mut self, buf: &[u8]) {
        for &b in buf {
            let out = match &mut self.state {
                State::Head { matched } => {
                    *matched = if b == b"\r\n\r\n"[*matched] {
                        *matched + 1
                    } else if b == b'\r' {
                        1
                    } else {
                        0
                    };
                    if *matched == 4 {
                        self.state = State::Header { bytes: Vec::new() };
                    }
                    b
                }
                State::Header { bytes } => {
                    bytes.push(b);
                    if let Some((len, mask_at)) = header_len(bytes) {
                        if bytes.len() == mask_at + 4 || (mask_at == bytes.len() && !masked(bytes))
                        {
                            self.finish_header(len, mask_at);
                        }
                    }
                    continue; // the header goes out whole, in finish_header
                }
                State::Payload { left, xor, at } => {
                    let out = b ^ xor[*at % 4];
                    *at += 1;
                    *left -= 1;
                    if *left == 0 {
                        self.state = State::Header { bytes: Vec::new() };
                    }
                    out
                }
            };
            self.pending.push(out);
        }
    }

    /// A frame header is complete: swap its key and move on to the payload.
    fn finish_header(&mut self, len: u64, mask_at: usize) {
        let State::Header { bytes } = &mut self.state else {
            return;
        };
        let mut header = std::mem::take(bytes);
        let mut xor = [0u8; 4];
        if masked(&header) {
            let mut key = [0u8; 4];
            self.rng.fill_bytes(&mut key);
            for i in 0..4 {
                xor[i] = header[mask_at + i] ^ key[i];
            }
            header[mask_at..mask_at + 4].copy_from_slice(&key);
        }
        self.pending.extend_from_slice(&header);
        self.state = if len == 0 {
            State::Header { bytes: Vec::new() }
        } else {
            State::Payload {
                left: len,
                xor,
                at: 0,
            }
        };
    }
}

fn masked(header: &[u8]) -> bool {
    header.len() >= 2 && header[1] & 0x80 != 0
}

/// `(payload length, offset of the masking key)` once the header's length fields are in.
fn header_len(h: &[u8]) -> Option<(u64, usize)> {
    if h.len() < 2 {
        return None;
    }
    match h[1] & 0x7f {
        126 if h.len() >= 4 => Some((u16::from_be_bytes([h[2], h[3]]) as u64, 4)),
        127 if h.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&h[2..10]);
            Some((u64::from_be_bytes(n), 10))
        }
        126 | 127 => None,
        n => Some((n as u64, 2)),
    }
}

impl<S: AsyncWrite + Unpin> Remask<S> {
    /// Hand `pending` to `inner`.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Remask<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.poll_drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        this.transform(buf);
        // one write of the caller stays one write of the stream below (one TCP segment)
        let _ = this.poll_drain(cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Remask<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use tokio::io::AsyncWriteExt;

    /// A masked client text frame, built by hand after RFC 6455 §5.2.
    fn frame(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0x81];
        match payload.len() {
            n @ 0..=125 => f.push(0x80 | n as u8),
            n @ 126..=65_535 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        f
    }

    /// Read back frames: `(key, unmasked payload)` each (parsed here after RFC 6455 §5.2,
    /// independently of the code under test).
    fn unframe(mut bytes: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            assert_eq!(bytes[1] & 0x80, 0x80, "a client frame must be masked");
            let (len, at) = match bytes[1] & 0x7f {
                126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as u64, 4),
                127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()), 10),
                n => (n as u64, 2),
            };
            let key = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
            let body = &bytes[at + 4..at + 4 + len as usize];
            out.push((
                key,
                body.iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[i % 4])
                    .collect(),
            ));
            bytes = &bytes[at + 4 + len as usize..];
        }
        out
    }

    /// Frames of every length class (0, 5, 125, 126, 300, 65,535 and 70,000 bytes), written
    /// 1, 7 and 100,000 bytes at a time: the payloads survive, the keys are the seeded generator's, and the bytes do not depend on
    /// the keys tungstenite drew or on how the writes were split.
    #[tokio::test]
    async fn frames_are_remasked_with_seeded_keys_and_keep_their_payloads() {
        let head = b"GET /events?client=1 HTTP/1.1\r\nhost: server\r\n\r\n".to_vec();
        let payloads: Vec<Vec<u8>> = [0usize, 5, 125, 126, 300, 65_535, 70_000]
            .iter()
            .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
            .collect();
        let mut expected_keys = ChaCha8Rng::seed_from_u64(9);
        let keys: Vec<[u8; 4]> = payloads
            .iter()
            .map(|_| {
                let mut k = [0u8; 4];
                expected_keys.fill_bytes(&mut k);
                k
            })
            .collect();
        let mut reference = None;
        for (split, random_key) in [
            (1usize, [1, 2, 3, 4]),
            (7, [9, 9, 9, 9]),
            (100_000, [0xde, 0xad, 0xbe, 0xef]),
        ] {
            let mut input = head.clone();
            for p in &payloads {
                input.extend(frame(p, random_key));
            }
            let mut w = Remask::new(Vec::new(), ChaCha8Rng::seed_from_u64(9));
            for chunk in input.chunks(split) {
                w.write_all(chunk).await.unwrap();
            }
            w.flush().await.unwrap();
            let out = w.inner;
            assert_eq!(out.len(), input.len(), "lengths never change");
            assert_eq!(
                &out[..head.len()],
                &head[..],
                "the upgrade request passes through"
            );
            let frames = unframe(&out[head.len()..]);
            assert_eq!(frames.len(), payloads.len());
            for ((key, body), (p, k)) in frames.iter().zip(payloads.iter().zip(&keys)) {
                assert_eq!(body, p);
                assert_eq!(key, k);
            }
            match &reference {
                None => reference = Some(out),
                Some(r) => assert!(r == &out, "split {split} gave other bytes"),
            }
        }
    }
}
