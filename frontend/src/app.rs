//! The page: loads the companion's config, then lays out the toolbar,
//! status bar, one panel per instance, verdicts and the feed, and provides
//! the [`Dashboard`] context they share.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::api::{routes, DashboardConfig};

use crate::canary::Canary;
use crate::clock::now_ms;
use crate::companion::Companion;
use crate::dashboard::Dashboard;
use crate::export;
use crate::feed::Feed;
use crate::instances::{self, parse_instance, Saved};
use crate::panels::Panel;
use crate::pictures::latency::LatencyChart;
use crate::pictures::present::{self, Presentation, PresentationToggle};
use crate::pictures::topology::Topology;
use crate::status_bar::StatusBar;
use crate::verdicts::{TestBroadcastControl, Verdicts};

/// The whole page: the config first, then the dashboard.
#[component]
pub fn App() -> impl IntoView {
    let companion = StoredValue::new(Companion::from_page());
    let loaded: RwSignal<Option<Result<DashboardConfig, String>>> = RwSignal::new(None);
    let load = move || {
        loaded.set(None);
        spawn_local(async move {
            let config = companion.get_value().config().await.map_err(|e| e.0);
            loaded.try_set(Some(config));
        });
    };
    load();
    move || match loaded.get() {
        None => {
            view! { <p class="loading" role="status">"Loading the configuration…"</p> }.into_any()
        }
        Some(Err(e)) => view! {
            <div class="fatal" role="alert">
                <p>"Cannot read " {routes::CONFIG} ": " {e}</p>
                <button type="button" on:click=move |_| load()>"Retry"</button>
            </div>
        }
        .into_any(),
        Some(Ok(config)) => view! { <Board config companion/> }.into_any(),
    }
}

/// The dashboard once the config is known.
#[component]
fn Board(
    /// The companion's config.
    config: DashboardConfig,
    /// The companion's API.
    companion: StoredValue<Companion>,
) -> impl IntoView {
    let saved = Saved::load();
    let shown = instances::merge(&config.instances, &saved, &instances::from_query());
    let dash = Dashboard::new(config.clone(), companion, shown, saved);
    provide_context(dash);

    crate::clock::every(Duration::from_secs(1), move || {
        let _ = dash.now.try_set(now_ms());
    });

    let retry_forever = RwSignal::new(false);
    let set_retry_forever = move |on: bool| {
        retry_forever.set(on);
        dash.set_retry_forever(on);
    };
    let reconnect_all = move |_| dash.reconnect_all();
    let liveness = format!(
        "Ping after {} s idle · server timeout {} s",
        config.thresholds.keep_alive_ms / 1000,
        config.thresholds.server_timeout_ms / 1000
    );
    let demo_redis = config.demo.as_ref().is_some_and(|d| d.redis);
    let present = RwSignal::new(present::asked_in_query());

    view! {
        <div class=move || if present.get() { "board present" } else { "board" }>
        <header class="topbar">
            <h1>"signalscope"</h1>
            <div class="toolbar" role="toolbar" aria-label="Dashboard actions">
                <TestBroadcastControl/>
                <button type="button" on:click=reconnect_all>"Reconnect All"</button>
                <PresentationToggle present/>
                <label class="switch" title="Official policy: retries at 0, 2, 10 and 30 s, then gives up">
                    <input
                        type="checkbox"
                        prop:checked=retry_forever
                        on:change=move |ev| set_retry_forever(event_target_checked(&ev))
                    />
                    " Retry forever"
                </label>
                <button type="button" on:click=move |_| export::download_session(&dash)>"Export JSON"</button>
                <ThemeSwitch/>
            </div>
            <p class="liveness" title="Conduit pings every 30 s; the official 30 s timeout would flap">
                {liveness}
            </p>
            <Show when=move || dash.action_error.with(Option::is_some)>
                <p class="error" role="alert">{move || dash.action_error.get().unwrap_or_default()}</p>
            </Show>
        </header>
        <StatusBar demo_redis/>
        <main>
            <Presentation present/>
            <div class="panels">
                <For
                    each=move || {
                        let hubs = dash.hubs();
                        dash.instances
                            .get()
                            .into_iter()
                            .flat_map(|i| {
                                hubs.iter()
                                    .filter(|h| i.serves(&h.name))
                                    .map(|h| (i.clone(), h.clone()))
                                    .collect::<Vec<_>>()
                            })
                            .collect::<Vec<_>>()
                    }
                    key=|(i, h)| (i.name.clone(), i.url.clone(), h.name.clone())
                    children=|(instance, hub)| view! { <Panel instance hub/> }
                />
            </div>
            <p class="note" data-explains="missed">{crate::panels::MISSED_EXPLAINED}</p>
            <div class="pictures">
                <Topology/>
                <LatencyChart/>
            </div>
            <AddInstance/>
            <Verdicts/>
            <Canary/>
            <Feed/>
        </main>
        </div>
    }
}

/// A small form to add an instance by name and URL.
#[component]
fn AddInstance() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, u) = (name.get_untracked(), url.get_untracked());
        let value = if n.trim().is_empty() {
            u
        } else {
            format!("{}={u}", n.trim())
        };
        match parse_instance(&value) {
            Some(instance) => {
                dash.add_instance(instance);
                name.set(String::new());
                url.set(String::new());
                problem.set(None);
            }
            None => problem.set(Some("Enter an http:// or https:// URL.".into())),
        }
    };
    view! {
        <form class="add-instance" on:submit=submit aria-label="Add an instance">
            <input type="text" placeholder="name (optional)" aria-label="Instance name" bind:value=name/>
            <input type="url" placeholder="http://127.0.0.1:5003" aria-label="Instance URL" required bind:value=url/>
            <button type="submit">"Add instance"</button>
            <span class="error" role="status">{move || problem.get()}</span>
        </form>
    }
}

/// localStorage key of the chosen theme.
const THEME_KEY: &str = "signalscope.theme";

/// Cycles the colour theme: as the system says, light, dark.
#[component]
fn ThemeSwitch() -> impl IntoView {
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    let initial = storage
        .as_ref()
        .and_then(|s| s.get_item(THEME_KEY).ok().flatten())
        .unwrap_or_else(|| "auto".into());
    let theme = RwSignal::new(initial);
    Effect::new(move |_| {
        let t = theme.get();
        let window = web_sys::window();
        if let Some(root) = window
            .as_ref()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-theme", &t);
        }
        if let Some(s) = window.and_then(|w| w.local_storage().ok().flatten()) {
            let _ = s.set_item(THEME_KEY, &t);
        }
    });
    let next = move |_| {
        theme.update(|t| {
            *t = match t.as_str() {
                "auto" => "light",
                "light" => "dark",
                _ => "auto",
            }
            .into()
        })
    };
    view! {
        <button type="button" on:click=next aria-label="Colour theme">
            "Theme: " {move || theme.get()}
        </button>
    }
}
