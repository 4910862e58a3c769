//! The topology view: the publisher (the companion, or the instance that
//! sent it) → Redis → each instance → its panel, as a graph; with several
//! hubs an instance has a panel per hub it serves, each with its own edge.
//! On every test broadcast a dot travels the edges (a hub's broadcast only
//! to its hub's panels), and each hop's time is written on its edge: the
//! PUBLISH as the feed saw it, then the arrival at each panel, both from
//! the click. Redis is drawn up or down, each instance by its
//! health and each panel by its connection, so a killed instance greys out
//! and comes back.

use leptos::prelude::*;
use protocol::api::{FeedLine, Hub, Instance, Status};
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
/// Vertical pitch of the rows: one per panel (an instance without a
/// panel still takes one).
const ROW: i32 = 120;
/// Room above the first row and below the last, for hop labels.
const MARGIN: i32 = 70;
/// More rows than a screen could show are not laid out (and the
/// arithmetic stays far from overflow).
const MOST_ROWS: usize = 1_000;

/// Where every node sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The drawing's height in user units (it grows with the panels).
    pub height: i32,
    /// The publisher's centre.
    pub publisher: Point,
    /// Redis's centre.
    pub redis: Point,
    /// Each instance's centre, in the page's order, level with the middle
    /// of its panels.
    pub instances: Vec<Point>,
    /// Each instance's panels' centres, one row each, in hub order.
    pub panels: Vec<Vec<Point>>,
}

/// Four columns; one row per panel, each instance beside the middle of its
/// panels (`panels[i]` of them: with one hub, one row per instance), the
/// publisher and Redis at mid height so every fan-out edge is as long.
pub fn layout(panels: &[usize]) -> Layout {
    let at = |column: usize, row: i32| Point {
        x: COLUMNS[column],
        y: MARGIN + row * ROW,
    };
    let (mut instances, mut beside) = (Vec::new(), Vec::new());
    let mut rows = 0;
    for &count in panels {
        if rows >= MOST_ROWS {
            break;
        }
        let count = count.min(MOST_ROWS);
        let first = rows as i32;
        // Half a pitch per extra panel keeps the instance centred on them.
        instances.push(Point {
            x: COLUMNS[2],
            y: MARGIN + first * ROW + (count.max(1) as i32 - 1) * ROW / 2,
        });
        beside.push((0..count as i32).map(|k| at(3, first + k)).collect());
        rows += count.max(1);
    }
    let height = 2 * MARGIN + (rows.max(1) as i32 - 1) * ROW;
    let middle = height / 2;
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
        instances,
        panels: beside,
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
/// middle (which, by symmetry, is the middle of its ends), or below it
/// when the edge runs downwards, so the edges fanning out of an instance
/// to its hubs' panels keep their times apart.
pub fn label(a: Point, b: Point) -> Point {
    let middle = (a.y + b.y) / 2;
    Point {
        x: (a.x + b.x) / 2,
        // A text's y is its baseline: below needs its height too.
        y: if b.y > a.y { middle + 30 } else { middle - 12 },
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

/// An instance as the topology draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drawn {
    /// The instance's name: its node's `data-node`, its health's key.
    pub instance: String,
    /// Its panels in hub order: each one's name as the ledger counts it
    /// (its hop's `data-hop`), and its node's title.
    pub panels: Vec<(String, String)>,
}

/// What the topology draws for `instances` serving `hubs`: a panel per hub
/// each instance serves, named by `panel_name(instance, hub)`. With one
/// hub a panel is titled "panel", as before hubs; with several, by its hub.
pub fn drawn(
    instances: &[Instance],
    hubs: &[Hub],
    panel_name: impl Fn(&str, &str) -> String,
) -> Vec<Drawn> {
    let several = hubs.len() > 1;
    instances
        .iter()
        .map(|i| Drawn {
            instance: i.name.clone(),
            panels: hubs
                .iter()
                .filter(|h| i.serves(&h.name))
                .map(|h| {
                    let title = if several { h.name.as_str() } else { "panel" };
                    (panel_name(&i.name, &h.name), title.to_owned())
                })
                .collect(),
        })
        .collect()
}

/// The dots for broadcast `sent`: one into Redis, and one out to each
/// panel (of `drawn`, laid out by `layout`) that received it, so a hub's
/// broadcast travels only to its hub's panels.
pub fn dots(sent: &Sent, drawn: &[Drawn], layout: &Layout) -> Vec<Dot> {
    let publish = Dot {
        key: (sent.seq, None),
        route: route(&[layout.publisher, layout.redis]),
    };
    let deliveries = drawn
        .iter()
        .zip(layout.instances.iter().zip(&layout.panels))
        .flat_map(|(d, (&instance, panels))| {
            d.panels
                .iter()
                .zip(panels)
                .filter(|((name, _), _)| sent.latencies.contains_key(name))
                .map(move |((name, _), &panel)| Dot {
                    key: (sent.seq, Some(name.clone())),
                    route: route(&[layout.redis, instance, panel]),
                })
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
        // Another sender's broadcast shows nowhere until the page claims it
        // (if ever): kept quietly, it redraws nothing that reads the ledger.
        let ours = dash.ledger.with_untracked(|l| l.find(&id).is_some());
        match ours {
            true => dash.ledger.try_update(|l| l.published(&id, at)),
            false => dash.ledger.try_update_untracked(|l| l.published(&id, at)),
        };
    }
}

/// A panel's connection status key, `connecting` until it is mounted (the
/// clock's tick looks again).
fn panel_key(dash: Dashboard, name: &str) -> &'static str {
    let status = dash.panels.with_value(|panels| {
        panels
            .iter()
            .find(|p| p.name == name)
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
    let hubs = dash.hubs();
    // Panel titles name their hub when there are several.
    let hub_kind = if hubs.len() > 1 { "panel hub" } else { "panel" };
    let shown = Memo::new(move |_| {
        dash.instances
            .with(|list| drawn(list, &hubs, |i, h| dash.panel_name(i, h)))
    });
    let shape = Memo::new(move |_| {
        shown.with(|d| layout(&d.iter().map(|d| d.panels.len()).collect::<Vec<_>>()))
    });
    let latest = Memo::new(move |_| dash.ledger.with(|l| l.broadcasts().last().cloned()));
    let publisher = Signal::derive(move || {
        latest.with(|s| {
            s.as_ref()
                .map_or(COMPANION_ORIGIN.to_owned(), |s| s.origin.clone())
        })
    });
    let redis = Signal::derive(move || dash.status.with(|s| redis_key(s.as_ref())));
    let moving = move || {
        let layout = shape.get();
        shown.with(|shown| {
            latest
                .with(|s| s.as_ref().map(|s| dots(s, shown, &layout)))
                .unwrap_or_default()
        })
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
    // box on its way through. Flat lists, one view type each: lighter in
    // the .wasm than a view per instance with its panels inside.
    let graph = move || {
        let layout = shape.get();
        let mut edges = vec![route(&[layout.publisher, layout.redis])];
        let mut hops = vec![hop(label(layout.publisher, layout.redis), None)];
        let mut boxes = vec![
            node(
                layout.publisher,
                "publisher",
                "publisher".into(),
                publisher,
                Signal::stored("publisher"),
            ),
            node(
                layout.redis,
                "redis",
                "redis".into(),
                Signal::stored("Redis".into()),
                redis,
            ),
        ];
        shown.with(|shown| {
            for (d, (&instance, panels)) in shown
                .iter()
                .zip(layout.instances.iter().zip(&layout.panels))
            {
                let name = d.instance.clone();
                let health =
                    Signal::derive(move || dash.status.with(|s| health_key(s.as_ref(), &name)));
                edges.push(route(&[layout.redis, instance]));
                boxes.push(node(
                    instance,
                    "instance",
                    d.instance.clone(),
                    Signal::stored(d.instance.clone()),
                    health,
                ));
                for ((name, title), &panel) in d.panels.iter().zip(panels) {
                    let for_panel = name.clone();
                    let connection = Signal::derive(move || panel_key(dash, &for_panel));
                    edges.push(route(&[instance, panel]));
                    hops.push(hop(label(instance, panel), Some(name.clone())));
                    boxes.push(node(
                        panel,
                        hub_kind,
                        format!("panel:{name}"),
                        Signal::stored(title.clone()),
                        connection,
                    ));
                }
            }
        });
        view! {
            {edges.into_iter().map(|d| view! { <path class="edge" d=d/> }).collect_view()}
            {hops.into_iter().collect_view()}
            <For
                each=moving
                key=|dot| dot.key.clone()
                children=|dot| {
                    let class = if dot.key.1.is_some() { "hop-dot delivery" } else { "hop-dot publish" };
                    view! { <circle class=class r="11" style=format!("offset-path: path('{}')", dot.route)/> }
                }
            />
            {boxes.into_iter().collect_view()}
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
                aria-label="The publisher, Redis, each instance and its panels; each hop's time on its edge"
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

    /// With one hub, instances stack one row each, each panel level with
    /// its instance, publisher and Redis at mid height: the layout from
    /// before hubs, to the unit.
    #[test]
    fn one_hub_rows_stack_and_the_hub_is_centred() {
        let l = layout(&[1, 1, 1]);
        assert_eq!(l.height, 2 * MARGIN + 2 * ROW);
        let ys: Vec<_> = l.instances.iter().map(|p| p.y).collect();
        assert_eq!(ys, [MARGIN, MARGIN + ROW, MARGIN + 2 * ROW]);
        assert_eq!(l.redis.y, l.instances[1].y);
        assert_eq!(l.publisher.y, l.redis.y);
        let beside = |i: &Point| {
            vec![Point {
                x: COLUMNS[3],
                y: i.y,
            }]
        };
        assert_eq!(l.panels, l.instances.iter().map(beside).collect::<Vec<_>>());
        assert_eq!(layout(&[]).instances.len(), 0);
        assert_eq!(layout(&[]).height, 2 * MARGIN);
    }

    /// With several hubs each panel takes a row and its instance sits
    /// level with the middle of its panels; an instance serving no hub
    /// still takes a row, with no panel.
    #[test]
    fn several_hubs_give_a_row_per_panel() {
        let l = layout(&[2, 1, 0]);
        assert_eq!(l.height, 2 * MARGIN + 3 * ROW);
        let ys = |ps: &[Point]| ps.iter().map(|p| p.y).collect::<Vec<_>>();
        assert_eq!(ys(&l.panels[0]), [MARGIN, MARGIN + ROW]);
        assert_eq!(ys(&l.panels[1]), [MARGIN + 2 * ROW]);
        assert!(l.panels[2].is_empty());
        assert_eq!(
            ys(&l.instances),
            [MARGIN + ROW / 2, MARGIN + 2 * ROW, MARGIN + 3 * ROW]
        );
        assert_eq!(l.redis.y, l.height / 2);
    }

    fn hub(name: &str) -> Hub {
        Hub {
            name: name.into(),
            ..protocol::hubs::navigation()
        }
    }

    /// A panel per hub the instance serves, named as the page names it;
    /// titled by its hub with several hubs, "panel" with one.
    #[test]
    fn drawn_names_a_panel_per_served_hub() {
        let mut admin = Instance::new("admin", "http://a");
        admin.hubs = vec!["b".into()];
        let instances = [Instance::new("api-1", "http://x"), admin];
        let name = |i: &str, h: &str| format!("{i}/{h}");
        let two = drawn(&instances, &[hub("a"), hub("b")], name);
        let panels: Vec<_> = two.iter().map(|d| d.panels.clone()).collect();
        let pair = |n: &str, t: &str| (n.to_owned(), t.to_owned());
        assert_eq!(
            panels,
            [
                vec![pair("api-1/a", "a"), pair("api-1/b", "b")],
                vec![pair("admin/b", "b")]
            ]
        );
        let one = drawn(&instances[..1], &[hub("a")], |i, _| i.to_owned());
        assert_eq!(one[0].panels, [pair("api-1", "panel")]);
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
    }

    /// A hop's label sits above a level or rising edge's middle and below
    /// a falling one's, so a fan's labels stay apart.
    #[test]
    fn labels_sit_beside_the_middle() {
        let a = Point { x: 100, y: 50 };
        let b = Point { x: 400, y: 150 };
        assert_eq!(label(a, b), Point { x: 250, y: 130 });
        assert_eq!(label(b, a), Point { x: 250, y: 88 });
        assert_eq!(label(b, Point { x: 700, y: 150 }), Point { x: 550, y: 138 });
    }

    /// A dot goes into Redis, and one out to each panel that received the
    /// broadcast; panels that did not get it (another hub's) get none.
    #[test]
    fn dots_follow_the_arrivals() {
        let shown = ["api-1", "api-2"].map(|i| Drawn {
            instance: i.into(),
            panels: ["nav", "note"]
                .map(|h| (format!("{i}/{h}"), h.to_owned()))
                .to_vec(),
        });
        let l = layout(&[2, 2]);
        let d = dots(&sent(&[("api-2/note", 3.0), ("gone", 1.0)]), &shown, &l);
        let keys: Vec<_> = d.iter().map(|d| d.key.clone()).collect();
        assert_eq!(keys, [(4, None), (4, Some("api-2/note".to_owned()))]);
        assert_eq!(
            d[1].route,
            route(&[l.redis, l.instances[1], l.panels[1][1]])
        );
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
