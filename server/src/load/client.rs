//! One load connection, as the official client behaves: negotiate (or
//! skip it), WebSocket, JSON handshake, a ping every 15 s, a 30 s server
//! timeout, and automatic reconnects on the default 0/2/10/30 s delays.
//! Every test broadcast is timed by the kernel's receive time of its frame
//! (see [`super::stamped`]), then accounted by seq.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use protocol::connection::ReconnectPolicy;
use protocol::credential::{Credential, Presented};
use protocol::negotiate::{negotiate_url, websocket_url, NegotiateResponse};
use serde::Deserialize;
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::meter::{InstanceMeter, Meter};
use super::plan::Door;
use super::stamped::Stamped;
use super::tally::Tally;
use crate::clock::unix_us;

/// The official client's keep-alive interval.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The official client's server timeout.
const SERVER_TIMEOUT: Duration = Duration::from_secs(30);
/// The handshake request for the JSON protocol.
const HANDSHAKE: &str = "{\"protocol\":\"json\",\"version\":1}\u{1e}";
/// A ping record.
pub(crate) const PING: &str = "{\"type\":6}\u{1e}";
/// Time a new connection is given to join its group before broadcasts
/// count as due to it.
const JOIN_MARGIN_US: u64 = 100_000;

/// A connection whose reads carry the kernel's receive time.
pub type Ws = WebSocketStream<Stamped>;

/// Where the run is: connections react to the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Hold the connection and count.
    Running,
    /// The sender has stopped after seq `last_seq` (0: nothing sent):
    /// wait for it until `until`, account for the tail, close.
    Draining {
        /// The sender's last seq.
        last_seq: u64,
        /// When to stop waiting.
        until: Instant,
    },
}

/// What every connection of an agent shares.
#[derive(Debug)]
pub struct Shared {
    /// Counters and histograms.
    pub meter: Arc<Meter>,
    /// Negotiate requests, one client per source address.
    pub http: Vec<reqwest::Client>,
    /// This run's broadcasts carry this origin; others are ignored.
    pub origin: String,
    /// Skip negotiate.
    pub skip_negotiation: bool,
    /// Ceiling for one connect attempt.
    pub connect_timeout: Duration,
    /// The sender's pace, µs between two broadcasts (0: none are sent).
    pub gap_us: u64,
    /// The run's phase.
    pub phase: watch::Receiver<Phase>,
}

/// One connection's identity.
#[derive(Debug, Clone)]
pub struct Target {
    /// The instance × hub it connects to, its key and event.
    pub door: Arc<Door>,
    /// Its instance × hub's meter.
    pub meter: Arc<InstanceMeter>,
    /// Local address to connect from, if any, and its index in `http`.
    pub source: Option<(usize, IpAddr)>,
}

/// Runs one connection from first attempt to clean close.
pub async fn run(shared: Arc<Shared>, target: Target) {
    let started = Instant::now();
    let mut ws = match open(&shared, &target).await {
        Ok(ws) => ws,
        Err(reason) => {
            shared.meter.failed(&reason, true);
            return;
        }
    };
    shared
        .meter
        .opened(Some(started.elapsed().as_micros() as u64));
    let opened_us = unix_us();
    let mut tally = Tally::default();
    let policy = ReconnectPolicy::default();
    loop {
        let ended = hold(&shared, &target, &mut ws, &mut tally, opened_us).await;
        shared.meter.closed();
        match ended {
            Ended::Finished => return,
            Ended::Dropped => tally.dropped(),
        }
        let dropped_at = Instant::now();
        let mut retries = 0;
        ws = loop {
            let Some(delay) = policy.next_delay_ms(retries) else {
                shared.meter.gave_up();
                finish_while_down(&shared, &target, &tally).await;
                return;
            };
            retries += 1;
            if wait_or_drain(&shared, Duration::from_millis(delay)).await {
                finish_while_down(&shared, &target, &tally).await;
                return;
            }
            match open(&shared, &target).await {
                Ok(ws) => break ws,
                Err(reason) => shared.meter.failed(&reason, false),
            }
        };
        shared
            .meter
            .reconnected(dropped_at.elapsed().as_micros() as u64);
        shared.meter.opened(None);
    }
}

/// How a held connection ended.
enum Ended {
    /// The run is over and the connection closed cleanly.
    Finished,
    /// The server or the network dropped it.
    Dropped,
}

/// Sleeps `delay` unless the run starts draining first (then `true`).
async fn wait_or_drain(shared: &Shared, delay: Duration) -> bool {
    let mut phase = shared.phase.clone();
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = phase.wait_for(|p| matches!(p, Phase::Draining { .. })) => true,
    }
}

/// The run ended while this connection was down: its tail was missed.
async fn finish_while_down(shared: &Shared, target: &Target, tally: &Tally) {
    let mut phase = shared.phase.clone();
    let last_seq = phase
        .wait_for(|p| matches!(p, Phase::Draining { .. }))
        .await
        .ok()
        .and_then(|p| match *p {
            Phase::Draining { last_seq, .. } => Some(last_seq),
            Phase::Running => None,
        });
    if let Some(last_seq) = last_seq {
        target.meter.tail(tally.tail(last_seq), false);
    }
}

/// Holds an open connection: pings, reads, times arrivals, until the run
/// ends (then accounts for the tail and closes) or the connection drops.
async fn hold(
    shared: &Shared,
    target: &Target,
    ws: &mut Ws,
    tally: &mut Tally,
    opened_us: u64,
) -> Ended {
    let mut phase = shared.phase.clone();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let mut last_heard = Instant::now();
    // One timer for the server timeout (or the drain deadline), moved only
    // when it fires or the phase changes: arrivals never touch the timer
    // wheel.
    let timer = tokio::time::sleep_until((last_heard + SERVER_TIMEOUT).into());
    tokio::pin!(timer);
    loop {
        let draining = match *phase.borrow() {
            Phase::Draining { last_seq, until } => Some((last_seq, until)),
            Phase::Running => None,
        };
        if let Some((last_seq, until)) = draining {
            let complete = !tally.started() || tally.tail(last_seq) == 0;
            if complete || Instant::now() >= until {
                if last_seq > 0 && !tally.started() {
                    target.meter.silent();
                }
                target.meter.tail(tally.tail(last_seq), true);
                let _ = ws.close(None).await;
                return Ended::Finished;
            }
            if timer.deadline() != until.into() {
                timer.as_mut().reset(until.into());
            }
        }
        tokio::select! {
            frame = ws.next() => {
                // When the frame reached this machine, not when we got to it.
                let arrived = ws.get_ref().last_us();
                last_heard = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        if !on_records(shared, target, tally, text.as_bytes(), arrived, opened_us) {
                            return Ended::Dropped;
                        }
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        if !on_records(shared, target, tally, &bytes, arrived, opened_us) {
                            return Ended::Dropped;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return Ended::Dropped,
                }
            }
            _ = ping.tick() => {
                if ws.send(Message::text(PING)).await.is_err() {
                    return Ended::Dropped;
                }
            }
            _ = &mut timer => {
                if draining.is_none() {
                    let due = last_heard + SERVER_TIMEOUT;
                    if Instant::now() >= due {
                        // Server timeout: the official client gives up here.
                        let _ = ws.close(None).await;
                        return Ended::Dropped;
                    }
                    timer.as_mut().reset(due.into());
                }
            }
            _ = phase.changed() => {}
        }
    }
}

/// A record's type, for the records that are not this run's broadcasts.
#[derive(Deserialize)]
struct Head {
    /// The hub message type (7: Close).
    #[serde(rename = "type")]
    kind: u8,
}

/// One of this run's broadcasts: an invocation of the event, parsed in
/// one pass.
#[derive(Deserialize)]
struct Broadcast<'a> {
    /// The hub message type (1: Invocation).
    #[serde(rename = "type")]
    kind: u8,
    /// Invocation target.
    #[serde(borrow, default)]
    target: Option<&'a str>,
    /// Its one argument.
    #[serde(borrow)]
    arguments: [Argument<'a>; 1],
}

/// The test broadcast's argument, as far as accounting needs it.
#[derive(Deserialize)]
struct Argument<'a> {
    /// `TestBroadcast`.
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    /// Its identity.
    #[serde(borrow)]
    data: Data<'a>,
}

/// `TestBroadcast.data`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    /// Per-sender sequence number.
    seq: u64,
    /// Who sent it.
    #[serde(borrow)]
    origin: std::borrow::Cow<'a, str>,
    /// Actual send time, Unix µs.
    #[serde(default)]
    sent_at_us: Option<u64>,
    /// Scheduled send time, Unix µs.
    #[serde(default)]
    scheduled_at_us: Option<u64>,
}

/// Handles one frame's records; `false` when the server closed.
fn on_records(
    shared: &Shared,
    target: &Target,
    tally: &mut Tally,
    bytes: &[u8],
    arrived_us: u64,
    opened_us: u64,
) -> bool {
    for record in bytes.split(|&b| b == 0x1e).filter(|r| !r.is_empty()) {
        // Only this run's broadcasts (they name its origin) and Close are
        // read; pings and every other message are passed over unparsed.
        if memchr::memmem::find(record, shared.origin.as_bytes()).is_none() {
            let close = memchr::memmem::find(record, b"\"type\":7").is_some()
                && serde_json::from_slice::<Head>(record).is_ok_and(|h| h.kind == 7);
            if close {
                return false;
            }
            continue;
        }
        let Ok(b) = serde_json::from_slice::<Broadcast<'_>>(record) else {
            continue;
        };
        let [arg] = b.arguments;
        if b.kind != 1
            || b.target != Some(target.door.event.as_str())
            || arg.kind != protocol::broadcast::TEST_BROADCAST_TYPE
            || arg.data.origin != shared.origin
        {
            continue;
        }
        if !tally.started() {
            // What was due before the first arrival is loss (or, after a
            // drop, missed): the baseline is the open, not the first
            // broadcast that happened to arrive.
            let due = arg.data.scheduled_at_us.map_or(0, |at| {
                super::tally::due_before_first(
                    arg.data.seq,
                    at,
                    shared.gap_us,
                    opened_us,
                    JOIN_MARGIN_US,
                )
            });
            if due > 0 {
                target.meter.seen_before_first(due, tally.is_dropped());
            }
        }
        let seen = tally.observe(arg.data.seq);
        if seen != super::tally::Seen::Duplicate {
            if let Some(at) = arg.data.scheduled_at_us.or(arg.data.sent_at_us) {
                target.meter.latency(arrived_us.saturating_sub(at));
            }
            if let Some(at) = arg.data.sent_at_us {
                shared.meter.uncorrected(arrived_us.saturating_sub(at));
            }
        }
        target.meter.seen(seen);
    }
    true
}

/// One attempt: negotiate, WebSocket, handshake, within the timeout.
/// The error is a short reason that groups well (`negotiate: HTTP 503`).
async fn open(shared: &Shared, target: &Target) -> Result<Ws, String> {
    tokio::time::timeout(shared.connect_timeout, open_inner(shared, target))
        .await
        .unwrap_or_else(|_| Err("timeout".into()))
}

async fn open_inner(shared: &Shared, target: &Target) -> Result<Ws, String> {
    let http = &shared.http[target.source.map_or(0, |(i, _)| i)];
    connect(
        http,
        &target.door,
        shared.skip_negotiation,
        target.source.map(|(_, ip)| ip),
    )
    .await
}

/// One connection through `door`, as the official client opens it:
/// negotiate (unless skipped), WebSocket from `source` if given, JSON
/// handshake, the door's key placed as its hub takes it. The stream stamps
/// every read with the kernel's receive time. The error is a short reason
/// that groups well (`negotiate: HTTP 503`); a refused key says so.
pub async fn connect(
    http: &reqwest::Client,
    door: &Door,
    skip_negotiation: bool,
    source: Option<IpAddr>,
) -> Result<Ws, String> {
    let key = Credential::present(door.credential.as_ref(), &door.hub_url);
    let refused = |step: &str| key_refused(step, door);
    let token = if skip_negotiation {
        None
    } else {
        Some(negotiate(http, &key, refused).await?)
    };
    let url = websocket_url(&key.hub_url, token.as_deref())
        .map(|url| key.websocket_url(&url))
        .map_err(|e| format!("websocket: {e}"))?;
    let addr = socket_addr(&url).ok_or_else(|| format!("websocket: cannot resolve {url}"))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {}", e.kind()))?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("bind {ip}: {}", e.kind()))?;
    }
    let stream = socket
        .connect(addr)
        .await
        .map_err(|e| format!("websocket: {}", e.kind()))?;
    let _ = stream.set_nodelay(true);
    // Small buffers: a load client holds thousands of these.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let stream = Stamped::new(stream);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("websocket: {e}"))?;
    if let Some((name, value)) = &key.header {
        // Unlike a browser, this client can put a header key on the upgrade.
        let name = HeaderName::try_from(name.as_str()).map_err(|e| format!("websocket: {e}"))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| "websocket: the key is not a valid header value".to_owned())?;
        request.headers_mut().insert(name, value);
    }
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| match e {
            tungstenite::Error::Http(r) if r.status().as_u16() == 401 => refused("websocket"),
            tungstenite::Error::Http(r) => format!("websocket: HTTP {}", r.status().as_u16()),
            tungstenite::Error::Io(e) => format!("websocket: {}", e.kind()),
            other => format!("websocket: {other}"),
        })?;
    ws.send(Message::text(HANDSHAKE))
        .await
        .map_err(|_| "handshake: send failed".to_owned())?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str().starts_with("{}\u{1e}") => Ok(ws),
        Some(Ok(Message::Text(t))) => Err(format!(
            "handshake: {}",
            t.as_str().trim_end_matches('\u{1e}')
        )),
        _ => Err("handshake: closed".into()),
    }
}

/// What a 401 at `step` says: the door's key was refused, or none was
/// given, and the setting that gives one.
fn key_refused(step: &str, door: &Door) -> String {
    let hub = &door.hub_name;
    let what = if door.credential.is_some() {
        "key refused"
    } else {
        "a key is required"
    };
    format!("{step}: HTTP 401 {what} by hub {hub} (give its key with --hub-key {hub}=<key>)")
}

/// Whether a [`connect`] error is a hub refusing the key (or its absence).
pub fn is_key_refused(reason: &str) -> bool {
    reason.contains(": HTTP 401 ")
}

/// POSTs negotiate with the key's headers; returns the connection token.
async fn negotiate(
    http: &reqwest::Client,
    key: &Presented,
    refused: impl Fn(&str) -> String,
) -> Result<String, String> {
    let mut request = http.post(negotiate_url(&key.hub_url));
    for (name, value) in key.negotiate_headers() {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            "negotiate: timeout".to_owned()
        } else if e.is_connect() {
            "negotiate: cannot connect".to_owned()
        } else {
            "negotiate: request failed".to_owned()
        }
    })?;
    let status = response.status();
    if status.as_u16() == 401 {
        return Err(refused("negotiate"));
    }
    if !status.is_success() {
        return Err(format!("negotiate: HTTP {}", status.as_u16()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|_| "negotiate: body cut off".to_owned())?;
    match NegotiateResponse::parse(&body) {
        Ok(NegotiateResponse::Connected(n)) => Ok(n.connection_token),
        Ok(NegotiateResponse::Redirect { .. }) => Err("negotiate: redirect (not followed)".into()),
        Ok(NegotiateResponse::Error(e)) => Err(format!("negotiate: {e}")),
        Err(e) => Err(format!("negotiate: {e}")),
    }
}

/// `ws://host:port/…` → a socket address (loopback names resolve locally).
fn socket_addr(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("ws://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h, p.parse::<u16>().ok()?)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost" {
        return Some(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
    }
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WebSocket URLs resolve to the address to connect to, IPv6 included.
    #[test]
    fn socket_addresses() {
        assert_eq!(
            socket_addr("ws://127.0.0.1:5000/hubs/x?id=1"),
            Some("127.0.0.1:5000".parse().unwrap())
        );
        assert_eq!(
            socket_addr("ws://[::1]:5001/h"),
            Some("[::1]:5001".parse().unwrap())
        );
        assert_eq!(
            socket_addr("ws://localhost/h"),
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(socket_addr("wss://127.0.0.1:1/h"), None);
    }
}
