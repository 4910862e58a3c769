//! The bookkeeping behind verdicts, as plain Rust: which test broadcasts
//! were sent from this page, which panel received each and how fast, and
//! per panel how many messages were duplicated, and how many it did not
//! get, in two kinds: **missed while disconnected** (expected: SignalR does
//! not replay what was published while a client was away) and **lost while
//! connected** (a failure).
//! Times are milliseconds on one monotonic clock (the page's
//! `performance.now()`), so click-to-arrival latencies are comparable.

use std::collections::{HashSet, VecDeque};

use protocol::api::{TriggerMode, TriggerResponse};
use protocol::broadcast::TestBroadcast;
use serde::Serialize;

use super::by_name::ByName;

/// Arrivals (and PUBLISHes seen in the feed) whose trigger response is
/// still in flight are kept this long (the broadcast can beat the HTTP
/// response to the page).
const EARLY_ARRIVALS_KEPT: usize = 256;

/// Ids remembered per panel to tell duplicates: a backplane duplicates a
/// message close to the original, and a page that receives 1,000 a second
/// for hours must not keep every id it ever saw.
const IDS_KEPT: usize = 4_096;

/// One test broadcast sent from this page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// Its unique id, from the trigger's response.
    pub id: String,
    /// Its sequence number.
    pub seq: u64,
    /// How it was sent.
    pub mode: TriggerMode,
    /// Who published it: the companion, or the instance that sent it in
    /// `instance` mode (the topology's first node).
    pub origin: String,
    /// When the button was clicked.
    pub clicked_at_ms: f64,
    /// The panels connected at the click: the ones that must receive it.
    pub expected: Vec<String>,
    /// Click-to-arrival latency per panel that received it.
    pub latencies: ByName<f64>,
    /// Click-to-PUBLISH time: when the feed saw it go into Redis, the
    /// first hop of the topology view.
    pub publish_ms: Option<f64>,
}

/// The judgement on one broadcast.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "camelCase")]
pub enum Verdict {
    /// Some expected panel may still receive it in time.
    Pending,
    /// Every expected panel received it within the threshold.
    Pass,
    /// Someone missed it, or got it late, or nobody was connected.
    Fail {
        /// Expected panels that have not received it.
        missed: Vec<String>,
        /// Expected panels that received it past the threshold.
        late: Vec<String>,
    },
}

impl Verdict {
    /// The `data-verdict` value.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Pass => "pass",
            Self::Fail { .. } => "fail",
        }
    }
}

/// Per-panel counts over everything it received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Test broadcasts received, duplicates included.
    pub received: u64,
    /// Broadcasts skipped (by sequence) while the panel stayed connected:
    /// the backplane or the instance dropped them.
    pub lost_while_connected: u64,
    /// Broadcasts sent while the panel was not connected: expected, as
    /// SignalR does not replay them.
    pub missed_while_disconnected: u64,
    /// Ids received more than once.
    pub duplicates: u64,
    /// Broadcasts that arrived after a later one of their origin (the gap
    /// they left was counted, then taken back).
    pub reordered: u64,
    /// Highest sequence number seen (or due) per origin.
    #[serde(skip)]
    last_seq: ByName<u64>,
    /// Per origin, sequence numbers already counted as missed while
    /// disconnected (this page's own, at their send), so the gap they
    /// leave is not counted again. Each list is sorted.
    #[serde(skip)]
    accounted: ByName<Vec<u64>>,
    /// Per origin, the last [`IDS_KEPT`] sequence numbers a gap counted,
    /// each with whether it was counted missed while away (else lost), so
    /// a late arrival takes back what it was counted as.
    #[serde(skip)]
    skipped: ByName<VecDeque<(u64, bool)>>,
    /// The connection dropped since the last arrival: the next gap
    /// happened while it was away.
    #[serde(skip)]
    away: bool,
    /// The last [`IDS_KEPT`] ids seen, to tell a duplicate from a new
    /// broadcast.
    #[serde(skip)]
    seen: HashSet<String>,
    /// The same ids, oldest first, so the oldest is forgotten first.
    #[serde(skip)]
    seen_order: VecDeque<String>,
}

impl Tally {
    /// Remembers `id`; false if it was already seen (a duplicate).
    fn first_sight(&mut self, id: &str) -> bool {
        if !self.seen.insert(id.to_owned()) {
            return false;
        }
        self.seen_order.push_back(id.to_owned());
        if self.seen_order.len() > IDS_KEPT {
            if let Some(oldest) = self.seen_order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        true
    }

    /// Counts the gap before `seq` from `origin`, given the last seen.
    fn gap(&mut self, origin: &str, last: u64, seq: u64) {
        // Those before `seq` are settled now: count the ones in the gap
        // (after `last`) and forget them all.
        let already: Vec<u64> = self.accounted.get_mut(origin).map_or(Vec::new(), |seqs| {
            let settled = seqs.partition_point(|&s| s < seq);
            seqs.drain(..settled).filter(|&s| s > last).collect()
        });
        let fresh = (seq - last - 1).saturating_sub(already.len() as u64);
        if self.away {
            self.missed_while_disconnected += fresh;
        } else {
            self.lost_while_connected += fresh;
        }
        let remembered = self.skipped.or_default(origin);
        let from = (last + 1).max(seq.saturating_sub(IDS_KEPT as u64));
        let counted = (from..seq).filter(|s| already.binary_search(s).is_err());
        remembered.extend(counted.map(|s| (s, self.away)));
        let excess = remembered.len().saturating_sub(IDS_KEPT);
        remembered.drain(..excess);
    }

    /// Takes back the gap `seq` was counted in, if it was; true if so.
    fn arrived_late(&mut self, origin: &str, seq: u64) -> bool {
        let Some(remembered) = self.skipped.get_mut(origin) else {
            return false;
        };
        let Ok(i) = remembered.binary_search_by_key(&seq, |&(s, _)| s) else {
            return false;
        };
        match remembered.remove(i) {
            Some((_, true)) => self.missed_while_disconnected -= 1,
            Some((_, false)) => self.lost_while_connected -= 1,
            None => return false,
        }
        self.reordered += 1;
        true
    }
}

/// What one arrival meant for its panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Click-to-arrival time, when the broadcast was sent from this page.
    pub latency_ms: Option<f64>,
    /// The panel had already received this id.
    pub duplicate: bool,
}

/// All broadcasts and tallies of this session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// Broadcasts sent from this page, oldest first.
    sent: Vec<Sent>,
    /// Hops of ids not (yet) known to be ours: (id, the panel that
    /// received it or `None` for its PUBLISH seen in the feed, at).
    early: Vec<(String, Option<String>, f64)>,
    /// Counts per panel name.
    tallies: ByName<Tally>,
}

impl Ledger {
    /// Records a broadcast the companion sent for a click at
    /// `clicked_at_ms`, and claims arrivals that beat its response.
    /// `expected` panels were connected at the click; the `absent` ones
    /// were not and miss it, as SignalR does not replay.
    pub fn sent(
        &mut self,
        response: &TriggerResponse,
        clicked_at_ms: f64,
        expected: Vec<String>,
        absent: &[String],
    ) {
        let origin = response.origin();
        // From now on a panel owes this origin's broadcasts, even if this
        // one is the first it would have seen.
        for panel in expected.iter().chain(absent) {
            let tally = self.tallies.or_default(panel);
            tally
                .last_seq
                .or_insert_with(origin, || response.seq.saturating_sub(1));
        }
        for panel in absent {
            let tally = self.tallies.or_default(panel);
            let seqs = tally.accounted.or_default(origin);
            let fresh = match seqs.binary_search(&response.seq) {
                Ok(_) => false,
                Err(i) => {
                    seqs.insert(i, response.seq);
                    true
                }
            };
            let before = tally
                .last_seq
                .get(origin)
                .is_some_and(|&l| l >= response.seq);
            if fresh && !before {
                tally.missed_while_disconnected += 1;
            }
        }
        let mut sent = Sent {
            id: response.id.clone(),
            seq: response.seq,
            mode: response.mode,
            origin: origin.to_owned(),
            clicked_at_ms,
            expected,
            latencies: ByName::default(),
            publish_ms: None,
        };
        self.early.retain(|(id, panel, at)| {
            let ours = *id == sent.id;
            if ours {
                let hop = at - clicked_at_ms;
                match panel {
                    Some(panel) => {
                        sent.latencies.or_insert_with(panel, || hop);
                    }
                    None => {
                        sent.publish_ms.get_or_insert(hop);
                    }
                }
            }
            !ours
        });
        self.sent.push(sent);
    }

    /// Records that `panel` received `broadcast` at `at_ms`.
    pub fn arrived(&mut self, panel: &str, broadcast: &TestBroadcast, at_ms: f64) -> Arrival {
        let tally = self.tallies.or_default(panel);
        tally.received += 1;
        if !tally.first_sight(&broadcast.id) {
            tally.duplicates += 1;
            let latency_ms = self
                .find(&broadcast.id)
                .and_then(|s| s.latencies.get(panel).copied());
            return Arrival {
                latency_ms,
                duplicate: true,
            };
        }
        // Counted missed at its send (the panel was not connected then),
        // yet it arrived: not missed after all.
        let was_accounted = tally
            .accounted
            .get_mut(&broadcast.origin)
            .and_then(|seqs| {
                seqs.binary_search(&broadcast.seq)
                    .ok()
                    .map(|i| seqs.remove(i))
            })
            .is_some();
        if was_accounted {
            tally.missed_while_disconnected -= 1;
        }
        let last = *tally
            .last_seq
            .or_insert_with(&broadcast.origin, || broadcast.seq);
        if broadcast.seq > last {
            tally.gap(&broadcast.origin, last, broadcast.seq);
            tally.last_seq.insert(&broadcast.origin, broadcast.seq);
        } else if !was_accounted {
            tally.arrived_late(&broadcast.origin, broadcast.seq);
        }
        tally.away = false;
        let latency_ms = match self.sent.iter_mut().rev().find(|s| s.id == broadcast.id) {
            Some(sent) => {
                let latency = at_ms - sent.clicked_at_ms;
                sent.latencies.insert(panel, latency);
                Some(latency)
            }
            None => {
                self.keep_early(broadcast.id.clone(), Some(panel.to_owned()), at_ms);
                None
            }
        };
        Arrival {
            latency_ms,
            duplicate: false,
        }
    }

    /// Records that the feed saw broadcast `id` published into Redis at
    /// `at_ms`; the first sighting counts.
    pub fn published(&mut self, id: &str, at_ms: f64) {
        match self.sent.iter_mut().rev().find(|s| s.id == id) {
            Some(sent) => {
                sent.publish_ms.get_or_insert(at_ms - sent.clicked_at_ms);
            }
            None => self.keep_early(id.to_owned(), None, at_ms),
        }
    }

    /// Keeps a hop of a broadcast not (yet) known to be ours, keeping at
    /// least the last [`EARLY_ARRIVALS_KEPT`]: others' broadcasts are never
    /// claimed.
    fn keep_early(&mut self, id: String, panel: Option<String>, at_ms: f64) {
        // The oldest half goes at once: at 1,000 messages a second every
        // arrival of another sender lands here, and forgetting one at a
        // time moved every entry each time.
        if self.early.len() >= 2 * EARLY_ARRIVALS_KEPT {
            self.early.drain(..EARLY_ARRIVALS_KEPT);
        }
        self.early.push((id, panel, at_ms));
    }

    /// `panel`'s connection is not up (dropped, reconnecting, stopped):
    /// what it misses until its next arrival was missed while away.
    pub fn disconnected(&mut self, panel: &str) {
        self.tallies.or_default(panel).away = true;
    }

    /// The broadcasts sent from this page, oldest first.
    pub fn broadcasts(&self) -> &[Sent] {
        &self.sent
    }

    /// One broadcast by id.
    pub fn find(&self, id: &str) -> Option<&Sent> {
        self.sent.iter().rev().find(|s| s.id == id)
    }

    /// A panel's counts.
    pub fn tally(&self, panel: &str) -> Tally {
        self.tallies.get(panel).cloned().unwrap_or_default()
    }

    /// Every panel's counts.
    pub fn tallies(&self) -> &ByName<Tally> {
        &self.tallies
    }
}

impl Sent {
    /// From this moment (monotonic ms) on, the verdict no longer depends
    /// on the clock: a panel that has not answered by then has missed it.
    pub fn settles_at(&self, pass_within_ms: u64) -> f64 {
        self.clicked_at_ms + pass_within_ms as f64
    }

    /// PASS when every expected panel received it within `pass_within_ms`;
    /// undecided while one still might, at `now_ms`.
    pub fn verdict(&self, pass_within_ms: u64, now_ms: f64) -> Verdict {
        let limit = pass_within_ms as f64;
        let (mut missed, mut late) = (Vec::new(), Vec::new());
        let mut waiting = false;
        for panel in &self.expected {
            match self.latencies.get(panel) {
                Some(&l) if l <= limit => {}
                Some(_) => late.push(panel.clone()),
                None if now_ms - self.clicked_at_ms <= limit => waiting = true,
                None => missed.push(panel.clone()),
            }
        }
        if waiting {
            Verdict::Pending
        } else if missed.is_empty() && late.is_empty() && !self.expected.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail { missed, late }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(id: &str, seq: u64) -> TriggerResponse {
        TriggerResponse {
            id: id.into(),
            seq,
            sent_at: String::new(),
            target: "NavigationStateUpdate".into(),
            channel: String::new(),
            mode: TriggerMode::Redis,
            receivers: Some(3),
            channel_subscribers: None,
            instance: None,
            hub: None,
        }
    }

    fn broadcast(id: &str, seq: u64) -> TestBroadcast {
        TestBroadcast::new(id, seq, 0, "companion")
    }

    fn panels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Every expected panel in time is a PASS, with latencies from the click.
    #[test]
    fn all_in_time_passes() {
        let mut l = Ledger::default();
        l.sent(&response("x", 1), 100.0, panels(&["a", "b"]), &[]);
        assert_eq!(
            l.arrived("a", &broadcast("x", 1), 110.0).latency_ms,
            Some(10.0)
        );
        l.arrived("b", &broadcast("x", 1), 140.0);
        assert_eq!(l.find("x").unwrap().verdict(50, 141.0), Verdict::Pass);
    }

    /// Before the threshold passes, a missing panel leaves the verdict pending.
    #[test]
    fn missing_panel_is_pending_within_the_threshold() {
        let mut l = Ledger::default();
        l.sent(&response("x", 1), 100.0, panels(&["a", "b"]), &[]);
        l.arrived("a", &broadcast("x", 1), 110.0);
        assert_eq!(l.find("x").unwrap().verdict(50, 120.0), Verdict::Pending);
    }

    /// After the threshold, the panel that missed it is named.
    #[test]
    fn missing_panel_fails_after_the_threshold() {
        let mut l = Ledger::default();
        l.sent(&response("x", 1), 100.0, panels(&["a", "b"]), &[]);
        l.arrived("a", &broadcast("x", 1), 110.0);
        assert_eq!(
            l.find("x").unwrap().verdict(50, 151.0),
            Verdict::Fail {
                missed: panels(&["b"]),
                late: vec![]
            }
        );
    }

    /// Once settled, a verdict is the same at any later moment: the page
    /// may stop redrawing it with the clock.
    #[test]
    fn a_settled_verdict_no_longer_changes_with_the_clock() {
        let mut l = Ledger::default();
        l.sent(&response("x", 1), 100.0, panels(&["a", "b"]), &[]);
        l.arrived("a", &broadcast("x", 1), 110.0);
        let sent = l.find("x").unwrap();
        let settled = sent.settles_at(50);
        assert_eq!(sent.verdict(50, settled), Verdict::Pending);
        let after = sent.verdict(50, settled + 0.001);
        assert_eq!(sent.verdict(50, settled + 3_600_000.0), after);
    }

    /// A late arrival is a FAIL naming the late panel.
    #[test]
    fn late_arrival_fails() {
        let mut l = Ledger::default();
        l.sent(&response("x", 1), 0.0, panels(&["a"]), &[]);
        l.arrived("a", &broadcast("x", 1), 80.0);
        assert_eq!(
            l.find("x").unwrap().verdict(50, 80.0),
            Verdict::Fail {
                missed: vec![],
                late: panels(&["a"])
            }
        );
    }

    /// With no panel connected there is nothing to prove: FAIL, not PASS.
    #[test]
    fn no_audience_fails() {
        let mut l = Ledger::default();
        l.sent(&response("x", 1), 0.0, vec![], &[]);
        assert_eq!(
            l.find("x").unwrap().verdict(50, 0.0),
            Verdict::Fail {
                missed: vec![],
                late: vec![]
            }
        );
    }

    /// An arrival that beats the trigger's response is claimed when it comes.
    #[test]
    fn early_arrival_is_claimed() {
        let mut l = Ledger::default();
        assert_eq!(l.arrived("a", &broadcast("x", 1), 105.0).latency_ms, None);
        l.sent(&response("x", 1), 100.0, panels(&["a"]), &[]);
        assert_eq!(l.find("x").unwrap().latencies.get("a"), Some(&5.0));
        assert_eq!(l.find("x").unwrap().verdict(50, 106.0), Verdict::Pass);
    }

    /// The feed's sighting of the PUBLISH is timed from the click, whether
    /// it comes before the trigger's response or after; the first counts.
    #[test]
    fn publish_is_timed_from_the_click() {
        let mut l = Ledger::default();
        l.published("x", 103.0);
        l.sent(&response("x", 1), 100.0, panels(&["a"]), &[]);
        l.published("x", 109.0);
        assert_eq!(l.find("x").unwrap().publish_ms, Some(3.0));
        l.sent(&response("y", 2), 200.0, panels(&["a"]), &[]);
        l.published("y", 204.0);
        assert_eq!(l.find("y").unwrap().publish_ms, Some(4.0));
    }

    /// A gap in one origin's sequence while connected counts as lost.
    #[test]
    fn sequence_gaps_count_as_lost() {
        let mut l = Ledger::default();
        for seq in [1, 2, 5, 6, 9] {
            l.arrived("a", &broadcast(&format!("id{seq}"), seq), 0.0);
        }
        assert_eq!(l.tally("a").lost_while_connected, 4);
        assert_eq!(l.tally("a").missed_while_disconnected, 0);
        assert_eq!(l.tally("a").duplicates, 0);
    }

    /// Scenario 2: three broadcasts sent while a panel's instance is down
    /// are missed while disconnected (at once), not lost; the gap they
    /// leave at its next arrival is not counted again.
    #[test]
    fn sent_while_away_is_missed_not_lost() {
        let mut l = Ledger::default();
        l.sent(&response("x1", 1), 0.0, panels(&["a", "b"]), &[]);
        l.arrived("a", &broadcast("x1", 1), 1.0);
        l.arrived("b", &broadcast("x1", 1), 1.0);
        l.disconnected("b");
        for seq in 2..=4 {
            let id = format!("x{seq}");
            l.sent(&response(&id, seq), 0.0, panels(&["a"]), &panels(&["b"]));
            l.arrived("a", &broadcast(&id, seq), 1.0);
        }
        assert_eq!(l.tally("b").missed_while_disconnected, 3);
        l.sent(&response("x5", 5), 0.0, panels(&["a", "b"]), &[]);
        l.arrived("b", &broadcast("x5", 5), 1.0);
        assert_eq!(l.tally("b").missed_while_disconnected, 3);
        assert_eq!(l.tally("b").lost_while_connected, 0);
        assert_eq!(l.tally("a").lost_while_connected, 0);
    }

    /// Others' broadcasts skipped across a reconnect are missed while
    /// disconnected; the same gap without a drop is lost.
    #[test]
    fn gap_across_a_drop_is_missed() {
        let mut l = Ledger::default();
        let from = |seq| TestBroadcast::new(format!("i{seq}"), seq, 0, "api-1");
        l.arrived("a", &from(1), 0.0);
        l.disconnected("a");
        l.arrived("a", &from(4), 0.0);
        l.arrived("a", &from(6), 0.0);
        assert_eq!(l.tally("a").missed_while_disconnected, 2);
        assert_eq!(l.tally("a").lost_while_connected, 1);
    }

    /// A panel expected to get this page's first broadcast that never does
    /// loses it, though it is the first of its origin the panel would see.
    #[test]
    fn first_broadcast_can_be_lost() {
        let mut l = Ledger::default();
        l.sent(&response("x1", 1), 0.0, panels(&["a"]), &[]);
        l.sent(&response("x2", 2), 0.0, panels(&["a"]), &[]);
        l.arrived("a", &broadcast("x2", 2), 1.0);
        assert_eq!(l.tally("a").lost_while_connected, 1);
    }

    /// A broadcast overtaken by a later one (published out of order) was
    /// counted lost at the later one's arrival; its own arrival takes that
    /// back and counts it reordered.
    #[test]
    fn late_arrival_is_reordered_not_lost() {
        let mut l = Ledger::default();
        for seq in [1, 2, 4, 5, 3] {
            l.arrived("a", &broadcast(&format!("id{seq}"), seq), 0.0);
        }
        assert_eq!(l.tally("a").lost_while_connected, 0);
        assert_eq!(l.tally("a").reordered, 1);
    }

    /// A gap counted while away is taken back from the missed count when
    /// one of it arrives late; the rest stay missed.
    #[test]
    fn late_arrival_after_a_drop_undoes_a_miss() {
        let mut l = Ledger::default();
        let from = |seq| TestBroadcast::new(format!("i{seq}"), seq, 0, "api-1");
        l.arrived("a", &from(1), 0.0);
        l.disconnected("a");
        l.arrived("a", &from(5), 0.0);
        assert_eq!(l.tally("a").missed_while_disconnected, 3);
        l.arrived("a", &from(3), 0.0);
        assert_eq!(l.tally("a").missed_while_disconnected, 2);
        assert_eq!(l.tally("a").lost_while_connected, 0);
    }

    /// Counted missed at its send, but it arrived after all: not missed.
    #[test]
    fn arrival_undoes_a_miss() {
        let mut l = Ledger::default();
        l.sent(&response("x1", 1), 0.0, vec![], &panels(&["a"]));
        assert_eq!(l.tally("a").missed_while_disconnected, 1);
        l.arrived("a", &broadcast("x1", 1), 1.0);
        assert_eq!(l.tally("a").missed_while_disconnected, 0);
        assert_eq!(l.tally("a").lost_while_connected, 0);
    }

    /// Sequences are counted per origin, so two senders do not look like gaps.
    #[test]
    fn gaps_are_per_origin() {
        let mut l = Ledger::default();
        l.arrived("a", &TestBroadcast::new("p1", 1, 0, "api-1"), 0.0);
        l.arrived("a", &TestBroadcast::new("q7", 7, 0, "companion"), 0.0);
        l.arrived("a", &TestBroadcast::new("p2", 2, 0, "api-1"), 0.0);
        l.arrived("a", &TestBroadcast::new("q8", 8, 0, "companion"), 0.0);
        assert_eq!(l.tally("a").lost_while_connected, 0);
    }

    /// The same id twice is a duplicate, and does not move the latency.
    #[test]
    fn repeated_id_is_a_duplicate() {
        let mut l = Ledger::default();
        l.sent(&response("x", 1), 0.0, panels(&["a"]), &[]);
        l.arrived("a", &broadcast("x", 1), 10.0);
        let again = l.arrived("a", &broadcast("x", 1), 90.0);
        assert!(again.duplicate);
        assert_eq!(again.latency_ms, Some(10.0));
        assert_eq!(l.tally("a").duplicates, 1);
        assert_eq!(l.tally("a").received, 2);
        assert_eq!(l.find("x").unwrap().verdict(50, 90.0), Verdict::Pass);
    }

    /// A panel remembers the last IDS_KEPT ids, however many it receives:
    /// a repeat within them is a duplicate, an older one is not told.
    #[test]
    fn ids_remembered_are_bounded() {
        let mut l = Ledger::default();
        for seq in 1..=IDS_KEPT as u64 + 10 {
            l.arrived("a", &broadcast(&format!("x{seq}"), seq), 0.0);
        }
        let tally = l.tallies().get("a").unwrap();
        assert_eq!(
            (tally.seen.len(), tally.seen_order.len()),
            (IDS_KEPT, IDS_KEPT)
        );
        assert!(l.arrived("a", &broadcast("x20", 20), 0.0).duplicate);
        assert!(!l.arrived("a", &broadcast("x1", 1), 0.0).duplicate);
    }
}
