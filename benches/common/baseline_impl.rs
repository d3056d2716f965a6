// The yardstick: a plain turmoil program doing realtime-lab's work the naive way, with no
// recording (shared by `benches/baseline.rs` and `benches/scale.rs -- --baseline`, which runs
// it beside realtime-lab on the same workloads and reports the ratio).
//
// The workload: N clients as tasks spread over 10 pool hosts, a 1 ms tick, link latency
// 0–100 ms, one Poisson event per client per second (100-byte JSON payloads) into per-client
// mailboxes. Short polling: a hyper HTTP/1.1 client sends `GET /events?client=K&after=ID`,
// reads the answer, sleeps 1 s (after the response); the server is an axum router behind
// hyper's http1 builder (`Date` off) answering the pending events (200) or `204`.
// WebSocket: tokio-tungstenite with 4 KiB buffers, events pushed as text frames. Every stream
// is wrapped in a byte counter. Prints `wall_s peak_rss_kb events bytes`.

// tungstenite's handshake callback signature fixes its (large) error type
#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Per-client mailboxes: `(id, payload)` not yet acknowledged.
struct Boxes {
    queues: Vec<Mutex<VecDeque<(u64, String)>>>,
    notify: Vec<Notify>,
}

/// Bytes written through every counted stream.
static BYTES: AtomicU64 = AtomicU64::new(0);
/// Events published.
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// A stream that counts the bytes written through it.
struct Counted<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.0).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &r {
            BYTES.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[derive(serde::Deserialize)]
struct Poll {
    client: usize,
    after: u64,
}

async fn poll(State(boxes): State<Arc<Boxes>>, Query(q): Query<Poll>) -> axum::response::Response {
    let Some(queue) = boxes.queues.get(q.client) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut queue = queue.lock().unwrap();
    while queue.front().is_some_and(|(id, _)| *id <= q.after) {
        queue.pop_front();
    }
    if queue.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut body = String::new();
    for (_, p) in queue.iter() {
        body.push_str(p);
        body.push('\n');
    }
    body.into_response()
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096)
}

/// Poisson events, one stream of rate N·λ to uniformly random clients.
async fn publish(boxes: Arc<Boxes>, rate: f64, until: Duration) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let start = tokio::time::Instant::now();
    let (mut t, mut id) = (0.0f64, 0u64);
    loop {
        let u: f64 = rng.random();
        t += -(1.0 - u).ln() / rate;
        let at = Duration::from_secs_f64(t);
        if at >= until {
            return;
        }
        tokio::time::sleep_until(start + at).await;
        id += 1;
        EVENTS.fetch_add(1, Ordering::Relaxed);
        let client = rng.random_range(0..boxes.queues.len());
        let payload = format!(
            "{{\"id\":{id},\"type\":\"message\",\"t\":{},\"pad\":\"{}\"}}",
            at.as_millis(),
            ".".repeat(50)
        );
        boxes.queues[client]
            .lock()
            .unwrap()
            .push_back((id, payload));
        boxes.notify[client].notify_one();
    }
}

async fn server(boxes: Arc<Boxes>, websocket: bool, rate: f64, until: Duration) -> turmoil::Result {
    tokio::spawn(publish(boxes.clone(), rate, until));
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 80)).await?;
    let router = axum::Router::new()
        .route("/events", axum::routing::get(poll))
        .with_state(boxes.clone());
    loop {
        let (stream, _) = listener.accept().await?;
        let stream = Counted(stream);
        if websocket {
            let boxes = boxes.clone();
            tokio::spawn(async move {
                let mut client = None;
                let callback =
                    |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                        client = req
                            .uri()
                            .query()
                            .and_then(|q| q.strip_prefix("client="))
                            .and_then(|c| c.parse::<usize>().ok());
                        Ok(resp)
                    };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async_with_config(
                    stream,
                    callback,
                    Some(ws_config()),
                )
                .await
                else {
                    return;
                };
                let Some(c) = client else { return };
                loop {
                    let pending: Vec<String> = boxes.queues[c]
                        .lock()
                        .unwrap()
                        .drain(..)
                        .map(|(_, p)| p)
                        .collect();
                    for p in pending {
                        if ws.send(Message::text(p)).await.is_err() {
                            return;
                        }
                    }
                    boxes.notify[c].notified().await;
                }
            });
        } else {
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .auto_date_header(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }
}

async fn poll_client(id: usize, start: Duration) -> turmoil::Result {
    tokio::time::sleep(start).await;
    let stream = Counted(turmoil::net::TcpStream::connect(("server", 80)).await?);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut after = 0u64;
    loop {
        let req = hyper::Request::get(format!("/events?client={id}&after={after}"))
            .header("host", "server")
            .body(Empty::<bytes::Bytes>::new())?;
        let resp = sender.send_request(req).await?;
        let body = resp.into_body().collect().await?.to_bytes();
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let s = std::str::from_utf8(line)?;
            if let Some(n) = s
                .strip_prefix("{\"id\":")
                .and_then(|r| r.split(',').next())
                .and_then(|n| n.parse().ok())
            {
                after = n;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn ws_client(id: usize, start: Duration) -> turmoil::Result {
    tokio::time::sleep(start).await;
    let stream = Counted(turmoil::net::TcpStream::connect(("server", 80)).await?);
    let url = format!("ws://server/events?client={id}");
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config())).await?;
    while let Some(m) = ws.next().await {
        m?;
    }
    Ok(())
}

/// This process's peak resident memory (`VmHWM`), KB (0 where /proc is missing).
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Run the naive program: `websocket` or short polling, `n` clients, `secs` simulated seconds;
/// prints `wall_s peak_rss_kb events bytes`.
pub fn run(websocket: bool, n: usize, secs: u64) {
    let hosts = 10;
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200))
        .tick_duration(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(secs + 60))
        .tcp_capacity(n + 64)
        .min_message_latency(Duration::from_millis(0))
        .max_message_latency(Duration::from_millis(100))
        .build();
    let boxes = Arc::new(Boxes {
        queues: (0..n).map(|_| Mutex::new(VecDeque::new())).collect(),
        notify: (0..n).map(|_| Notify::new()).collect(),
    });
    let until = Duration::from_secs(secs);
    sim.host("server", move || {
        server(boxes.clone(), websocket, n as f64, until)
    });
    for h in 0..hosts {
        sim.host(format!("pool-{h}"), move || async move {
            for id in (h..n).step_by(hosts) {
                let start = Duration::from_millis(5_000 * id as u64 / n as u64);
                tokio::spawn(async move {
                    let _ = if websocket {
                        ws_client(id, start).await
                    } else {
                        poll_client(id, start).await
                    };
                });
            }
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    sim.client("clock", async move {
        tokio::time::sleep(until).await;
        Ok(())
    });
    let started = Instant::now();
    sim.run().expect("the baseline simulation runs");
    let wall = started.elapsed().as_secs_f64();
    let hwm_kb = peak_rss_kb();
    println!(
        "{wall} {hwm_kb} {} {}",
        EVENTS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed)
    );
}
