//! The page: loads the companion's config, then lays out the toolbar,
//! status bar, one panel per instance, verdicts and the feed, and provides
//! the [`Dashboard`] context they share.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::api::{routes, DashboardConfig, Instance};

use crate::canary::Canary;
use crate::clock::now_ms;
use crate::companion::Companion;
use crate::export;
use crate::feed::log::FeedLog;
use crate::feed::Feed;
use crate::instances::{self, parse_instance, Saved};
use crate::panels::{Panel, PanelEntry};
use crate::signalr::ConnectionStatus;
use crate::status_bar::StatusBar;
use crate::verdicts::ledger::Ledger;
use crate::verdicts::{TestBroadcastControl, Verdicts};

/// What every part of the page shares. All handles, so it is `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Dashboard {
    /// The companion's config, fixed for the page's life.
    pub config: StoredValue<DashboardConfig>,
    /// The companion's API.
    pub companion: StoredValue<Companion>,
    /// Test broadcasts, arrivals and per-panel counts.
    pub ledger: RwSignal<Ledger>,
    /// The mounted panels, for Reconnect All, verdicts and the export.
    pub panels: StoredValue<Vec<PanelEntry>>,
    /// The monotonic clock, ticking once a second (and when a verdict is
    /// due), for countdowns, "ago" texts and verdict deadlines.
    pub now: RwSignal<f64>,
    /// The "retry forever" switch, shared with every connection.
    pub retry_forever: StoredValue<Rc<Cell<bool>>, LocalStorage>,
    /// The instances shown, in order.
    pub instances: RwSignal<Vec<Instance>>,
    /// What this browser remembers about added and removed instances.
    pub saved: StoredValue<Saved>,
    /// The feed's lines (here so the export can reach them).
    pub feed_log: RwSignal<FeedLog>,
    /// The last failed page action (demo controls), shown in the toolbar.
    pub action_error: RwSignal<Option<String>>,
    /// Notified when the feed sees Redis go down or come back, so the
    /// status bar asks again at once instead of at its next poll.
    pub redis_changed: Trigger,
}

impl Dashboard {
    /// A fresh session for `config`, showing `instances`.
    pub fn new(
        config: DashboardConfig,
        companion: StoredValue<Companion>,
        instances: Vec<Instance>,
        saved: Saved,
    ) -> Self {
        Self {
            config: StoredValue::new(config),
            companion,
            ledger: RwSignal::new(Ledger::default()),
            panels: StoredValue::new(Vec::new()),
            now: RwSignal::new(now_ms()),
            retry_forever: StoredValue::new_local(Rc::new(Cell::new(false))),
            instances: RwSignal::new(instances),
            saved: StoredValue::new(saved),
            feed_log: RwSignal::new(FeedLog::default()),
            action_error: RwSignal::new(None),
            redis_changed: Trigger::new(),
        }
    }

    /// Names of the panels connected right now.
    pub fn connected_panels(&self) -> Vec<String> {
        self.panels_by_connection().0
    }

    /// The panels' names, split into connected and not.
    pub fn panels_by_connection(&self) -> (Vec<String>, Vec<String>) {
        self.panels.with_value(|panels| {
            let (up, down): (Vec<_>, Vec<_>) = panels.iter().partition(|p| {
                p.state
                    .status
                    .with_untracked(|s| matches!(s, ConnectionStatus::Connected { .. }))
            });
            let names = |v: Vec<&PanelEntry>| v.iter().map(|p| p.instance.name.clone()).collect();
            (names(up), names(down))
        })
    }

    /// Adds (or replaces) an instance and remembers it.
    pub fn add_instance(&self, instance: Instance) {
        self.saved.update_value(|s| {
            s.add(instance.clone());
            s.store();
        });
        self.instances.update(
            |list| match list.iter_mut().find(|i| i.name == instance.name) {
                Some(slot) => *slot = instance,
                None => list.push(instance),
            },
        );
    }

    /// Removes an instance's panel and remembers that.
    pub fn remove_instance(&self, name: &str) {
        self.saved.update_value(|s| {
            s.remove(name);
            s.store();
        });
        self.instances
            .update(|list| list.retain(|i| i.name != name));
    }

    /// Calls a demo control: a path from [`routes`] (`demo_instance`,
    /// `demo_redis`).
    pub fn demo(&self, path: String) {
        let companion = self.companion.get_value();
        let error = self.action_error;
        spawn_local(async move {
            let result = companion.demo(&path).await;
            error.try_set(result.err().map(|e| format!("{path}: {e}")));
        });
    }

    /// Re-reads the clock after `ms`, so a verdict due then is decided.
    pub fn tick_after(&self, ms: f64) {
        let now = self.now;
        let wait = Duration::from_millis(ms.max(0.0) as u64 + 20);
        let _ = set_timeout_with_handle(
            move || {
                let _ = now.try_set(now_ms());
            },
            wait,
        );
    }
}

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
        dash.retry_forever.with_value(|c| c.set(on));
        if on {
            // Panels whose policy already gave up start trying again.
            dash.panels.with_value(|panels| {
                panels
                    .iter()
                    .filter(|p| {
                        p.state
                            .status
                            .with_untracked(|s| matches!(s, ConnectionStatus::Failed { .. }))
                    })
                    .for_each(PanelEntry::reconnect)
            });
        }
    };
    let reconnect_all = move |_| {
        dash.panels
            .with_value(|p| p.iter().for_each(PanelEntry::reconnect))
    };
    let liveness = format!(
        "Ping after {} s idle · server timeout {} s",
        config.thresholds.keep_alive_ms / 1000,
        config.thresholds.server_timeout_ms / 1000
    );
    let demo_redis = config.demo.as_ref().is_some_and(|d| d.redis);

    view! {
        <header class="topbar">
            <h1>"signalscope"</h1>
            <div class="toolbar" role="toolbar" aria-label="Dashboard actions">
                <TestBroadcastControl/>
                <button type="button" on:click=reconnect_all>"Reconnect All"</button>
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
            <div class="panels">
                <For
                    each=move || dash.instances.get()
                    key=|i| (i.name.clone(), i.url.clone())
                    children=|instance| view! { <Panel instance/> }
                />
            </div>
            <p class="note" data-explains="missed">{crate::panels::MISSED_EXPLAINED}</p>
            <AddInstance/>
            <Verdicts/>
            <Canary/>
            <Feed/>
        </main>
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
