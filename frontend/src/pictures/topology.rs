//! The topology view: the publisher (the companion, or the instance that
//! sent it) → Redis → each instance → its panel, as a graph. On every test
//! broadcast a dot travels the edges, and each hop's time is written on its
//! edge: the PUBLISH as the feed saw it, then the arrival at each panel,
//! both from the click. Redis is drawn up or down, each instance by its
//! health and each panel by its connection, so a killed instance greys out
//! and comes back.

use leptos::prelude::*;
use protocol::api::{FeedLine, Status};
use protocol::backplane::summary::Payload;
use protocol::broadcast::{TestBroadcast, COMPANION_ORIGIN};

use super::Point;
use crate::clock::{now_ms, one_decimal, wall_ms};
use crate::dashboard::Dashboard;
use crate::signalr::ConnectionStatus;
use crate::verdicts::ledger::Sent;

/// Drawing width in user units; the SVG scales to its box.
pub const WIDTH: i32 = 1000;
/// Centre x of each column: publisher, Redis, instances, panels; the gaps
/// between them leave room for a hop's time.
const COLUMNS: [i32; 4] = [80, 360, 630, 920];
/// A node box's half width and half height.
const HALF: Point = Point { x: 75, y: 36 };
/// Vertical pitch of the instance rows.
const ROW: i32 = 120;
/// Room above the first row and below the last, for hop labels.
const MARGIN: i32 = 70;
/// More rows than a screen could show are not laid out (and the
/// arithmetic stays far from overflow).
const MOST_ROWS: usize = 1_000;

/// Where every node sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The drawing's height in user units (it grows with the instances).
    pub height: i32,
    /// The publisher's centre.
    pub publisher: Point,
    /// Redis's centre.
    pub redis: Point,
    /// Each instance's centre, in the page's order.
    pub instances: Vec<Point>,
    /// Each panel's centre, beside its instance.
    pub panels: Vec<Point>,
}

/// Four columns; the instances and their panels one row each, the
/// publisher and Redis at mid height so every fan-out edge is as long.
pub fn layout(instances: usize) -> Layout {
    let count = instances.min(MOST_ROWS);
    let rows = count.max(1) as i32;
    let height = 2 * MARGIN + (rows - 1) * ROW;
    let middle = height / 2;
    let row = |column: usize, i: usize| Point {
        x: COLUMNS[column],
        y: MARGIN + i as i32 * ROW,
    };
    Layout {
        height,
        publisher: Point {
            x: COLUMNS[0],
            y: middle,
        },
        redis: Point {
            x: COLUMNS[1],
            y: middle,
        },
        instances: (0..count).map(|i| row(2, i)).collect(),
        panels: (0..count).map(|i| row(3, i)).collect(),
    }
}

/// An SVG path through node centres `stops`, leaving each box on its right
/// side and entering the next on its left, in S-curves; across a middle
/// node it runs straight, so one dot can travel the whole route.
pub fn route(stops: &[Point]) -> String {
    let mut d = String::new();
    for (i, pair) in stops.windows(2).enumerate() {
        let from = Point {
            x: pair[0].x + HALF.x,
            y: pair[0].y,
        };
        let to = Point {
            x: pair[1].x - HALF.x,
            y: pair[1].y,
        };
        let bend = (from.x + to.x) / 2;
        let start = if i == 0 { "M" } else { " L" };
        d.push_str(&format!(
            "{start}{} {} C{bend} {} {bend} {} {} {}",
            from.x, from.y, from.y, to.y, to.x, to.y
        ));
    }
    d
}

/// Where the label of the edge from `a` to `b` goes: above the curve's
/// middle (which, by symmetry, is the middle of its ends).
pub fn label(a: Point, b: Point) -> Point {
    Point {
        x: (a.x + b.x) / 2,
        y: (a.y + b.y) / 2 - 12,
    }
}

/// A hop time as written on its edge and in `data-ms`: one decimal. The
/// PUBLISH is timed on Redis's clock against the page's, which can differ
/// by a millisecond; a hop is never shown as negative.
pub fn hop_ms(ms: f64) -> String {
    one_decimal(ms.max(0.0))
}

/// One travelling dot: which broadcast and hop it shows, and its route.
#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    /// The broadcast's seq and the panel it reached (`None`: the PUBLISH),
    /// so a dot starts once and a new broadcast starts new ones.
    pub key: (u64, Option<String>),
    /// The SVG path it travels.
    pub route: String,
}

/// The dots for broadcast `sent`: one into Redis, and one out to each
/// panel (of `names`, laid out by `layout`) that received it.
pub fn dots(sent: &Sent, names: &[String], layout: &Layout) -> Vec<Dot> {
    let publish = Dot {
        key: (sent.seq, None),
        route: route(&[layout.publisher, layout.redis]),
    };
    let deliveries = names
        .iter()
        .zip(layout.instances.iter().zip(&layout.panels))
        .filter(|(name, _)| sent.latencies.contains_key(name))
        .map(|(name, (&instance, &panel))| Dot {
            key: (sent.seq, Some(name.clone())),
            route: route(&[layout.redis, instance, panel]),
        });
    std::iter::once(publish).chain(deliveries).collect()
}

/// Redis as the last status says: `up`, `down` or `unknown`.
pub fn redis_key(status: Option<&Result<Status, String>>) -> &'static str {
    match status {
        Some(Ok(s)) if s.redis.reachable => "up",
        Some(Ok(_)) => "down",
        _ => "unknown",
    }
}

/// An instance's `/health` as the last status says: `healthy`,
/// `unhealthy` (it answered otherwise), `down` (no answer) or `unknown`.
pub fn health_key(status: Option<&Result<Status, String>>, name: &str) -> &'static str {
    let Some(Ok(status)) = status else {
        return "unknown";
    };
    match status.instances.iter().find(|h| h.name == name) {
        None => "unknown",
        Some(h) => match h.status.as_deref() {
            Some("Healthy") => "healthy",
            Some(_) => "unhealthy",
            None => "down",
        },
    }
}

/// The id of the test broadcast a feed line publishes, if it publishes
/// one; the canary's are its own business.
pub fn published_broadcast(line: &FeedLine) -> Option<String> {
    let Some(Payload::Invocation {
        arguments: Some(arguments),
        ..
    }) = line.summary.as_ref()?.payload.as_ref()
    else {
        return None;
    };
    let broadcast = TestBroadcast::from_arguments(arguments.as_array()?)?;
    (!broadcast.is_canary()).then_some(broadcast.id)
}

/// Tells the ledger when the feed saw one of the page's broadcasts go into
/// Redis: the topology's first hop. Called by the feed for every line.
pub fn note_publish(dash: &Dashboard, line: &FeedLine) {
    if let Some(id) = published_broadcast(line) {
        // The line's time is Unix; the ledger's clock is the page's.
        let at = now_ms() - (wall_ms() - line.time_micros as f64 / 1000.0);
        dash.ledger.try_update(|l| l.published(&id, at));
    }
}

/// A panel's connection status key, `connecting` until it is mounted (the
/// clock's tick looks again).
fn panel_key(dash: Dashboard, name: &str) -> &'static str {
    let status = dash.panels.with_value(|panels| {
        panels
            .iter()
            .find(|p| p.instance.name == name)
            .map(|p| p.state.status)
    });
    match status {
        Some(status) => status.with(ConnectionStatus::key),
        None => {
            dash.now.track();
            "connecting"
        }
    }
}

/// The topology section.
#[component]
pub fn Topology() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let limit = dash.config.with_value(|c| c.thresholds.pass_within_ms) as f64;
    let names = Memo::new(move |_| {
        dash.instances
            .with(|list| list.iter().map(|i| i.name.clone()).collect::<Vec<_>>())
    });
    let shape = Memo::new(move |_| layout(names.with(Vec::len)));
    let latest = Memo::new(move |_| dash.ledger.with(|l| l.broadcasts().last().cloned()));
    let publisher = Signal::derive(move || {
        latest.with(|s| {
            s.as_ref()
                .map_or(COMPANION_ORIGIN.to_owned(), |s| s.origin.clone())
        })
    });
    let redis = Signal::derive(move || dash.status.with(|s| redis_key(s.as_ref())));
    let moving = move || {
        let (layout, names) = (shape.get(), names.get());
        latest
            .with(|s| s.as_ref().map(|s| dots(s, &names, &layout)))
            .unwrap_or_default()
    };
    let hop = move |at: Point, name: Option<String>| {
        let key = name.clone().unwrap_or_else(|| "publish".into());
        let ms = Signal::derive(move || {
            latest.with(|s| {
                let s = s.as_ref()?;
                match &name {
                    None => s.publish_ms,
                    Some(n) => s.latencies.get(n).copied(),
                }
            })
        });
        // One closure redraws the whole label: lighter in the .wasm than
        // one per attribute.
        move || {
            let ms = ms.get();
            let class = match ms {
                Some(m) if m > limit => "hop late",
                Some(_) => "hop",
                None => "hop none",
            };
            let text = ms.map_or("—".into(), |m| format!("{} ms", hop_ms(m)));
            view! {
                <text class=class x=at.x y=at.y data-hop=key.clone() data-ms=ms.map(hop_ms)>
                    {text}
                </text>
            }
        }
    };
    // Edges first, dots over them, boxes over both: a dot slips under a
    // box on its way through.
    let graph = move || {
        let layout = shape.get();
        let names = names.get();
        let edges = names
            .iter()
            .zip(layout.instances.iter().zip(&layout.panels))
            .map(|(name, (&instance, &panel))| {
                view! {
                    <path class="edge" d=route(&[layout.redis, instance])/>
                    <path class="edge" d=route(&[instance, panel])/>
                    {hop(label(instance, panel), Some(name.clone()))}
                }
            })
            .collect_view();
        let boxes = names
            .into_iter()
            .zip(layout.instances.iter().zip(&layout.panels))
            .map(|(name, (&instance, &panel))| {
                let (for_health, for_panel) = (name.clone(), name.clone());
                let health = Signal::derive(move || {
                    dash.status.with(|s| health_key(s.as_ref(), &for_health))
                });
                let connection = Signal::derive(move || panel_key(dash, &for_panel));
                let panel_id = format!("panel:{name}");
                view! {
                    {node(instance, "instance", name.clone(), Signal::stored(name), health)}
                    {node(panel, "panel", panel_id, Signal::stored("panel".into()), connection)}
                }
            })
            .collect_view();
        view! {
            <path class="edge" d=route(&[layout.publisher, layout.redis])/>
            {hop(label(layout.publisher, layout.redis), None)}
            {edges}
            <For
                each=moving
                key=|dot| dot.key.clone()
                children=|dot| {
                    let class = if dot.key.1.is_some() { "hop-dot delivery" } else { "hop-dot publish" };
                    view! { <circle class=class r="11" style=format!("offset-path: path('{}')", dot.route)/> }
                }
            />
            {node(layout.publisher, "publisher", "publisher".into(), publisher, Signal::stored("publisher"))}
            {node(layout.redis, "redis", "redis".into(), Signal::stored("Redis".into()), redis)}
            {boxes}
        }
    };
    view! {
        <section
            class="topology"
            aria-labelledby="topology-title"
            data-seq=move || latest.with(|s| s.as_ref().map(|s| s.seq))
        >
            <h2 id="topology-title">"Topology"</h2>
            <svg
                class="topology-graph"
                viewBox=move || format!("0 0 {WIDTH} {}", shape.with(|l| l.height))
                role="img"
                aria-label="The publisher, Redis, each instance and its panel; each hop's time on its edge"
            >
                {graph}
            </svg>
        </section>
    }
}

/// One node: its box at `at`, its title, and its status under it. The
/// status colours it (`is-<status>`) and is its `data-status`. One
/// function for every kind of node, redrawn whole by one closure, keeps
/// the .wasm to one copy.
fn node(
    at: Point,
    kind: &'static str,
    id: String,
    title: Signal<String>,
    status: Signal<&'static str>,
) -> impl IntoView {
    move || {
        let status = status.get();
        view! {
            <g class=format!("node {kind} is-{status}") data-node=id.clone() data-status=status>
                <rect x=at.x - HALF.x y=at.y - HALF.y width=2 * HALF.x height=2 * HALF.y rx="12"/>
                <text class="name" x=at.x y=at.y - 4>{title.get()}</text>
                <text class="sub" x=at.x y=at.y + 24>{status}</text>
            </g>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::api::{FeedSource, InstanceHealth, RedisStatus, TriggerMode};
    use protocol::backplane::summary::Summary;
    use protocol::backplane::ChannelKind;

    fn sent(latencies: &[(&str, f64)]) -> Sent {
        Sent {
            id: "x".into(),
            seq: 4,
            mode: TriggerMode::Redis,
            origin: "companion".into(),
            clicked_at_ms: 0.0,
            expected: vec![],
            latencies: latencies.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
            publish_ms: None,
        }
    }

    /// Instances stack one row each; publisher and Redis sit at mid height.
    #[test]
    fn rows_stack_and_the_hub_is_centred() {
        let l = layout(3);
        assert_eq!(l.height, 2 * MARGIN + 2 * ROW);
        let ys: Vec<_> = l.instances.iter().map(|p| p.y).collect();
        assert_eq!(ys, [MARGIN, MARGIN + ROW, MARGIN + 2 * ROW]);
        assert_eq!(l.redis.y, l.instances[1].y);
        assert_eq!(l.publisher.y, l.redis.y);
        assert!(l
            .panels
            .iter()
            .zip(&l.instances)
            .all(|(p, i)| p.y == i.y && p.x > i.x));
        assert_eq!(layout(0).instances.len(), 0);
        assert_eq!(layout(0).height, 2 * MARGIN);
    }

    /// A route leaves each box on its right, enters the next on its left,
    /// and runs straight across a middle node.
    #[test]
    fn routes_join_box_sides() {
        let a = Point { x: 100, y: 50 };
        let b = Point { x: 400, y: 150 };
        let c = Point { x: 700, y: 150 };
        assert_eq!(route(&[a, b]), "M175 50 C250 50 250 150 325 150");
        assert_eq!(
            route(&[a, b, c]),
            "M175 50 C250 50 250 150 325 150 L475 150 C550 150 550 150 625 150"
        );
        assert_eq!(route(&[a]), "");
        assert_eq!(label(a, b), Point { x: 250, y: 88 });
    }

    /// A dot goes into Redis, and one out to each panel that received the
    /// broadcast; panels that did not get it get none.
    #[test]
    fn dots_follow_the_arrivals() {
        let names = vec!["api-1".to_owned(), "api-2".to_owned()];
        let l = layout(2);
        let d = dots(&sent(&[("api-2", 3.0), ("gone", 1.0)]), &names, &l);
        let keys: Vec<_> = d.iter().map(|d| d.key.clone()).collect();
        assert_eq!(keys, [(4, None), (4, Some("api-2".to_owned()))]);
        assert_eq!(d[1].route, route(&[l.redis, l.instances[1], l.panels[1]]));
    }

    /// Hop times keep one decimal and never go below zero.
    #[test]
    fn hop_times_read_plainly() {
        assert_eq!(hop_ms(12.34), "12.3");
        assert_eq!(hop_ms(-0.4), "0.0");
    }

    fn status(reachable: bool, health: Option<&str>) -> Status {
        Status {
            redis: RedisStatus {
                reachable,
                ..Default::default()
            },
            instances: vec![InstanceHealth {
                name: "api-1".into(),
                url: String::new(),
                status: health.map(str::to_owned),
                http_status: None,
                duration_ms: None,
                checks: serde_json::Value::Null,
                error: None,
            }],
        }
    }

    /// Redis and each instance are drawn from the last status; without one
    /// they are unknown, not up.
    #[test]
    fn states_come_from_the_last_status() {
        let up = Ok(status(true, Some("Healthy")));
        let down = Ok(status(false, None));
        let sick = Ok(status(true, Some("Degraded")));
        assert_eq!(redis_key(Some(&up)), "up");
        assert_eq!(redis_key(Some(&down)), "down");
        assert_eq!(redis_key(None), "unknown");
        assert_eq!(redis_key(Some(&Err("refused".into()))), "unknown");
        assert_eq!(health_key(Some(&up), "api-1"), "healthy");
        assert_eq!(health_key(Some(&sick), "api-1"), "unhealthy");
        assert_eq!(health_key(Some(&down), "api-1"), "down");
        assert_eq!(health_key(Some(&up), "api-9"), "unknown");
    }

    fn line(arguments: serde_json::Value) -> FeedLine {
        FeedLine {
            time_micros: 0,
            source: FeedSource::Monitor,
            publisher_addr: None,
            publisher_name: None,
            node: None,
            command: "PUBLISH".into(),
            channel: None,
            summary: Some(Summary {
                hub: "H".into(),
                channel: ChannelKind::Group("navigation-updates".into()),
                payload: Some(Payload::Invocation {
                    target: Some("NavigationStateUpdate".into()),
                    arguments: Some(arguments),
                    invocation_id: None,
                    excluded_connection_ids: vec![],
                    protocols: vec!["json".into()],
                    return_channel: None,
                }),
            }),
            raw: String::new(),
            truncated: false,
        }
    }

    /// A published test broadcast is recognised by its id; the canary's,
    /// other payloads and lines without an envelope are not.
    #[test]
    fn recognises_published_broadcasts() {
        let ours = TestBroadcast::new("b-1", 1, 0, "companion");
        let canary = TestBroadcast::new("c-1", 1, 0, "canary-a");
        assert_eq!(
            published_broadcast(&line(serde_json::json!([ours.to_argument()]))),
            Some("b-1".into())
        );
        assert_eq!(
            published_broadcast(&line(serde_json::json!([canary.to_argument()]))),
            None
        );
        assert_eq!(
            published_broadcast(&line(serde_json::json!({"not": "a list"}))),
            None
        );
        let mut bare = line(serde_json::json!([]));
        bare.summary = None;
        assert_eq!(published_broadcast(&bare), None);
    }
}
