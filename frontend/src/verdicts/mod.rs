//! Test broadcasts and their verdicts: the "Test Broadcast" button, and a
//! row per broadcast saying which panel received it and how fast (click to
//! arrival, on one clock), PASS or FAIL naming who missed.

pub mod by_name;
pub mod ledger;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::api::{Audience, Hub, TriggerMode, TriggerRequest, TriggerResponse};

use crate::clock::{local_time, millis, now_ms, one_decimal, wall_ms};
use crate::dashboard::Dashboard;
use ledger::{Sent, Verdict};

/// Where the last click got to.
#[derive(Debug, Clone, PartialEq)]
enum Trigger {
    /// Nothing clicked yet.
    Idle,
    /// Waiting for the companion.
    Sending(TriggerMode),
    /// The companion sent it.
    Sent(TriggerResponse),
    /// The companion could not.
    Failed(String),
}

/// What the trigger form holds besides its mode: the hub, who gets the
/// broadcast, the method and its arguments. Empty method and arguments mean
/// the hub's defaults (a TestBroadcast the verdicts can time).
#[derive(Debug, Clone, Copy)]
struct Aim {
    /// The hub's name.
    hub: RwSignal<String>,
    /// `all`, `group`, `user` or `connection`.
    kind: RwSignal<String>,
    /// The group, user or connection.
    name: RwSignal<String>,
    /// The client method; empty for the hub's broadcast event.
    method: RwSignal<String>,
    /// The arguments as a JSON array; empty for the default TestBroadcast.
    args: RwSignal<String>,
}

impl Aim {
    /// Set to `hub`'s defaults.
    fn reset(&self, hub: &Hub) {
        self.hub.set(hub.name.clone());
        self.kind.set(hub.audience.kind().to_owned());
        self.name.set(hub.audience.name().to_owned());
        self.method.set(hub.events.broadcast.clone());
        self.args.set(String::new());
    }

    /// The request's hub, audience, method and arguments, or what is wrong.
    fn fill(&self, request: &mut TriggerRequest) -> Result<(), String> {
        request.hub = Some(self.hub.get_untracked());
        request.audience = Some(
            Audience::of_kind(&self.kind.get_untracked(), self.name.get_untracked().trim())
                .ok_or("unknown target kind")?,
        );
        request.target = Some(self.method.get_untracked()).filter(|m| !m.trim().is_empty());
        let args = self.args.get_untracked();
        if !args.trim().is_empty() {
            // Parsed as the page parses all JSON (one parser in the .wasm).
            let parsed = protocol::from_json::parse(&args)
                .map_err(|e| format!("arguments must be a JSON array: {e}"))?;
            let serde_json::Value::Array(arguments) = parsed else {
                return Err("arguments must be a JSON array".into());
            };
            request.arguments = Some(arguments);
        }
        Ok(())
    }
}

/// The "Test Broadcast" button, its mode, its aim and the last result.
#[component]
pub fn TestBroadcastControl() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let config = dash.config.get_value();
    let hubs = dash.hubs();
    let modes = config.trigger_modes.clone();
    let mode = RwSignal::new(modes.first().copied().unwrap_or(TriggerMode::Redis));
    // In `instance` mode: which of the companion's instances sends it.
    let senders: Vec<String> = config.instances.iter().map(|i| i.name.clone()).collect();
    let sender = RwSignal::new(senders.first().cloned());
    let aim = Aim {
        hub: RwSignal::new(String::new()),
        kind: RwSignal::new(String::new()),
        name: RwSignal::new(String::new()),
        method: RwSignal::new(String::new()),
        args: RwSignal::new(String::new()),
    };
    aim.reset(&hubs[0]);
    let state = RwSignal::new(Trigger::Idle);
    let send = move |_| {
        let chosen = mode.get_untracked();
        let mut request = TriggerRequest {
            mode: Some(chosen),
            instance: (chosen == TriggerMode::Instance)
                .then(|| sender.get_untracked())
                .flatten(),
            ..Default::default()
        };
        if let Err(e) = aim.fill(&mut request) {
            state.set(Trigger::Failed(e));
            return;
        }
        state.set(Trigger::Sending(chosen));
        let sending = dash.broadcast(request);
        spawn_local(async move {
            let _ = state.try_set(match sending.await {
                Ok(response) => Trigger::Sent(response),
                Err(e) => Trigger::Failed(e),
            });
        });
    };
    let words = move || match state.get() {
        Trigger::Idle => String::new(),
        Trigger::Sending(m) => format!("sending via {}…", m.as_str()),
        Trigger::Sent(r) => format!(
            "#{} sent via {}{} on {}; {}",
            r.seq,
            r.mode.as_str(),
            r.instance
                .as_ref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            r.channel,
            reach(&r)
        ),
        Trigger::Failed(e) => format!("failed: {e}"),
    };
    let options = modes
        .into_iter()
        .map(|m| view! { <option value=m.as_str() selected=move || mode.get() == m>{m.as_str()}</option> })
        .collect_view();
    let choose = move |ev| {
        let value = event_target_value(&ev);
        if let Some(m) = TriggerMode::ALL.into_iter().find(|m| m.as_str() == value) {
            mode.set(m);
        }
    };
    let sender_options = senders
        .into_iter()
        .map(|name| {
            let selected = {
                let name = name.clone();
                move || sender.with(|s| s.as_deref() == Some(name.as_str()))
            };
            view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
        })
        .collect_view();
    let choose_sender = move |ev| sender.set(Some(event_target_value(&ev)));
    view! {
        <div class="trigger">
            <button type="button" class="primary" on:click=send>"Test Broadcast"</button>
            <label>
                "via " <select on:change=choose aria-label="Trigger mode">{options}</select>
            </label>
            <label hidden=move || mode.get() != TriggerMode::Instance>
                "from "
                <select on:change=choose_sender aria-label="Sending instance">{sender_options}</select>
            </label>
            <AimFields aim hubs/>
            <span
                class=move || if matches!(state.get(), Trigger::Failed(_)) { "trigger-result error" } else { "trigger-result" }
                role="status"
                aria-live="polite"
            >
                {words}
            </span>
        </div>
    }
}

/// Hub, target and invocation, folded away under "Target" so one hub with
/// its defaults looks as it always did.
#[component]
fn AimFields(
    /// The form's state.
    aim: Aim,
    /// Every hub, the default first.
    hubs: Vec<Hub>,
) -> impl IntoView {
    let several = hubs.len() > 1;
    let hub_options = hubs
        .iter()
        .map(|h| {
            let name = h.name.clone();
            let selected = {
                let name = name.clone();
                move || aim.hub.with(|s| *s == name)
            };
            view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
        })
        .collect_view();
    let choose_hub = move |ev| {
        let name = event_target_value(&ev);
        if let Some(h) = hubs.iter().find(|h| h.name == name) {
            aim.reset(h);
        }
    };
    let summary = move || {
        let kind = aim.kind.get();
        let who = match kind.as_str() {
            "all" => "all".to_owned(),
            _ => format!("{kind} {}", aim.name.get()),
        };
        format!("{} → {who} on {}", aim.method.get(), aim.hub.get())
    };
    view! {
        <details class="aim" open=several>
            <summary>"Target: " {summary}</summary>
            <label hidden=!several>
                "hub " <select on:change=choose_hub aria-label="Hub">{hub_options}</select>
            </label>
            <AudienceFields kind=aim.kind name=aim.name/>
            <label>
                "method " <input type="text" aria-label="Method" bind:value=aim.method/>
            </label>
            <label>
                "arguments "
                <textarea
                    aria-label="Arguments (JSON array)"
                    placeholder="[] (empty: a TestBroadcast the verdicts time)"
                    rows="2"
                    bind:value=aim.args
                ></textarea>
            </label>
        </details>
    }
}

/// Who gets the broadcast: all, or a group, user or connection by name.
#[component]
fn AudienceFields(
    /// `all`, `group`, `user` or `connection`.
    kind: RwSignal<String>,
    /// The group, user or connection.
    name: RwSignal<String>,
) -> impl IntoView {
    let kinds = Audience::KINDS
        .into_iter()
        .map(|k| view! { <option value=k selected=move || kind.with(|s| s == k)>{k}</option> })
        .collect_view();
    view! {
        <label>
            "to " <select on:change=move |ev| kind.set(event_target_value(&ev)) aria-label="Target kind">{kinds}</select>
        </label>
        <input
            type="text"
            aria-label="Target name"
            placeholder="name"
            hidden=move || kind.with(|k| k == "all")
            bind:value=name
        />
    }
}

/// The verdict table, newest broadcast first.
#[component]
pub fn Verdicts() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let pass_within_ms = dash.config.with_value(|c| c.thresholds.pass_within_ms);
    let ids = move || {
        dash.ledger.with(|l| {
            l.broadcasts()
                .iter()
                .rev()
                .map(|s| s.id.clone())
                .collect::<Vec<_>>()
        })
    };
    let totals = move || {
        dash.ledger.with(|l| {
            let sent = l.broadcasts();
            let now = verdict_clock(dash.now, sent, pass_within_ms);
            let passed = sent
                .iter()
                .filter(|s| s.verdict(pass_within_ms, now) == Verdict::Pass)
                .count();
            format!("{passed} of {} passed", sent.len())
        })
    };
    view! {
        <section class="verdicts" aria-labelledby="verdicts-title">
            <h2 id="verdicts-title">"Broadcast verdicts"</h2>
            <p class="hint">
                "PASS when every panel connected at the click receives the broadcast within "
                {pass_within_ms} " ms of the click. " <span aria-live="polite">{totals}</span>
            </p>
            <table>
                <thead>
                    <tr>
                        <th scope="col">"#"</th>
                        <th scope="col">"Clicked"</th>
                        <th scope="col">"Mode"</th>
                        <th scope="col">"Verdict"</th>
                        <th scope="col">"Per panel (click → arrival)"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=ids key=|id| id.clone() children=move |id| view! { <VerdictRow id pass_within_ms/> }/>
                </tbody>
            </table>
        </section>
    }
}

/// One broadcast's row.
#[component]
fn VerdictRow(
    /// The broadcast's id.
    id: String,
    /// The PASS threshold, ms.
    pass_within_ms: u64,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let sent = {
        let id = id.clone();
        Memo::new(move |_| dash.ledger.with(|l| l.find(&id).cloned()))
    };
    // Wall time of the click, for people; latencies use the monotonic clock.
    let clicked_wall = sent.with_untracked(|s| {
        s.as_ref()
            .map(|s| local_time(wall_ms() - (now_ms() - s.clicked_at_ms)))
            .unwrap_or_default()
    });
    let verdict = move || {
        sent.with(|s| {
            s.as_ref().map(|s| {
                let now = verdict_clock(dash.now, [s], pass_within_ms);
                s.verdict(pass_within_ms, now)
            })
        })
        .unwrap_or(Verdict::Pending)
    };
    let words = move || match verdict() {
        Verdict::Pending => "pending…".to_owned(),
        Verdict::Pass => "PASS".to_owned(),
        Verdict::Fail { missed, late } if missed.is_empty() && late.is_empty() => {
            "FAIL: no panel was connected".to_owned()
        }
        Verdict::Fail { missed, late } => {
            let mut parts = Vec::new();
            if !missed.is_empty() {
                parts.push(format!("missed by {}", missed.join(", ")));
            }
            if !late.is_empty() {
                parts.push(format!("late at {}", late.join(", ")));
            }
            format!("FAIL: {}", parts.join("; "))
        }
    };
    let arrivals = move || sent.with(|s| s.as_ref().map(arrival_lines).unwrap_or_default());
    let seq = sent.with_untracked(|s| s.as_ref().map(|s| s.seq));
    let mode = sent.with_untracked(|s| s.as_ref().map(|s| s.mode.as_str()));
    view! {
        <tr data-verdict=move || verdict().key() data-broadcast-id=id>
            <td>{seq}</td>
            <td>
                <time>{clicked_wall}</time>
            </td>
            <td>{mode}</td>
            <td class=move || format!("verdict {}", verdict().key())>{words}</td>
            <td>
                <ul class="arrivals">
                    {move || {
                        arrivals()
                            .into_iter()
                            .map(|a| {
                                view! {
                                    <li
                                        class=a.class
                                        data-received-by=a.received_by
                                        data-latency-ms=a.latency_ms
                                    >
                                        {a.text}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </td>
        </tr>
    }
}

/// The clock for the verdicts of `sent`, subscribed to only while one of
/// them can still change with it: settled rows and totals are not redrawn
/// every second.
fn verdict_clock<'a>(
    now: RwSignal<f64>,
    sent: impl IntoIterator<Item = &'a Sent>,
    pass_within_ms: u64,
) -> f64 {
    let at = now.get_untracked();
    if sent.into_iter().any(|s| at <= s.settles_at(pass_within_ms)) {
        now.track();
    }
    at
}

/// One panel's line in a verdict row.
struct Arrival {
    /// What the row says ("api-1 12 ms", "api-2 not received").
    text: String,
    /// `got`, `missed` or `extra`, for colour.
    class: &'static str,
    /// The panel, when it received the broadcast (for tests and export).
    received_by: Option<String>,
    /// Click-to-arrival latency to 0.1 ms, when received: precise enough
    /// to hold against an independent observer's figure within 2 ms.
    latency_ms: Option<String>,
}

/// Per panel: "api-1 12 ms", "api-2 not received", and panels that got it
/// without being connected at the click.
fn arrival_lines(sent: &Sent) -> Vec<Arrival> {
    let got = |p: &String, l: f64, class, suffix: &str| Arrival {
        text: format!("{p} {}{suffix}", millis(l)),
        class,
        received_by: Some(p.clone()),
        // By integer arithmetic: float formatting would add kilobytes to the .wasm.
        latency_ms: Some(one_decimal(l)),
    };
    let mut lines: Vec<_> = sent
        .expected
        .iter()
        .map(|p| match sent.latencies.get(p) {
            Some(l) => got(p, *l, "got", ""),
            None => Arrival {
                text: format!("{p} not received"),
                class: "missed",
                received_by: None,
                latency_ms: None,
            },
        })
        .collect();
    lines.extend(
        sent.latencies
            .iter()
            .filter(|(p, _)| !sent.expected.contains(p))
            .map(|(p, l)| got(p, *l, "extra", " (joined later)")),
    );
    lines
}

/// Who a broadcast reached, as PUBLISH and the channel's subscribers say:
/// instances apart from other subscribers (feeds, PSUBSCRIBE tools).
fn reach(r: &TriggerResponse) -> String {
    match (r.receivers, r.channel_subscribers) {
        (Some(all), Some(instances)) if all > instances => format!(
            "{instances} instance(s) subscribed, {} other subscriber(s)",
            all - instances
        ),
        (_, Some(instances)) => format!("{instances} instance(s) subscribed"),
        (Some(all), None) => format!("{all} receiving instance(s)"),
        (None, None) => "receivers unknown".into(),
    }
}
