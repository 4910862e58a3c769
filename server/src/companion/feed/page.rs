//! One open page's view of a relay, as SSE: it filters and decodes only
//! the lines it asked for, so nothing else leaves the server. A page that
//! falls more than the broadcast's capacity behind skips ahead and gets a
//! `dropped N` event; one that keeps falling behind is disconnected.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::response::sse::Event;
use futures_util::Stream;
use protocol::api::{FeedEvent, FeedLine, FeedSource};
use protocol::backplane::{Payload, Summary};
use protocol::monitor::{MonitorClient, MonitorLine};
use tokio::sync::{broadcast, watch};

use super::filter::Filter;
use super::relay::{Item, Relay, Signal};
use super::Feed;
use crate::clock::unix_us;
use crate::locks::lock;

/// One page's view of a relay.
pub(super) struct Page {
    /// Decoding context, tuning and counters.
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
    /// A page joining `relay`; it first hears how the relay stands.
    pub(super) fn new(
        feed: Arc<Feed>,
        relay: Arc<Relay>,
        source: FeedSource,
        filter: Filter,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        let rx = relay.tx.subscribe();
        let pending = lock(&relay.state).clone().into_iter().collect();
        Self {
            feed,
            _relay: relay,
            rx,
            source,
            filter,
            next: None,
            lags: Vec::new(),
            pending,
            done: false,
            stopping,
        }
    }

    /// The page's SSE events, until it goes away or the server stops.
    pub(super) fn events(self) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
        futures_util::stream::unfold(self, |mut page| async move {
            let event = page.next_event().await?;
            Some((Ok(sse_event(&event)), page))
        })
    }

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
                    let count = first - expected;
                    self.feed.counters.dropped(count);
                    self.pending.push_back(FeedEvent::Dropped { count });
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

/// The SSE form: the event name is the FeedEvent's type, the data its JSON.
fn sse_event(event: &FeedEvent) -> Event {
    // Serialised whole, then handed over: compact JSON has no newlines, so
    // this skips `json_data`'s byte-by-byte line splitting.
    match serde_json::to_string(event) {
        Ok(json) => Event::default().event(event.name()).data(json),
        Err(e) => {
            let failure = FeedEvent::Error {
                message: format!("unreadable feed event: {e}"),
            };
            let json = serde_json::to_string(&failure).unwrap_or_default();
            Event::default().event(failure.name()).data(json)
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
                node: None,
                publisher_addr: None,
                publisher_name: None,
                command: "MESSAGE".into(),
                channel: Some(channel.clone()),
                summary: self.bounded(
                    self.prefixes
                        .iter()
                        .find_map(|p| Summary::of(p, channel, Some(payload))),
                    truncated,
                ),
                raw,
                truncated,
            },
            Item::Monitor { node, line: text } => match MonitorLine::parse(text) {
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
                        node: node.as_deref().map(str::to_owned),
                        publisher_addr: Some(addr),
                        publisher_name,
                        command: line.command(),
                        channel: line.channel(),
                        summary: self.bounded(
                            self.prefixes.iter().find_map(|p| line.backplane(p)),
                            truncated,
                        ),
                        raw,
                        truncated,
                    }
                }
                Err(_) => FeedLine {
                    time_micros: unix_us(),
                    source,
                    node: node.as_deref().map(str::to_owned),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::companion::FeedTuning;
    use crate::redis_link::RedisLink;
    use crate::redis_target::RedisTarget;
    use std::sync::Mutex;

    /// Long lines are cut at the limit with a marker; short ones untouched.
    #[test]
    fn truncation() {
        let (t, cut) = truncate(&"é".repeat(10), 5);
        assert!(cut && t.starts_with("éé…") && t.contains("20 bytes"));
        assert_eq!(truncate("short", 5), ("short".into(), false));
    }

    /// A page that falls behind is told how many lines it missed, and the
    /// feed's `dropped` counter grows by as many.
    #[tokio::test]
    async fn skipped_lines_are_counted_as_dropped() {
        let link = RedisLink::new(&RedisTarget::local(1), "test").unwrap();
        let feed = Arc::new(Feed::new(link, vec!["p:".into()], FeedTuning::default()));
        let (tx, _) = broadcast::channel(1);
        let relay = Arc::new(Relay {
            tx: tx.clone(),
            state: Arc::new(Mutex::new(None)),
            task: tokio::spawn(async {}),
        });
        let (_stop, stopping) = watch::channel(false);
        let mut page = Page::new(
            Arc::clone(&feed),
            relay,
            FeedSource::Pubsub,
            Filter::All,
            stopping,
        );
        let batch = |first: u64| {
            let raw = format!("line {first}");
            let items = vec![Item::Message {
                micros: 0,
                channel: "p:x".into(),
                payload: raw.clone().into_bytes(),
                raw,
            }];
            Arc::new(Signal::Lines { first, items })
        };
        tx.send(batch(0)).unwrap();
        assert!(matches!(page.next_event().await, Some(FeedEvent::Line(_))));
        // Capacity 1: lines 1 and 2 are overwritten before the page reads.
        for first in 1..4 {
            tx.send(batch(first)).unwrap();
        }
        assert_eq!(
            page.next_event().await,
            Some(FeedEvent::Dropped { count: 2 })
        );
        assert_eq!(feed.stats().dropped, 2);
    }
}
