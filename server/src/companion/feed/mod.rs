//! The live Redis feed behind `GET /api/feed`: one relay per source
//! (`MONITOR`, or `PSUBSCRIBE <prefix>*` for each prefix the hubs are on)
//! shared by every open page.
//!
//! A relay owns one Redis connection. It starts with the first page and
//! stops when the last page goes away (the pages hold it; dropping the last
//! one aborts its task, which closes the connection). It collects lines for
//! ~100 ms and fans each batch out, so a slow page never slows Redis or the
//! other pages.
//!
//! * `relay`: the Redis connection, its reconnects, the batches, and the
//!   counts of lines relayed and dropped ([`FeedStats`]).
//! * `page`: one page's SSE events: filtering, decoding, `dropped N`.
//! * `filter`: what `?filter=` selects.
//! * `publishers`: who sent a MONITOR line, from CLIENT LIST.

mod filter;
mod page;
mod publishers;
mod relay;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::response::sse::Event;
use futures_util::Stream;
use protocol::api::FeedSource;
use tokio::sync::watch;

pub(crate) use filter::Filter;
use page::Page;
use publishers::Publishers;
pub use relay::FeedStats;
use relay::{Counters, Relay};

use crate::locks::lock;
use crate::redis_link::RedisLink;

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

/// Every relay and what pages need to decode lines.
pub(crate) struct Feed {
    /// Opens the relays' connections; runs probes and CLIENT LIST.
    link: RedisLink,
    /// The backplanes' channel prefixes (`--prefix` and the hubs' own), for
    /// decoding, the default filter and PSUBSCRIBE; longest first, so a
    /// channel is decoded behind the most specific one it starts with.
    prefixes: Vec<String>,
    /// Batching and buffer sizes.
    tuning: FeedTuning,
    /// The running relay per source, if any page holds one.
    relays: Mutex<HashMap<FeedSource, Weak<Relay>>>,
    /// Publisher names from CLIENT LIST.
    publishers: Publishers,
    /// Lines relayed and dropped, across relays and pages, for metrics.
    counters: Arc<Counters>,
}

impl Feed {
    pub(crate) fn new(link: RedisLink, mut prefixes: Vec<String>, tuning: FeedTuning) -> Self {
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Self {
            publishers: Publishers::new(link.clone()),
            link,
            prefixes,
            tuning,
            relays: Mutex::new(HashMap::new()),
            counters: Arc::default(),
        }
    }

    /// The filter a page gets when it names none: any of the prefixes
    /// (without their trailing colon) for MONITOR, everything for pub/sub,
    /// which only carries the prefixes' channels anyway.
    pub(crate) fn default_filter(&self, source: FeedSource) -> Filter {
        match source {
            FeedSource::Monitor => Filter::any_of(
                self.prefixes
                    .iter()
                    .map(|p| p.trim_end_matches(':').to_owned()),
            ),
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
        Page::new(Arc::clone(self), relay, source, filter, stopping).events()
    }

    /// Lines relayed and dropped so far.
    pub(crate) fn stats(&self) -> FeedStats {
        self.counters.snapshot()
    }

    /// The running relay for `source`, started if none is.
    fn relay(&self, source: FeedSource) -> Arc<Relay> {
        let mut relays = lock(&self.relays);
        if let Some(r) = relays.get(&source).and_then(Weak::upgrade) {
            return r;
        }
        let relay = Arc::new(Relay::start(
            source,
            self.link.clone(),
            self.prefixes.clone(),
            self.tuning.clone(),
            Arc::clone(&self.counters),
        ));
        relays.insert(source, Arc::downgrade(&relay));
        relay
    }
}
