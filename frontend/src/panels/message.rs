//! One received message as a panel lists it: time, event name, sequence
//! and latency for test broadcasts, and the arguments as pretty JSON —
//! always as text, never as HTML.

use leptos::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::clock::{local_time, millis};

/// A message a panel received.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRow {
    /// Unique within its panel; keys the row.
    pub id: u64,
    /// Arrival, Unix ms, for the time column and the export.
    pub wall_ms: f64,
    /// The event (client method) name.
    pub target: String,
    /// The arguments as received.
    pub arguments: Vec<Value>,
    /// The test broadcast's id, when it is one.
    pub broadcast_id: Option<String>,
    /// The test broadcast's sequence number.
    pub seq: Option<u64>,
    /// This panel had received the same broadcast before.
    pub duplicate: bool,
}

/// At most this many characters of JSON in the one-line preview.
const PREVIEW_CHARS: usize = 90;

/// One message row.
#[component]
pub fn Message(
    /// The message to show.
    row: MessageRow,
    /// Click-to-arrival, once known: the broadcast can reach the panel
    /// before the trigger's response tells the page its id.
    #[prop(into)]
    latency_ms: Signal<Option<f64>>,
) -> impl IntoView {
    let compact = Value::Array(row.arguments.clone()).to_string();
    let preview = match compact.char_indices().nth(PREVIEW_CHARS) {
        Some((at, _)) => format!("{}…", &compact[..at]),
        None => compact,
    };
    let pretty = serde_json::to_string_pretty(&row.arguments).unwrap_or_default();
    let seq = row.seq.map(|s| s.to_string());
    let latency = move || {
        latency_ms
            .get()
            .map(|l| view! { <span class="badge latency">{millis(l)}</span> })
    };
    let seq_attr = seq.clone();
    let target_attr = row.target.clone();
    view! {
        <li class="message" data-target=target_attr data-seq=seq_attr>
            <div class="message-head">
                <time>{local_time(row.wall_ms)}</time>
                <span class="target">{row.target}</span>
                {seq.map(|s| view! { <span class="badge">"seq " {s}</span> })}
                {latency}
                {row.duplicate.then(|| view! { <span class="badge warn">"duplicate"</span> })}
            </div>
            <details>
                <summary>
                    <code>{preview}</code>
                </summary>
                <pre>{pretty}</pre>
            </details>
        </li>
    }
}
