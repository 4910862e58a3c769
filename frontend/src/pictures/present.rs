//! Presentation mode, for a projector: a big banner with the latest
//! verdict (PASS or FAIL, and the slowest instance), over the topology and
//! the latency chart; the rest of the page steps aside (its panels stay
//! connected). `?present` in the address or the toolbar's button turns it
//! on; while on, `b` sends a test broadcast, `r` reconnects all and `Esc`
//! leaves.

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::api::TriggerRequest;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};

use crate::clock::one_decimal;
use crate::dashboard::Dashboard;
use crate::verdicts::ledger::{Sent, Verdict};

/// What the banner says about a broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// `data-verdict`: `PASS`, `FAIL`, `PENDING`, or `NONE` before the
    /// first broadcast.
    pub verdict: &'static str,
    /// The broadcast's seq.
    pub seq: Option<u64>,
    /// The slowest panel that received it, with its click → arrival ms.
    pub slowest: Option<(String, f64)>,
    /// The rest, in words.
    pub words: String,
}

/// The banner for the latest broadcast `sent`, judged at `now_ms`.
pub fn headline(sent: Option<&Sent>, pass_within_ms: u64, now_ms: f64) -> Headline {
    let Some(sent) = sent else {
        return Headline {
            verdict: "NONE",
            seq: None,
            slowest: None,
            words: "Press b or Test Broadcast".into(),
        };
    };
    let slowest = sent
        .latencies
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(name, ms)| (name.clone(), *ms));
    let (verdict, mut parts) = match sent.verdict(pass_within_ms, now_ms) {
        Verdict::Pending => ("PENDING", vec!["waiting for the panels…".to_owned()]),
        Verdict::Pass => (
            "PASS",
            vec![format!(
                "all {} panels within {pass_within_ms} ms",
                sent.expected.len()
            )],
        ),
        Verdict::Fail { missed, late } => {
            let mut parts = Vec::new();
            if missed.is_empty() && late.is_empty() {
                parts.push("no panel was connected".to_owned());
            }
            if !missed.is_empty() {
                parts.push(format!("missed by {}", missed.join(", ")));
            }
            if !late.is_empty() {
                parts.push(format!("late at {}", late.join(", ")));
            }
            ("FAIL", parts)
        }
    };
    if let Some((name, ms)) = &slowest {
        parts.push(format!("slowest {name} {} ms", one_decimal(*ms)));
    }
    Headline {
        verdict,
        seq: Some(sent.seq),
        slowest,
        words: parts.join(" · "),
    }
}

/// What a key does in presentation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// `b`: send a test broadcast.
    Broadcast,
    /// `r`: reconnect every panel.
    ReconnectAll,
    /// `Esc`: back to the dashboard.
    Leave,
}

/// The action of `key` (a `KeyboardEvent.key`), if it has one.
pub fn key_action(key: &str) -> Option<KeyAction> {
    match key {
        "b" | "B" => Some(KeyAction::Broadcast),
        "r" | "R" => Some(KeyAction::ReconnectAll),
        "Escape" => Some(KeyAction::Leave),
        _ => None,
    }
}

/// Whether the page was opened with `?present`.
pub fn asked_in_query() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
        .is_some_and(|p| p.has("present"))
}

/// A key meant for something else: typed into a field, with a modifier
/// (the browser's shortcuts), or held down (one press, one broadcast).
fn not_for_us(ev: &KeyboardEvent) -> bool {
    let typing = ev
        .target()
        .and_then(|t| t.dyn_into::<HtmlElement>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.is_content_editable()
        });
    typing || ev.ctrl_key() || ev.alt_key() || ev.meta_key() || ev.repeat()
}

/// The toolbar's switch in and out of presentation mode.
#[component]
pub fn PresentationToggle(
    /// Whether the page presents.
    present: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <button
            type="button"
            aria-pressed=move || present.get().to_string()
            title="Big verdict, topology and latency for a projector. Keys: b broadcast, r reconnect all, Esc leave"
            on:click=move |_| present.update(|p| *p = !*p)
        >
            "Presentation"
        </button>
    }
}

/// While presenting: the verdict banner, and the keys.
#[component]
pub fn Presentation(
    /// Whether the page presents.
    present: RwSignal<bool>,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if !present.get_untracked() || not_for_us(&ev) {
            return;
        }
        let Some(action) = key_action(&ev.key()) else {
            return;
        };
        ev.prevent_default();
        match action {
            KeyAction::Broadcast => {
                // The companion's default mode, as the button offers first.
                let sending = dash.broadcast(TriggerRequest::default());
                spawn_local(async move {
                    if let Err(e) = sending.await {
                        dash.action_error
                            .try_set(Some(format!("Test broadcast: {e}")));
                    }
                });
            }
            KeyAction::ReconnectAll => dash.reconnect_all(),
            KeyAction::Leave => present.set(false),
        }
    });
    on_cleanup(move || keys.remove());
    view! {
        <Show when=move || present.get()>
            <Banner/>
        </Show>
    }
}

/// The latest broadcast's verdict, big.
#[component]
fn Banner() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let limit = dash.config.with_value(|c| c.thresholds.pass_within_ms);
    let head = Memo::new(move |_| {
        let now = dash.now.get();
        dash.ledger
            .with(|l| headline(l.broadcasts().last(), limit, now))
    });
    // Redrawn whole when the headline changes: one closure is lighter in
    // the .wasm than one per attribute.
    let banner = move || {
        let h = head.get();
        let shown = match h.verdict {
            "PENDING" => "…",
            "NONE" => "Ready",
            verdict => verdict,
        };
        let (slowest, slowest_ms) = h.slowest.map(|(name, ms)| (name, one_decimal(ms))).unzip();
        view! {
            <div
                class="banner"
                data-verdict=h.verdict
                data-seq=h.seq
                data-slowest=slowest
                data-slowest-ms=slowest_ms
            >
                <strong class="banner-verdict">{shown}</strong>
                <span class="banner-words">{h.words}</span>
                <span class="banner-seq">{h.seq.map(|s| format!("#{s}"))}</span>
            </div>
        }
    };
    // The live region stays put while the banner in it is redrawn.
    view! {
        <section class="banner-region" role="status" aria-live="polite">
            {banner}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::api::TriggerMode;

    fn sent(expected: &[&str], latencies: &[(&str, f64)]) -> Sent {
        Sent {
            id: "x".into(),
            seq: 7,
            mode: TriggerMode::Redis,
            origin: "companion".into(),
            clicked_at_ms: 0.0,
            expected: expected.iter().map(|s| s.to_string()).collect(),
            latencies: latencies.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
            publish_ms: None,
        }
    }

    /// A PASS names the slowest panel and its time.
    #[test]
    fn pass_names_the_slowest() {
        let s = sent(&["a", "b"], &[("a", 4.0), ("b", 12.25)]);
        let h = headline(Some(&s), 50, 100.0);
        assert_eq!(h.verdict, "PASS");
        assert_eq!(h.seq, Some(7));
        assert_eq!(h.slowest, Some(("b".into(), 12.25)));
        assert_eq!(h.words, "all 2 panels within 50 ms · slowest b 12.3 ms");
    }

    /// A FAIL says who missed and who was late.
    #[test]
    fn fail_says_who_missed_and_who_was_late() {
        let s = sent(&["a", "b", "c"], &[("a", 80.0), ("b", 3.0)]);
        let h = headline(Some(&s), 50, 100.0);
        assert_eq!(h.verdict, "FAIL");
        assert_eq!(h.words, "missed by c · late at a · slowest a 80.0 ms");
        let nobody = headline(Some(&sent(&[], &[])), 50, 100.0);
        assert_eq!(
            (nobody.verdict, nobody.words.as_str()),
            ("FAIL", "no panel was connected")
        );
    }

    /// Before any broadcast, and while one is undecided, the banner says so.
    #[test]
    fn none_and_pending() {
        assert_eq!(headline(None, 50, 0.0).verdict, "NONE");
        let s = sent(&["a"], &[]);
        assert_eq!(headline(Some(&s), 50, 10.0).verdict, "PENDING");
    }

    /// `b`, `r` and `Esc` act; other keys do nothing.
    #[test]
    fn keys() {
        assert_eq!(key_action("b"), Some(KeyAction::Broadcast));
        assert_eq!(key_action("R"), Some(KeyAction::ReconnectAll));
        assert_eq!(key_action("Escape"), Some(KeyAction::Leave));
        assert_eq!(key_action("x"), None);
    }
}
