//! The coordinator's books: every agent's snapshots folded into run
//! totals (histograms added, never averaged) and into one timeline row
//! per second. An agent that falls silent is marked stopped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::meter::Interval;
use super::summary::{
    curve, histogram, AgentStatus, ConnectionStats, Delivery, InstanceSummary, LatencyStats,
    Percentiles, Tick,
};

/// Silence after which an agent counts as stopped.
pub const AGENT_SILENCE: Duration = Duration::from_secs(5);

/// One agent as last heard.
#[derive(Debug)]
struct AgentBook {
    /// Its latest snapshot (histograms already taken out).
    latest: Interval,
    /// When it last reported.
    heard: Instant,
    /// It sent its final snapshot.
    done: bool,
    /// It went silent before that.
    stopped: bool,
    /// Connections the plan gave it.
    connections: u64,
}

/// Run totals and the timeline.
#[derive(Debug)]
pub struct Ledger {
    /// Instance × hub names in order, each with its hub's name.
    names: Vec<(String, String)>,
    /// Per agent index.
    agents: BTreeMap<u32, AgentBook>,
    /// Corrected latency per instance, whole run.
    latency: Vec<Histogram<u64>>,
    /// Uncorrected latency, whole run.
    uncorrected: Histogram<u64>,
    /// First-attempt connect times, whole run.
    connect: Histogram<u64>,
    /// Reconnect times, whole run.
    reconnect: Histogram<u64>,
    /// Event-loop lag, every agent, whole run.
    loop_lag: Histogram<u64>,
    /// Corrected latency since the last tick, per instance.
    second: Vec<Histogram<u64>>,
    /// Received at the last tick, to make per-second counts.
    received_before: u64,
    /// One row per second.
    pub timeline: Vec<Tick>,
    /// Every agent's CPU samples (percent of a core), for mean and max.
    cpu: Vec<f64>,
    /// Latest CPU seconds per agent.
    cpu_seconds: BTreeMap<u32, f64>,
    /// Highest RSS any agent reported.
    peak_rss_kib: u64,
    /// Per agent: (RSS before its first connection, its highest RSS), KiB.
    rss: BTreeMap<u32, (u64, u64)>,
    /// (soft, hard) open-file limits, the lowest any agent had.
    nofile: Option<(u64, u64)>,
    /// Interval log entries: (agent, end ms, interval histogram overall).
    pub log: Vec<(u32, u64, Histogram<u64>)>,
}

impl Ledger {
    /// Books for `(name, hub)` pairs, expecting agents `0..agents` with
    /// their shares.
    pub fn new(names: Vec<(String, String)>, shares: &[u64]) -> Self {
        let n = names.len();
        let now = Instant::now();
        Self {
            names,
            agents: shares
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    (
                        i as u32,
                        AgentBook {
                            latest: Interval::default(),
                            heard: now,
                            done: false,
                            stopped: false,
                            connections: c,
                        },
                    )
                })
                .collect(),
            latency: (0..n).map(|_| histogram()).collect(),
            uncorrected: histogram(),
            connect: histogram(),
            reconnect: histogram(),
            loop_lag: histogram(),
            second: (0..n).map(|_| histogram()).collect(),
            received_before: 0,
            timeline: Vec::new(),
            cpu: Vec::new(),
            cpu_seconds: BTreeMap::new(),
            peak_rss_kib: 0,
            rss: BTreeMap::new(),
            nofile: None,
            log: Vec::new(),
        }
    }

    /// Folds one snapshot in. Snapshots from an unknown agent or after its
    /// final one are ignored.
    pub fn absorb(&mut self, mut interval: Interval) {
        let Some(book) = self.agents.get_mut(&interval.agent) else {
            return;
        };
        if book.done {
            return;
        }
        book.heard = Instant::now();
        book.stopped = false;
        let mut overall = histogram();
        for (i, inst) in interval.instances.iter_mut().enumerate() {
            while self.names.len() <= i {
                self.names.push((inst.name.clone(), inst.hub.clone()));
                self.latency.push(histogram());
                self.second.push(histogram());
            }
            let h = std::mem::take(&mut inst.latency).0;
            let _ = self.latency[i].add(&h);
            let _ = self.second[i].add(&h);
            let _ = overall.add(&h);
        }
        let _ = self.uncorrected.add(&interval.uncorrected.0);
        let _ = self.connect.add(&interval.connect.0);
        let _ = self.reconnect.add(&interval.reconnect.0);
        let _ = self.loop_lag.add(&interval.machine.loop_lag.0);
        self.log.push((interval.agent, interval.t_ms, overall));
        self.cpu.push(interval.machine.cpu_pct);
        self.cpu_seconds
            .insert(interval.agent, interval.machine.cpu_seconds);
        self.peak_rss_kib = self.peak_rss_kib.max(interval.machine.rss_kib);
        let rss = self.rss.entry(interval.agent).or_default();
        *rss = (
            interval.machine.rss_start_kib,
            rss.1.max(interval.machine.rss_kib),
        );
        if interval.machine.nofile.1 > 0 {
            let n = interval.machine.nofile;
            self.nofile = Some(self.nofile.map_or(n, |m| (m.0.min(n.0), m.1.min(n.1))));
        }
        book.done = interval.done;
        interval.uncorrected = Default::default();
        interval.connect = Default::default();
        interval.reconnect = Default::default();
        interval.machine.loop_lag = Default::default();
        book.latest = interval;
    }

    /// Marks agents silent for too long as stopped; returns the newly
    /// stopped ones.
    pub fn check_silence(&mut self) -> Vec<u32> {
        let mut newly = Vec::new();
        for (&i, book) in &mut self.agents {
            if !book.done && !book.stopped && book.heard.elapsed() > AGENT_SILENCE {
                book.stopped = true;
                newly.push(i);
            }
        }
        newly
    }

    /// Whether every agent has finished or stopped.
    pub fn all_finished(&self) -> bool {
        self.agents.values().all(|b| b.done || b.stopped)
    }

    /// Connections that have been dealt with (opened or failed), every agent.
    pub fn attempted(&self) -> u64 {
        self.agents
            .values()
            .map(|b| b.latest.opened + b.latest.failed)
            .sum()
    }

    /// Connections open now, every agent.
    pub fn held(&self) -> u64 {
        self.agents.values().map(|b| b.latest.held).sum()
    }

    /// Accounting so far, every agent, per instance.
    fn deliveries(&self) -> Vec<Delivery> {
        let mut out = vec![Delivery::default(); self.names.len()];
        for book in self.agents.values() {
            for (i, inst) in book.latest.instances.iter().enumerate() {
                if let Some(d) = out.get_mut(i) {
                    d.add(&inst.delivery);
                }
            }
        }
        out
    }

    /// Accounting so far, every agent, every instance.
    pub fn delivery(&self) -> Delivery {
        self.deliveries()
            .iter()
            .fold(Delivery::default(), |mut a, d| {
                a.add(d);
                a
            })
    }

    /// Corrected latency so far, overall.
    pub fn latency_overall(&self) -> Histogram<u64> {
        let mut all = histogram();
        for h in &self.latency {
            let _ = all.add(h);
        }
        all
    }

    /// Closes the current second into a timeline row.
    pub fn tick(&mut self, t_s: f64, sent: u64) -> Tick {
        let delivery = self.delivery();
        let mut overall = histogram();
        let instance_p99_ms = self
            .second
            .iter_mut()
            .map(|h| {
                let _ = overall.add(&*h);
                let p = Percentiles::of(h).p99;
                h.reset();
                p
            })
            .collect();
        let p = Percentiles::of(&overall);
        self.timeline.push(Tick {
            t_s,
            held: self.held(),
            sent,
            received: delivery.received.saturating_sub(self.received_before),
            lost: delivery.lost_while_connected,
            p50_ms: p.p50,
            p99_ms: p.p99,
            instance_p99_ms,
        });
        self.received_before = delivery.received;
        self.timeline.last().cloned().unwrap_or_default()
    }

    /// Connection figures.
    pub fn connections(&self, target: u64) -> ConnectionStats {
        let mut failures = BTreeMap::new();
        let mut c = ConnectionStats {
            target,
            ..ConnectionStats::default()
        };
        for book in self.agents.values() {
            let l = &book.latest;
            c.opened += l.opened;
            c.failed += l.failed;
            c.peak_held += l.peak_held;
            c.reconnects += l.reconnects;
            c.gave_up += l.gave_up;
            for (k, v) in &l.failures {
                *failures.entry(k.clone()).or_default() += v;
            }
        }
        c.failures_by_reason = failures;
        c.connect_ms = Percentiles::of(&self.connect);
        c.reconnect_ms = Percentiles::of(&self.reconnect);
        c.reconnect_curve = curve(&self.reconnect);
        c
    }

    /// Latency figures, overall.
    pub fn latency(&self) -> LatencyStats {
        let all = self.latency_overall();
        LatencyStats {
            corrected: Percentiles::of(&all),
            uncorrected: Percentiles::of(&self.uncorrected),
            curve: curve(&all),
        }
    }

    /// Per-instance × hub figures.
    pub fn instances(&self) -> Vec<InstanceSummary> {
        let deliveries = self.deliveries();
        (0..self.names.len())
            .map(|i| self.summarise(&self.names[i].0, &[i], &deliveries))
            .collect()
    }

    /// Per-hub figures: every instance's share of each hub, in the order
    /// the hubs first appear.
    pub fn hubs(&self) -> Vec<InstanceSummary> {
        let deliveries = self.deliveries();
        let mut hubs: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, (_, hub)) in self.names.iter().enumerate() {
            match hubs.iter_mut().find(|(h, _)| h == hub) {
                Some((_, members)) => members.push(i),
                None => hubs.push((hub, vec![i])),
            }
        }
        hubs.into_iter()
            .map(|(hub, members)| self.summarise(hub, &members, &deliveries))
            .collect()
    }

    /// The figures of the instance × hub pairs `members`, together, as `name`.
    fn summarise(&self, name: &str, members: &[usize], deliveries: &[Delivery]) -> InstanceSummary {
        let mut delivery = Delivery::default();
        let mut latency = histogram();
        for &i in members {
            delivery.add(&deliveries[i]);
            let _ = latency.add(&self.latency[i]);
        }
        InstanceSummary {
            name: name.to_owned(),
            hub: members
                .first()
                .map(|&i| self.names[i].1.clone())
                .unwrap_or_default(),
            connections: self
                .agents
                .values()
                .flat_map(|b| members.iter().filter_map(|&i| b.latest.instances.get(i)))
                .map(|x| x.connections)
                .sum(),
            delivery,
            latency: Percentiles::of(&latency),
            curve: curve(&latency),
        }
    }

    /// Each agent's fate.
    pub fn agents(&self) -> Vec<AgentStatus> {
        self.agents
            .iter()
            .map(|(&index, b)| AgentStatus {
                index,
                connections: b.connections,
                state: if b.done { "finished" } else { "stopped" }.into(),
                received: b.latest.instances.iter().map(|i| i.delivery.received).sum(),
            })
            .collect()
    }

    /// CPU: mean and max percent of a core per sample, and CPU seconds.
    pub fn cpu(&self) -> (f64, f64, f64) {
        let n = self.cpu.len().max(1) as f64;
        (
            self.cpu.iter().sum::<f64>() / n,
            self.cpu.iter().copied().fold(0.0, f64::max),
            self.cpu_seconds.values().sum(),
        )
    }

    /// Event-loop lag, every agent.
    pub fn loop_lag(&self) -> Percentiles {
        Percentiles::of(&self.loop_lag)
    }

    /// Highest RSS of any agent, KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.peak_rss_kib
    }

    /// Memory the connections added, KiB, every agent together.
    pub fn added_rss_kib(&self) -> u64 {
        self.rss
            .values()
            .map(|(start, peak)| peak.saturating_sub(*start))
            .sum()
    }

    /// CPU seconds used so far, every agent.
    pub fn cpu_seconds(&self) -> f64 {
        self.cpu_seconds.values().sum()
    }

    /// The lowest open-file limits any agent had.
    pub fn nofile(&self) -> (u64, u64) {
        self.nofile.unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::meter::Meter;
    use crate::load::tally::Seen;

    fn agent_interval(agent: u32, received: u64, latencies: &[u64], done: bool) -> Interval {
        let m = Meter::new([("a".to_owned(), "h".to_owned())]);
        for _ in 0..received {
            m.instance(0).seen(Seen::Next);
        }
        for &us in latencies {
            m.instance(0).latency(us);
        }
        let mut i = m.snapshot(agent, 1000);
        i.done = done;
        i
    }

    /// Two agents' books add up to exactly the sum of their parts.
    #[test]
    fn agents_merge_to_the_sum() {
        let mut l = Ledger::new(vec![("a".into(), "h".into())], &[5, 5]);
        l.absorb(agent_interval(0, 3, &[1000, 2000, 3000], false));
        l.absorb(agent_interval(1, 2, &[4000, 5000], true));
        assert_eq!(l.delivery().received, 5);
        assert_eq!(l.latency().corrected.count, 5);
        assert!(
            (l.latency().corrected.max - 5.0).abs() < 0.01,
            "3 significant digits"
        );
        assert!(!l.all_finished());
        l.absorb(agent_interval(0, 3, &[], true));
        assert!(l.all_finished());
        assert_eq!(
            l.delivery().received,
            5,
            "counters are cumulative, not added twice"
        );
    }

    /// Ticks count arrivals per second, not cumulatively.
    #[test]
    fn ticks_are_per_second() {
        let mut l = Ledger::new(vec![("a".into(), "h".into())], &[1]);
        l.absorb(agent_interval(0, 4, &[1000], false));
        assert_eq!(l.tick(1.0, 4).received, 4);
        l.absorb(agent_interval(0, 6, &[], false));
        let t = l.tick(2.0, 2);
        assert_eq!((t.received, t.p99_ms), (2, 0.0));
    }

    /// A hub's row totals its instances' rows.
    #[test]
    fn hubs_total_their_instances() {
        let m = Meter::new(
            [("a/x", "x"), ("a/y", "y"), ("b/x", "x")].map(|(n, h)| (n.to_owned(), h.to_owned())),
        );
        for (i, received) in [(0, 2), (1, 1), (2, 3)] {
            m.instance(i).assigned();
            for _ in 0..received {
                m.instance(i).seen(Seen::Next);
                m.instance(i).latency(1000 * (i as u64 + 1));
            }
        }
        let mut l = Ledger::new(Vec::new(), &[1]);
        l.absorb(m.snapshot(0, 1000));
        let hubs = l.hubs();
        let rows: Vec<_> = hubs
            .iter()
            .map(|h| {
                (
                    h.name.as_str(),
                    h.connections,
                    h.delivery.received,
                    h.latency.count,
                )
            })
            .collect();
        assert_eq!(rows, [("x", 2, 5, 5), ("y", 1, 1, 1)]);
        assert_eq!(l.instances()[1].hub, "y");
    }

    /// An agent nobody hears from is stopped, and the run can end.
    #[test]
    fn silent_agent_is_stopped() {
        let mut l = Ledger::new(vec![("a".into(), "h".into())], &[1, 1]);
        l.absorb(agent_interval(0, 1, &[], true));
        for b in l.agents.values_mut() {
            b.heard -= AGENT_SILENCE * 2;
        }
        assert_eq!(l.check_silence(), vec![1]);
        assert!(l.all_finished());
        assert_eq!(l.agents()[1].state, "stopped");
    }
}
