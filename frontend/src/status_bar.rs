//! The status bar: the companion's view of Redis (ping, version, memory,
//! clients, subscribers, live servers; with several hubs each hub's
//! traffic, on a cluster each node) and each instance's health, polled
//! every few seconds; in demo mode, Redis Stop and Start.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::api::{routes, DemoAction, HubTraffic, InstanceHealth, RedisNodeStatus};

use crate::clock::{millis, one_decimal};
use crate::dashboard::Dashboard;

/// How often `/api/status` is read.
const POLL: Duration = Duration::from_secs(5);

/// The status bar.
#[component]
pub fn StatusBar(
    /// Whether the demo owns Redis, so it may be stopped and started here.
    demo_redis: bool,
) -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let status = dash.status;
    let poll = move || {
        let companion = dash.companion.get_value();
        spawn_local(async move {
            let result = companion.status().await.map_err(|e| e.0);
            status.try_set(Some(result));
        });
    };
    // At once, again whenever the feed sees Redis go down or come back,
    // and every POLL in between.
    Effect::new(move |_| {
        dash.redis_changed.track();
        poll();
    });
    crate::clock::every(POLL, poll);
    let redis = move || match status.get() {
        None => view! { <span class="chip">"Redis: asking…"</span> }.into_any(),
        Some(Err(e)) => view! { <span class="chip bad">"Companion: " {e}</span> }.into_any(),
        Some(Ok(s)) => {
            let r = s.redis;
            let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
            let reach = if r.reachable {
                format!(
                    "Redis up · ping {}",
                    r.ping_ms
                        .map_or("?".into(), |p| format!("{} ms", one_decimal(p)))
                )
            } else {
                format!("Redis down: {}", r.error.unwrap_or_default())
            };
            view! {
                <span class=if r.reachable { "chip good" } else { "chip bad" } data-redis-reachable=r.reachable.to_string()>
                    {reach}
                </span>
                <span class="chip">"v" {opt(r.version)}</span>
                <span class="chip">"memory " {opt(r.used_memory)}</span>
                <span class="chip">"clients " {opt(r.connected_clients.map(|n| n.to_string()))}</span>
                <span class="chip" title="PUBSUB NUMSUB of the hub's all channel">
                    "instances subscribed " {opt(r.all_subscribers.map(|n| n.to_string()))}
                </span>
                <span class="chip" title=r.live_servers.join("\n")>"live servers " {r.live_servers.len()}</span>
                <span class="chip" title="connection channels: browser connections on all instances">
                    "hub connections " {opt(r.connection_channels.map(|n| n.to_string()))}
                </span>
                {(r.hubs.len() > 1).then(|| r.hubs.into_iter().map(hub_chip).collect_view())}
                {r.nodes.into_iter().map(node_chip).collect_view()}
                {s.instances.into_iter().map(health_chip).collect_view()}
            }
            .into_any()
        }
    };
    view! {
        <section class="status-bar" aria-label="Redis and instance status">
            <div class="chips" aria-live="polite">{redis}</div>
            {demo_redis.then(|| view! {
                <div class="demo-controls">
                    <button type="button" class="demo" on:click=move |_| dash.demo(routes::demo_redis(DemoAction::Stop))>"Stop Redis"</button>
                    <button type="button" class="demo" on:click=move |_| dash.demo(routes::demo_redis(DemoAction::Start))>"Start Redis"</button>
                </div>
            })}
        </section>
    }
}

/// One instance's `/health` as a chip.
fn health_chip(h: InstanceHealth) -> impl IntoView {
    let healthy = h.status.as_deref() == Some("Healthy");
    let text = match (&h.status, &h.error) {
        (Some(s), _) => format!(
            "{} {s} ({}{})",
            h.name,
            h.http_status.map_or(String::new(), |c| c.to_string()),
            h.duration_ms
                .map_or(String::new(), |d| format!(", {}", millis(d)))
        ),
        (None, Some(e)) => format!("{} unreachable: {e}", h.name),
        (None, None) => format!("{} ?", h.name),
    };
    view! {
        <span class=if healthy { "chip good" } else { "chip bad" } data-health=h.name title=h.url>
            {text}
        </span>
    }
}

/// One hub on the prefix, shown when there are several: its live servers
/// and connections, with its groups and users in the tooltip.
fn hub_chip(t: HubTraffic) -> impl IntoView {
    let name = t.name.unwrap_or_else(|| t.hub_type.clone());
    let text = format!(
        "{name}: {} servers · {} connections · {} groups · {} users",
        t.live_servers.len(),
        t.connections,
        t.groups.len(),
        t.users.len()
    );
    let title = format!(
        "{}\ngroups: {}\nusers: {}",
        t.hub_type,
        t.groups.join(", "),
        t.users.join(", ")
    );
    view! { <span class="chip" data-hub-traffic=name title=title>{text}</span> }
}

/// One Redis node of a cluster or Sentinel set.
fn node_chip(n: RedisNodeStatus) -> impl IntoView {
    let text = match (&n.error, n.ping_ms) {
        (Some(e), _) => format!("{} down: {e}", n.address),
        (None, ping) => format!(
            "{} {} · ping {}",
            n.address,
            n.role.as_deref().unwrap_or("?"),
            ping.map_or("?".into(), millis)
        ),
    };
    let class = if n.reachable { "chip good" } else { "chip bad" };
    view! { <span class=class data-redis-node=n.address>{text}</span> }
}
