//! One panel per instance and hub: name, hub URL, status in colour and words,
//! connection id, connected since, last ping, lost and duplicate counts,
//! and the last ten messages. A panel knows no wire format: it shows what
//! its [`HubClient`] reports.

pub mod message;
pub mod status;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;
use protocol::api::{routes, DemoAction, Hub, Instance};
use protocol::broadcast::TestBroadcast;
use protocol::connection::Liveness;

use crate::clock::{local_time, now_ms, span, wall_ms};
use crate::dashboard::Dashboard;
use crate::instances::hub_url;
use crate::keys::KeyField;
use crate::signalr::{ClientEvent, ClientOptions, ConnectionStatus, Credential, HubClient};
use message::{Message, MessageRow};

/// Messages kept per panel for the export; the panel shows the newest few.
const HISTORY: usize = 1_000;
/// Messages on screen per panel.
const SHOWN: usize = 10;
/// Why a panel's misses while disconnected are no failure.
pub const MISSED_EXPLAINED: &str = "SignalR does not replay what was published while a client was \
disconnected: a panel whose instance was down misses those broadcasts, as expected. Only broadcasts \
lost while connected are failures.";

/// A panel's live state, one signal per fact.
#[derive(Debug, Clone, Copy)]
pub struct PanelState {
    /// Connection status.
    pub status: RwSignal<ConnectionStatus>,
    /// The server's connection id, kept while reconnecting.
    pub connection_id: RwSignal<Option<String>>,
    /// When the current connection opened, Unix ms.
    pub connected_since: RwSignal<Option<f64>>,
    /// When the server last pinged, on the monotonic clock.
    pub last_ping: RwSignal<Option<f64>>,
    /// The latest remark that changes no state (fallbacks, failed calls).
    pub notice: RwSignal<Option<String>>,
    /// Received messages, newest first.
    pub messages: RwSignal<VecDeque<MessageRow>>,
}

impl PanelState {
    fn new() -> Self {
        Self {
            status: RwSignal::new(ConnectionStatus::Connecting),
            connection_id: RwSignal::new(None),
            connected_since: RwSignal::new(None),
            last_ping: RwSignal::new(None),
            notice: RwSignal::new(None),
            messages: RwSignal::new(VecDeque::new()),
        }
    }

    /// Takes in one client event. Uses `try_` setters: the connection may
    /// report once more after the panel is gone.
    fn apply(&self, name: &str, event: ClientEvent, dash: &Dashboard) {
        match event {
            ClientEvent::Status(status) => {
                if let ConnectionStatus::Connected { connection_id } = &status {
                    self.connection_id.try_set(connection_id.clone());
                    self.connected_since.try_set(Some(wall_ms()));
                    self.notice.try_set(None);
                } else {
                    self.connected_since.try_set(None);
                    dash.ledger.try_update(|l| l.disconnected(name));
                }
                self.status.try_set(status);
            }
            ClientEvent::Ping { at_ms } => {
                self.last_ping.try_set(Some(at_ms));
            }
            ClientEvent::Notice(text) => {
                self.notice.try_set(Some(text));
            }
            ClientEvent::Invocation {
                target,
                arguments,
                at_ms,
            } => {
                let wall = wall_ms() - (now_ms() - at_ms);
                self.received(name, target, arguments, at_ms, wall, dash);
            }
        }
    }

    fn received(
        &self,
        name: &str,
        target: String,
        arguments: Vec<serde_json::Value>,
        at_ms: f64,
        wall: f64,
        dash: &Dashboard,
    ) {
        let broadcast = TestBroadcast::from_arguments(&arguments);
        // The companion's canary is shown in its own section; counting it
        // here would mix it into the page's own broadcasts and tallies.
        let arrival = broadcast
            .as_ref()
            .filter(|b| !b.is_canary())
            .and_then(|b| dash.ledger.try_update(|l| l.arrived(name, b, at_ms)));
        self.messages.try_update(|m| {
            let id = m.front().map_or(0, |r| r.id + 1);
            m.push_front(MessageRow {
                id,
                wall_ms: wall,
                target,
                arguments,
                broadcast_id: broadcast.as_ref().map(|b| b.id.clone()),
                seq: broadcast.as_ref().map(|b| b.seq),
                duplicate: arrival.is_some_and(|a| a.duplicate),
            });
            m.truncate(HISTORY);
        });
    }
}

/// What the page keeps about a mounted panel, so toolbar actions and the
/// export can reach it.
#[derive(Debug, Clone)]
pub struct PanelEntry {
    /// The instance it connects to.
    pub instance: Instance,
    /// Its name in verdicts and counts ([`Dashboard::panel_name`]).
    pub name: String,
    /// The hub's name.
    pub hub: String,
    /// The hub's key, read at each (re)connect (browser-only, so local).
    pub credential: StoredValue<Rc<RefCell<Option<Credential>>>, LocalStorage>,
    /// Its live state.
    pub state: PanelState,
    /// Its connection (browser-only, so stored locally).
    pub client: StoredValue<Option<HubClient>, LocalStorage>,
}

impl PanelEntry {
    /// Closes the connection and connects anew.
    pub fn reconnect(&self) {
        self.client
            .with_value(|c| c.as_ref().map(HubClient::reconnect));
    }

    /// Uses `key` (none: no key) from the next attempt on, starting it now.
    pub fn set_key(&self, key: Option<Credential>) {
        self.credential.with_value(|c| *c.borrow_mut() = key);
        self.reconnect();
    }

    /// Closes the connection and stays disconnected.
    pub fn disconnect(&self) {
        self.client
            .with_value(|c| c.as_ref().map(HubClient::disconnect));
    }
}

/// One instance's live panel for one hub. It connects when mounted and
/// disconnects when removed.
#[component]
pub fn Panel(
    /// The instance to connect to.
    instance: Instance,
    /// The hub; default the first.
    #[prop(optional)]
    hub: Option<Hub>,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let config = dash.config.get_value();
    let hub = hub.unwrap_or_else(|| dash.hubs().swap_remove(0));
    let state = PanelState::new();
    let instance_name = instance.name.clone();
    let name = dash.panel_name(&instance.name, &hub.name);
    let several_hubs = config.hubs.len() > 1;
    let credential = Rc::new(RefCell::new(crate::keys::initial(
        &config,
        &instance.name,
        &hub,
    )));
    let hub_name = hub.name.clone();
    let hub_for_key = hub.clone();
    let hub = hub_url(&instance.url, &hub.path);
    let options = ClientOptions {
        hub_url: hub.clone(),
        liveness: Liveness {
            keep_alive_ms: config.thresholds.keep_alive_ms,
            timeout_ms: config.thresholds.server_timeout_ms,
        },
        request_state: hub_for_key.events.request_state.clone(),
        retry_forever: dash.retry_forever.get_value(),
        credential: credential.clone(),
    };
    let client = {
        let name = name.clone();
        HubClient::start(options, move |event| state.apply(&name, event, &dash))
    };
    let entry = PanelEntry {
        instance: instance.clone(),
        name: name.clone(),
        hub: hub_name.clone(),
        credential: StoredValue::new_local(credential),
        state,
        client: StoredValue::new_local(Some(client)),
    };
    dash.panels.update_value(|p| p.push(entry.clone()));
    {
        let name = name.clone();
        let client = entry.client;
        on_cleanup(move || {
            dash.panels.update_value(|p| p.retain(|e| e.name != name));
            // Dropping the client ends its task and closes the socket.
            client.update_value(|c| drop(c.take()));
        });
    }

    let status_key = move || state.status.with(ConnectionStatus::key);
    // The ticking clock may be up to a second old when the status changes.
    let words = move || state.status.with(|s| s.words(dash.now.get().max(now_ms())));
    let since = move || {
        dash.now.track();
        state
            .connected_since
            .get()
            .map(|t| format!("{} ({})", local_time(t), span(wall_ms() - t)))
    };
    let last_ping = move || {
        state
            .last_ping
            .get()
            .map(|t| format!("{} ago", span(dash.now.get().max(now_ms()) - t)))
    };
    let tally = {
        let name = name.clone();
        move || dash.ledger.with(|l| l.tally(&name))
    };
    let lost = {
        let tally = tally.clone();
        move || tally().lost_while_connected
    };
    let missed = {
        let tally = tally.clone();
        move || tally().missed_while_disconnected
    };
    let duplicates = move || tally().duplicates;
    let (lost_attr, missed_attr, duplicates_attr) =
        (lost.clone(), missed.clone(), duplicates.clone());
    let lost_class = {
        let lost = lost.clone();
        move || if lost() > 0 { "counts bad" } else { "counts" }
    };
    let recent = move || {
        state
            .messages
            .with(|m| m.iter().take(SHOWN).cloned().collect::<Vec<_>>())
    };
    let demo_owned = config
        .demo
        .as_ref()
        .is_some_and(|d| d.instances.contains(&instance_name));
    let heading_id = format!(
        "panel-{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );

    let heading_for_h2 = heading_id.clone();
    let name_for_rows = name.clone();
    let reconnect = {
        let entry = entry.clone();
        move |_| entry.reconnect()
    };
    let disconnect = {
        let entry = entry.clone();
        move |_| entry.disconnect()
    };
    let remove = {
        let name = instance_name.clone();
        move |_| dash.remove_instance(&name)
    };
    let heading = match several_hubs {
        true => format!("{instance_name} · {hub_name}"),
        false => instance_name.clone(),
    };
    // Asked for up front when the hub needs a key; otherwise once refused.
    let refused = move || {
        state
            .status
            .with(|s| s.words(0.0).contains(crate::signalr::KEY_REFUSED))
    };
    let key_required = hub_for_key.key_required;
    let show_key = move || key_required || refused();

    view! {
        <section
            class=move || format!("panel status-{}", status_key())
            data-instance=instance_name.clone()
            data-hub=hub_name.clone()
            data-panel=name.clone()
            data-status=status_key
            aria-labelledby=heading_id.clone()
        >
            <header class="panel-head">
                <h2 id=heading_for_h2>{heading}</h2>
                <span class="url" title="hub URL">{hub}</span>
            </header>
            <p class="status" role="status" aria-live="polite">
                <span class="dot" aria-hidden="true"></span>
                {words}
            </p>
            <dl class="facts">
                <dt>"Connection id"</dt>
                <dd>
                    <code data-connection-id=move || state.connection_id.get().unwrap_or_default()>
                        {move || state.connection_id.get().unwrap_or_else(|| "—".into())}
                    </code>
                </dd>
                <dt>"Connected since"</dt>
                <dd>{move || since().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Last ping"</dt>
                <dd>{move || last_ping().unwrap_or_else(|| "none yet".into())}</dd>
                <dt title="Broadcasts this panel did not get although it was connected: a failure">"Lost while connected"</dt>
                <dd class=lost_class data-lost=lost_attr>{lost}</dd>
                <dt title=MISSED_EXPLAINED>"Missed while disconnected"</dt>
                <dd class="counts" data-missed=missed_attr title=MISSED_EXPLAINED>{missed}</dd>
                <dt>"Duplicates"</dt>
                <dd class="counts" data-duplicates=duplicates_attr>{duplicates}</dd>
            </dl>
            <Show when=move || state.notice.with(Option::is_some)>
                <p class="notice">{move || state.notice.get().unwrap_or_default()}</p>
            </Show>
            <Show when=show_key>
                <KeyField entry=entry.clone() hub=hub_for_key.clone()/>
            </Show>
            <div class="actions">
                <button type="button" on:click=reconnect>"Reconnect"</button>
                <button type="button" on:click=disconnect>"Disconnect"</button>
                {demo_owned.then(|| view! { <DemoButtons name=instance_name.clone()/> })}
                <button type="button" class="quiet" on:click=remove title="Remove this panel">
                    "Remove"
                </button>
            </div>
            <ol class="messages" aria-label=format!("Last {SHOWN} messages, newest first")>
                <For
                    each=recent
                    key=|row| row.id
                    children=move |row| {
                        let latency_ms = latency_of(dash, name_for_rows.clone(), row.broadcast_id.clone());
                        view! { <Message row latency_ms/> }
                    }
                />
            </ol>
        </section>
    }
}

/// A message's click-to-arrival time as the ledger knows it (it learns it
/// late when the broadcast beats the trigger's response).
fn latency_of(dash: Dashboard, panel: String, broadcast_id: Option<String>) -> Signal<Option<f64>> {
    Signal::derive(move || {
        let id = broadcast_id.as_deref()?;
        dash.ledger
            .with(|l| l.find(id).and_then(|s| s.latencies.get(&panel).copied()))
    })
}

/// Stop and Start for an instance the demo owns.
#[component]
fn DemoButtons(
    /// The instance's name, as the demo knows it.
    name: String,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let call = move |action: DemoAction| {
        let path = routes::demo_instance(&name, action);
        move |_| dash.demo(path.clone())
    };
    view! {
        <button type="button" class="demo" on:click=call(DemoAction::Stop)>"Stop instance"</button>
        <button type="button" class="demo" on:click=call(DemoAction::Start)>"Start instance"</button>
    }
}
