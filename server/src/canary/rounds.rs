//! The canary's ledger: which round reached which instance, and when.
//! Pure bookkeeping, no clock of its own: callers pass the times in.

use std::collections::VecDeque;

use protocol::api::CanaryRound;

/// How many rounds are kept for the page's history.
const KEPT: usize = 60;

/// One canary broadcast.
#[derive(Debug, Clone)]
struct Round {
    /// Its sequence number.
    seq: u64,
    /// When it was published, Unix µs.
    sent_us: u64,
    /// Publish → arrival per instance, µs; `None` until it arrives.
    latencies_us: Vec<Option<u64>>,
    /// Decided: arrived everywhere, or counted missed where it did not.
    settled: bool,
}

/// Every instance's rounds, newest last.
#[derive(Debug)]
pub struct Rounds {
    /// The recent rounds; older ones are settled and forgotten.
    rounds: VecDeque<Round>,
    /// Misses per instance since the start (rounds leave `rounds`, the
    /// count must not).
    missed: Vec<u64>,
    /// Rounds that went out since the start.
    sent: u64,
}

impl Rounds {
    /// A ledger for `instances` instances.
    pub fn new(instances: usize) -> Self {
        Self {
            rounds: VecDeque::with_capacity(KEPT + 1),
            missed: vec![0; instances],
            sent: 0,
        }
    }

    /// Round `seq` was published at `sent_us`.
    pub fn sent(&mut self, seq: u64, sent_us: u64) {
        if self.rounds.len() == KEPT {
            self.rounds.pop_front();
        }
        self.rounds.push_back(Round {
            seq,
            sent_us,
            latencies_us: vec![None; self.missed.len()],
            settled: false,
        });
        self.sent += 1;
    }

    /// Round `seq` did not go out after all: forget it.
    pub fn unsent(&mut self, seq: u64) {
        let before = self.rounds.len();
        self.rounds.retain(|r| r.seq != seq);
        if self.rounds.len() < before {
            self.sent -= 1;
        }
    }

    /// Rounds that went out since the start.
    pub fn sent_count(&self) -> u64 {
        self.sent
    }

    /// Instance `i` received round `seq` at `arrived_us`: its latency, or
    /// `None` for a round this ledger no longer knows or already had.
    pub fn arrived(&mut self, i: usize, seq: u64, arrived_us: u64) -> Option<u64> {
        let round = self.rounds.iter_mut().rev().find(|r| r.seq == seq)?;
        let slot = round.latencies_us.get_mut(i)?;
        if slot.is_some() {
            return None;
        }
        let latency = arrived_us.saturating_sub(round.sent_us);
        *slot = Some(latency);
        if round.latencies_us.iter().all(Option::is_some) {
            round.settled = true;
        }
        Some(latency)
    }

    /// Settles every round sent `miss_after_us` or more before `now_us`:
    /// the instances it has not reached missed it. Returns one index per
    /// miss.
    pub fn settle(&mut self, now_us: u64, miss_after_us: u64) -> Vec<usize> {
        let mut misses = Vec::new();
        for round in self.rounds.iter_mut().filter(|r| !r.settled) {
            if now_us.saturating_sub(round.sent_us) < miss_after_us {
                continue;
            }
            round.settled = true;
            for (i, latency) in round.latencies_us.iter().enumerate() {
                if latency.is_none() {
                    self.missed[i] += 1;
                    misses.push(i);
                }
            }
        }
        misses
    }

    /// Misses per instance since the start.
    pub fn missed(&self) -> &[u64] {
        &self.missed
    }

    /// The kept rounds, oldest first, for the page.
    pub fn history(&self) -> Vec<CanaryRound> {
        self.rounds
            .iter()
            .map(|r| CanaryRound {
                seq: r.seq,
                sent_at_ms: r.sent_us / 1000,
                latencies_ms: r
                    .latencies_us
                    .iter()
                    .map(|l| l.map(|us| us as f64 / 1000.0))
                    .collect(),
                settled: r.settled,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arrival is timed from its round's publish, once.
    #[test]
    fn arrivals_are_timed_once() {
        let mut r = Rounds::new(2);
        r.sent(1, 1_000);
        assert_eq!(r.arrived(0, 1, 3_500), Some(2_500));
        assert_eq!(r.arrived(0, 1, 4_000), None);
        assert_eq!(r.arrived(1, 9, 4_000), None);
        assert_eq!(r.history()[0].latencies_ms, vec![Some(2.5), None]);
    }

    /// A round is missed only where it has not arrived, and only once the
    /// deadline passed.
    #[test]
    fn misses_after_the_deadline_only() {
        let mut r = Rounds::new(3);
        r.sent(1, 0);
        r.arrived(0, 1, 10);
        assert!(r.settle(4_999, 5_000).is_empty());
        assert_eq!(r.settle(5_000, 5_000), vec![1, 2]);
        assert!(r.settle(9_000, 5_000).is_empty());
        assert_eq!(r.missed(), &[0, 1, 1]);
    }

    /// A round that reached everyone is settled at once and never missed.
    #[test]
    fn complete_rounds_settle_early() {
        let mut r = Rounds::new(1);
        r.sent(1, 0);
        r.arrived(0, 1, 5);
        assert!(r.history()[0].settled);
        assert!(r.settle(u64::MAX, 1).is_empty());
    }

    /// A round that never went out is neither counted nor missed.
    #[test]
    fn unsent_rounds_are_forgotten() {
        let mut r = Rounds::new(1);
        r.sent(1, 0);
        r.unsent(1);
        assert_eq!(r.sent_count(), 0);
        assert!(r.settle(u64::MAX, 0).is_empty());
    }

    /// Only the recent rounds are kept; misses are counted past them.
    #[test]
    fn history_is_bounded() {
        let mut r = Rounds::new(1);
        for seq in 1..=(KEPT as u64 + 5) {
            r.sent(seq, seq);
        }
        assert_eq!(r.settle(u64::MAX, 0).len(), KEPT);
        assert_eq!(r.history().len(), KEPT);
        assert_eq!(r.history()[0].seq, 6);
    }
}
