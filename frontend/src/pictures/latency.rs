//! Latency over time: per instance, click → arrival of this page's test
//! broadcasts over the last five minutes, with the verdict threshold drawn
//! across, so a room sees at a glance who is slow and since when.

use leptos::prelude::*;

use crate::clock::one_decimal;
use crate::dashboard::Dashboard;
use crate::verdicts::ledger::Sent;

/// How far back the chart looks.
pub const WINDOW_MS: f64 = 5.0 * 60_000.0;
/// Arrivals are grouped in buckets this wide, each drawn at its slowest:
/// the chart stays a few dozen points however fast someone clicks, and a
/// verdict is decided by the slowest panel.
pub const BUCKET_MS: f64 = 5_000.0;
/// Drawing size in user units; the SVG scales to its box.
const SIZE: (i32, i32) = (1000, 420);
/// The plot area: left, top, right, bottom (room for the axes' labels).
const PLOT: [i32; 4] = [90, 24, 975, 370];
/// Most series colours (`series-0` …); more instances reuse them.
const COLOURS: usize = 6;

/// The slowest arrival at `name` per bucket of the last [`WINDOW_MS`] up to
/// `now_ms`: (the bucket's middle on the page's clock, latency), oldest first.
pub fn series(sent: &[Sent], name: &str, now_ms: f64) -> Vec<(f64, f64)> {
    let since = now_ms - WINDOW_MS;
    // A sorted Vec, not a BTreeMap: a few dozen buckets, and one map type
    // fewer in the .wasm (issue 12).
    let mut buckets: Vec<(i64, f64)> = Vec::new();
    let recent = sent
        .iter()
        .filter(|s| (since..=now_ms).contains(&s.clicked_at_ms));
    for s in recent {
        if let Some(&ms) = s.latencies.get(name) {
            let bucket = (s.clicked_at_ms / BUCKET_MS).floor() as i64;
            match buckets.binary_search_by_key(&bucket, |&(b, _)| b) {
                Ok(i) => buckets[i].1 = buckets[i].1.max(ms),
                Err(i) => buckets.insert(i, (bucket, ms)),
            }
        }
    }
    buckets
        .into_iter()
        .map(|(b, ms)| ((b as f64 + 0.5) * BUCKET_MS, ms))
        .collect()
}

/// The y axis: 0 to `top` in ticks `step` apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// The axis' top, ms.
    pub top: f64,
    /// Distance between ticks, ms: 1, 2 or 5 times a power of ten.
    pub step: f64,
}

impl Scale {
    /// Room for the `slowest` latency and the `threshold` line, with some
    /// headroom, in at most five round steps.
    pub fn fit(slowest: f64, threshold: f64) -> Self {
        // Bounded, so a wild value cannot make the search below endless.
        let want = (slowest * 1.1).max(threshold * 1.25).clamp(1.0, 1e12);
        let mut power = 1.0;
        loop {
            for m in [1.0, 2.0, 5.0] {
                let step = m * power;
                if step * 5.0 >= want {
                    return Self {
                        top: (want / step).ceil() * step,
                        step,
                    };
                }
            }
            power *= 10.0;
        }
    }

    /// The tick values, from 0 to the top.
    pub fn ticks(&self) -> Vec<f64> {
        let count = (self.top / self.step).round() as usize;
        (0..=count).map(|i| i as f64 * self.step).collect()
    }

    /// The y of `ms`, clamped into the plot.
    pub fn y(&self, ms: f64) -> i32 {
        let (top, bottom) = (PLOT[1], PLOT[3]);
        let share = (ms / self.top).clamp(0.0, 1.0);
        bottom - (share * f64::from(bottom - top)).round() as i32
    }
}

/// The x of page-clock time `t`, with `now_ms` at the right edge.
pub fn x(t: f64, now_ms: f64) -> i32 {
    let (left, right) = (PLOT[0], PLOT[2]);
    let share = ((t - (now_ms - WINDOW_MS)) / WINDOW_MS).clamp(0.0, 1.0);
    left + (share * f64::from(right - left)).round() as i32
}

/// A polyline's `points`; a lone point is given twice so its round caps
/// draw it as a dot.
pub fn points(line: &[(f64, f64)], scale: Scale, now_ms: f64) -> String {
    let mut xy: Vec<String> = line
        .iter()
        .map(|&(t, ms)| format!("{},{}", x(t, now_ms), scale.y(ms)))
        .collect();
    if xy.len() == 1 {
        xy.push(xy[0].clone());
    }
    xy.join(" ")
}

/// The chart section.
#[component]
pub fn LatencyChart() -> impl IntoView {
    let dash = expect_context::<Dashboard>();
    let threshold = dash.config.with_value(|c| c.thresholds.pass_within_ms);
    let names = Memo::new(move |_| {
        dash.instances
            .with(|list| list.iter().map(|i| i.name.clone()).collect::<Vec<_>>())
    });
    let lines = Memo::new(move |_| {
        let now = dash.now.get();
        names.with(|names| {
            dash.ledger.with(|l| {
                names
                    .iter()
                    .map(|n| series(l.broadcasts(), n, now))
                    .collect::<Vec<_>>()
            })
        })
    });
    let scale = Memo::new(move |_| {
        let slowest = lines.with(|ls| ls.iter().flatten().map(|p| p.1).fold(0.0, f64::max));
        Scale::fit(slowest, threshold as f64)
    });
    let grid = move || {
        let s = scale.get();
        s.ticks()
            .into_iter()
            .map(|t| {
                let y = s.y(t);
                view! {
                    <line class="grid" x1=PLOT[0] x2=PLOT[2] y1=y y2=y/>
                    <text class="tick y" x=PLOT[0] - 12 y=y + 7>{t as i64}</text>
                }
            })
            .collect_view()
    };
    // Minutes ago along the bottom; they stand still while the data moves.
    let minutes = (0..=5)
        .map(|m| {
            let at = PLOT[0] + (PLOT[2] - PLOT[0]) * (5 - m) / 5;
            let words = if m == 0 {
                "now".to_owned()
            } else {
                format!("−{m} min")
            };
            view! { <text class="tick x" x=at y=PLOT[3] + 36>{words}</text> }
        })
        .collect_view();
    let threshold_y = move || scale.get().y(threshold as f64);
    // Each line and legend entry is redrawn whole by one closure: lighter
    // in the .wasm than one closure per attribute.
    let series_views = move || {
        names
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                move || {
                    let line = lines.with(|ls| ls.get(i).cloned().unwrap_or_default());
                    // A line moves left with the clock; an empty one stands
                    // still, so it is not redrawn every second.
                    let now = match line.is_empty() {
                        true => dash.now.get_untracked(),
                        false => dash.now.get(),
                    };
                    view! {
                        <polyline
                            class=format!("series series-{}", i % COLOURS)
                            data-series=name.clone()
                            data-points=line.len()
                            points=points(&line, scale.get(), now)
                        />
                    }
                }
            })
            .collect_view()
    };
    let legend = move || {
        names
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let last = move || {
                    let ms =
                        lines.with(|ls| ls.get(i).and_then(|l| l.last()).map(|p| one_decimal(p.1)));
                    let words = ms
                        .as_ref()
                        .map_or("no arrivals".into(), |ms| format!("{ms} ms"));
                    view! { <span class="last" data-last-ms=ms>{words}</span> }
                };
                view! {
                    <li class=format!("series-{}", i % COLOURS) data-legend=name.clone()>
                        <span class="swatch" aria-hidden="true"></span>
                        {name.clone()}
                        {last}
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <section class="latency" aria-labelledby="latency-title">
            <h2 id="latency-title">"Latency, last 5 minutes"</h2>
            <svg
                class="latency-chart"
                viewBox=format!("0 0 {} {}", SIZE.0, SIZE.1)
                role="img"
                aria-label=format!("Click to arrival per instance, with the {threshold} ms threshold")
            >
                {grid}
                {minutes}
                <line class="threshold" x1=PLOT[0] x2=PLOT[2] y1=threshold_y y2=threshold_y data-threshold-ms=threshold/>
                <text class="threshold-label" x=PLOT[2] y=move || threshold_y() - 8>{threshold} " ms"</text>
                {series_views}
            </svg>
            <ul class="legend">{legend}</ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::api::TriggerMode;

    fn sent(clicked_at_ms: f64, latencies: &[(&str, f64)]) -> Sent {
        Sent {
            id: clicked_at_ms.to_string(),
            seq: 1,
            mode: TriggerMode::Redis,
            origin: "companion".into(),
            clicked_at_ms,
            expected: vec![],
            latencies: latencies.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
            publish_ms: None,
        }
    }

    /// Arrivals in one bucket are drawn at the slowest; older than the
    /// window, or another panel's, they are left out.
    #[test]
    fn buckets_keep_the_slowest_of_the_window() {
        let now = 1_000_000.0;
        let sent = [
            sent(now - WINDOW_MS - 1.0, &[("a", 99.0)]),
            sent(now - 9_000.0, &[("a", 7.0)]),
            sent(now - 8_000.0, &[("a", 12.0), ("b", 1.0)]),
            sent(now - 1_000.0, &[("a", 3.0)]),
            sent(now - 500.0, &[("b", 2.0)]),
        ];
        let a = series(&sent, "a", now);
        assert_eq!(a.iter().map(|p| p.1).collect::<Vec<_>>(), [12.0, 3.0]);
        assert_eq!(a[0].0, 992_500.0);
        assert_eq!(series(&sent, "c", now), []);
    }

    /// The axis leaves room above the slowest and the threshold, in round
    /// steps; nothing at all still makes a usable axis.
    #[test]
    fn the_axis_is_round_and_roomy() {
        assert_eq!(
            Scale::fit(12.0, 50.0),
            Scale {
                top: 80.0,
                step: 20.0
            }
        );
        assert_eq!(
            Scale::fit(480.0, 50.0),
            Scale {
                top: 600.0,
                step: 200.0
            }
        );
        assert_eq!(
            Scale::fit(0.0, 0.0),
            Scale {
                top: 1.0,
                step: 1.0
            }
        );
        assert_eq!(Scale::fit(f64::NAN, 50.0).top, 80.0);
        assert_eq!(
            Scale::fit(70.0, 50.0).ticks(),
            [0.0, 20.0, 40.0, 60.0, 80.0]
        );
    }

    /// Times map left to right over the window, latencies bottom to top,
    /// both clamped into the plot.
    #[test]
    fn points_land_in_the_plot() {
        let s = Scale {
            top: 100.0,
            step: 20.0,
        };
        assert_eq!(
            (s.y(0.0), s.y(100.0), s.y(1e9)),
            (PLOT[3], PLOT[1], PLOT[1])
        );
        assert_eq!(s.y(50.0), (PLOT[1] + PLOT[3]) / 2);
        let now = WINDOW_MS * 2.0;
        assert_eq!(
            (x(now, now), x(WINDOW_MS, now), x(0.0, now)),
            (PLOT[2], PLOT[0], PLOT[0])
        );
        let lone = points(&[(now, 50.0)], s, now);
        assert_eq!(lone, format!("{0},197 {0},197", PLOT[2]));
        assert_eq!(points(&[], s, now), "");
    }
}
