//! The canary's recent history, when the companion runs one (`--canary`):
//! one row per instance, one cell per round (green within the verdict
//! threshold, amber slower, red missed, grey pending), its connection and
//! its misses. The canary's own broadcasts never count as the page's: the
//! panels leave them out of their tallies (see [`crate::panels`]).

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::api::CanaryReport;

use crate::clock::one_decimal;
use crate::dashboard::Dashboard;

/// The page reads `/api/canary` at least this far apart, whatever the
/// canary's interval.
const MIN_POLL: Duration = Duration::from_secs(2);

/// The canary section; renders nothing unless the companion runs one.
#[component]
pub fn Canary() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let config = dash.config.get_value();
    let Some(interval_ms) = config.canary_interval_ms else {
        return ().into_any();
    };
    let report: RwSignal<Option<Result<CanaryReport, String>>> = RwSignal::new(None);
    let poll = move || {
        let companion = dash.companion.get_value();
        spawn_local(async move {
            let result = companion.canary().await.map_err(|e| e.0);
            report.try_set(Some(result));
        });
    };
    poll();
    let every = MIN_POLL.max(Duration::from_millis(interval_ms));
    crate::clock::every(every, poll);
    let pass_within_ms = config.thresholds.pass_within_ms;
    view! {
        <section class="canary" aria-label="Canary">
            <h2>"Canary"</h2>
            {move || match report.get() {
                None => view! { <p class="muted">"Asking the companion…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">"Canary: " {e}</p> }.into_any(),
                Some(Ok(r)) => view! { <CanaryHistory report=r pass_within_ms/> }.into_any(),
            }}
        </section>
    }
    .into_any()
}

/// What a round's cell says about one instance.
fn cell(latency_ms: Option<f64>, settled: bool, pass_within_ms: u64) -> (&'static str, String) {
    match latency_ms {
        Some(ms) if ms <= pass_within_ms as f64 => ("good", format!("{} ms", one_decimal(ms))),
        Some(ms) => ("slow", format!("{} ms", one_decimal(ms))),
        None if settled => ("bad", "missed".into()),
        None => ("pending", "pending".into()),
    }
}

/// One report, drawn: a row per instance.
#[component]
pub fn CanaryHistory(
    /// What `/api/canary` said.
    report: CanaryReport,
    /// The verdict threshold: cells slower than this are amber.
    pass_within_ms: u64,
) -> impl IntoView {
    let summary = format!(
        "one broadcast every {} s through Redis · {} sent · missed after {} s",
        one_decimal(report.interval_ms as f64 / 1000.0),
        report.sent,
        one_decimal(report.miss_after_ms as f64 / 1000.0),
    );
    let rows = report
        .instances
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let connected = report.connected.get(i).copied().unwrap_or(false);
            let missed = report.missed.get(i).copied().unwrap_or(0);
            let missed_class = if missed > 0 { "missed bad" } else { "missed" };
            let cells = report
                .rounds
                .iter()
                .map(|round| {
                    let latency = round.latencies_ms.get(i).copied().flatten();
                    let (class, text) = cell(latency, round.settled, pass_within_ms);
                    let title = format!("#{} {name}: {text}", round.seq);
                    view! { <span class=format!("cell {class}") title=title data-seq=round.seq></span> }
                })
                .collect_view();
            view! {
                <li data-canary-instance=name.clone() data-missed=missed data-connected=connected.to_string()>
                    <span class=if connected { "dot good" } else { "dot bad" }></span>
                    <span class="name">{name.clone()}</span>
                    <span class="cells">{cells}</span>
                    <span class=missed_class>{format!("{missed} missed")}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <p class="muted" data-canary-sent=report.sent>{summary}</p>
        <ol class="canary-rows">{rows}</ol>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cells read green within the threshold, amber beyond, red once
    /// missed, grey while pending.
    #[test]
    fn cells() {
        assert_eq!(cell(Some(3.0), true, 50).0, "good");
        assert_eq!(cell(Some(51.0), true, 50).0, "slow");
        assert_eq!(cell(None, true, 50), ("bad", "missed".into()));
        assert_eq!(cell(None, false, 50).0, "pending");
    }
}
