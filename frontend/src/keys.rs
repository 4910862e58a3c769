//! Hub keys on the page. A panel starts with the key the companion handed
//! over (only when its operator exposed them behind its token), else one
//! this browser remembered; a key typed into a panel lives in that panel's
//! memory for the session, and in localStorage only when the user ticks
//! "remember".

use leptos::prelude::*;
use protocol::api::{DashboardConfig, Hub};
use serde_json::{Map, Value};

use crate::panels::PanelEntry;
use crate::signalr::Credential;

/// localStorage key of the remembered keys, by `instance/hub`.
const STORAGE_KEY: &str = "signalscope.hub-keys";

/// The key a panel starts with: the companion's for this instance, then
/// its for every instance, then one this browser remembered.
pub fn initial(config: &DashboardConfig, instance: &str, hub: &Hub) -> Option<Credential> {
    let of = |i: Option<&str>| {
        config
            .hub_keys
            .iter()
            .find(|k| k.hub == hub.name && k.instance.as_deref() == i)
            .map(|k| k.key.clone())
    };
    let key = of(Some(instance)).or_else(|| of(None)).or_else(|| {
        remembered()
            .remove(&slot(instance, &hub.name))
            .and_then(|k| k.as_str().map(str::to_owned))
    })?;
    Some(Credential {
        key,
        placement: hub.auth.clone(),
    })
}

/// Where a key is remembered.
fn slot(instance: &str, hub: &str) -> String {
    format!("{instance}/{hub}")
}

/// The keys this browser remembers (a JSON object of strings); none when
/// storage is unreadable. Read as a `Value`, whose decoder the page links
/// anyway, rather than a map type of its own (issue 12: .wasm size).
fn remembered() -> Map<String, Value> {
    storage()
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
        .and_then(|text| protocol::from_json::parse(&text).ok())
        .and_then(|v| match v {
            Value::Object(all) => Some(all),
            _ => None,
        })
        .unwrap_or_default()
}

/// Remembers `key` for the slot, or forgets it (`None`).
fn remember(slot: String, key: Option<String>) {
    let mut all = remembered();
    match key {
        Some(k) => all.insert(slot, Value::String(k)),
        None => all.remove(&slot),
    };
    // Written with `Value`'s `Display`, as the hub protocol writes its
    // records: one instance of serde_json's writer in the page.
    if let Some(s) = storage() {
        let _ = s.set_item(STORAGE_KEY, &Value::Object(all).to_string());
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// A panel's key field: a password input, "remember in this browser", and
/// a button that reconnects with the key.
#[component]
pub fn KeyField(
    /// The panel whose connection takes the key.
    entry: PanelEntry,
    /// Its hub, for the key's placement and the label.
    hub: Hub,
) -> impl IntoView {
    let slot = slot(&entry.instance.name, &hub.name);
    let typed = RwSignal::new(String::new());
    let keep = RwSignal::new(remembered().contains_key(&slot));
    let label = format!("Key for {} on {}", hub.name, entry.instance.name);
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let key = Some(typed.get_untracked()).filter(|k| !k.is_empty());
        remember(slot.clone(), key.clone().filter(|_| keep.get_untracked()));
        entry.set_key(key.map(|key| Credential {
            key,
            placement: hub.auth.clone(),
        }));
    };
    view! {
        <form class="key" on:submit=apply>
            <input
                type="password"
                autocomplete="off"
                placeholder="hub key"
                aria-label=label
                bind:value=typed
            />
            <label title="Off: the key lives in this tab's memory until reload">
                <input type="checkbox" bind:checked=keep/>
                " remember"
            </label>
            <button type="submit">"Use key"</button>
        </form>
    }
}
