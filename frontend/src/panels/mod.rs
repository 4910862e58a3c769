//! One panel per instance and hub: name, hub URL, status in colour and
//! words, connection id, connected since, last ping, received, lost and
//! duplicate counts, the hub's key when it needs one, and the last ten
//! messages. A panel knows no wire format: it shows what its [`HubClient`]
//! reports.
//!
//! Messages are not rendered as they come: each is stamped when its frame
//! arrives (in the client), queued, and the page applies a frame's worth
//! at once ([`apply`]): one ledger update for every panel, one message-list
//! update per panel. The parts of a panel are their own components:
//! [`facts::PanelFacts`], [`actions::PanelActions`], [`message::MessageList`].

pub mod actions;
pub mod facts;
pub mod message;
pub mod status;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;
use protocol::api::{Hub, Instance};
use protocol::broadcast::TestBroadcast;
use protocol::connection::Liveness;
use serde_json::Value;

use crate::clock::{now_ms, wall_ms};
use crate::dashboard::Dashboard;
use crate::instances::hub_url;
use crate::keys::KeyField;
use crate::signalr::{ClientEvent, ClientOptions, ConnectionStatus, Credential, HubClient};
use crate::verdicts::ledger::Ledger;
use actions::PanelActions;
use facts::PanelFacts;
use message::{MessageList, MessageRow};

/// Messages kept per panel for the export; the panel shows the newest few.
const HISTORY: usize = 1_000;
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
    /// report once more after the panel is gone. Messages, and a drop the
    /// ledger must see in order with them, wait for the next frame.
    fn apply(&self, name: &str, event: ClientEvent, dash: &Dashboard) {
        let queue = |change| {
            dash.panel_updates.with_value(|q| {
                q.push(PanelUpdate {
                    panel: name.to_owned(),
                    messages: self.messages,
                    change,
                })
            })
        };
        match event {
            ClientEvent::Status(status) => {
                if let ConnectionStatus::Connected { connection_id } = &status {
                    self.connection_id.try_set(connection_id.clone());
                    self.connected_since.try_set(Some(wall_ms()));
                    self.notice.try_set(None);
                } else {
                    self.connected_since.try_set(None);
                    queue(Change::Away);
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
            } => queue(Change::Received {
                target,
                arguments,
                at_ms,
            }),
        }
    }
}

/// Something a panel's connection reported that waits for the next frame.
pub struct PanelUpdate {
    /// The panel's name, as the ledger counts it.
    panel: String,
    /// The panel's message list.
    messages: RwSignal<VecDeque<MessageRow>>,
    /// What happened.
    change: Change,
}

/// What a [`PanelUpdate`] says.
enum Change {
    /// A message arrived.
    Received {
        /// The event (client method) name.
        target: String,
        /// Its arguments.
        arguments: Vec<Value>,
        /// When its frame arrived, on the monotonic clock: latencies are
        /// measured from here, however late the frame is drawn.
        at_ms: f64,
    },
    /// The connection is not up: what it misses next was missed while away.
    Away,
}

/// Applies one frame's panel updates, in arrival order: the ledger once
/// (when any test broadcast or drop is among them), each panel's message
/// list once. `now` is the monotonic clock and `wall` Unix ms, read once
/// for the frame, to date the messages.
pub fn apply(ledger: RwSignal<Ledger>, updates: Vec<PanelUpdate>, now: f64, wall: f64) {
    // The companion's canary is shown in its own section; counting it
    // here would mix it into the page's own broadcasts and tallies.
    let broadcasts: Vec<Option<TestBroadcast>> = updates
        .iter()
        .map(|u| match &u.change {
            Change::Received { arguments, .. } => {
                TestBroadcast::from_arguments(arguments).filter(|b| !b.is_canary())
            }
            Change::Away => None,
        })
        .collect();
    let counted = updates
        .iter()
        .zip(&broadcasts)
        .any(|(u, b)| b.is_some() || matches!(u.change, Change::Away));
    let duplicates: Vec<bool> = if counted {
        ledger
            .try_update(|l| {
                updates
                    .iter()
                    .zip(&broadcasts)
                    .map(|(u, b)| match (&u.change, b) {
                        (Change::Received { at_ms, .. }, Some(b)) => {
                            l.arrived(&u.panel, b, *at_ms).duplicate
                        }
                        (Change::Away, _) => {
                            l.disconnected(&u.panel);
                            false
                        }
                        _ => false,
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut per_panel: Vec<(RwSignal<VecDeque<MessageRow>>, Vec<MessageRow>)> = Vec::new();
    for (k, (update, broadcast)) in updates.into_iter().zip(broadcasts).enumerate() {
        let Change::Received {
            target,
            arguments,
            at_ms,
        } = update.change
        else {
            continue;
        };
        let broadcast = broadcast.or_else(|| TestBroadcast::from_arguments(&arguments));
        let row = MessageRow {
            id: 0,
            wall_ms: wall - (now - at_ms),
            target,
            broadcast_id: broadcast.as_ref().map(|b| b.id.clone()),
            seq: broadcast.as_ref().map(|b| b.seq),
            arguments,
            duplicate: duplicates.get(k).copied().unwrap_or(false),
        };
        match per_panel.iter_mut().find(|(m, _)| *m == update.messages) {
            Some((_, rows)) => rows.push(row),
            None => per_panel.push((update.messages, vec![row])),
        }
    }
    for (messages, rows) in per_panel {
        messages.try_update(|m| {
            for mut row in rows {
                row.id = m.front().map_or(0, |r| r.id + 1);
                m.push_front(row);
            }
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

/// Starts `instance`'s connection to `hub` and registers its panel, named
/// `name`, with the page; the connection ends and the entry goes when the
/// calling component does.
fn connect(dash: Dashboard, instance: &Instance, hub: &Hub, name: String) -> PanelEntry {
    let config = dash.config.get_value();
    let state = PanelState::new();
    let credential = Rc::new(RefCell::new(crate::keys::initial(
        &config,
        &instance.name,
        hub,
    )));
    let options = ClientOptions {
        hub_url: hub_url(&instance.url, &hub.path),
        liveness: Liveness {
            keep_alive_ms: config.thresholds.keep_alive_ms,
            timeout_ms: config.thresholds.server_timeout_ms,
        },
        request_state: hub.events.request_state.clone(),
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
        hub: hub.name.clone(),
        credential: StoredValue::new_local(credential),
        state,
        client: StoredValue::new_local(Some(client)),
    };
    dash.panels.update_value(|p| p.push(entry.clone()));
    let client = entry.client;
    on_cleanup(move || {
        dash.panels.update_value(|p| p.retain(|e| e.name != name));
        // Dropping the client ends its task and closes the socket.
        client.update_value(|c| drop(c.take()));
    });
    entry
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
    let hub = hub.unwrap_or_else(|| dash.hubs().swap_remove(0));
    let name = dash.panel_name(&instance.name, &hub.name);
    let entry = connect(dash, &instance, &hub, name.clone());
    let state = entry.state;
    let url = hub_url(&instance.url, &hub.path);
    let heading = match dash.config.with_value(|c| c.hubs.len() > 1) {
        true => format!("{} · {}", instance.name, hub.name),
        false => instance.name.clone(),
    };
    let status_key = move || state.status.with(ConnectionStatus::key);
    // The ticking clock may be up to a second old when the status changes.
    let words = move || state.status.with(|s| s.words(dash.now.get().max(now_ms())));
    // Asked for up front when the hub needs a key; otherwise once refused.
    let refused = move || {
        state
            .status
            .with(|s| matches!(s, ConnectionStatus::NeedsKey { .. }))
    };
    let key_required = hub.key_required;
    let show_key = move || key_required || refused();
    let heading_id = format!(
        "panel-{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let heading_for_h2 = heading_id.clone();
    let name_for_facts = name.clone();
    let name_for_list = name.clone();
    let key_entry = entry.clone();
    let hub_name = hub.name.clone();
    view! {
        <section
            class=move || format!("panel status-{}", status_key())
            data-instance=instance.name.clone()
            data-hub=hub_name
            data-panel=name.clone()
            data-status=status_key
            aria-labelledby=heading_id.clone()
        >
            <header class="panel-head">
                <h2 id=heading_for_h2>{heading}</h2>
                <span class="url" title="hub URL">{url}</span>
            </header>
            <p class="status" role="status" aria-live="polite">
                <span class="dot" aria-hidden="true"></span>
                {words}
            </p>
            <PanelFacts name=name_for_facts state/>
            <Show when=move || state.notice.with(Option::is_some)>
                <p class="notice">{move || state.notice.get().unwrap_or_default()}</p>
            </Show>
            <Show when=show_key>
                <KeyField entry=key_entry.clone() hub=hub.clone()/>
            </Show>
            <PanelActions entry/>
            <MessageList panel=name_for_list messages=state.messages/>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn received(panel: &str, messages: RwSignal<VecDeque<MessageRow>>, seq: u64) -> PanelUpdate {
        let b = TestBroadcast::new(format!("load:{seq}"), seq, 0, "load");
        PanelUpdate {
            panel: panel.into(),
            messages,
            change: Change::Received {
                target: "NavigationStateUpdate".into(),
                arguments: vec![b.to_argument()],
                at_ms: seq as f64,
            },
        }
    }

    fn away(panel: &str, messages: RwSignal<VecDeque<MessageRow>>) -> PanelUpdate {
        PanelUpdate {
            panel: panel.into(),
            messages,
            change: Change::Away,
        }
    }

    /// One frame's arrivals reach the ledger and each panel's list in
    /// arrival order, newest first, with row ids counting up.
    #[test]
    fn a_frame_applies_every_arrival_in_order() {
        let ledger = RwSignal::new(Ledger::default());
        let (a, b) = (
            RwSignal::new(VecDeque::new()),
            RwSignal::new(VecDeque::new()),
        );
        let other = PanelUpdate {
            panel: "a".into(),
            messages: a,
            change: Change::Received {
                target: "StateUpdateRequested".into(),
                arguments: vec![json!({"page": "home"})],
                at_ms: 0.0,
            },
        };
        apply(
            ledger,
            vec![
                received("a", a, 1),
                received("b", b, 1),
                other,
                received("a", a, 2),
            ],
            0.0,
            0.0,
        );
        let rows = a.with_untracked(|m| m.iter().map(|r| (r.id, r.seq)).collect::<Vec<_>>());
        assert_eq!(rows, [(2, Some(2)), (1, None), (0, Some(1))]);
        assert_eq!(b.with_untracked(VecDeque::len), 1);
        let received = |p: &str| ledger.with_untracked(|l| l.tally(p).received);
        assert_eq!((received("a"), received("b")), (2, 1));
    }

    /// A drop queued between two arrivals of the same frame is applied
    /// between them: the gap it leaves was missed while away, not lost.
    #[test]
    fn a_drop_keeps_its_place_among_arrivals() {
        let ledger = RwSignal::new(Ledger::default());
        let a = RwSignal::new(VecDeque::new());
        apply(
            ledger,
            vec![received("a", a, 1), away("a", a), received("a", a, 4)],
            0.0,
            0.0,
        );
        let tally = ledger.with_untracked(|l| l.tally("a"));
        assert_eq!(
            (tally.missed_while_disconnected, tally.lost_while_connected),
            (2, 0)
        );
    }
}
