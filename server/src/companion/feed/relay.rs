//! One relay per source: a Redis connection (`MONITOR`, or `PSUBSCRIBE
//! <prefix>*` for each backplane prefix) whose lines go out in batches through a
//! `tokio::sync::broadcast` channel to every page watching that source.
//!
//! redis-rs's MONITOR and pub/sub streams end silently on any error, so a
//! relay treats the end of a stream as a lost connection: `redis-down`,
//! reconnect with back-off, `redis-up`. A MONITOR refused by an ACL is
//! silent too (redis-rs swallows the refusal), so the relay proves MONITOR
//! works by sending a probe command and waiting to see it.
//!
//! On a Redis Cluster MONITOR shows only what one node executes, so the
//! MONITOR relay watches every master (each proved by its own probe) and
//! merges their lines, each named by its node; when any node's connection
//! ends, or the masters change without one ending (a replica promoted after
//! a failover), all are reopened against the cluster as it then stands.
//! PSUBSCRIBE needs one node: a cluster hands every PUBLISH to every node.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use protocol::api::{FeedEvent, FeedSource};
use protocol::monitor::quote;
use redis::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::FeedTuning;
use crate::clock::unix_us;
use crate::locks::lock;
use crate::reconnect::Backoff;
use crate::redis_link::{escape_glob, RedisLink};

/// How many lines the feed relayed and how many pages missed, since the
/// companion started; both only grow. Read it with
/// [`AppState::feed_stats`](crate::companion::AppState::feed_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Lines the relays read from Redis and fanned out to the pages, each
    /// counted once however many pages watch it.
    pub relayed: u64,
    /// Lines pages missed because they fell behind the broadcast (the
    /// `count` of every `dropped` event), summed over pages.
    pub dropped: u64,
}

/// The live counters behind [`FeedStats`], shared by every relay and page;
/// atomics, so counting costs the hot path no lock.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// See [`FeedStats::relayed`].
    relayed: AtomicU64,
    /// See [`FeedStats::dropped`].
    dropped: AtomicU64,
}

impl Counters {
    /// Counts `lines` a page skipped.
    pub(super) fn dropped(&self, lines: u64) {
        self.dropped.fetch_add(lines, Ordering::Relaxed);
    }

    /// The counts now.
    pub(super) fn snapshot(&self) -> FeedStats {
        FeedStats {
            relayed: self.relayed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// One line as it arrived, before any page filtered or decoded it.
#[derive(Debug)]
pub(super) enum Item {
    /// A MONITOR line.
    Monitor {
        /// The node that showed it, `host:port`; only on a cluster.
        node: Option<Arc<str>>,
        /// The line, verbatim.
        line: String,
    },
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
    /// The line as Redis spells it, for filters and the page's `raw`.
    pub(super) fn raw(&self) -> &str {
        match self {
            Self::Monitor { line, .. } => line,
            Self::Message { raw, .. } => raw,
        }
    }
}

/// What a relay broadcasts to its pages.
#[derive(Debug)]
pub(super) enum Signal {
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
pub(super) struct Relay {
    /// Fans batches out to the pages.
    pub(super) tx: broadcast::Sender<Arc<Signal>>,
    /// The latest `State` event, for pages that join later.
    pub(super) state: Arc<Mutex<Option<FeedEvent>>>,
    /// The task reading Redis; aborted on drop, which closes its connection.
    pub(super) task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Starts relaying `source` from the Redis behind `link`.
    pub(super) fn start(
        source: FeedSource,
        link: RedisLink,
        prefixes: Vec<String>,
        tuning: FeedTuning,
        counters: Arc<Counters>,
    ) -> Self {
        let (tx, _) = broadcast::channel(tuning.buffered_batches.max(1));
        let state = Arc::new(Mutex::new(None));
        let task = tokio::spawn(
            Connection {
                source,
                link,
                patterns: patterns(&prefixes),
                tuning,
                tx: tx.clone(),
                state: Arc::clone(&state),
                counters,
                ended: Arc::default(),
            }
            .run(),
        );
        Self { tx, state, task }
    }
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

/// How often a cluster's MONITOR relay asks whether its masters changed.
const MASTERS_EVERY: Duration = Duration::from_secs(2);

/// The relay task's side: what it reads from and where it sends.
struct Connection {
    /// Which command feeds the relay.
    source: FeedSource,
    /// Opens the connection; runs the MONITOR probe.
    link: RedisLink,
    /// What PSUBSCRIBE asks for: each prefix's `<prefix>*`.
    patterns: Vec<String>,
    /// Batching and probe limits.
    tuning: FeedTuning,
    /// The pages' broadcast.
    tx: broadcast::Sender<Arc<Signal>>,
    /// Shared with [`Relay::state`].
    state: Arc<Mutex<Option<FeedEvent>>>,
    /// Counts what goes out.
    counters: Arc<Counters>,
    /// Why a cluster's merged lines ended (which master's connection
    /// closed, or that the masters changed), for the `redis-down` that
    /// follows; taken at each reopening.
    ended: Arc<Mutex<Option<String>>>,
}

impl Connection {
    /// Connects, relays until the connection ends, and reconnects with
    /// back-off, announcing each change of state.
    async fn run(self) {
        let source = self.source;
        let mut backoff = Backoff::default();
        let mut next_index = 0u64;
        let mut down = false;
        loop {
            match self.open().await {
                Ok((lines, early)) => {
                    backoff.reset();
                    self.announce(FeedEvent::RedisUp);
                    tracing::info!(?source, "feed relay connected");
                    self.pump(lines, early, &mut next_index).await;
                    tracing::warn!(?source, "feed relay lost its Redis connection");
                    down = true;
                    let error = lock(&self.ended).take();
                    self.announce(FeedEvent::RedisDown {
                        error: error.unwrap_or_else(|| "the feed's Redis connection closed".into()),
                    });
                }
                Err(OpenError::Refused(message)) => {
                    tracing::warn!(?source, %message, "feed refused");
                    self.announce(FeedEvent::Error { message });
                    return;
                }
                Err(OpenError::Down(error)) => {
                    if !down {
                        tracing::warn!(?source, %error, "feed cannot reach Redis");
                        self.announce(FeedEvent::RedisDown { error });
                        down = true;
                    }
                }
            }
            tokio::time::sleep(backoff.pause()).await;
        }
    }

    /// Tells the pages (and remembers for later ones) how the relay stands.
    fn announce(&self, event: FeedEvent) {
        *lock(&self.state) = Some(event.clone());
        let _ = self.tx.send(Arc::new(Signal::State(Box::new(event))));
    }

    /// Opens the source's connection; for MONITOR also proves it works, and
    /// hands back the lines that arrived meanwhile.
    async fn open(&self) -> Result<(Lines, Vec<Item>), OpenError> {
        let link = &self.link;
        let classify = |e| classify(link, e);
        match self.source {
            FeedSource::Pubsub => {
                let client = link
                    .primary_client()
                    .await
                    .map_err(|e| OpenError::Down(e.to_string()))?;
                let mut pubsub = client.get_async_pubsub().await.map_err(classify)?;
                pubsub.psubscribe(&self.patterns).await.map_err(classify)?;
                let lines = pubsub.into_on_message().map(|msg| {
                    let channel = msg.get_channel_name().to_owned();
                    let payload = msg.get_payload_bytes().to_vec();
                    let raw = format!("{} {}", quote(channel.as_bytes()), quote(&payload));
                    Item::Message {
                        micros: unix_us(),
                        channel,
                        payload,
                        raw,
                    }
                });
                Ok((Box::pin(lines), Vec::new()))
            }
            FeedSource::Monitor => {
                let nodes = link
                    .nodes()
                    .await
                    .map_err(|e| OpenError::Down(e.to_string()))?;
                // Lines are named by node only where there is more than one.
                if let [(_, node)] = nodes.as_slice() {
                    return self.monitor(node, None).await;
                }
                let addresses: Vec<String> = nodes.iter().map(|(a, _)| a.clone()).collect();
                let mut streams = Vec::with_capacity(nodes.len() + 1);
                let mut early = Vec::new();
                for (address, node) in nodes {
                    let (lines, seen) = self
                        .monitor(&node, Some(Arc::from(address.as_str())))
                        .await?;
                    let why = format!("the MONITOR connection to the master {address} closed");
                    streams.push((why, lines));
                    early.extend(seen);
                }
                let why = format!(
                    "the cluster's masters are no longer {}",
                    addresses.join(", ")
                );
                streams.push((why, until_masters_change(link.clone(), addresses)));
                *lock(&self.ended) = None;
                Ok((until_any_ends(streams, Arc::clone(&self.ended)), early))
            }
        }
    }

    /// One node's MONITOR, proved to work; its lines are tagged with `node`.
    async fn monitor(
        &self,
        link: &RedisLink,
        node: Option<Arc<str>>,
    ) -> Result<(Lines, Vec<Item>), OpenError> {
        let client = link
            .primary_client()
            .await
            .map_err(|e| OpenError::Down(e.to_string()))?;
        let monitor = client
            .get_async_monitor()
            .await
            .map_err(|e| classify(link, e))?;
        let mut lines: Lines = Box::pin(monitor.into_on_message::<Value>().filter_map(move |v| {
            let node = node.clone();
            async move {
                let line = match v {
                    Value::SimpleString(s) => s,
                    Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                    _ => return None,
                };
                Some(Item::Monitor { node, line })
            }
        }));
        let early = self.probe(link, &mut lines).await?;
        Ok((lines, early))
    }

    /// Sends `ECHO <token>` on the command connection and waits for MONITOR
    /// to show it; lines before it are kept (up to what the pages could
    /// buffer anyway, so a busy Redis cannot grow them without bound), the
    /// probe itself is not.
    async fn probe(&self, link: &RedisLink, lines: &mut Lines) -> Result<Vec<Item>, OpenError> {
        let tuning = &self.tuning;
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

    /// Relays `lines` in batches until the stream ends.
    async fn pump(&self, mut lines: Lines, early: Vec<Item>, next_index: &mut u64) {
        let mut batch = early;
        let mut tick = tokio::time::interval(self.tuning.batch_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let flush = |batch: &mut Vec<Item>, next_index: &mut u64| {
            if batch.is_empty() {
                return;
            }
            let items = std::mem::take(batch);
            let first = *next_index;
            let count = items.len() as u64;
            *next_index += count;
            self.counters.relayed.fetch_add(count, Ordering::Relaxed);
            let _ = self.tx.send(Arc::new(Signal::Lines { first, items }));
        };
        loop {
            tokio::select! {
                item = lines.next() => match item {
                    Some(item) => {
                        batch.push(item);
                        if batch.len() >= self.tuning.batch_lines {
                            flush(&mut batch, next_index);
                        }
                    }
                    None => {
                        flush(&mut batch, next_index);
                        return;
                    }
                },
                _ = tick.tick() => flush(&mut batch, next_index),
            }
        }
    }
}

/// The PSUBSCRIBE patterns for `prefixes`, each matching its prefix
/// literally; a prefix that starts with another is left out, as the
/// other's pattern already covers it and Redis would deliver each of its
/// messages twice.
fn patterns(prefixes: &[String]) -> Vec<String> {
    prefixes
        .iter()
        .filter(|p| {
            !prefixes
                .iter()
                .any(|q| q.len() < p.len() && p.starts_with(q.as_str()))
        })
        .map(|p| format!("{}*", escape_glob(p)))
        .collect()
}

/// Whether a failure to open means Redis refused (an ACL, a password: say
/// so and stop) or is down (retry).
fn classify(link: &RedisLink, e: redis::RedisError) -> OpenError {
    let text = link.scrub(&e);
    let refused = matches!(e.code(), Some("NOPERM" | "WRONGPASS" | "NOAUTH"))
        || e.kind() == redis::ErrorKind::AuthenticationFailed;
    if refused {
        OpenError::Refused(format!("Redis refused the feed: {text}"))
    } else {
        OpenError::Down(text)
    }
}

/// The nodes' lines merged, ending as soon as any node's stream ends (its
/// connection is gone, and the relay reopens them all); the first to end
/// leaves its `why` in `ended`.
fn until_any_ends(streams: Vec<(String, Lines)>, ended: Arc<Mutex<Option<String>>>) -> Lines {
    let ended = streams.into_iter().map(move |(why, lines)| {
        let ended = Arc::clone(&ended);
        lines
            .map(Some)
            .chain(futures_util::stream::once(futures_util::future::lazy(
                move |_| {
                    lock(&ended).get_or_insert(why);
                    None
                },
            )))
    });
    Box::pin(
        futures_util::stream::select_all(ended)
            .take_while(|item| std::future::ready(item.is_some()))
            .filter_map(std::future::ready),
    )
}

/// A stream of no lines that ends once the cluster's masters are no longer
/// `addresses`: a promoted replica never closes a connection the relay
/// holds, so without this its MONITOR would never be opened. A cluster
/// that cannot be asked just now changes nothing here (a node that died
/// ends its own stream).
fn until_masters_change(link: RedisLink, addresses: Vec<String>) -> Lines {
    let changed = async move {
        loop {
            tokio::time::sleep(MASTERS_EVERY).await;
            if let Ok(nodes) = link.nodes().await {
                if !nodes.iter().map(|(a, _)| a).eq(addresses.iter()) {
                    return;
                }
            }
        }
    };
    Box::pin(futures_util::stream::once(changed).filter_map(|()| std::future::ready(None)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_target::RedisTarget;

    /// Every line the relay sends out counts as relayed once, in whatever
    /// batches it goes, with or without a page listening.
    #[tokio::test]
    async fn relayed_lines_are_counted() {
        let tuning = FeedTuning {
            batch_lines: 2,
            ..FeedTuning::default()
        };
        let (tx, _) = broadcast::channel(tuning.buffered_batches);
        let counters = Arc::new(Counters::default());
        let relay = Connection {
            source: FeedSource::Monitor,
            link: RedisLink::new(&RedisTarget::local(1), "test").unwrap(),
            patterns: Vec::new(),
            tuning,
            tx,
            state: Arc::default(),
            counters: Arc::clone(&counters),
            ended: Arc::default(),
        };
        let monitor = |line: String| Item::Monitor { node: None, line };
        let lines = (0..5).map(move |i| monitor(format!("line {i}")));
        let early = vec![monitor("early".into())];
        let mut next = 0;
        relay
            .pump(
                Box::pin(futures_util::stream::iter(lines)),
                early,
                &mut next,
            )
            .await;
        assert_eq!((next, counters.snapshot().relayed), (6, 6));
    }

    /// One literal pattern per prefix, none for a prefix another covers.
    #[test]
    fn one_pattern_per_uncovered_prefix() {
        let prefixes = [
            "conduit_signalr:",
            "conduit_admin_signalr:",
            "conduit_signalr:x:",
            "a*",
        ]
        .map(str::to_owned);
        assert_eq!(
            patterns(&prefixes),
            ["conduit_signalr:*", "conduit_admin_signalr:*", "a\\**"]
        );
    }
}
