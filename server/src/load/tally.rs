//! One connection's accounting of the sender's sequence numbers: what
//! arrived, what went missing while it stayed up (a failure), what it
//! missed while it was down (expected: SignalR does not replay), and what
//! came twice or late. Pure: the connection task feeds it.

/// Seqs skipped while connected, remembered so a late arrival can be told
/// from a duplicate. Beyond this many, a late seq counts as a duplicate.
const PENDING_LIMIT: usize = 1024;

/// What one arrival meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first seq this connection ever saw: accounting starts here,
    /// since a connection joins the group some time after it opens.
    First,
    /// The next seq in order.
    Next,
    /// A jump over `lost` seqs while connected.
    Gap {
        /// How many were skipped.
        lost: u64,
    },
    /// The first seq after a reconnect, `missed` seqs after the last one
    /// seen before the drop.
    Resumed {
        /// Sent while the connection was down (or rejoining).
        missed: u64,
    },
    /// A seq skipped earlier arrived after all: no longer lost.
    Late,
    /// A seq seen before.
    Duplicate,
}

/// The per-connection state.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// The highest seq seen, `None` before the first.
    highest: Option<u64>,
    /// Seqs skipped while connected that may still arrive late.
    pending: Vec<u64>,
    /// Set by a drop; the next arrival is a resumption, not a gap.
    dropped: bool,
}

impl Tally {
    /// Accounts for seq `seq`.
    pub fn observe(&mut self, seq: u64) -> Seen {
        let Some(highest) = self.highest else {
            self.highest = Some(seq);
            self.dropped = false;
            return Seen::First;
        };
        if seq > highest {
            self.highest = Some(seq);
            let skipped = seq - highest - 1;
            if std::mem::take(&mut self.dropped) {
                return Seen::Resumed { missed: skipped };
            }
            if skipped == 0 {
                return Seen::Next;
            }
            let room = PENDING_LIMIT.saturating_sub(self.pending.len()) as u64;
            self.pending.extend((highest + 1..seq).take(room as usize));
            return Seen::Gap { lost: skipped };
        }
        match self.pending.iter().position(|&p| p == seq) {
            Some(i) => {
                self.pending.swap_remove(i);
                Seen::Late
            }
            None => Seen::Duplicate,
        }
    }

    /// The connection dropped: seqs skipped before it can no longer arrive.
    pub fn dropped(&mut self) {
        self.pending.clear();
        self.dropped = true;
    }

    /// Whether anything arrived yet.
    pub fn started(&self) -> bool {
        self.highest.is_some()
    }

    /// The run ended with `last_sent` as the sender's last seq: how many
    /// after the highest seen never came. They count as lost when the
    /// connection was up all along, as missed when it was down.
    pub fn tail(&self, last_sent: u64) -> u64 {
        self.highest.map_or(0, |h| last_sent.saturating_sub(h))
    }

    /// Whether the connection was down (or not yet back) at its last news.
    pub fn is_dropped(&self) -> bool {
        self.dropped
    }
}

/// How many seqs before `seq` — the first one a connection received —
/// were scheduled after it opened (plus `margin` to join its group), and
/// so should have arrived too. Seqs are paced every `gap_us`, so seq `k`
/// was scheduled `(seq - k) * gap_us` before `seq` was.
pub fn due_before_first(
    seq: u64,
    scheduled_us: u64,
    gap_us: u64,
    opened_us: u64,
    margin_us: u64,
) -> u64 {
    if gap_us == 0 || seq <= 1 {
        return 0;
    }
    let ready = opened_us.saturating_add(margin_us);
    if scheduled_us <= ready {
        return 0;
    }
    // Seqs k in [seq - n, seq) with scheduled time > ready.
    let n = (scheduled_us - ready - 1) / gap_us;
    n.min(seq - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection open since before the first broadcast expects seq 1.
    #[test]
    fn first_arrival_counts_what_came_before() {
        // Seq 5 scheduled at 1_000_000 µs, every 100 ms; opened at 0.
        assert_eq!(due_before_first(5, 1_000_000, 100_000, 0, 50_000), 4);
        // Opened just before seq 4 was scheduled (at 900 ms, minus margin).
        assert_eq!(due_before_first(5, 1_000_000, 100_000, 820_000, 50_000), 1);
        // Opened after seq 4 was scheduled: nothing was due before seq 5.
        assert_eq!(due_before_first(5, 1_000_000, 100_000, 880_000, 50_000), 0);
        assert_eq!(due_before_first(1, 1_000_000, 100_000, 0, 0), 0);
    }

    /// In-order arrivals are counted as such after the first.
    #[test]
    fn in_order() {
        let mut t = Tally::default();
        assert_eq!(t.observe(5), Seen::First);
        assert_eq!(t.observe(6), Seen::Next);
        assert_eq!(t.tail(9), 3);
    }

    /// A gap while connected is loss, undone when the seq comes late.
    #[test]
    fn gap_then_late() {
        let mut t = Tally::default();
        t.observe(1);
        assert_eq!(t.observe(4), Seen::Gap { lost: 2 });
        assert_eq!(t.observe(3), Seen::Late);
        assert_eq!(t.observe(3), Seen::Duplicate);
        assert_eq!(t.observe(4), Seen::Duplicate);
    }

    /// A gap across a drop is "missed while disconnected", never loss.
    #[test]
    fn resumed_after_drop() {
        let mut t = Tally::default();
        t.observe(1);
        t.dropped();
        assert!(t.is_dropped());
        assert_eq!(t.observe(7), Seen::Resumed { missed: 5 });
        assert_eq!(t.observe(8), Seen::Next);
    }

    /// A skipped seq cannot arrive late on a new socket after a drop.
    #[test]
    fn drop_forgets_pending() {
        let mut t = Tally::default();
        t.observe(1);
        t.observe(3);
        t.dropped();
        assert_eq!(t.observe(2), Seen::Duplicate);
    }

    /// A connection that never received anything has no tail to count.
    #[test]
    fn silent_has_no_tail() {
        assert_eq!(Tally::default().tail(10), 0);
        assert!(!Tally::default().started());
    }
}
