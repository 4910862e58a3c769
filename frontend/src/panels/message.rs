//! The messages a panel lists, newest first, and one message as a row:
//! time, event name, sequence and latency for test broadcasts, and the
//! arguments as pretty JSON — always as text, never as HTML.

use std::collections::VecDeque;

use leptos::ev::MouseEvent;
use leptos::prelude::*;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::JsCast;
use web_sys::Element;

use crate::clock::{local_time, millis};
use crate::dashboard::Dashboard;

/// Messages on screen per panel.
const SHOWN: usize = 10;

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
    // `Value`'s `Display`, the one compact JSON writer the page links.
    let compact = Value::Array(row.arguments).to_string();
    let preview = match compact.char_indices().nth(PREVIEW_CHARS) {
        Some((at, _)) => format!("{}…", &compact[..at]),
        None => compact,
    };
    let seq = row.seq.map(|s| s.to_string());
    let latency = move || {
        latency_ms
            .get()
            .map(|l| view! { <span class="badge latency">{millis(l)}</span> })
    };
    let seq_attr = seq.clone();
    let target_attr = row.target.clone();
    // The pretty JSON is put in the <details> by the list when the row is
    // first opened ([`show_arguments`]): most rows scroll away unopened,
    // and a listener, a signal and a <Show> per row were a large part of
    // making each one.
    view! {
        <li class="message" data-target=target_attr data-seq=seq_attr data-row=row.id>
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
            </details>
        </li>
    }
}

/// Puts a message's arguments, as pretty JSON text, in its row's
/// <details> the first time its summary is clicked (or pressed: the
/// keyboard's activation is a click too). One listener on the list does
/// it for every row.
fn show_arguments(ev: &MouseEvent, messages: RwSignal<VecDeque<MessageRow>>) {
    let clicked = ev.target().and_then(|t| t.dyn_into::<Element>().ok());
    let Some(summary) = clicked.and_then(|e| e.closest("summary").ok().flatten()) else {
        return;
    };
    let Some(details) = summary.parent_element() else {
        return;
    };
    if details.query_selector("pre").ok().flatten().is_some() {
        return;
    }
    let id = details
        .closest("[data-row]")
        .ok()
        .flatten()
        .and_then(|li| li.get_attribute("data-row"))
        .and_then(|id| id.parse::<u64>().ok());
    let pretty = messages.with_untracked(|m| {
        let row = m.iter().find(|r| Some(r.id) == id)?;
        // `{:#}`: `Value`'s own pretty writer, the one the page links.
        Some(format!("{:#}", Value::Array(row.arguments.clone())))
    });
    let pre = pretty.and_then(|text| {
        let pre = details.owner_document()?.create_element("pre").ok()?;
        pre.set_text_content(Some(&text));
        Some(pre)
    });
    if let Some(pre) = pre {
        let _ = details.append_child(&pre);
    }
}

/// A panel's newest [`SHOWN`] messages. Keyed by row id: a frame that
/// brings new messages creates only their rows and drops the oldest.
#[component]
pub fn MessageList(
    /// The panel's name, to find its latencies in the ledger.
    panel: String,
    /// The panel's messages, newest first.
    messages: RwSignal<VecDeque<MessageRow>>,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    // Ids only: rows never change once received, so each is read (and
    // cloned) once, when its element is made.
    let ids = move || messages.with(|m| m.iter().take(SHOWN).map(|r| r.id).collect::<Vec<_>>());
    let row = move |id: u64| {
        let row = messages.with_untracked(|m| m.iter().find(|r| r.id == id).cloned())?;
        let latency_ms = latency_of(dash, panel.clone(), row.broadcast_id.clone());
        Some(view! { <Message row latency_ms/> })
    };
    view! {
        <ol
            class="messages"
            aria-label=format!("Last {SHOWN} messages, newest first")
            on:click=move |ev| show_arguments(&ev, messages)
        >
            <For each=ids key=|id| *id children=row/>
        </ol>
    }
}

/// A message's click-to-arrival time as the ledger knows it (it learns it
/// late when the broadcast beats the trigger's response). A memo: the row
/// redraws its badge once, not on every change to the ledger.
fn latency_of(dash: Dashboard, panel: String, broadcast_id: Option<String>) -> Signal<Option<f64>> {
    Memo::new(move |_| {
        let id = broadcast_id.as_deref()?;
        dash.ledger
            .with(|l| l.find(id).and_then(|s| s.latencies.get(&panel).copied()))
    })
    .into()
}
