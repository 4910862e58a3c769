//! The state every part of the page shares: the companion's config and
//! API, the mounted panels, the ledger of test broadcasts, the clock. Lives
//! apart from [`crate::app`] so components read it without importing the
//! page that mounts them.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::api::{
    Audience, DashboardConfig, Hub, Instance, KeyPlacement, Status, TriggerRequest, TriggerResponse,
};

use crate::clock::now_ms;
use crate::companion::Companion;
use crate::feed::log::FeedLog;
use crate::frame::FrameBatch;
use crate::instances::Saved;
use crate::panels::{PanelEntry, PanelUpdate};
use crate::signalr::ConnectionStatus;
use crate::verdicts::ledger::Ledger;

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
    /// What the panels' connections reported since the last animation
    /// frame, applied there at once ([`crate::panels::apply`]).
    pub panel_updates: StoredValue<FrameBatch<PanelUpdate>, LocalStorage>,
    /// The companion's last `/api/status` answer (`None` until the first):
    /// the status bar polls it, the topology draws Redis and the
    /// instances' health from it.
    pub status: RwSignal<Option<Result<Status, String>>>,
}

impl Dashboard {
    /// A fresh session for `config`, showing `instances`.
    pub fn new(
        config: DashboardConfig,
        companion: StoredValue<Companion>,
        instances: Vec<Instance>,
        saved: Saved,
    ) -> Self {
        let ledger = RwSignal::new(Ledger::default());
        Self {
            config: StoredValue::new(config),
            companion,
            ledger,
            panels: StoredValue::new(Vec::new()),
            now: RwSignal::new(now_ms()),
            retry_forever: StoredValue::new_local(Rc::new(Cell::new(false))),
            instances: RwSignal::new(instances),
            saved: StoredValue::new(saved),
            feed_log: RwSignal::new(FeedLog::default()),
            action_error: RwSignal::new(None),
            redis_changed: Trigger::new(),
            panel_updates: StoredValue::new_local(FrameBatch::new(move |updates| {
                crate::panels::apply(ledger, updates, now_ms(), crate::clock::wall_ms())
            })),
            status: RwSignal::new(None),
        }
    }

    /// Every hub, in order; a companion older than `hubs` gives one, its
    /// `hub_path` with its `events`.
    pub fn hubs(&self) -> Vec<Hub> {
        self.config.with_value(|c| {
            if !c.hubs.is_empty() {
                return c.hubs.clone();
            }
            vec![Hub {
                name: "hub".into(),
                path: c.hub_path.clone(),
                hub_type: String::new(),
                events: c.events.clone(),
                audience: Audience::All,
                key_required: false,
                auth: KeyPlacement::Bearer,
                prefix: None,
            }]
        })
    }

    /// A panel's name in verdicts and counts: the instance's alone while
    /// there is one hub (as before hubs), `instance/hub` with several.
    pub fn panel_name(&self, instance: &str, hub: &str) -> String {
        match self.config.with_value(|c| c.hubs.len() > 1) {
            true => format!("{instance}/{hub}"),
            false => instance.to_owned(),
        }
    }

    /// The names of `hub`'s panels (every panel's for `None`), split into
    /// connected and not.
    pub fn panels_by_connection(&self, hub: Option<&str>) -> (Vec<String>, Vec<String>) {
        self.panels.with_value(|panels| {
            let (up, down): (Vec<_>, Vec<_>) = panels
                .iter()
                .filter(|p| hub.is_none_or(|h| p.hub == h))
                .partition(|p| {
                    p.state
                        .status
                        .with_untracked(|s| matches!(s, ConnectionStatus::Connected { .. }))
                });
            let names = |v: Vec<&PanelEntry>| v.iter().map(|p| p.name.clone()).collect();
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

    /// Sends one test broadcast as `request` says, timed from now (the
    /// click, or the key press), and records it in the ledger: the panels
    /// connected now must receive it. Resolves with the companion's answer.
    pub fn broadcast(
        &self,
        request: TriggerRequest,
    ) -> impl Future<Output = Result<TriggerResponse, String>> + 'static {
        // Read here rather than taken from the event's `timeStamp`: that is
        // when the input was queued, and a busy page dispatches it later, yet
        // the broadcast only leaves now. An observer timing the same click
        // starts its clock at dispatch, as this does.
        let clicked = now_ms();
        // The panels of the hub it goes to (the first when none is named).
        let hub = request
            .hub
            .clone()
            .unwrap_or_else(|| self.hubs().swap_remove(0).name);
        let (expected, absent) = self.panels_by_connection(Some(&hub));
        let pass_within_ms = self.config.with_value(|c| c.thresholds.pass_within_ms) as f64;
        let companion = self.companion.get_value();
        let dash = *self;
        async move {
            let response = companion.trigger(&request).await.map_err(|e| e.0)?;
            dash.ledger
                .try_update(|l| l.sent(&response, clicked, expected, &absent));
            dash.tick_after(clicked + pass_within_ms - now_ms());
            dash.now.try_set(now_ms());
            Ok(response)
        }
    }

    /// Starts every panel's connection again, now.
    pub fn reconnect_all(&self) {
        self.panels
            .with_value(|p| p.iter().for_each(PanelEntry::reconnect))
    }

    /// Switches "retry forever"; switched on, panels whose policy already
    /// gave up start trying again.
    pub fn set_retry_forever(&self, on: bool) {
        self.retry_forever.with_value(|c| c.set(on));
        if on {
            self.panels.with_value(|panels| {
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
