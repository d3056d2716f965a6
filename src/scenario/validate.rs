//! Range and consistency checks on a parsed scenario. Each message names the field, its line
//! where it can be found, the value given and what is allowed.

use super::de::HeaderProfile;
use super::locate::line_of;
use super::types::{
    escape, shown, Fanout, Fault, Scenario, MAX_CLIENTS, MAX_DELIVERIES, MAX_DURATION_S,
    MAX_PAYLOAD_BYTES,
};
use crate::protocol::{http_heads, payload};

/// Check a parsed scenario; the error is the message for the user.
pub fn validate(s: &Scenario, text: &str) -> Result<(), String> {
    let at = |path: &[&str]| format!("`{}`{}", path.join("."), line_of(text, path));

    if s.name.is_empty()
        || s.name.len() > 64
        || !s
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "{}: \"{}\" is not allowed; use 1 to 64 lowercase letters, digits and '-' (it names the output folder)",
            at(&["name"]),
            shown(&s.name)
        ));
    }
    seconds(&at(&["duration_s"]), s.duration_s, 1.0, MAX_DURATION_S)?;
    seconds(&at(&["warmup_s"]), s.warmup_s, 0.0, MAX_DURATION_S)?;
    if s.warmup_s >= s.duration_s {
        return Err(format!(
            "{}: warmup ({} s) must be shorter than duration_s ({} s), or nothing is measured",
            at(&["warmup_s"]),
            s.warmup_s,
            s.duration_s
        ));
    }
    if s.strategies_listed && s.strategies.is_empty() {
        return Err(format!(
            "{}: the list is empty; name at least one strategy (`realtime-lab list` shows them), or leave the key out to run every one",
            at(&["strategies"])
        ));
    }
    for (i, id) in s.strategies.iter().enumerate() {
        if s.strategies[..i].contains(id) {
            return Err(format!(
                "{}: \"{}\" is listed twice",
                at(&["strategies", &i.to_string()]),
                escape(id)
            ));
        }
    }
    check_clients(s, &at)?;
    check_events(s, &at)?;
    check_http(s, &at)?;
    check_upstream(s, &at)?;
    check_server(s, &at)?;
    check_faults(s, &at, text)?;
    if let Some(k) = s.simulation.pool_hosts {
        if !(1..=64).contains(&k) {
            return Err(format!(
                "{}: {k} is not allowed; use 1 to 64 client pool hosts",
                at(&["simulation", "pool_hosts"])
            ));
        }
    }
    if let Some(k) = s.simulation.trace_client {
        if k >= s.clients.count {
            return Err(format!(
                "{}: client {k} does not exist; use 0 to {} (there are {} clients)",
                at(&["simulation", "trace_client"]),
                s.clients.count - 1,
                s.clients.count
            ));
        }
    }
    let round_trip_ms = 2 * s.network.latency_ms.max_ms;
    let window_ms = ((s.duration_s - s.warmup_s) * 1000.0).round() as u64;
    if round_trip_ms >= window_ms {
        return Err(format!(
            "{}: a round trip takes up to {round_trip_ms} ms, as long as the measured window ({window_ms} ms from warmup_s to duration_s): nothing could be measured; use a shorter latency or a longer run",
            at(&["network", "latency_ms"])
        ));
    }
    if let Some(g) = s.simulation.grace_s {
        seconds(&at(&["simulation", "grace_s"]), g, 0.0, MAX_DURATION_S)?;
        if ((g * 1000.0).round() as u64) < round_trip_ms {
            return Err(format!(
                "{}: {g} s is shorter than a round trip ({round_trip_ms} ms at the largest latency): events created at the end could never arrive; use at least {} s",
                at(&["simulation", "grace_s"]),
                round_trip_ms as f64 / 1000.0
            ));
        }
    }
    Ok(())
}

/// Whether `seconds` is a whole number of milliseconds, up to floating-point rounding: `1.001`
/// is, although `1.001 × 1000` is `1000.9999999999999` (the old check, `fract() != 0`,
/// rejected it).
pub(crate) fn whole_ms(seconds: f64) -> bool {
    let ms = seconds * 1000.0;
    (ms - ms.round()).abs() <= 1e-9 * ms.abs().max(1.0)
}

fn seconds(field: &str, v: f64, min: f64, max: f64) -> Result<(), String> {
    if !(v.is_finite() && v >= min && v <= max) {
        // 1e300 is shown as such, not as its 301 digits
        let shown = if v.abs() >= 1e9 {
            format!("{v:e}")
        } else {
            v.to_string()
        };
        return Err(format!(
            "{field}: {shown} is out of range; allowed {min} to {max} seconds"
        ));
    }
    if !whole_ms(v) {
        return Err(format!(
            "{field}: {v} is finer than the 1 ms simulation tick; use whole milliseconds"
        ));
    }
    Ok(())
}

/// Check `[[faults]]`, `[proxy]` and `[network] loss`/`rto_ms`.
fn check_faults(s: &Scenario, at: &dyn Fn(&[&str]) -> String, text: &str) -> Result<(), String> {
    let net = &s.network;
    if !(net.loss.is_finite() && (0.0..0.5).contains(&net.loss)) {
        return Err(format!(
            "{}: {} is not allowed; use a probability from 0 to below 0.5 (0.02 is a bad mobile link; at 0.5 and above TCP stops making progress)",
            at(&["network", "loss"]),
            net.loss
        ));
    }
    if !(1..=60_000).contains(&net.rto_ms) {
        return Err(format!(
            "{}: {} is not allowed; use 1 to 60000 ms (Linux's minimum is 200)",
            at(&["network", "rto_ms"]),
            net.rto_ms
        ));
    }
    if s.proxy.silent && s.proxy.idle_timeout_s.is_none() {
        return Err(format!(
            "{}: a silent cut needs `idle_timeout_s` (how long a connection may be idle before it is forgotten)",
            at(&["proxy", "silent"])
        ));
    }
    if let Some(t) = s.proxy.idle_timeout_s {
        seconds(&at(&["proxy", "idle_timeout_s"]), t, 0.001, 86_400.0)?;
        let round_trip_ms = 2 * net.latency_ms.max_ms;
        if ((t * 1000.0).round() as u64) <= round_trip_ms {
            return Err(format!(
                "{}: {t} s is not longer than a round trip ({round_trip_ms} ms): the proxy would cut every connection before its first answer; use more",
                at(&["proxy", "idle_timeout_s"])
            ));
        }
    }
    let mut restarts: Vec<(u64, u64, usize)> = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        let n = i.to_string();
        let field =
            |key: &str| format!("`faults[{i}].{key}`{}", line_of(text, &["faults", &n, key]));
        let (at_s, length_key, length) = match *f {
            Fault::ServerRestart { at_s, down_s } => (at_s, "down_s", down_s),
            Fault::Outage {
                at_s,
                for_s,
                clients,
            } => {
                if !(clients.is_finite() && clients > 0.0 && clients <= 1.0) {
                    return Err(format!(
                        "{}: {clients} is not allowed; use a share of the clients above 0 and at most 1 (0.3 = 30 %)",
                        field("clients")
                    ));
                }
                (at_s, "for_s", for_s)
            }
        };
        seconds(&field("at_s"), at_s, 0.0, MAX_DURATION_S)?;
        if at_s >= s.duration_s {
            return Err(format!(
                "{}: {at_s} s is not inside the run (duration_s = {} s); a fault must start before the run ends",
                field("at_s"),
                s.duration_s
            ));
        }
        seconds(&field(length_key), length, 0.001, MAX_DURATION_S)?;
        let (from, to) = f.window_ms();
        if let Fault::ServerRestart { .. } = f {
            if let Some((_, _, j)) = restarts.iter().find(|(a, b, _)| from < *b && *a < to) {
                return Err(format!(
                    "{}: this restart overlaps faults[{j}], another restart; a server that is down cannot crash again — start it after the first one is back",
                    field("at_s")
                ));
            }
            restarts.push((from, to, i));
        }
    }
    Ok(())
}

/// Most cores a simulated server may have.
pub const MAX_CORES: u64 = 1024;
/// Largest cost per operation, in µs (1 s: anything above is a typo or a different unit).
const MAX_COST_US: f64 = 1_000_000.0;

fn check_server(s: &Scenario, at: &dyn Fn(&[&str]) -> String) -> Result<(), String> {
    let srv = &s.server;
    if let Some(k) = srv.cores {
        if !(1..=MAX_CORES).contains(&k) {
            return Err(format!(
                "{}: {k} is not allowed; use 1 to {MAX_CORES} cores, or leave it out for a server that never queues",
                at(&["server", "cores"])
            ));
        }
    }
    for (key, v) in [
        ("max_connections", srv.max_connections),
        ("accept_backlog", srv.accept_backlog),
    ] {
        if let Some(v) = v {
            if !(1..=100_000_000).contains(&v) {
                return Err(format!(
                    "{}: {v} is not allowed; use 1 to 100000000, or leave it out for no limit",
                    at(&["server", key])
                ));
            }
        }
    }
    let c = &srv.cost;
    for (key, v) in [
        ("connect_us", c.connect_us),
        ("tls_handshake_us", c.tls_handshake_us),
        ("request_us", c.request_us),
        ("frame_us", c.frame_us),
        ("sse_record_us", c.sse_record_us),
        ("ping_us", c.ping_us),
    ] {
        if !(v.is_finite() && (0.0..=MAX_COST_US).contains(&v)) {
            return Err(format!(
                "{}: {v} is not allowed; use 0 to {MAX_COST_US} microseconds",
                at(&["server", "cost", key])
            ));
        }
    }
    if !(c.byte_ns.is_finite() && (0.0..=1_000.0).contains(&c.byte_ns)) {
        return Err(format!(
            "{}: {} is not allowed; use 0 to 1000 nanoseconds per byte",
            at(&["server", "cost", "byte_ns"]),
            c.byte_ns
        ));
    }
    let m = &srv.memory;
    for (key, v) in [
        ("connection_bytes", m.connection_bytes),
        ("stream_bytes", m.stream_bytes),
        ("parked_request_bytes", m.parked_request_bytes),
        ("history_event_bytes", m.history_event_bytes),
        ("registry_entry_bytes", m.registry_entry_bytes),
    ] {
        if v > 1 << 30 {
            return Err(format!(
                "{}: {v} is not allowed; use 0 to 1073741824 bytes",
                at(&["server", "memory", key])
            ));
        }
    }
    Ok(())
}

fn check_clients(s: &Scenario, at: &dyn Fn(&[&str]) -> String) -> Result<(), String> {
    let n = s.clients.count;
    if n == 0 || n > MAX_CLIENTS {
        return Err(format!(
            "{}: {n} is not allowed; use 1 to {MAX_CLIENTS} clients",
            at(&["clients", "count"])
        ));
    }
    seconds(
        &at(&["clients", "connect_over_s"]),
        s.clients.connect_over_s,
        0.0,
        s.duration_s,
    )?;
    check_addresses(s, at)?;
    match (s.clients.online_s, s.clients.offline_s) {
        (None, None) => Ok(()),
        (Some(on), Some(off)) => {
            seconds(&at(&["clients", "online_s"]), on, 0.001, 86_400.0)?;
            seconds(&at(&["clients", "offline_s"]), off, 0.001, 86_400.0)
        }
        (Some(_), None) => Err(format!(
            "{}: churn needs both `online_s` and `offline_s` (the mean time a client stays, and stays away)",
            at(&["clients", "online_s"])
        )),
        (None, Some(_)) => Err(format!(
            "{}: churn needs both `online_s` and `offline_s` (the mean time a client stays, and stays away)",
            at(&["clients", "offline_s"])
        )),
    }
}

/// The most address changes, departures and returns a run may plan (each costs memory in the
/// address plan before the run starts).
const MAX_PLANNED: f64 = 5e6;

/// `[clients] address_change_per_hour`, `address_pool`, `address_reuse_after_s` and
/// `[privacy] retention_days`.
fn check_addresses(s: &Scenario, at: &dyn Fn(&[&str]) -> String) -> Result<(), String> {
    let c = &s.clients;
    let rate = c.address_change_per_hour;
    if !(rate.is_finite() && (0.0..=3600.0).contains(&rate)) {
        return Err(format!(
            "{}: {rate} is not allowed; use 0 to 3600 changes per hour",
            at(&["clients", "address_change_per_hour"])
        ));
    }
    seconds(
        &at(&["clients", "address_reuse_after_s"]),
        c.address_reuse_after_s,
        0.0,
        86_400.0,
    )?;
    if let Some(pool) = c.address_pool {
        // after the events end nobody is away: every client holds an address at once
        if pool < c.count || pool > MAX_CLIENTS * 2 {
            return Err(format!(
                "{}: {pool} is not allowed; the pool must hold an address for every client ({}: when the events end everyone is online) and at most {}",
                at(&["clients", "address_pool"]),
                c.count,
                MAX_CLIENTS * 2
            ));
        }
    }
    // the plan draws every change and absence before the run: bound their number
    let per_client_s = rate / 3600.0
        + match (c.online_s, c.offline_s) {
            (Some(on), Some(off)) if on + off > 0.0 => 2.0 / (on + off),
            _ => 0.0,
        };
    let planned = c.count as f64 * per_client_s * s.duration_s;
    if planned > MAX_PLANNED {
        return Err(format!(
            "{}: {} clients changing address or coming and going this often for {} s make {planned:.3e} changes to plan; at most {MAX_PLANNED:.0e} (fewer clients, a shorter run, or rarer changes)",
            at(&["clients", if rate > 0.0 { "address_change_per_hour" } else { "online_s" }]),
            c.count,
            s.duration_s
        ));
    }
    if c.address_pool.is_none() {
        let default = crate::scenario::default_address_pool(c);
        if default > MAX_CLIENTS * 2 {
            return Err(format!(
                "{}: the default pool (clients, the addresses resting {} s, a quarter spare) would be {default} addresses; give `address_pool` (at most {}) or a shorter rest",
                at(&["clients", "address_reuse_after_s"]),
                c.address_reuse_after_s,
                MAX_CLIENTS * 2
            ));
        }
    }
    let days = s.privacy.retention_days;
    if !(days.is_finite() && (0.0..=3650.0).contains(&days)) {
        return Err(format!(
            "{}: {days} is not allowed; use 0 to 3650 days",
            at(&["privacy", "retention_days"])
        ));
    }
    Ok(())
}

fn check_events(s: &Scenario, at: &dyn Fn(&[&str]) -> String) -> Result<(), String> {
    let e = &s.events;
    match (e.rate_per_client_per_s, e.rate_per_s) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: give either rate_per_client_per_s or rate_per_s, not both",
                at(&["events", "rate_per_s"])
            ))
        }
        (None, None) => {
            return Err(format!(
                "{}: missing; give rate_per_client_per_s (a Poisson stream per client) or rate_per_s (one global stream)",
                at(&["events"])
            ))
        }
        (Some(r), None) => rate(&at(&["events", "rate_per_client_per_s"]), r, 1_000.0)?,
        (None, Some(r)) => rate(&at(&["events", "rate_per_s"]), r, 1_000_000.0)?,
    }
    if e.fanout.is_some() && e.rate_per_s.is_none() {
        return Err(format!(
            "{}: fanout only applies to the global stream (rate_per_s); per-client streams go to their own client",
            at(&["events", "fanout"])
        ));
    }
    check_types(&e.types, &at(&["events", "types"]))?;
    let longest = e.types.iter().map(String::as_str).max_by_key(|t| t.len());
    let min = payload::min_len(longest.unwrap_or("")) as u64;
    if !(min..=MAX_PAYLOAD_BYTES).contains(&e.payload_bytes) {
        return Err(format!(
            "{}: {} is not allowed; use {min} to {MAX_PAYLOAD_BYTES} bytes (the payload carries the event id, type and creation time)",
            at(&["events", "payload_bytes"]),
            e.payload_bytes
        ));
    }
    let deliveries = s.expected_deliveries();
    if deliveries > MAX_DELIVERIES {
        let fan = if s.event_rate().1 == Fanout::All {
            " × clients (fanout = \"all\")"
        } else {
            ""
        };
        return Err(format!(
            "{}: this scenario would generate about {deliveries:.0} deliveries (rate × duration{fan}); the limit is {MAX_DELIVERIES:.0}. Lower the rate, the duration or the client count",
            at(&["events"])
        ));
    }
    Ok(())
}

fn check_types(types: &[String], field: &str) -> Result<(), String> {
    if types.is_empty() || types.len() > 16 {
        return Err(format!("{field}: give 1 to 16 event types"));
    }
    for (i, t) in types.iter().enumerate() {
        let ok = !t.is_empty()
            && t.len() <= 32
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err(format!(
                "{field}: \"{}\" is not allowed; use 1 to 32 lowercase letters, digits, '-' or '_'",
                shown(t)
            ));
        }
        if types[..i].contains(t) {
            return Err(format!("{field}: \"{t}\" is listed twice"));
        }
    }
    Ok(())
}

fn check_upstream(s: &Scenario, at: &dyn Fn(&[&str]) -> String) -> Result<(), String> {
    let Some(u) = &s.upstream else { return Ok(()) };
    rate(
        &at(&["upstream", "rate_per_client_per_s"]),
        u.rate_per_client_per_s,
        1_000.0,
    )?;
    let min = payload::min_len("upstream") as u64;
    if !(min..=MAX_PAYLOAD_BYTES).contains(&u.payload_bytes) {
        return Err(format!(
            "{}: {} is not allowed; use {min} to {MAX_PAYLOAD_BYTES} bytes",
            at(&["upstream", "payload_bytes"]),
            u.payload_bytes
        ));
    }
    let messages = u.rate_per_client_per_s * s.clients.count as f64 * s.duration_s;
    if messages > MAX_DELIVERIES {
        return Err(format!(
            "{}: about {messages:.0} upstream messages; the limit is {MAX_DELIVERIES:.0}",
            at(&["upstream"])
        ));
    }
    Ok(())
}

fn rate(field: &str, r: f64, max: f64) -> Result<(), String> {
    if r.is_finite() && r > 0.0 && r <= max {
        Ok(())
    } else {
        Err(format!(
            "{field}: {r} is out of range; allowed: more than 0 and at most {max} events per second"
        ))
    }
}

fn check_http(s: &Scenario, at: &dyn Fn(&[&str]) -> String) -> Result<(), String> {
    if let HeaderProfile::Padded {
        request_bytes,
        response_bytes,
    } = s.http.headers
    {
        let (min_req, min_resp) = (http_heads::MIN_REQUEST_HEAD, http_heads::MIN_RESPONSE_HEAD);
        if !(min_req..=65_536).contains(&request_bytes) {
            return Err(format!(
                "{}: request_bytes = {request_bytes} is not allowed; use {min_req} to 65536 (the smallest request head realtime-lab sends, with its filler header, is {min_req} bytes)",
                at(&["http", "headers"])
            ));
        }
        if !(min_resp..=65_536).contains(&response_bytes) {
            return Err(format!(
                "{}: response_bytes = {response_bytes} is not allowed; use {min_resp} to 65536",
                at(&["http", "headers"])
            ));
        }
    }
    Ok(())
}
