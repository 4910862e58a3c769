//! The live Redis feed behind `GET /api/feed`: one relay per source
//! (`MONITOR`, or `PSUBSCRIBE <prefix>*`) shared by every open page.
//!
//! A relay owns one Redis connection. It starts with the first page and
//! stops when the last page goes away (the pages hold it; dropping the last
//! one aborts its task, which closes the connection). It collects lines for
//! ~100 ms and fans each batch out through a `tokio::sync::broadcast`
//! channel, so a slow page never slows Redis or the other pages: when it
//! falls more than the channel's capacity behind it skips ahead and gets a
//! `dropped N` event, and one that keeps falling behind is disconnected.
//!
//! redis-rs's MONITOR and pub/sub streams end silently on any error, so
//! the relay treats the end of a stream as a lost connection: `redis-down`,
//! reconnect with back-off, `redis-up`. A MONITOR refused by an ACL is
//! silent too (redis-rs swallows the refusal), so the relay proves MONITOR
//! works by sending a probe command and waiting to see it.
//!
//! Each page filters and decodes only the lines it wants; nothing it did
//! not ask for leaves the server.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::response::sse::Event;
use futures_util::{Stream, StreamExt};
use protocol::api::{FeedEvent, FeedLine, FeedSource};
use protocol::backplane::{Payload, Summary};
use protocol::monitor::{quote, MonitorClient, MonitorLine};
use redis::Value;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::redis_link::RedisLink;

/// First wait before reconnecting; doubles per failure up to the maximum.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest wait between reconnect attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// CLIENT LIST is re-read for an unknown publisher at most this often, so
/// a stream of unnamed publishers cannot turn into a stream of CLIENT LISTs.
const CLIENT_LIST_EVERY: Duration = Duration::from_secs(1);

/// Feed batching and buffer sizes; the defaults suit a browser tab.
#[derive(Debug, Clone)]
pub struct FeedTuning {
    /// How long lines are collected before they go out together.
    pub batch_interval: Duration,
    /// A batch goes out early at this many lines, bounding its size.
    pub batch_lines: usize,
    /// Batches kept for a slow page; one further behind gets `dropped N`.
    pub buffered_batches: usize,
    /// Lines longer than this (bytes) are cut, with a marker.
    pub max_line: usize,
    /// A page that falls behind this many times within `lag_window` is
    /// disconnected rather than fed a trickle of gaps.
    pub max_lags: u32,
    /// See `max_lags`.
    pub lag_window: Duration,
    /// How long to wait for the MONITOR probe before calling it refused.
    pub probe_timeout: Duration,
    /// SSE comment interval: keeps proxies from closing an idle feed and
    /// lets the server notice a page that went away.
    pub keep_alive: Duration,
}

impl Default for FeedTuning {
    fn default() -> Self {
        Self {
            batch_interval: Duration::from_millis(100),
            batch_lines: 512,
            buffered_batches: 64,
            max_line: 16 * 1024,
            max_lags: 3,
            lag_window: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(3),
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// A line filter from `?filter=`: a glob when it has `*` or `?` (matched
/// anywhere in the raw line), a substring otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Every line.
    All,
    /// Lines containing this.
    Substring(String),
    /// Lines with a part matching this glob.
    Glob(String),
}

impl Filter {
    /// Reads `?filter=`; an empty one means every line.
    pub(crate) fn parse(s: &str) -> Self {
        if s.is_empty() {
            Self::All
        } else if s.contains(['*', '?']) {
            Self::Glob(format!("*{}*", s.trim_matches('*')))
        } else {
            Self::Substring(s.to_owned())
        }
    }

    fn matches(&self, raw: &str) -> bool {
        match self {
            Self::All => true,
            Self::Substring(s) => raw.contains(s.as_str()),
            Self::Glob(g) => glob_match(g.as_bytes(), raw.as_bytes()),
        }
    }
}

/// `*` any run, `?` any one byte; linear backtracking on the last `*`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// One line as it arrived, before any page filtered or decoded it.
#[derive(Debug)]
enum Item {
    /// A MONITOR line, verbatim.
    Monitor(String),
    /// A pub/sub message.
    Message {
        /// When the relay received it, Unix µs.
        micros: u64,
        /// Its channel.
        channel: String,
        /// Its body, byte for byte.
        payload: Vec<u8>,
        /// `"channel" "payload"`, quoted as MONITOR quotes, for filtering.
        raw: String,
    },
}

impl Item {
    fn raw(&self) -> &str {
        match self {
            Self::Monitor(line) => line,
            Self::Message { raw, .. } => raw,
        }
    }
}

/// What a relay broadcasts to its pages.
#[derive(Debug)]
enum Signal {
    /// A batch of lines; `first` numbers the first line since the relay
    /// started, so a page can count what it skipped.
    Lines {
        /// Index of `items[0]`.
        first: u64,
        /// The lines.
        items: Vec<Item>,
    },
    /// `redis-up`, `redis-down` or `error` (boxed: the enum is sized for lines).
    State(Box<FeedEvent>),
}

/// One running relay; the pages hold it, and the last one to let go stops it.
struct Relay {
    /// Fans batches out to the pages.
    tx: broadcast::Sender<Arc<Signal>>,
    /// The latest `State` event, for pages that join later.
    state: Arc<Mutex<Option<FeedEvent>>>,
    /// The task reading Redis.
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every relay and what pages need to decode lines.
pub(crate) struct Feed {
    /// Opens the relays' connections; runs probes and CLIENT LIST.
    link: RedisLink,
    /// The backplane's channel prefix, for decoding and PSUBSCRIBE.
    prefix: String,
    /// Batching and buffer sizes.
    tuning: FeedTuning,
    /// The running relay per source, if any page holds one.
    relays: Mutex<HashMap<FeedSource, Weak<Relay>>>,
    /// Publisher names from CLIENT LIST.
    publishers: Publishers,
}

impl Feed {
    pub(crate) fn new(link: RedisLink, prefix: String, tuning: FeedTuning) -> Self {
        Self {
            publishers: Publishers::new(link.clone()),
            link,
            prefix,
            tuning,
            relays: Mutex::new(HashMap::new()),
        }
    }

    /// The filter a page gets when it names none: the prefix (without its
    /// trailing colon) for MONITOR, everything for pub/sub, which only
    /// carries the prefix's channels anyway.
    pub(crate) fn default_filter(&self, source: FeedSource) -> Filter {
        match source {
            FeedSource::Monitor => Filter::parse(self.prefix.trim_end_matches(':')),
            FeedSource::Pubsub => Filter::All,
        }
    }

    /// The SSE events for one page, until it goes away or `stopping`
    /// turns true.
    pub(crate) fn page(
        self: &Arc<Self>,
        source: FeedSource,
        filter: Filter,
        stopping: watch::Receiver<bool>,
    ) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
        let relay = self.relay(source);
        let rx = relay.tx.subscribe();
        let pending: VecDeque<FeedEvent> = relay
            .state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
            .into_iter()
            .collect();
        let page = Page {
            feed: Arc::clone(self),
            _relay: relay,
            rx,
            source,
            filter,
            next: None,
            lags: Vec::new(),
            pending,
            done: false,
            stopping,
        };
        futures_util::stream::unfold(page, |mut page| async move {
            let event = page.next_event().await?;
            Some((Ok(sse_event(&event)), page))
        })
    }

    /// The running relay for `source`, started if none is.
    fn relay(&self, source: FeedSource) -> Arc<Relay> {
        let mut relays = self.relays.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = relays.get(&source).and_then(Weak::upgrade) {
            return r;
        }
        let (tx, _) = broadcast::channel(self.tuning.buffered_batches.max(1));
        let state = Arc::new(Mutex::new(None));
        let task = tokio::spawn(run_relay(
            source,
            self.link.clone(),
            self.prefix.clone(),
            self.tuning.clone(),
            tx.clone(),
            Arc::clone(&state),
        ));
        let relay = Arc::new(Relay { tx, state, task });
        relays.insert(source, Arc::downgrade(&relay));
        relay
    }
}

/// The SSE form: the event name is the FeedEvent's type, the data its JSON.
fn sse_event(event: &FeedEvent) -> Event {
    let name = match event {
        FeedEvent::Line(_) => "line",
        FeedEvent::Dropped { .. } => "dropped",
        FeedEvent::RedisDown { .. } => "redis-down",
        FeedEvent::RedisUp => "redis-up",
        FeedEvent::Error { .. } => "error",
    };
    // Serialised whole, then handed over: compact JSON has no newlines, so
    // this skips `json_data`'s byte-by-byte line splitting.
    match serde_json::to_string(event) {
        Ok(json) => Event::default().event(name).data(json),
        Err(e) => Event::default().event("error").data(e.to_string()),
    }
}

/// One page's view of a relay.
struct Page {
    /// Decoding context.
    feed: Arc<Feed>,
    /// Held only to keep the relay running while this page is open.
    _relay: Arc<Relay>,
    /// This page's place in the relay's broadcast.
    rx: broadcast::Receiver<Arc<Signal>>,
    /// Which relay, for decoding.
    source: FeedSource,
    /// What this page wants.
    filter: Filter,
    /// Index of the next line expected; a larger one means lines were skipped.
    next: Option<u64>,
    /// When this page last fell behind, to spot one that keeps doing so.
    lags: Vec<Instant>,
    /// Events decided but not yet sent.
    pending: VecDeque<FeedEvent>,
    /// Sent the last event; end after `pending` drains.
    done: bool,
    /// Turns true when the server shuts down.
    stopping: watch::Receiver<bool>,
}

impl Page {
    async fn next_event(&mut self) -> Option<FeedEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            let received = tokio::select! {
                _ = self.stopping.wait_for(|s| *s) => return None,
                r = self.rx.recv() => r,
            };
            match received {
                Ok(signal) => self.take(&signal).await,
                Err(broadcast::error::RecvError::Lagged(_)) => self.lagged(),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    async fn take(&mut self, signal: &Signal) {
        match signal {
            Signal::State(e) => self.pending.push_back(FeedEvent::clone(e)),
            Signal::Lines { first, items } => {
                if let Some(expected) = self.next.filter(|n| first > n) {
                    self.pending.push_back(FeedEvent::Dropped {
                        count: first - expected,
                    });
                }
                self.next = Some(first + items.len() as u64);
                let feed = Arc::clone(&self.feed);
                for item in items {
                    if self.filter.matches(item.raw()) {
                        let line = feed.decode(self.source, item).await;
                        self.pending.push_back(FeedEvent::Line(line));
                    }
                }
            }
        }
    }

    /// The broadcast skipped this page ahead; the next batch's index tells
    /// how far. A page that keeps lagging is cut off.
    fn lagged(&mut self) {
        let now = Instant::now();
        let window = self.feed.tuning.lag_window;
        self.lags.retain(|t| now.duration_since(*t) < window);
        self.lags.push(now);
        if self.lags.len() as u32 >= self.feed.tuning.max_lags.max(1) {
            self.pending.push_back(FeedEvent::Error {
                message: format!(
                    "this page fell behind the feed {} times in {}s and was disconnected; reload to resume, or narrow the filter",
                    self.lags.len(),
                    window.as_secs()
                ),
            });
            self.done = true;
        }
    }
}

impl Feed {
    /// A line as the page shows it.
    async fn decode(&self, source: FeedSource, item: &Item) -> FeedLine {
        let (raw, truncated) = truncate(item.raw(), self.tuning.max_line);
        match item {
            Item::Message {
                micros,
                channel,
                payload,
                ..
            } => FeedLine {
                time_micros: *micros,
                source,
                publisher_addr: None,
                publisher_name: None,
                command: "MESSAGE".into(),
                channel: Some(channel.clone()),
                summary: self.bounded(Summary::of(&self.prefix, channel, Some(payload)), truncated),
                raw,
                truncated,
            },
            Item::Monitor(text) => match MonitorLine::parse(text) {
                Ok(line) => {
                    let addr = match &line.client {
                        MonitorClient::Tcp(a) => a.clone(),
                        MonitorClient::Unix(p) => format!("unix:{p}"),
                        MonitorClient::Lua => "lua".into(),
                    };
                    let publisher_name = match &line.client {
                        MonitorClient::Tcp(a) => self.publishers.name(a).await,
                        _ => None,
                    };
                    FeedLine {
                        time_micros: line.micros,
                        source,
                        publisher_addr: Some(addr),
                        publisher_name,
                        command: line.command(),
                        channel: line.channel(),
                        summary: self.bounded(line.backplane(&self.prefix), truncated),
                        raw,
                        truncated,
                    }
                }
                Err(_) => FeedLine {
                    time_micros: now_micros(),
                    source,
                    publisher_addr: None,
                    publisher_name: None,
                    command: "?".into(),
                    channel: None,
                    summary: None,
                    raw,
                    truncated,
                },
            },
        }
    }
}

impl Feed {
    /// Drops the decoded arguments of a cut line when they alone exceed
    /// the line limit, so the limit bounds the event, not just `raw`; the
    /// target stays.
    fn bounded(&self, summary: Option<Summary>, truncated: bool) -> Option<Summary> {
        let mut summary = summary?;
        if truncated {
            if let Some(Payload::Invocation { arguments, .. }) = &mut summary.payload {
                let size = arguments.as_ref().map_or(0, |a| a.to_string().len());
                if size > self.tuning.max_line {
                    *arguments = None;
                }
            }
        }
        Some(summary)
    }
}

/// Cuts `raw` to at most `max` bytes (on a character boundary) plus a marker.
fn truncate(raw: &str, max: usize) -> (String, bool) {
    if raw.len() <= max {
        return (raw.to_owned(), false);
    }
    let mut cut = max;
    while !raw.is_char_boundary(cut) {
        cut -= 1;
    }
    (
        format!("{}… [truncated: {} bytes in all]", &raw[..cut], raw.len()),
        true,
    )
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Why a relay could not open its connection.
enum OpenError {
    /// Redis is unreachable or went away: retry.
    Down(String),
    /// Redis answered but will not allow this (ACL, password): say so
    /// and stop.
    Refused(String),
}

/// Lines from a live connection; ends when the connection does.
type Lines = Pin<Box<dyn Stream<Item = Item> + Send>>;

/// Connects, relays until the connection ends, and reconnects with
/// back-off, announcing each change of state.
async fn run_relay(
    source: FeedSource,
    link: RedisLink,
    prefix: String,
    tuning: FeedTuning,
    tx: broadcast::Sender<Arc<Signal>>,
    state: Arc<Mutex<Option<FeedEvent>>>,
) {
    let announce = |event: FeedEvent| {
        if let Ok(mut s) = state.lock() {
            *s = Some(event.clone());
        }
        let _ = tx.send(Arc::new(Signal::State(Box::new(event))));
    };
    let mut delay = BACKOFF_START;
    let mut next_index = 0u64;
    let mut down = false;
    loop {
        match open(source, &link, &prefix, &tuning).await {
            Ok((lines, early)) => {
                delay = BACKOFF_START;
                announce(FeedEvent::RedisUp);
                tracing::info!(?source, "feed relay connected");
                pump(lines, early, &tx, &tuning, &mut next_index).await;
                tracing::warn!(?source, "feed relay lost its Redis connection");
                down = true;
                announce(FeedEvent::RedisDown {
                    error: "the feed's Redis connection closed".into(),
                });
            }
            Err(OpenError::Refused(message)) => {
                tracing::warn!(?source, %message, "feed refused");
                announce(FeedEvent::Error { message });
                return;
            }
            Err(OpenError::Down(error)) => {
                if !down {
                    tracing::warn!(?source, %error, "feed cannot reach Redis");
                    announce(FeedEvent::RedisDown { error });
                    down = true;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

/// Opens the source's connection; for MONITOR also proves it works, and
/// hands back the lines that arrived meanwhile.
async fn open(
    source: FeedSource,
    link: &RedisLink,
    prefix: &str,
    tuning: &FeedTuning,
) -> Result<(Lines, Vec<Item>), OpenError> {
    let classify = |e: redis::RedisError| {
        let text = link.scrub(&e);
        let refused = matches!(e.code(), Some("NOPERM" | "WRONGPASS" | "NOAUTH"))
            || e.kind() == redis::ErrorKind::AuthenticationFailed;
        if refused {
            OpenError::Refused(format!("Redis refused the feed: {text}"))
        } else {
            OpenError::Down(text)
        }
    };
    match source {
        FeedSource::Pubsub => {
            let mut pubsub = link.client().get_async_pubsub().await.map_err(classify)?;
            pubsub
                .psubscribe(format!("{prefix}*"))
                .await
                .map_err(classify)?;
            let lines = pubsub.into_on_message().map(|msg| {
                let channel = msg.get_channel_name().to_owned();
                let payload = msg.get_payload_bytes().to_vec();
                let raw = format!("{} {}", quote(channel.as_bytes()), quote(&payload));
                Item::Message {
                    micros: now_micros(),
                    channel,
                    payload,
                    raw,
                }
            });
            Ok((Box::pin(lines), Vec::new()))
        }
        FeedSource::Monitor => {
            let monitor = link.client().get_async_monitor().await.map_err(classify)?;
            let mut lines: Lines = Box::pin(monitor.into_on_message::<Value>().filter_map(
                |v| async move {
                    match v {
                        Value::SimpleString(s) => Some(Item::Monitor(s)),
                        Value::BulkString(b) => {
                            Some(Item::Monitor(String::from_utf8_lossy(&b).into_owned()))
                        }
                        _ => None,
                    }
                },
            ));
            let early = probe(&mut lines, link, tuning).await?;
            Ok((lines, early))
        }
    }
}

/// Sends `ECHO <token>` on the command connection and waits for MONITOR
/// to show it; lines before it are kept (up to what the pages could buffer
/// anyway, so a busy Redis cannot grow them without bound), the probe
/// itself is not.
async fn probe(
    lines: &mut Lines,
    link: &RedisLink,
    tuning: &FeedTuning,
) -> Result<Vec<Item>, OpenError> {
    let keep = tuning.batch_lines.saturating_mul(tuning.buffered_batches);
    let token = format!("signalscope-monitor-probe-{:016x}", rand::random::<u64>());
    link.query::<Value>(redis::cmd("ECHO").arg(&token))
        .await
        .map_err(|e| OpenError::Down(e.to_string()))?;
    let mut early = Vec::new();
    let seen = tokio::time::timeout(tuning.probe_timeout, async {
        while let Some(item) = lines.next().await {
            if item.raw().contains(&token) {
                return true;
            }
            if early.len() < keep {
                early.push(item);
            }
        }
        false
    })
    .await;
    match seen {
        Ok(true) => Ok(early),
        Ok(false) => Err(OpenError::Down(
            "the MONITOR connection closed at once".into(),
        )),
        Err(_) => Err(OpenError::Refused(refusal(link).await)),
    }
}

/// Why MONITOR showed nothing: Redis's own reason when `ACL DRYRUN` may
/// be asked, a best guess otherwise.
async fn refusal(link: &RedisLink) -> String {
    let dry_run = async {
        let user: String = link.query(redis::cmd("ACL").arg("WHOAMI")).await.ok()?;
        let verdict: String = link
            .query(redis::cmd("ACL").arg("DRYRUN").arg(&user).arg("MONITOR"))
            .await
            .ok()?;
        (verdict != "OK").then_some(verdict)
    };
    match dry_run.await {
        Some(reason) => format!("Redis refused MONITOR: {reason}; use source=pubsub instead"),
        None => "MONITOR shows nothing: Redis refused it (an ACL without +monitor?) or is too busy; try source=pubsub"
            .into(),
    }
}

/// Relays `lines` in batches until the stream ends.
async fn pump(
    mut lines: Lines,
    early: Vec<Item>,
    tx: &broadcast::Sender<Arc<Signal>>,
    tuning: &FeedTuning,
    next_index: &mut u64,
) {
    let mut batch = early;
    let mut tick = tokio::time::interval(tuning.batch_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut flush = |batch: &mut Vec<Item>| {
        if batch.is_empty() {
            return;
        }
        let items = std::mem::take(batch);
        let first = *next_index;
        *next_index += items.len() as u64;
        let _ = tx.send(Arc::new(Signal::Lines { first, items }));
    };
    loop {
        tokio::select! {
            item = lines.next() => match item {
                Some(item) => {
                    batch.push(item);
                    if batch.len() >= tuning.batch_lines {
                        flush(&mut batch);
                    }
                }
                None => {
                    flush(&mut batch);
                    return;
                }
            },
            _ = tick.tick() => flush(&mut batch),
        }
    }
}

/// Client names by address, from CLIENT LIST, re-read when an unknown
/// address shows up (at most once a second).
struct Publishers {
    /// Runs CLIENT LIST.
    link: RedisLink,
    /// The names and when they were last read.
    cache: tokio::sync::Mutex<(HashMap<String, String>, Option<Instant>)>,
}

impl Publishers {
    fn new(link: RedisLink) -> Self {
        Self {
            link,
            cache: tokio::sync::Mutex::new((HashMap::new(), None)),
        }
    }

    /// The CLIENT SETNAME of the client at `addr`, if it set one.
    async fn name(&self, addr: &str) -> Option<String> {
        let mut cache = self.cache.lock().await;
        if !cache.0.contains_key(addr) && cache.1.is_none_or(|t| t.elapsed() >= CLIENT_LIST_EVERY) {
            cache.1 = Some(Instant::now());
            if let Ok(list) = self
                .link
                .query::<String>(redis::cmd("CLIENT").arg("LIST"))
                .await
            {
                cache.0 = parse_client_list(&list);
            }
        }
        cache.0.get(addr).filter(|n| !n.is_empty()).cloned()
    }
}

/// `addr` → `name` for every line of CLIENT LIST.
fn parse_client_list(list: &str) -> HashMap<String, String> {
    list.lines()
        .filter_map(|line| {
            let field = |key: &str| {
                line.split(' ')
                    .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            };
            Some((
                field("addr")?.to_owned(),
                field("name").unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Globs match anywhere; `?` is one byte; plain text is a substring.
    #[test]
    fn filters() {
        let line = r#"1.000000 [0 127.0.0.1:1] "PUBLISH" "conduit_signalr:H:group:navigation-updates" "x""#;
        assert!(Filter::parse("conduit_signalr").matches(line));
        assert!(Filter::parse("*:group:nav*").matches(line));
        assert!(Filter::parse("H:gro?p").matches(line));
        assert!(!Filter::parse("*:all\"*").matches(line));
        assert!(!Filter::parse("other").matches(line));
        assert!(Filter::parse("").matches(line));
    }

    /// Long lines are cut at the limit with a marker; short ones untouched.
    #[test]
    fn truncation() {
        let (t, cut) = truncate(&"é".repeat(10), 5);
        assert!(cut && t.starts_with("éé…") && t.contains("20 bytes"));
        assert_eq!(truncate("short", 5), ("short".into(), false));
    }

    /// CLIENT LIST lines give addr → name, unnamed clients included.
    #[test]
    fn client_list() {
        let list = "id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name=api-1 age=0\nid=4 addr=127.0.0.1:50001 laddr=x fd=9 name= age=1\n";
        let m = parse_client_list(list);
        assert_eq!(m["127.0.0.1:50000"], "api-1");
        assert_eq!(m["127.0.0.1:50001"], "");
    }
}
