//! The session as a JSON download: config, every panel's messages, the
//! broadcasts with their verdicts, the per-panel counts and the feed.

use leptos::prelude::*;
use protocol::broadcast::iso8601_utc;
use protocol::to_json::ToJson;
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};

use crate::clock::{now_ms, wall_ms};
use crate::dashboard::Dashboard;

/// The session as JSON.
pub fn session(dash: &Dashboard) -> Value {
    let pass_within_ms = dash.config.with_value(|c| c.thresholds.pass_within_ms);
    let now = now_ms();
    let panels: Vec<Value> = dash.panels.with_value(|panels| {
        panels
            .iter()
            .map(|p| {
                let messages: Vec<_> = p
                    .state
                    .messages
                    .with_untracked(|m| m.iter().rev().cloned().collect());
                json!({
                    "name": p.name,
                    "hub": p.hub,
                    "url": p.instance.url,
                    "status": p.state.status.with_untracked(|s| s.key()),
                    "connectionId": p.state.connection_id.get_untracked(),
                    "messages": messages,
                })
            })
            .collect()
    });
    let (broadcasts, tallies) = dash.ledger.with_untracked(|l| {
        let broadcasts: Vec<Value> = l
            .broadcasts()
            .iter()
            .map(|s| json!({ "broadcast": s, "verdict": s.verdict(pass_within_ms, now) }))
            .collect();
        (broadcasts, json!(l.tallies()))
    });
    let feed: Vec<Value> = dash
        .feed_log
        .with_untracked(|f| f.all().map(ToJson::to_json).collect());
    json!({
        "exportedAt": iso8601_utc(wall_ms() as u64),
        "config": dash.config.with_value(ToJson::to_json),
        "panels": panels,
        "broadcasts": broadcasts,
        "tallies": tallies,
        "feed": feed,
    })
}

/// Offers the session as `signalscope-session-<time>.json`.
pub fn download_session(dash: &Dashboard) {
    let text = serde_json::to_string_pretty(&session(dash)).unwrap_or_default();
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
