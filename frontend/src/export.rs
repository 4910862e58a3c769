//! The session as a JSON download: config, every panel's messages, the
//! broadcasts with their verdicts, the per-panel counts and the feed.

use leptos::prelude::*;
use protocol::broadcast::iso8601_utc;
use protocol::to_json::{Object, ToJson};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};

use crate::clock::{now_ms, wall_ms};
use crate::dashboard::Dashboard;
use crate::panels::message::MessageRow;
use crate::verdicts::by_name::ByName;
use crate::verdicts::ledger::{Sent, Tally, Verdict};

/// The session as JSON.
pub fn session(dash: &Dashboard) -> Value {
    let pass_within_ms = dash.config.with_value(|c| c.thresholds.pass_within_ms);
    let now = now_ms();
    let panels: Vec<Value> = dash.panels.with_value(|panels| {
        panels
            .iter()
            .map(|p| {
                let messages: Vec<Value> = p
                    .state
                    .messages
                    .with_untracked(|m| m.iter().rev().map(ToJson::to_json).collect());
                Object::default()
                    .field("name", &p.name)
                    .field("hub", &p.hub)
                    .field("url", &p.instance.url)
                    .field("status", &p.state.status.with_untracked(|s| s.key()))
                    .field("connectionId", &p.state.connection_id.get_untracked())
                    .field("messages", &messages)
                    .done()
            })
            .collect()
    });
    let (broadcasts, tallies) = dash.ledger.with_untracked(|l| {
        let broadcasts: Vec<Value> = l
            .broadcasts()
            .iter()
            .map(|s| {
                Object::default()
                    .field("broadcast", s)
                    .field("verdict", &s.verdict(pass_within_ms, now))
                    .done()
            })
            .collect();
        (broadcasts, l.tallies().to_json())
    });
    let feed: Vec<Value> = dash
        .feed_log
        .with_untracked(|f| f.all().map(ToJson::to_json).collect());
    Object::default()
        .field("exportedAt", &iso8601_utc(wall_ms() as u64))
        .field("config", &dash.config.with_value(ToJson::to_json))
        .field("panels", &panels)
        .field("broadcasts", &broadcasts)
        .field("tallies", &tallies)
        .field("feed", &feed)
        .done()
}

// The page's own records, written as their derived `Serialize` would (the
// tests compare): built by hand, the export needs none of serde's
// serializer code (issue 12: .wasm size).

impl ToJson for MessageRow {
    fn to_json(&self) -> Value {
        Object::default()
            .field("id", &self.id)
            .field("wallMs", &self.wall_ms)
            .field("target", &self.target)
            .field("arguments", &self.arguments)
            .field("broadcastId", &self.broadcast_id)
            .field("seq", &self.seq)
            .field("duplicate", &self.duplicate)
            .done()
    }
}

impl ToJson for Sent {
    fn to_json(&self) -> Value {
        Object::default()
            .field("id", &self.id)
            .field("seq", &self.seq)
            .field("mode", &self.mode)
            .field("origin", &self.origin)
            .field("clickedAtMs", &self.clicked_at_ms)
            .field("expected", &self.expected)
            .field("latencies", &self.latencies)
            .field("publishMs", &self.publish_ms)
            .done()
    }
}

impl ToJson for Verdict {
    fn to_json(&self) -> Value {
        let tagged = Object::default().field("verdict", &self.key());
        match self {
            Self::Pending | Self::Pass => tagged,
            Self::Fail { missed, late } => tagged.field("missed", missed).field("late", late),
        }
        .done()
    }
}

impl ToJson for Tally {
    fn to_json(&self) -> Value {
        Object::default()
            .field("received", &self.received)
            .field("lostWhileConnected", &self.lost_while_connected)
            .field("missedWhileDisconnected", &self.missed_while_disconnected)
            .field("duplicates", &self.duplicates)
            .field("reordered", &self.reordered)
            .done()
    }
}

impl<V: ToJson> ToJson for ByName<V> {
    /// An object, names in order.
    fn to_json(&self) -> Value {
        Value::Object(self.iter().map(|(n, v)| (n.clone(), v.to_json())).collect())
    }
}

/// Offers the session as `signalscope-session-<time>.json`.
pub fn download_session(dash: &Dashboard) {
    // `{:#}`: `Value`'s own pretty writer, which the page links anyway.
    let text = format!("{:#}", session(dash));
    let name = format!(
        "signalscope-session-{}.json",
        iso8601_utc(wall_ms() as u64).replace(':', "-")
    );
    if let Err(e) = download(&name, &text) {
        dash.action_error.set(Some(format!("export failed: {e:?}")));
    }
}

/// Makes the browser save `text` as `file_name`.
fn download(file_name: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/json");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    link.set_href(&url);
    link.set_download(file_name);
    link.click();
    web_sys::Url::revoke_object_url(&url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::api::TriggerMode;
    use serde::Serialize;

    fn serde_writes<T: Serialize + ToJson>(value: &T) {
        assert_eq!(
            value.to_json().to_string(),
            serde_json::to_value(value).unwrap().to_string()
        );
    }

    /// A message row is exported as its derived `Serialize` writes it.
    #[test]
    fn message_rows_as_serde() {
        serde_writes(&MessageRow {
            id: 3,
            wall_ms: 1.5,
            target: "T".into(),
            arguments: vec![serde_json::json!({"a": [1]})],
            broadcast_id: Some("b".into()),
            seq: None,
            duplicate: true,
        });
    }

    /// A broadcast, each verdict and a tally are exported as their derived
    /// `Serialize` writes them.
    #[test]
    fn ledger_as_serde() {
        serde_writes(&Sent {
            id: "x".into(),
            seq: 7,
            mode: TriggerMode::Instance,
            origin: "api-1".into(),
            clicked_at_ms: 12.25,
            expected: vec!["a".into(), "b".into()],
            latencies: [("b".to_owned(), 3.0), ("a".to_owned(), f64::NAN)]
                .into_iter()
                .collect(),
            publish_ms: Some(0.5),
        });
        serde_writes(&Verdict::Pending);
        serde_writes(&Verdict::Pass);
        serde_writes(&Verdict::Fail {
            missed: vec!["a".into()],
            late: vec![],
        });
        let mut tally = Tally::default();
        tally.received = 4;
        tally.duplicates = 1;
        serde_writes(&tally);
    }
}
