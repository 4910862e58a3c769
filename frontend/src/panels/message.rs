//! The messages a panel lists, newest first, and one message as a row:
//! time, event name, sequence and latency for test broadcasts, and the
//! arguments as pretty JSON — always as text, never as HTML.

use std::collections::VecDeque;

use leptos::ev::MouseEvent;
use leptos::html::Ol;
use leptos::prelude::*;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Node, Text};

use crate::clock::{local_time, millis};
use crate::dashboard::Dashboard;
use crate::verdicts::ledger::Ledger;

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

/// The arguments as one line of JSON, cut at [`PREVIEW_CHARS`].
fn preview(arguments: &[Value]) -> String {
    // `Value`'s `Display`, the one compact JSON writer the page links.
    let items: Vec<String> = arguments.iter().map(Value::to_string).collect();
    let compact = format!("[{}]", items.join(","));
    match compact.char_indices().nth(PREVIEW_CHARS) {
        Some((at, _)) => format!("{}…", &compact[..at]),
        None => compact,
    }
}

/// One row's elements: made once, then given to newer and newer messages.
/// The markup is `li.message > div.message-head > time + span.target +
/// span.badge ("seq N") + span.badge.latency + span.badge.warn
/// ("duplicate"); details > summary > code`, badges hidden when empty.
struct RowNodes {
    /// The row.
    li: Element,
    /// Arrival, local time of day.
    time: Text,
    /// The event name.
    target: Text,
    /// The "seq N" badge, hidden for other messages.
    seq_badge: Element,
    /// Its number.
    seq: Text,
    /// The click-to-arrival badge, hidden until the ledger knows it.
    latency_badge: Element,
    /// Its text.
    latency: Text,
    /// The "duplicate" badge.
    duplicate: Element,
    /// The arguments' <details>: closed, and its pretty JSON dropped,
    /// when the row is given to another message.
    details: Element,
    /// The one-line preview in the summary.
    preview: Text,
    /// The message shown: its row id.
    id: u64,
    /// Its test broadcast's id, to follow its latency in the ledger.
    broadcast_id: Option<String>,
    /// The latency shown, so it is written only when it changes.
    latency_ms: Option<f64>,
}

/// `parent`'s new child `tag` with class `class` (none when empty).
fn child(doc: &Document, parent: &Node, tag: &str, class: &str) -> Option<Element> {
    let el = doc.create_element(tag).ok()?;
    if !class.is_empty() {
        el.set_class_name(class);
    }
    parent.append_child(&el).ok()?;
    Some(el)
}

/// `parent`'s new text child `text`.
fn text(doc: &Document, parent: &Node, text: &str) -> Option<Text> {
    let node = doc.create_text_node(text);
    parent.append_child(&node).ok()?;
    Some(node)
}

impl RowNodes {
    /// A row's elements, showing nothing yet.
    fn new(doc: &Document) -> Option<Self> {
        let li = doc.create_element("li").ok()?;
        li.set_class_name("message");
        let head = child(doc, &li, "div", "message-head")?;
        let time = child(doc, &head, "time", "")?;
        let target = child(doc, &head, "span", "target")?;
        let seq_badge = child(doc, &head, "span", "badge")?;
        text(doc, &seq_badge, "seq ")?;
        let latency_badge = child(doc, &head, "span", "badge latency")?;
        let _ = latency_badge.set_attribute("hidden", "");
        let duplicate = child(doc, &head, "span", "badge warn")?;
        text(doc, &duplicate, "duplicate")?;
        let details = child(doc, &li, "details", "")?;
        let summary = child(doc, &details, "summary", "")?;
        let code = child(doc, &summary, "code", "")?;
        Some(Self {
            time: text(doc, &time, "")?,
            target: text(doc, &target, "")?,
            seq: text(doc, &seq_badge, "")?,
            latency: text(doc, &latency_badge, "")?,
            preview: text(doc, &code, "")?,
            li,
            seq_badge,
            latency_badge,
            duplicate,
            details,
            id: 0,
            broadcast_id: None,
            latency_ms: None,
        })
    }

    /// Shows `row`: texts and attributes rewritten in place, the
    /// arguments closed.
    fn show(&mut self, row: &MessageRow) {
        let seq = row.seq.map(|s| s.to_string());
        let _ = self.li.set_attribute("data-target", &row.target);
        let _ = self.li.set_attribute("data-row", &row.id.to_string());
        match &seq {
            Some(s) => {
                let _ = self.li.set_attribute("data-seq", s);
            }
            None => {
                let _ = self.li.remove_attribute("data-seq");
            }
        }
        self.time.set_data(&local_time(row.wall_ms));
        self.target.set_data(&row.target);
        self.seq.set_data(seq.as_deref().unwrap_or_default());
        let _ = self
            .seq_badge
            .toggle_attribute_with_force("hidden", seq.is_none());
        let _ = self
            .duplicate
            .toggle_attribute_with_force("hidden", !row.duplicate);
        self.preview.set_data(&preview(&row.arguments));
        if self.details.has_attribute("open") {
            let _ = self.details.remove_attribute("open");
        }
        if let Some(pre) = self.details.query_selector("pre").ok().flatten() {
            pre.remove();
        }
        self.id = row.id;
        self.broadcast_id = row.broadcast_id.clone();
        self.show_latency(None);
    }

    /// Shows `latency_ms`, if it is not what the row shows already.
    fn show_latency(&mut self, latency_ms: Option<f64>) {
        if self.latency_ms == latency_ms {
            return;
        }
        self.latency_ms = latency_ms;
        self.latency
            .set_data(&latency_ms.map(millis).unwrap_or_default());
        let _ = self
            .latency_badge
            .toggle_attribute_with_force("hidden", latency_ms.is_none());
    }
}

/// Brings `list`'s rows up to `messages` (newest first): each message newer
/// than the top row takes the bottom row (or a new one, until there are
/// [`SHOWN`]), moved to the top and rewritten. The rows still showing
/// their messages are left alone, and an opened one stays open.
fn draw(list: &Element, rows: &mut VecDeque<RowNodes>, messages: &VecDeque<MessageRow>) {
    let Some(doc) = list.owner_document() else {
        return;
    };
    let top = rows.front().map(|r| r.id);
    let fresh = messages
        .iter()
        .take(SHOWN)
        .take_while(|m| Some(m.id) != top)
        .collect::<Vec<_>>();
    for message in fresh.into_iter().rev() {
        let reused = match rows.len() < SHOWN {
            true => None,
            false => rows.pop_back(),
        };
        let Some(mut row) = reused.or_else(|| RowNodes::new(&doc)) else {
            return;
        };
        row.show(message);
        let _ = list.insert_before(&row.li, list.first_child().as_ref());
        rows.push_front(row);
    }
    while rows.len() > messages.len().min(SHOWN) {
        if let Some(row) = rows.pop_back() {
            row.li.remove();
        }
    }
}

/// Puts each row's click-to-arrival in its latency badge: the ledger can
/// learn it after the row is drawn, when the broadcast beats the trigger's
/// response.
fn draw_latencies(rows: &mut VecDeque<RowNodes>, ledger: &Ledger, panel: &str) {
    for row in rows {
        let latency = row
            .broadcast_id
            .as_deref()
            .and_then(|id| ledger.find(id))
            .and_then(|sent| sent.latencies.get(panel).copied());
        row.show_latency(latency);
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

/// A panel's newest [`SHOWN`] messages, newest first. The rows are made
/// once and reused: a frame that brings a message moves the bottom row to
/// the top and rewrites its texts, where making a row per message (nine
/// elements, and Leptos's bookkeeping of each) and dropping the oldest was
/// most of the script a message cost, and rewriting every row in place
/// (each moving down one) laid out ten rows of text a frame (issue 12).
#[component]
pub fn MessageList(
    /// The panel's name, to find its latencies in the ledger.
    panel: String,
    /// The panel's messages, newest first.
    messages: RwSignal<VecDeque<MessageRow>>,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let list = NodeRef::<Ol>::new();
    let rows = StoredValue::new_local(VecDeque::<RowNodes>::new());
    Effect::new(move |_| {
        let Some(ol) = list.get() else {
            return;
        };
        rows.update_value(|rows| {
            messages.with(|m| draw(&ol, rows, m));
            dash.ledger.with(|l| draw_latencies(rows, l, &panel));
        });
    });
    view! {
        <ol
            node_ref=list
            class="messages"
            aria-label=format!("Last {SHOWN} messages, newest first")
            on:click=move |ev| show_arguments(&ev, messages)
        ></ol>
    }
}
