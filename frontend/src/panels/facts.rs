//! A panel's facts: connection id, connected since, last ping, and what it
//! received, lost, missed and got twice, as the ledger counts them.

use leptos::prelude::*;

use super::{PanelState, MISSED_EXPLAINED};
use crate::clock::{local_time, now_ms, span, ticking, wall_ms};
use crate::dashboard::Dashboard;
use crate::verdicts::ledger::Tally;

/// The counts a panel shows: compared as a whole, so the panel's text
/// changes only when one of them does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    /// Test broadcasts received, duplicates included.
    received: u64,
    /// Skipped while connected: a failure.
    lost: u64,
    /// Skipped while disconnected: expected.
    missed: u64,
    /// Received more than once.
    duplicates: u64,
    /// Arrived after a later one of their sender: counted, not lost.
    reordered: u64,
}

impl Counts {
    fn of(tally: &Tally) -> Self {
        Self {
            received: tally.received,
            lost: tally.lost_while_connected,
            missed: tally.missed_while_disconnected,
            duplicates: tally.duplicates,
            reordered: tally.reordered,
        }
    }
}

/// The facts list of one panel.
#[component]
pub fn PanelFacts(
    /// The panel's name, as the ledger counts it.
    name: String,
    /// The panel's live state.
    state: PanelState,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    // Read in place: a tally also holds every id the panel has seen.
    let counts = Memo::new(move |_| {
        dash.ledger
            .with(|l| l.tallies().get(&name).map(Counts::of))
            .unwrap_or_default()
    });
    let count = move |pick: fn(Counts) -> u64| move || pick(counts.get());
    let since = move || {
        dash.now.track();
        state
            .connected_since
            .get()
            .map(|t| format!("{} ({})", local_time(t), span(wall_ms() - t)))
    };
    let last_ping = move || {
        state
            .last_ping
            .get()
            .map(|t| format!("{} ago", span(dash.now.get().max(now_ms()) - t)))
    };
    let lost_class = move || {
        if counts.get().lost > 0 {
            "counts bad"
        } else {
            "counts"
        }
    };
    view! {
        <dl class="facts">
            <dt>"Connection id"</dt>
            <dd>
                <code data-connection-id=move || state.connection_id.get().unwrap_or_default()>
                    {move || state.connection_id.get().unwrap_or_else(|| "—".into())}
                </code>
            </dd>
            <dt>"Connected since"</dt>
            <dd>{ticking(move || since().unwrap_or_else(|| "—".into()))}</dd>
            <dt>"Last ping"</dt>
            <dd>{ticking(move || last_ping().unwrap_or_else(|| "none yet".into()))}</dd>
            <dt title="Test broadcasts this panel received, duplicates included">"Received"</dt>
            <dd class="counts" data-received=count(|c| c.received)>{count(|c| c.received)}</dd>
            <dt title="Broadcasts this panel did not get although it was connected: a failure">"Lost while connected"</dt>
            <dd class=lost_class data-lost=count(|c| c.lost)>{count(|c| c.lost)}</dd>
            <dt title=MISSED_EXPLAINED>"Missed while disconnected"</dt>
            <dd class="counts" data-missed=count(|c| c.missed) title=MISSED_EXPLAINED>{count(|c| c.missed)}</dd>
            <dt title="Received more than once / received after a later broadcast of the same sender">"Duplicates / reordered"</dt>
            <dd class="counts" data-duplicates=count(|c| c.duplicates) data-reordered=count(|c| c.reordered)>
                {count(|c| c.duplicates)}" / "{count(|c| c.reordered)}
            </dd>
        </dl>
    }
}
