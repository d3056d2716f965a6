// realtime-lab live page: one panel per strategy, each a real browser client of that
// strategy's server (fetch loops, a WebSocket, an EventSource). No build step, no library.
'use strict';

const $ = (sel, el = document) => el.querySelector(sel);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const KINDS = ['short-polling', 'long-polling', 'websocket', 'sse'];
const SECONDS = 60; // seconds the live chart shows

let info = null;
let offsetMs = 0; // performance.now() at the server's 0
let client = 0;
const panels = [];

class Panel {
  constructor(s) {
    this.s = s;
    this.events = 0;
    this.duplicates = 0;
    this.requests = 0;
    this.bytes = 0;
    this.latencySum = 0;
    this.lastLatency = null;
    this.lastId = '';
    this.after = 0;
    this.seen = new Set();
    this.backlog = 0; // events created before this page first connected
    this.since = null; // the server's clock when it did
    this.paused = false;
    this.generation = 0;
    this.history = Array.from({ length: SECONDS }, () => ({ events: 0, requests: 0 }));
    this.build();
  }

  build() {
    const el = document.createElement('section');
    el.dataset.strategy = this.s.id;
    el.style.borderLeftColor = this.s.color;
    el.setAttribute('aria-label', `${this.s.id} panel`);
    el.innerHTML = `
      <h2></h2><p class="summary"></p>
      <dl aria-live="polite">
        <div><dt>events received</dt><dd class="events">0</dd></div>
        <div><dt>requests made</dt><dd class="requests">0</dd></div>
        <div><dt>latency ms (mean · last)</dt><dd class="latency">–</dd></div>
        <div><dt>bytes received (per event)</dt><dd class="bytes">0</dd></div>
      </dl>
      <canvas width="1100" height="260" role="img"></canvas>
      <p class="legend"></p>
      <div class="controls">
        <button class="pause" type="button">Pause</button>
        <button class="cut" type="button">Cut connection</button>
        <span class="state">starting…</span>
      </div>`;
    $('h2', el).textContent = this.s.id;
    $('.summary', el).textContent = this.s.summary;
    $('canvas', el).setAttribute('aria-label', `${this.s.id}: events and requests per second, last ${SECONDS} s`);
    $('.legend', el).innerHTML = `bars: events per second &nbsp;·&nbsp; black line: requests per second &nbsp;·&nbsp; last ${SECONDS} s`;
    $('.pause', el).addEventListener('click', () => this.togglePause());
    $('.cut', el).addEventListener('click', () => this.cut());
    this.el = el;
    this.update();
    $('#panels').appendChild(el);
  }

  start() {
    if (this.since === null) this.since = performance.now() - offsetMs;
    const g = ++this.generation;
    switch (this.s.id) {
      case 'short-polling': return this.poll(g, false);
      case 'long-polling': return this.poll(g, true);
      case 'websocket': return this.websocket(g);
      case 'sse': return this.eventSource(g);
      default:
        this.state(`no browser client for this strategy (the page knows ${KINDS.join(', ')})`);
    }
  }

  stop() {
    this.generation++;
    if (this.abort) this.abort.abort();
    if (this.ws) { this.ws.close(1000, 'paused'); this.ws = null; }
    if (this.es) { this.es.close(); this.es = null; }
  }

  togglePause() {
    this.paused = !this.paused;
    $('.pause', this.el).textContent = this.paused ? 'Resume' : 'Pause';
    if (this.paused) { this.stop(); this.state('paused'); } else { this.start(); }
  }

  async cut() {
    const r = await fetch(`/_lab/cut?strategy=${encodeURIComponent(this.s.id)}&client=${client}`, { method: 'POST' });
    const j = r.ok ? await r.json() : { cut: 0 };
    this.state(`the server cut ${j.cut} connection(s); watch it reconnect`);
  }

  state(text) { $('.state', this.el).textContent = text; }

  request() {
    this.requests++;
    this.history[SECONDS - 1].requests++;
    this.update();
  }

  // One event payload (JSON) as received; returns its id.
  deliver(text) {
    const p = JSON.parse(text);
    if (this.seen.has(p.id)) {
      this.duplicates++;
    } else {
      this.seen.add(p.id);
      this.events++;
      this.history[SECONDS - 1].events++;
      if (p.t < this.since) {
        // waiting in the server's mailbox before this page existed: not a delivery latency
        this.backlog++;
      } else {
        const latency = performance.now() - (offsetMs + p.t);
        this.lastLatency = Math.max(0, latency);
        this.latencySum += this.lastLatency;
      }
    }
    this.update();
    return p.id;
  }

  update() {
    const d = this.el.dataset;
    const timed = this.events - this.backlog;
    const mean = timed > 0 ? this.latencySum / timed : null;
    d.eventsReceived = String(this.events);
    d.requests = String(this.requests);
    d.latencyMs = mean === null ? '' : mean.toFixed(1);
    d.bytes = String(Math.round(this.bytes));
    d.duplicates = String(this.duplicates);
    d.lastEventId = this.lastId;
    d.backlog = String(this.backlog);
    $('.events', this.el).textContent = this.events + (this.duplicates ? ` (+${this.duplicates} dup)` : '');
    $('.requests', this.el).textContent = String(this.requests);
    $('.latency', this.el).textContent = mean === null ? '–' : `${fmt(mean)} · ${fmt(this.lastLatency)}`;
    const per = this.events ? ` (${Math.round(this.bytes / this.events)} B)` : '';
    $('.bytes', this.el).textContent = human(this.bytes) + per;
  }

  // Short polling (hold = false): a GET every interval, fixed rate. Long polling (hold =
  // true): the server holds each GET; ask again as soon as it answers.
  async poll(g, hold) {
    const interval = (this.s.interval_s || 1) * 1000;
    this.state(hold ? 'long polling' : `polling every ${interval / 1000} s`);
    let next = performance.now();
    while (g === this.generation) {
      this.abort = new AbortController();
      this.request();
      try {
        const r = await fetch(`/${this.s.id}/events?client=${client}&after=${this.after}`, {
          cache: 'no-store', signal: this.abort.signal, headers: { accept: 'application/x-ndjson' },
        });
        const body = await r.text();
        if (r.status === 200) {
          for (const line of body.split('\n')) if (line) this.after = this.deliver(line);
        } else if (r.status !== 204) {
          throw new Error(`answered ${r.status}`);
        }
        if (g === this.generation) this.state(hold ? 'long polling' : `polling every ${interval / 1000} s`);
      } catch (e) {
        if (g !== this.generation) return;
        this.state(`request failed (${e.message}); retrying in 1 s`);
        await sleep(1000);
        next = performance.now();
        continue;
      }
      if (!hold) {
        next += interval;
        const now = performance.now();
        if (next < now) next = now + interval - ((now - next) % interval); // skip missed slots
        await sleep(next - now);
      }
    }
  }

  websocket(g) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const again = this.opened ? '&again=1' : '';
    const ws = new WebSocket(`${scheme}://${location.host}/${this.s.id}/events?client=${client}${again}`);
    this.ws = ws;
    this.request(); // the upgrade request
    ws.onopen = () => { this.opened = true; this.state('open: one connection, events pushed as frames'); };
    ws.onmessage = (m) => {
      const n = new TextEncoder().encode(m.data).length;
      this.bytes += n + (n <= 125 ? 2 : n <= 65535 ? 4 : 10); // RFC 6455 §5.2 frame header
      this.deliver(m.data);
    };
    ws.onclose = (e) => {
      if (g !== this.generation) return;
      this.ws = null;
      if (e.code === 1001) { this.state('the server went away (1001)'); return; }
      this.state(`closed (${e.code}); reconnecting in 1 s`);
      setTimeout(() => { if (g === this.generation) this.websocket(g); }, 1000);
    };
  }

  eventSource(g) {
    const es = new EventSource(`/${this.s.id}/events?client=${client}`);
    this.es = es;
    es.onopen = () => {
      this.request(); // every (re)connection is a GET
      const resumed = this.lastId ? ` (resumed: Last-Event-ID ${this.lastId})` : '';
      this.state(`open: one long response, events streamed${resumed}`);
    };
    const types = info.types.length ? info.types : ['message'];
    for (const t of types) {
      es.addEventListener(t, (e) => {
        this.lastId = e.lastEventId;
        // the record as written: id, event unless "message", data, blank line
        const record = `id: ${e.lastEventId}\n${t === 'message' ? '' : `event: ${t}\n`}data: ${e.data}\n\n`;
        this.bytes += new TextEncoder().encode(record).length;
        this.deliver(e.data);
      });
    }
    es.onerror = () => {
      if (g !== this.generation) return;
      this.state(es.readyState === EventSource.CONNECTING
        ? `reconnecting with Last-Event-ID ${this.lastId || '(none)'}`
        : 'closed by the server');
    };
  }

  // Move the chart on by one second.
  tick() {
    this.history.shift();
    this.history.push({ events: 0, requests: 0 });
  }

  draw() {
    const c = $('canvas', this.el);
    const ctx = c.getContext('2d');
    const W = c.width, H = c.height, left = 70, bottom = 40, top = 14;
    ctx.clearRect(0, 0, W, H);
    const max = Math.max(1, ...this.history.map((h) => Math.max(h.events, h.requests)));
    const y = (v) => H - bottom - (v / max) * (H - bottom - top);
    const step = (W - left - 10) / SECONDS;
    ctx.font = '22px system-ui, sans-serif';
    ctx.fillStyle = '#444';
    ctx.strokeStyle = '#bbb';
    ctx.lineWidth = 1;
    for (const v of [0, max / 2, max]) {
      ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(W - 10, y(v)); ctx.stroke();
      ctx.fillText(Number.isInteger(v) ? String(v) : v.toFixed(1), 4, y(v) + 8);
    }
    ctx.fillText(`−${SECONDS} s`, left, H - 8);
    ctx.fillText('now', W - 60, H - 8);
    ctx.fillStyle = this.s.color;
    this.history.forEach((h, i) => {
      if (h.events) ctx.fillRect(left + i * step + 1, y(h.events), step - 2, y(0) - y(h.events));
    });
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 3;
    ctx.beginPath();
    this.history.forEach((h, i) => {
      const x = left + (i + 0.5) * step;
      if (i === 0) ctx.moveTo(x, y(h.requests)); else ctx.lineTo(x, y(h.requests));
    });
    ctx.stroke();
  }
}

function fmt(v) {
  if (v === null || v === undefined) return '–';
  return v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function human(b) {
  if (b < 1000) return `${Math.round(b)} B`;
  if (b < 1e6) return `${(b / 1000).toFixed(1)} kB`;
  return `${(b / 1e6).toFixed(2)} MB`;
}

// Polling bytes: what the browser's Resource Timing reports (headers and body) per fetch.
function watchTransfers() {
  if (!('PerformanceObserver' in window)) return;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.initiatorType !== 'fetch') continue;
      const path = new URL(e.name).pathname;
      const p = panels.find((x) => (x.s.id === 'short-polling' || x.s.id === 'long-polling') && path.startsWith(`/${x.s.id}/`));
      if (p) { p.bytes += e.transferSize || 0; p.update(); }
    }
    performance.clearResourceTimings();
  });
  observer.observe({ type: 'resource', buffered: true });
}

async function main() {
  const t0 = performance.now();
  const r = await fetch('/_lab/info', { cache: 'no-store' });
  const t1 = performance.now();
  info = await r.json();
  offsetMs = (t0 + t1) / 2 - info.now_ms; // half the round trip each way
  const asked = new URLSearchParams(location.search).get('client');
  client = asked !== null && /^\d+$/.test(asked) ? Number(asked) : info.client;
  $('#about').textContent = `scenario ${info.scenario} · this page is client ${client} of ${info.clients} · event types: ${info.types.join(', ')}`;
  for (const s of info.strategies) panels.push(new Panel(s));
  watchTransfers();
  for (const p of panels) p.start();
  setInterval(() => { for (const p of panels) { p.draw(); p.tick(); } }, 1000);
  for (const p of panels) p.draw();
}

main().catch((e) => { $('#about').textContent = `could not start: ${e.message}`; });
