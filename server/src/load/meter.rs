//! Where connection tasks record what they see, and the once-a-second
//! [`Interval`] snapshot an agent reports. Counters are cumulative (the
//! latest snapshot of each agent wins); histograms cover only their
//! interval (every interval of every agent adds up to the run's total,
//! losslessly).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::summary::{histogram, Delivery};
use super::tally::Seen;
use crate::locks::{lock, read, write};

/// One instance × hub's counters and this interval's latencies.
#[derive(Debug)]
pub struct InstanceMeter {
    /// Its name, for the summary ([`super::plan::Door::label`]).
    pub name: String,
    /// Its hub's name, so the summary can total each hub.
    pub hub: String,
    /// Connections assigned to it.
    connections: AtomicU64,
    /// Corrected publish → arrival, µs, since the last snapshot.
    latency: Mutex<Histogram<u64>>,
    /// First copies received.
    received: AtomicU64,
    /// Lost while connected; a late arrival takes one back.
    lost: AtomicI64,
    /// Missed while disconnected.
    missed: AtomicU64,
    /// Second copies.
    duplicates: AtomicU64,
    /// Late arrivals.
    reordered: AtomicU64,
    /// Connections that never received a broadcast.
    silent: AtomicU64,
}

impl InstanceMeter {
    fn new(name: String, hub: String) -> Self {
        Self {
            name,
            hub,
            connections: AtomicU64::new(0),
            latency: Mutex::new(histogram()),
            received: AtomicU64::new(0),
            lost: AtomicI64::new(0),
            missed: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            reordered: AtomicU64::new(0),
            silent: AtomicU64::new(0),
        }
    }

    /// One more connection assigned here.
    pub fn assigned(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts what an arrival meant.
    pub fn seen(&self, seen: Seen) {
        let add = |c: &AtomicU64, n: u64| c.fetch_add(n, Ordering::Relaxed);
        match seen {
            Seen::First | Seen::Next => add(&self.received, 1),
            Seen::Gap { lost } => {
                self.lost.fetch_add(lost as i64, Ordering::Relaxed);
                add(&self.received, 1)
            }
            Seen::Resumed { missed } => {
                add(&self.missed, missed);
                add(&self.received, 1)
            }
            Seen::Late => {
                self.lost.fetch_sub(1, Ordering::Relaxed);
                add(&self.reordered, 1);
                add(&self.received, 1)
            }
            Seen::Duplicate => add(&self.duplicates, 1),
        };
    }

    /// `due` seqs were due before a connection's first arrival: lost, or
    /// missed when it dropped before that arrival.
    pub fn seen_before_first(&self, due: u64, dropped: bool) {
        self.tail(due, !dropped);
    }

    /// The run ended: `tail` seqs never came, lost or missed.
    pub fn tail(&self, tail: u64, was_up: bool) {
        if was_up {
            self.lost.fetch_add(tail as i64, Ordering::Relaxed);
        } else {
            self.missed.fetch_add(tail, Ordering::Relaxed);
        }
    }

    /// A connection that never heard a broadcast.
    pub fn silent(&self) {
        self.silent.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one corrected latency.
    pub fn latency(&self, us: u64) {
        record(&self.latency, us);
    }

    fn delivery(&self) -> Delivery {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Delivery {
            received: get(&self.received),
            lost_while_connected: self.lost.load(Ordering::Relaxed).max(0) as u64,
            missed_while_disconnected: get(&self.missed),
            duplicates: get(&self.duplicates),
            reordered: get(&self.reordered),
            silent_connections: get(&self.silent),
        }
    }
}

/// Records `us`, clamped into the histogram's range.
fn record(h: &Mutex<Histogram<u64>>, us: u64) {
    let mut h = lock(h);
    let high = h.high();
    h.saturating_record(us.clamp(1, high));
}

/// Takes a histogram's content, leaving it empty.
fn take(h: &Mutex<Histogram<u64>>) -> Histogram<u64> {
    let mut h = lock(h);
    let out = h.clone();
    h.reset();
    out
}

/// Everything an agent's connections record into.
#[derive(Debug, Default)]
pub struct Meter {
    /// Per instance × hub, in plan order (grows when an instance is added).
    instances: RwLock<Vec<Arc<InstanceMeter>>>,
    /// Publish → arrival from the *actual* send, µs, this interval.
    uncorrected: Mutex<Option<Histogram<u64>>>,
    /// First-attempt connect times, µs, this interval.
    connect: Mutex<Option<Histogram<u64>>>,
    /// Drop → reconnected, µs, this interval.
    reconnect: Mutex<Option<Histogram<u64>>>,
    /// Connections open right now.
    held: AtomicU64,
    /// The most open at once.
    peak_held: AtomicU64,
    /// Connections that opened at least once.
    opened: AtomicU64,
    /// First attempts that failed.
    failed: AtomicU64,
    /// Reconnections that succeeded.
    reconnects: AtomicU64,
    /// Connections that ran out of retries.
    gave_up: AtomicU64,
    /// Failures by reason, first attempts and retries alike.
    failures: Mutex<BTreeMap<String, u64>>,
}

/// Lazily creates the histogram so `Meter::default()` stays cheap.
fn record_opt(h: &Mutex<Option<Histogram<u64>>>, us: u64) {
    let mut h = lock(h);
    let h = h.get_or_insert_with(histogram);
    let high = h.high();
    h.saturating_record(us.clamp(1, high));
}

fn take_opt(h: &Mutex<Option<Histogram<u64>>>) -> Histogram<u64> {
    lock(h).take().unwrap_or_else(histogram)
}

impl Meter {
    /// A meter for `(name, hub)` pairs, in order.
    pub fn new(names: impl IntoIterator<Item = (String, String)>) -> Self {
        let meter = Self::default();
        for (name, hub) in names {
            meter.add_instance(name, hub);
        }
        meter
    }

    /// Adds an instance × hub; returns its index.
    pub fn add_instance(&self, name: String, hub: String) -> usize {
        let mut list = write(&self.instances);
        list.push(Arc::new(InstanceMeter::new(name, hub)));
        list.len() - 1
    }

    /// Instance × hub `i`'s meter.
    pub fn instance(&self, i: usize) -> Arc<InstanceMeter> {
        read(&self.instances)[i].clone()
    }

    /// A connection opened (first time: `connect_us` is its connect time).
    pub fn opened(&self, first_connect_us: Option<u64>) {
        if let Some(us) = first_connect_us {
            self.opened.fetch_add(1, Ordering::Relaxed);
            record_opt(&self.connect, us);
        }
        let now = self.held.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_held.fetch_max(now, Ordering::Relaxed);
    }

    /// A reconnect succeeded `us` after the drop.
    pub fn reconnected(&self, us: u64) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        record_opt(&self.reconnect, us);
    }

    /// An open connection closed or dropped.
    pub fn closed(&self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }

    /// An attempt failed for `reason`; `first` for a first attempt.
    pub fn failed(&self, reason: &str, first: bool) {
        if first {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        *lock(&self.failures).entry(reason.to_owned()).or_default() += 1;
    }

    /// A connection exhausted its retries.
    pub fn gave_up(&self) {
        self.gave_up.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one uncorrected latency.
    pub fn uncorrected(&self, us: u64) {
        record_opt(&self.uncorrected, us);
    }

    /// Connections open right now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// The interval's snapshot; histograms restart empty.
    pub fn snapshot(&self, agent: u32, t_ms: u64) -> Interval {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let instances = read(&self.instances)
            .iter()
            .map(|m| InstanceInterval {
                name: m.name.clone(),
                hub: m.hub.clone(),
                connections: get(&m.connections),
                delivery: m.delivery(),
                latency: Hist(take(&m.latency)),
            })
            .collect();
        Interval {
            agent,
            t_ms,
            held: get(&self.held),
            peak_held: get(&self.peak_held),
            opened: get(&self.opened),
            failed: get(&self.failed),
            reconnects: get(&self.reconnects),
            gave_up: get(&self.gave_up),
            failures: lock(&self.failures).clone(),
            instances,
            uncorrected: Hist(take_opt(&self.uncorrected)),
            connect: Hist(take_opt(&self.connect)),
            reconnect: Hist(take_opt(&self.reconnect)),
            machine: Machine::default(),
            done: false,
        }
    }
}

/// A histogram that travels as base64 of HdrHistogram's V2 serialization.
#[derive(Debug, Clone, PartialEq)]
pub struct Hist(pub Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        Self(histogram())
    }
}

impl Serialize for Hist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        use hdrhistogram::serialization::Serializer as _;
        let mut bytes = Vec::new();
        hdrhistogram::serialization::V2Serializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Hist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)?;
        let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(serde::de::Error::custom)?;
        // Re-home it in the common bounds so it adds without loss.
        let mut common = histogram();
        common.add(&h).map_err(serde::de::Error::custom)?;
        Ok(Self(common))
    }
}

/// One instance × hub's part of an interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceInterval {
    /// Which instance × hub.
    pub name: String,
    /// Its hub's name.
    #[serde(default)]
    pub hub: String,
    /// Connections assigned (cumulative).
    pub connections: u64,
    /// Accounting so far (cumulative).
    pub delivery: Delivery,
    /// Corrected latencies of this interval only.
    pub latency: Hist,
}

/// The agent process's own health in the interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU used in the interval, percent of one core.
    pub cpu_pct: f64,
    /// CPU seconds used so far.
    pub cpu_seconds: f64,
    /// Resident memory now, KiB.
    pub rss_kib: u64,
    /// Resident memory before the first connection, KiB: the baseline of
    /// memory per connection.
    pub rss_start_kib: u64,
    /// Timer lateness in the interval, µs.
    pub loop_lag: Hist,
    /// Open-file limit after raising (soft, hard).
    pub nofile: (u64, u64),
}

/// What an agent reports each second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Which agent.
    pub agent: u32,
    /// Milliseconds since the run's start.
    pub t_ms: u64,
    /// Connections open now.
    pub held: u64,
    /// The most open at once (cumulative).
    pub peak_held: u64,
    /// Opened at least once (cumulative).
    pub opened: u64,
    /// First attempts failed (cumulative).
    pub failed: u64,
    /// Reconnections (cumulative).
    pub reconnects: u64,
    /// Out of retries (cumulative).
    pub gave_up: u64,
    /// Failures by reason (cumulative).
    pub failures: BTreeMap<String, u64>,
    /// Per instance.
    pub instances: Vec<InstanceInterval>,
    /// Uncorrected latencies of this interval.
    pub uncorrected: Hist,
    /// First-attempt connect times of this interval.
    pub connect: Hist,
    /// Reconnect times of this interval.
    pub reconnect: Hist,
    /// The agent's own health.
    pub machine: Machine,
    /// The agent's last report: its counters are final.
    pub done: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot carries the interval's latencies once, then starts over.
    #[test]
    fn snapshot_takes_the_interval() {
        let m = Meter::new([("a".to_owned(), "h".to_owned())]);
        m.instance(0).latency(1500);
        m.instance(0).seen(Seen::First);
        let first = m.snapshot(0, 1000);
        assert_eq!(first.instances[0].latency.0.len(), 1);
        assert_eq!(first.instances[0].delivery.received, 1);
        let second = m.snapshot(0, 2000);
        assert_eq!(second.instances[0].latency.0.len(), 0);
        assert_eq!(second.instances[0].delivery.received, 1, "counters stay");
    }

    /// An interval survives its JSON form exactly, histograms included.
    #[test]
    fn interval_round_trips() {
        let m = Meter::new(["a", "b"].map(|n| (n.to_owned(), "h".to_owned())));
        for us in [10, 900, 45_000, 2_000_000] {
            m.instance(1).latency(us);
            m.uncorrected(us);
        }
        m.opened(Some(3000));
        m.failed("negotiate: HTTP 503", true);
        let interval = m.snapshot(2, 5000);
        let json = serde_json::to_string(&interval).unwrap();
        let back: Interval = serde_json::from_str(&json).unwrap();
        assert_eq!(back, interval);
    }

    /// A late arrival takes back the loss its gap counted.
    #[test]
    fn late_arrival_undoes_loss() {
        let m = InstanceMeter::new("a".into(), "h".into());
        m.seen(Seen::First);
        m.seen(Seen::Gap { lost: 2 });
        m.seen(Seen::Late);
        let d = m.delivery();
        assert_eq!((d.received, d.lost_while_connected, d.reordered), (3, 1, 1));
    }
}
