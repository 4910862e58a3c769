//! The HTML report of a load run (`signalscope load --report FILE.html`):
//! one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! so it can be mailed, archived and printed as it is.
//!
//! Every string from the summary is escaped, and every number that is not
//! finite is skipped (in charts) or shown as a dash (in tables), so even a
//! run that broke half-way renders.

use std::fmt::{self, Write};

use super::summary::{Event, InstanceSummary, LoadSummary, Percentiles, RedisSample, Tick};

/// Instance colours: the Okabe–Ito palette without its yellow (too pale on
/// white) plus Paul Tol's wine and green, told apart under the common
/// colour-vision deficiencies. Instance `i` takes `PALETTE[i % 8]` in every
/// table and chart, so a colour means the same instance throughout.
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#117733",
];
/// The overall line: near-black, and drawn thicker than any instance.
const OVERALL: &str = "#222222";
/// Secondary overall figures (the p50 next to the p99).
const MUTED: &str = "#8a8a8a";

/// The last tick of the percentile axis: 99.999 %, five nines. The
/// summary's curves stop there (before the max, which sits on it too).
const PERCENTILE_NINES: f64 = 5.0;
/// The percentile axis' tick labels, one per nine.
const PERCENTILE_LABELS: [&str; 6] = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"];

/// The SVG's user-space width; `width: 100%` scales it to the page.
const WIDTH: f64 = 960.0;
/// Left of the plot: y tick labels and the axis name.
const LEFT: f64 = 72.0;
/// Right of the plot: room for the last x tick label.
const RIGHT: f64 = 28.0;
/// Above the plot: keeps the top tick label inside the SVG.
const TOP: f64 = 14.0;
/// Below the plot: x tick labels and the axis name.
const BOTTOM: f64 = 44.0;
/// Width of one legend entry; entries wrap onto more rows past the plot.
const LEGEND_ITEM: f64 = 220.0;
/// Height of one legend row.
const LEGEND_ROW: f64 = 18.0;
/// Legend text beyond this many characters is cut: long instance names
/// (URLs) would run into the next entry.
const LEGEND_CHARS: usize = 30;
/// A bound on grid lines, whatever the data: the scale is never finer.
const MAX_TICKS: usize = 20;

/// The report of `summary` as one HTML document.
pub fn html(summary: &LoadSummary) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail: the result carries nothing.
    let _ = document(&mut out, summary);
    out
}

/// The page, top to bottom.
fn document(out: &mut String, s: &LoadSummary) -> fmt::Result {
    let run = dash_if_empty(&s.run_id);
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, r#"<html lang="en"><head><meta charset="utf-8">"#)?;
    writeln!(
        out,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
    )?;
    writeln!(out, "<title>signalscope load — {run}</title>")?;
    writeln!(out, "<style>{CSS}</style></head><body><main>")?;
    writeln!(out, "<h1>signalscope load — {run}</h1>")?;
    writeln!(
        out,
        r#"<p class="meta">Started {}</p>"#,
        dash_if_empty(&s.started_at)
    )?;
    writeln!(out, r#"<p class="meta">{}</p>"#, plan_line(s))?;
    banner(out, s)?;
    key_figures(out, s)?;
    instance_table(out, s)?;
    charts(out, s)?;
    agent_table(out, s)?;
    event_list(out, s)?;
    writeln!(out, "</main></body></html>")
}

/// The plan in one line.
fn plan_line(s: &LoadSummary) -> String {
    let p = &s.plan;
    let instances = match p.instances.len() {
        0 => "no instances".to_owned(),
        n => format!(
            "{n} instance{}: {}",
            if n == 1 { "" } else { "s" },
            p.instances
                .iter()
                .map(|i| esc(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let agents = match p.agents {
        0 => "in-process (no agents)".to_owned(),
        n => format!("{n} agent{}", if n == 1 { "" } else { "s" }),
    };
    format!(
        "{} connections · {} s · {} broadcasts/s (ramp {}/s) · sent via {} · {instances} · {agents}",
        fmt_count(p.connections),
        fmt_num(p.duration_s),
        fmt_num(p.rate),
        fmt_num(p.ramp_per_s),
        dash_if_empty(&p.send_via),
    )
}

/// VALID or INVALID, big, with the reasons: an invalid run measured the
/// generator, and nobody should quote its figures as the servers'.
fn banner(out: &mut String, s: &LoadSummary) -> fmt::Result {
    let v = &s.validity;
    if v.valid {
        writeln!(
            out,
            r#"<section class="banner valid"><strong>VALID</strong> — the generator kept up; the figures describe the servers."#
        )?;
    } else {
        writeln!(
            out,
            r#"<section class="banner invalid"><strong>INVALID</strong> — the generator was the bottleneck; figures describe the generator, not the servers."#
        )?;
    }
    if !v.reasons.is_empty() {
        writeln!(out, "<ul>")?;
        for reason in &v.reasons {
            writeln!(out, r#"<li class="reason">{}</li>"#, esc(reason))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</section>")
}

/// The key figures, one card per subject.
fn key_figures(out: &mut String, s: &LoadSummary) -> fmt::Result {
    let c = &s.connections;
    let b = &s.broadcasts;
    let d = &s.delivery;
    let l = &s.latency;
    let r = &s.redis;
    let g = &s.generator;
    writeln!(out, r#"<h2>Key figures</h2><div class="cards">"#)?;

    card_start(out, "Connections")?;
    row(out, "Target", &fmt_count(c.target), false)?;
    row(out, "Opened", &fmt_count(c.opened), c.opened < c.target)?;
    row(
        out,
        "Failed (first attempts)",
        &fmt_count(c.failed),
        c.failed > 0,
    )?;
    row(out, "Peak held", &fmt_count(c.peak_held), false)?;
    row(out, "Held at end", &fmt_count(c.held_at_end), false)?;
    row(
        out,
        "Connect p50 / p99 / max",
        &p50_p99_max(&c.connect_ms),
        false,
    )?;
    card_end(out)?;

    card_start(out, "Broadcasts")?;
    row(out, "Sent", &fmt_count(b.sent), false)?;
    row(out, "Failed", &fmt_count(b.failed), b.failed > 0)?;
    let rate = format!(
        "{} /s <span class=\"note\">of {} /s</span>",
        fmt_num(b.rate_achieved),
        fmt_num(s.plan.rate)
    );
    row(out, "Rate achieved", &rate, false)?;
    row(out, "Max behind schedule", &fmt_ms(b.max_behind_ms), false)?;
    card_end(out)?;

    card_start(out, "Delivery")?;
    row(out, "Received", &fmt_count(d.received), false)?;
    row(
        out,
        "Lost while connected",
        &fmt_count(d.lost_while_connected),
        d.lost_while_connected > 0,
    )?;
    let missed = format!(
        "{} <span class=\"note\">expected: SignalR does not replay</span>",
        fmt_count(d.missed_while_disconnected)
    );
    row(out, "Missed while disconnected", &missed, false)?;
    row(
        out,
        "Duplicates",
        &fmt_count(d.duplicates),
        d.duplicates > 0,
    )?;
    row(out, "Reordered", &fmt_count(d.reordered), d.reordered > 0)?;
    row(
        out,
        "Silent connections",
        &fmt_count(d.silent_connections),
        d.silent_connections > 0,
    )?;
    card_end(out)?;

    card_start(out, "Latency (corrected for coordinated omission)")?;
    let k = &l.corrected;
    row(out, "Arrivals measured", &fmt_count(k.count), false)?;
    row(out, "p50", &measured(k, k.p50), false)?;
    row(out, "p90", &measured(k, k.p90), false)?;
    let p99 = format!(
        "{} {}",
        measured(k, k.p99),
        verdict(k, s.plan.pass_within_ms)
    );
    row(out, "p99", &p99, false)?;
    row(out, "p99.9", &measured(k, k.p999), false)?;
    row(out, "max", &measured(k, k.max), false)?;
    let naive = format!(
        "{} / {}",
        measured(&l.uncorrected, l.uncorrected.p50),
        measured(&l.uncorrected, l.uncorrected.p99)
    );
    row(out, "Uncorrected p50 / p99", &naive, false)?;
    card_end(out)?;

    card_start(out, "Reconnects")?;
    row(out, "Reconnects", &fmt_count(c.reconnects), false)?;
    row(out, "p50 / p99 / max", &p50_p99_max(&c.reconnect_ms), false)?;
    row(out, "Gave up", &fmt_count(c.gave_up), c.gave_up > 0)?;
    card_end(out)?;

    card_start(out, "Failures by reason")?;
    if c.failures_by_reason.is_empty() {
        row(out, "None", "", false)?;
    }
    for (reason, count) in &c.failures_by_reason {
        row(out, &esc(reason), &fmt_count(*count), false)?;
    }
    card_end(out)?;

    card_start(out, "Redis")?;
    row(out, "Memory at start", &fmt_bytes(r.memory_start), false)?;
    row(out, "Memory at end", &fmt_bytes(r.memory_end), false)?;
    let drift = format!(
        "{} <span class=\"note\">({} %)</span>",
        fmt_signed_bytes(r.drift_bytes),
        fmt_num(r.drift_pct)
    );
    row(out, "Drift", &drift, false)?;
    row(
        out,
        "Largest subscriber output buffer",
        &fmt_bytes(r.max_subscriber_omem),
        false,
    )?;
    row(
        out,
        "Pub/sub buffer limit",
        &dash_if_empty(&r.pubsub_buffer_limit),
        false,
    )?;
    row(
        out,
        "Samples unanswered",
        &fmt_count(r.unreachable_samples),
        r.unreachable_samples > 0,
    )?;
    card_end(out)?;

    card_start(out, "Generator")?;
    row(out, "Cores", &fmt_count(g.cores), false)?;
    let cpu = format!(
        "{} % / {} % <span class=\"note\">of one core</span>",
        fmt_num(g.cpu_pct_mean),
        fmt_num(g.cpu_pct_max)
    );
    row(out, "CPU mean / max", &cpu, false)?;
    row(
        out,
        "CPU time",
        &format!("{} s", fmt_num(g.cpu_seconds)),
        false,
    )?;
    let lag = format!(
        "{} / {}",
        measured(&g.loop_lag_ms, g.loop_lag_ms.p99),
        measured(&g.loop_lag_ms, g.loop_lag_ms.max)
    );
    row(out, "Event-loop lag p99 / max", &lag, false)?;
    let nofile = format!(
        "{} / {}",
        fmt_count(g.nofile_soft),
        fmt_count(g.nofile_hard)
    );
    row(out, "Open files soft / hard", &nofile, false)?;
    row(out, "Ephemeral ports", &fmt_count(g.ephemeral_ports), false)?;
    for (target, wanted) in &g.connections_per_target {
        // More connections to one target than local ports: some cannot open.
        let short = g.ephemeral_ports > 0 && *wanted > g.ephemeral_ports;
        let label = format!("Connections to {}", esc(target));
        row(out, &label, &fmt_count(*wanted), short)?;
    }
    let rss = fmt_bytes(g.peak_rss_kib.saturating_mul(1024));
    row(out, "Peak resident memory", &rss, false)?;
    card_end(out)?;

    writeln!(out, "</div>")
}

/// Opens a key-figure card.
fn card_start(out: &mut String, title: &str) -> fmt::Result {
    writeln!(
        out,
        r#"<section class="card"><h3>{title}</h3><table class="kv"><tbody>"#
    )
}

/// Closes a key-figure card.
fn card_end(out: &mut String) -> fmt::Result {
    writeln!(out, "</tbody></table></section>")
}

/// One key-figure row; `bad` paints it red. `label` and `value` are HTML:
/// anything from the summary in them is escaped already.
fn row(out: &mut String, label: &str, value: &str, bad: bool) -> fmt::Result {
    let class = if bad { r#" class="bad""# } else { "" };
    writeln!(out, "<tr{class}><th>{label}</th><td>{value}</td></tr>")
}

/// `p50 / p99 / max` of a distribution.
fn p50_p99_max(p: &Percentiles) -> String {
    format!(
        "{} / {} / {}",
        measured(p, p.p50),
        measured(p, p.p99),
        measured(p, p.max)
    )
}

/// `ms`, one figure of `p`; a dash when `p` recorded nothing, where its
/// zeros mean "no data" rather than "instant".
fn measured(p: &Percentiles, ms: f64) -> String {
    if p.count == 0 {
        "–".to_owned()
    } else {
        fmt_ms(ms)
    }
}

/// PASS when the p99 is under the plan's threshold. Without arrivals or
/// without a threshold there is nothing to judge, and no mark.
fn verdict(latency: &Percentiles, within_ms: f64) -> String {
    if latency.count == 0 || !within_ms.is_finite() || within_ms <= 0.0 {
        return String::new();
    }
    if latency.p99 < within_ms {
        format!(
            r#"<span class="mark pass">PASS</span> <span class="note">&lt; {}</span>"#,
            fmt_ms(within_ms)
        )
    } else {
        format!(
            r#"<span class="mark fail">FAIL</span> <span class="note">≥ {}</span>"#,
            fmt_ms(within_ms)
        )
    }
}

/// One row per instance (instance × hub with several hubs), with the
/// colour its lines have in the charts; then, with several hubs, one row
/// per hub.
fn instance_table(out: &mut String, s: &LoadSummary) -> fmt::Result {
    share_table(out, "Instances", &s.instances, true)?;
    if s.hubs.len() > 1 {
        share_table(out, "Hubs", &s.hubs, false)?;
    }
    Ok(())
}

/// A table of shares under `title`; `swatches`: the rows are the charts' lines.
fn share_table(
    out: &mut String,
    title: &str,
    rows: &[InstanceSummary],
    swatches: bool,
) -> fmt::Result {
    writeln!(out, "<h2>{title}</h2>")?;
    let column = &title[..title.len() - 1];
    writeln!(
        out,
        r#"<table class="grid"><thead><tr><th>{column}</th><th class="num">Connections</th><th class="num">Received</th><th class="num">Lost while connected</th><th class="num">Missed while disconnected</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th></tr></thead><tbody>"#
    )?;
    if rows.is_empty() {
        writeln!(
            out,
            r#"<tr><td colspan="8" class="note">No {}.</td></tr>"#,
            title.to_lowercase()
        )?;
    }
    for (i, inst) in rows.iter().enumerate() {
        let d = &inst.delivery;
        let lost_class = if d.lost_while_connected > 0 {
            "num bad"
        } else {
            "num"
        };
        let swatch = if swatches {
            format!(
                r#"<span class="swatch" style="background:{}"></span>"#,
                colour(i)
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            r#"<tr><td>{swatch}{}</td><td class="num">{}</td><td class="num">{}</td><td class="{lost_class}">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            esc(&inst.name),
            fmt_count(inst.connections),
            fmt_count(d.received),
            fmt_count(d.lost_while_connected),
            fmt_count(d.missed_while_disconnected),
            measured(&inst.latency, inst.latency.p50),
            measured(&inst.latency, inst.latency.p99),
            measured(&inst.latency, inst.latency.max),
        )?;
    }
    writeln!(out, "</tbody></table>")
}

/// The charts, each with a caption saying how to read it.
fn charts(out: &mut String, s: &LoadSummary) -> fmt::Result {
    writeln!(out, "<h2>Charts</h2>")?;
    let pass = Some(s.plan.pass_within_ms);

    let mut percentiles = Chart::new(
        "percentiles",
        "Latency percentile curve per instance",
        "latency (ms)",
        XAxis::Percentile,
    );
    percentiles.threshold = pass;
    for (i, inst) in s.instances.iter().enumerate() {
        let points = percentile_points(&inst.curve);
        percentiles
            .series
            .push(Series::new(&inst.name, colour(i), "instance", points));
    }
    let overall = percentile_points(&s.latency.curve);
    percentiles
        .series
        .push(Series::new("overall", OVERALL, "overall", overall).width(3.0));
    figure(
        out,
        &percentiles,
        "Corrected publish → arrival latency at each percentile; each step right is one more nine. The dashed line is the pass threshold.",
    )?;

    let mut over_time = Chart::new(
        "latency-time",
        "Latency over time",
        "latency (ms)",
        XAxis::Seconds,
    );
    over_time.threshold = pass;
    over_time.events = &s.events;
    over_time.series.push(
        Series::new(
            "overall p50",
            MUTED,
            "overall-p50",
            tick_latency(s, |t| t.p50_ms),
        )
        .width(2.0)
        .dashed(),
    );
    let instances = s
        .timeline
        .iter()
        .map(|t| t.instance_p99_ms.len())
        .max()
        .unwrap_or(0);
    for i in 0..instances {
        let points = tick_latency(s, |t| t.instance_p99_ms.get(i).copied().unwrap_or(f64::NAN));
        let label = format!("{} p99", instance_name(s, i));
        over_time
            .series
            .push(Series::new(&label, colour(i), "instance-p99", points));
    }
    over_time.series.push(
        Series::new(
            "overall p99",
            OVERALL,
            "overall-p99",
            tick_latency(s, |t| t.p99_ms),
        )
        .width(3.0),
    );
    figure(
        out,
        &over_time,
        "Each second's corrected latency. Seconds in which nothing arrived are gaps, not zeros.",
    )?;

    let mut held = Chart::new(
        "connections",
        "Connections over time",
        "connections held",
        XAxis::Seconds,
    );
    held.events = &s.events;
    let points = s.timeline.iter().map(|t| (t.t_s, t.held as f64)).collect();
    held.series
        .push(Series::new("held", PALETTE[0], "held", points).width(2.0));
    figure(out, &held, "Connections open at each second.")?;

    let mut throughput = Chart::new(
        "throughput",
        "Broadcasts per second",
        "broadcasts / s",
        XAxis::Seconds,
    );
    throughput.events = &s.events;
    let sent = s.timeline.iter().map(|t| (t.t_s, t.sent as f64)).collect();
    // Arrivals divided by connections held land on the same scale as the
    // sends: the two lines coincide while every connection gets everything.
    let per_connection = s
        .timeline
        .iter()
        .map(|t| match t.held {
            0 => (t.t_s, f64::NAN),
            held => (t.t_s, t.received as f64 / held as f64),
        })
        .collect();
    throughput
        .series
        .push(Series::new("sent", OVERALL, "sent", sent).width(2.5));
    throughput.series.push(
        Series::new(
            "received per held connection",
            PALETTE[4],
            "received",
            per_connection,
        )
        .width(2.0)
        .dashed(),
    );
    figure(
        out,
        &throughput,
        "Broadcasts sent each second, and arrivals that second divided by the connections held: the lines part when connections miss broadcasts.",
    )?;

    let down: Vec<f64> = s
        .redis
        .samples
        .iter()
        .filter(|r| !r.up)
        .map(|r| r.t_s)
        .collect();
    let mut memory = Chart::new(
        "redis-memory",
        "Redis memory over time",
        "used memory (MiB)",
        XAxis::Seconds,
    );
    memory.events = &s.events;
    memory.down_at = down.clone();
    let points = redis_points(s, |r| r.used_memory as f64 / (1024.0 * 1024.0));
    memory
        .series
        .push(Series::new("used_memory", PALETTE[0], "memory", points).width(2.0));
    figure(
        out,
        &memory,
        "Redis used_memory, sampled once a second; red ticks on the time axis are samples Redis did not answer.",
    )?;

    let mut subscribers = Chart::new(
        "redis-subscribers",
        "Instances subscribed to the all-channel",
        "subscribers",
        XAxis::Seconds,
    );
    subscribers.height = 110.0;
    subscribers.events = &s.events;
    subscribers.down_at = down;
    let points = redis_points(s, |r| r.all_channel_subscribers as f64);
    subscribers.series.push(
        Series::new("all-channel subscribers", PALETTE[2], "subscribers", points)
            .width(2.0)
            .step(),
    );
    figure(
        out,
        &subscribers,
        "PUBSUB NUMSUB of the hub's all-channel: the instances listening to the backplane.",
    )?;

    if s.connections.reconnects > 0 {
        let mut reconnects = Chart::new(
            "reconnects",
            "Reconnect time distribution",
            "drop → reconnected (ms)",
            XAxis::Percentile,
        );
        let points = percentile_points(&s.connections.reconnect_curve);
        reconnects
            .series
            .push(Series::new("reconnect time", PALETTE[1], "reconnect", points).width(2.5));
        figure(
            out,
            &reconnects,
            "Time from a dropped connection to its handshake completing again; a reconnect storm shows as a long tail.",
        )?;
    }
    Ok(())
}

/// A chart under its heading, with a caption.
fn figure(out: &mut String, chart: &Chart<'_>, caption: &str) -> fmt::Result {
    writeln!(
        out,
        "<figure><h3>{}</h3>\n{}<figcaption>{caption}</figcaption></figure>",
        esc(chart.title),
        chart.svg()
    )
}

/// A `(quantile, ms)` curve on the percentile axis.
fn percentile_points(curve: &[(f64, f64)]) -> Vec<(f64, f64)> {
    curve.iter().map(|&(q, ms)| (percentile_x(q), ms)).collect()
}

/// One latency figure of every tick. A latency of exactly 0 means nothing
/// arrived that second (the histograms start at 1 µs): it becomes a gap
/// rather than a dive to zero during an outage.
fn tick_latency(s: &LoadSummary, value: impl Fn(&Tick) -> f64) -> Vec<(f64, f64)> {
    s.timeline
        .iter()
        .map(|t| {
            let ms = value(t);
            (t.t_s, if ms == 0.0 { f64::NAN } else { ms })
        })
        .collect()
}

/// One figure of every Redis sample; unanswered samples are gaps.
fn redis_points(s: &LoadSummary, value: impl Fn(&RedisSample) -> f64) -> Vec<(f64, f64)> {
    s.redis
        .samples
        .iter()
        .map(|r| (r.t_s, if r.up { value(r) } else { f64::NAN }))
        .collect()
}

/// Instance `i`'s name: from the summary, else the plan, else its number.
fn instance_name(s: &LoadSummary, i: usize) -> String {
    s.instances
        .get(i)
        .map(|inst| inst.name.clone())
        .or_else(|| s.plan.instances.get(i).cloned())
        .unwrap_or_else(|| format!("instance {}", i + 1))
}

/// Instance `i`'s colour.
fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// One row per agent; a stopped agent (it went silent) in red.
fn agent_table(out: &mut String, s: &LoadSummary) -> fmt::Result {
    if s.agents.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h2>Agents</h2>")?;
    writeln!(
        out,
        r#"<table class="grid narrow"><thead><tr><th class="num">Index</th><th class="num">Connections</th><th>State</th><th class="num">Received</th></tr></thead><tbody>"#
    )?;
    for a in &s.agents {
        let state = if a.state == "stopped" {
            r#" class="bad""#
        } else {
            ""
        };
        writeln!(
            out,
            r#"<tr><td class="num">{}</td><td class="num">{}</td><td{state}>{}</td><td class="num">{}</td></tr>"#,
            a.index,
            fmt_count(a.connections),
            esc(&a.state),
            fmt_count(a.received),
        )?;
    }
    writeln!(out, "</tbody></table>")
}

/// The events in time order.
fn event_list(out: &mut String, s: &LoadSummary) -> fmt::Result {
    writeln!(out, "<h2>Events</h2>")?;
    if s.events.is_empty() {
        return writeln!(out, r#"<p class="note">No events.</p>"#);
    }
    let mut events: Vec<&Event> = s.events.iter().collect();
    events.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    writeln!(out, r#"<ol class="events">"#)?;
    for e in events {
        writeln!(
            out,
            r#"<li><span class="t">{} s</span> <b>{}</b> {}</li>"#,
            fmt_num(e.t_s),
            esc(&e.kind),
            esc(&e.what)
        )?;
    }
    writeln!(out, "</ol>")
}

/// What the x axis shows.
#[derive(Debug, Clone, Copy)]
enum XAxis {
    /// Seconds since the start, from 0.
    Seconds,
    /// Percentiles on HdrHistogram's axis (see [`percentile_x`]).
    Percentile,
}

/// One line of a chart.
#[derive(Debug)]
struct Series {
    /// Legend text and hover title (raw; escaped when drawn).
    label: String,
    /// Stroke colour.
    colour: &'static str,
    /// Stroke width: the overall line is thicker than the instances'.
    width: f64,
    /// Dashed: tells apart lines that may lie on top of each other.
    dashed: bool,
    /// Holds each value until the next point: for counts that jump.
    step: bool,
    /// CSS class (`series <class>`): styles it, and lets tests count it.
    class: &'static str,
    /// `(x, y)` in axis units; a non-finite or negative-x point breaks
    /// the line.
    points: Vec<(f64, f64)>,
}

impl Series {
    /// A plain solid line.
    fn new(
        label: &str,
        colour: &'static str,
        class: &'static str,
        points: Vec<(f64, f64)>,
    ) -> Self {
        Self {
            label: label.to_owned(),
            colour,
            width: 1.5,
            dashed: false,
            step: false,
            class,
            points,
        }
    }

    /// With this stroke width.
    fn width(self, width: f64) -> Self {
        Self { width, ..self }
    }

    /// Dashed.
    fn dashed(self) -> Self {
        Self {
            dashed: true,
            ..self
        }
    }

    /// As a step line.
    fn step(self) -> Self {
        Self { step: true, ..self }
    }

    /// Whether `p` can be drawn.
    fn drawable(p: &(f64, f64)) -> bool {
        p.0.is_finite() && p.1.is_finite() && p.0 >= 0.0
    }
}

/// One chart: axes from 0, lines, a legend, and the markers the time
/// charts share. Every chart of the report is one of these.
#[derive(Debug)]
struct Chart<'a> {
    /// `data-chart` on the `<svg>`: names it for the tests.
    id: &'static str,
    /// Heading above it and its `<title>`.
    title: &'static str,
    /// Names the y axis, with its unit.
    y_label: &'static str,
    /// What the x axis shows.
    x_axis: XAxis,
    /// Height of the plot area: less for secondary charts.
    height: f64,
    /// The lines, drawn in order (the last on top).
    series: Vec<Series>,
    /// A dashed horizontal line: the pass threshold, ms.
    threshold: Option<f64>,
    /// Vertical markers: chaos and other moments (time charts only).
    events: &'a [Event],
    /// Times marked with red ticks on the x axis: Redis did not answer.
    down_at: Vec<f64>,
}

impl Chart<'_> {
    /// An empty chart.
    fn new(id: &'static str, title: &'static str, y_label: &'static str, x_axis: XAxis) -> Self {
        Self {
            id,
            title,
            y_label,
            x_axis,
            height: 240.0,
            series: Vec::new(),
            threshold: None,
            events: &[],
            down_at: Vec::new(),
        }
    }

    /// The chart as one `<svg>` element.
    fn svg(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail: the result carries nothing.
        let _ = self.write_svg(&mut out);
        out
    }

    /// Writes the `<svg>`: grid and ticks, markers, lines, legend.
    fn write_svg(&self, out: &mut String) -> fmt::Result {
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = self.height;
        let bottom = TOP + plot_h;
        let drawable = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|p| Series::drawable(p))
        };
        let x = match self.x_axis {
            XAxis::Percentile => Scale {
                max: PERCENTILE_NINES,
                step: 1.0,
            },
            XAxis::Seconds => Scale::covering(
                drawable()
                    .map(|p| p.0)
                    .chain(self.events.iter().map(|e| e.t_s))
                    .chain(self.down_at.iter().copied()),
            ),
        };
        let threshold = self.threshold.filter(|t| t.is_finite() && *t > 0.0);
        let y = Scale::covering(drawable().map(|p| p.1).chain(threshold));
        let sx = |v: f64| LEFT + v / x.max * plot_w;
        let sy = |v: f64| bottom - v.clamp(0.0, y.max) / y.max * plot_h;

        let legend_entries = self.series.len() + usize::from(!self.down_at.is_empty());
        let per_row = ((plot_w / LEGEND_ITEM) as usize).max(1);
        let legend_top = bottom + BOTTOM;
        let height = legend_top + legend_entries.div_ceil(per_row) as f64 * LEGEND_ROW + 6.0;

        writeln!(
            out,
            r#"<svg class="chart" data-chart="{}" viewBox="0 0 {WIDTH} {height}" role="img" xmlns="http://www.w3.org/2000/svg">"#,
            self.id
        )?;
        writeln!(out, "<title>{}</title>", esc(self.title))?;

        for (i, v) in y.ticks().enumerate() {
            let py = sy(v);
            let class = if i == 0 { "axis" } else { "grid" };
            writeln!(
                out,
                r#"<line class="{class}" x1="{LEFT}" x2="{:.1}" y1="{py:.1}" y2="{py:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT + plot_w,
                LEFT - 8.0,
                py + 4.0,
                y.label(v)
            )?;
        }
        for (i, v) in x.ticks().enumerate() {
            let px = sx(v);
            let label = match self.x_axis {
                XAxis::Seconds => x.label(v),
                XAxis::Percentile => PERCENTILE_LABELS.get(i).copied().unwrap_or("").to_owned(),
            };
            let class = if i == 0 { "axis" } else { "grid" };
            writeln!(
                out,
                r#"<line class="{class}" x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{bottom:.1}"/><text class="tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
                bottom + 16.0
            )?;
        }
        let x_label = match self.x_axis {
            XAxis::Seconds => "seconds since start",
            XAxis::Percentile => "percentile",
        };
        writeln!(
            out,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{x_label}</text>"#,
            LEFT + plot_w / 2.0,
            bottom + 36.0
        )?;
        writeln!(
            out,
            r#"<text class="label" transform="rotate(-90)" x="{:.1}" y="16" text-anchor="middle">{}</text>"#,
            -(TOP + plot_h / 2.0),
            esc(self.y_label)
        )?;

        if let Some(t) = threshold {
            let py = sy(t);
            writeln!(
                out,
                r#"<g class="threshold"><title>pass threshold</title><line x1="{LEFT}" x2="{:.1}" y1="{py:.1}" y2="{py:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text></g>"#,
                LEFT + plot_w,
                LEFT + plot_w - 4.0,
                py - 5.0,
                fmt_ms(t)
            )?;
        }

        for e in self
            .events
            .iter()
            .filter(|e| e.t_s.is_finite() && e.t_s >= 0.0)
        {
            let px = sx(e.t_s);
            // Rotated, hanging from the top edge: labels of nearby events
            // stay apart where horizontal ones would overlap.
            writeln!(
                out,
                r#"<g class="event"><title>{} s · {}: {}</title><line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{bottom:.1}"/><text transform="rotate(-90 {:.1} {:.1})" x="{:.1}" y="{:.1}" text-anchor="end">{}</text></g>"#,
                fmt_num(e.t_s),
                esc(&e.kind),
                esc(&e.what),
                px + 11.0,
                TOP + 4.0,
                px + 11.0,
                TOP + 4.0,
                esc(&truncate(&e.kind, 18))
            )?;
        }

        for s in &self.series {
            let d = path(s, sx, sy);
            if d.is_empty() {
                continue;
            }
            let dash = if s.dashed {
                r#" stroke-dasharray="7 4""#
            } else {
                ""
            };
            writeln!(
                out,
                r#"<path class="series {}" d="{d}" fill="none" stroke="{}" stroke-width="{}"{dash} stroke-linecap="round" stroke-linejoin="round"><title>{}</title></path>"#,
                s.class,
                s.colour,
                s.width,
                esc(&s.label)
            )?;
        }

        for t in self.down_at.iter().filter(|t| t.is_finite() && **t >= 0.0) {
            let px = sx(*t);
            writeln!(
                out,
                r#"<line class="down" x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{bottom:.1}"><title>Redis did not answer at {} s</title></line>"#,
                bottom - 10.0,
                fmt_num(*t)
            )?;
        }

        if drawable().next().is_none() {
            writeln!(
                out,
                r#"<text class="nodata" x="{:.1}" y="{:.1}" text-anchor="middle">no data</text>"#,
                LEFT + plot_w / 2.0,
                TOP + plot_h / 2.0
            )?;
        }

        for i in 0..legend_entries {
            let lx = LEFT + (i % per_row) as f64 * LEGEND_ITEM;
            let ly = legend_top + (i / per_row) as f64 * LEGEND_ROW + 12.0;
            let (swatch, label) = match self.series.get(i) {
                Some(s) => {
                    let dash = if s.dashed {
                        r#" stroke-dasharray="7 4""#
                    } else {
                        ""
                    };
                    (
                        format!(
                            r#"<line x1="{lx:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{}"{dash}/>"#,
                            lx + 24.0,
                            ly - 4.0,
                            ly - 4.0,
                            s.colour,
                            s.width
                        ),
                        esc(&truncate(&s.label, LEGEND_CHARS)),
                    )
                }
                None => (
                    format!(
                        r#"<line class="down" x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{ly:.1}"/>"#,
                        lx + 12.0,
                        lx + 12.0,
                        ly - 10.0
                    ),
                    "Redis did not answer".to_owned(),
                ),
            };
            writeln!(
                out,
                r#"<g class="legend">{swatch}<text x="{:.1}" y="{ly:.1}">{label}</text></g>"#,
                lx + 30.0
            )?;
        }
        writeln!(out, "</svg>")
    }
}

/// The `d` of a series' path: a new subpath after every gap, and a dot
/// (a zero-length segment with round caps) for a point standing alone.
fn path(s: &Series, sx: impl Fn(f64) -> f64, sy: impl Fn(f64) -> f64) -> String {
    let mut d = String::new();
    let mut run = 0;
    for p in &s.points {
        if !Series::drawable(p) {
            if run == 1 {
                d.push_str("h0");
            }
            run = 0;
            continue;
        }
        let (px, py) = (sx(p.0), sy(p.1));
        // Writing into a String cannot fail: the result carries nothing.
        let _ = match (run, s.step) {
            (0, _) => write!(d, "M{px:.1} {py:.1}"),
            (_, true) => write!(d, "H{px:.1}V{py:.1}"),
            (_, false) => write!(d, "L{px:.1} {py:.1}"),
        };
        run += 1;
    }
    if run == 1 {
        d.push_str("h0");
    }
    d
}

/// An axis from 0 to a round maximum, in round steps.
#[derive(Debug, Clone, Copy)]
struct Scale {
    /// The top of the axis.
    max: f64,
    /// The distance between ticks.
    step: f64,
}

impl Scale {
    /// Covers every finite value given, and at least 0..1, so an empty or
    /// all-zero chart still has a scale (and nothing divides by zero).
    fn covering(values: impl Iterator<Item = f64>) -> Self {
        let top = values.filter(|v| v.is_finite()).fold(1.0, f64::max);
        let step = nice_step(top);
        Self {
            max: (top / step).ceil() * step,
            step,
        }
    }

    /// The tick values, 0 to max.
    fn ticks(self) -> impl Iterator<Item = f64> {
        let n = (self.max / self.step).round() as usize;
        (0..=n.min(MAX_TICKS)).map(move |i| i as f64 * self.step)
    }

    /// A tick label with as many decimals as the step needs.
    fn label(self, v: f64) -> String {
        let decimals = (-self.step.log10().floor()).max(0.0) as usize;
        if decimals == 0 {
            fmt_count(v.round() as u64)
        } else {
            format!("{v:.decimals$}")
        }
    }
}

/// A round step (1, 2 or 5 × 10ⁿ) that cuts `0..max` into about five.
fn nice_step(max: f64) -> f64 {
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// HdrHistogram's percentile axis: x = log10(1 / (1 − q)), so every
/// further nine is one more step (90 % at 1, 99 % at 2, 99.9 % at 3).
/// q = 1 (the max) would lie infinitely far right: it sits on the last
/// tick. A NaN quantile stays NaN, and the chart skips it.
fn percentile_x(q: f64) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return PERCENTILE_NINES;
    }
    (-(1.0 - q).log10()).min(PERCENTILE_NINES)
}

/// Escapes text for element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped `s`, or a dash when it is empty.
fn dash_if_empty(s: &str) -> String {
    if s.is_empty() {
        "–".to_owned()
    } else {
        esc(s)
    }
}

/// At most `chars` characters of `s`, an ellipsis marking a cut.
fn truncate(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// About three significant figures, without trailing zeros; a dash for
/// a value that is not finite.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    let a = v.abs();
    let decimals = if a < 10.0 {
        2
    } else if a < 100.0 {
        1
    } else {
        0
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Milliseconds for people: ms below 10 s, seconds above.
fn fmt_ms(ms: f64) -> String {
    if !ms.is_finite() {
        "–".to_owned()
    } else if ms.abs() >= 10_000.0 {
        format!("{} s", fmt_num(ms / 1000.0))
    } else {
        format!("{} ms", fmt_num(ms))
    }
}

/// Bytes in binary units, as Redis and the kernel count them.
fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", fmt_num(value), UNITS[unit])
}

/// A size change: signed, in binary units.
fn fmt_signed_bytes(bytes: i64) -> String {
    let sign = match bytes.signum() {
        1 => "+",
        -1 => "−",
        _ => "",
    };
    format!("{sign}{}", fmt_bytes(bytes.unsigned_abs()))
}

/// A count with its thousands separated: 12,345.
fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The page's style: system fonts, a bounded column, light table rules,
/// and colours kept when printed (the banner is the point of the page).
const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1d1d1f;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-print-color-adjust:exact;print-color-adjust:exact}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 6px}
h2{font-size:18px;margin:32px 0 12px;padding-bottom:4px;border-bottom:1px solid #e3e3e3}
h3{font-size:14px;margin:0 0 8px}
.meta{color:#555;margin:0 0 2px}
.banner{margin:20px 0;padding:14px 18px;border-radius:6px;color:#fff;font-size:15px}
.banner.valid{background:#1b7f3b}
.banner.invalid{background:#b3261e}
.banner strong{font-size:24px;letter-spacing:.04em;margin-right:6px}
.banner ul{margin:8px 0 0;padding-left:22px}
.cards{display:grid;align-items:start;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:12px 14px;break-inside:avoid}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e8e8e8;vertical-align:top}
.kv th{font-weight:normal;color:#444;padding-left:0}
.kv td{text-align:right;padding-right:0;white-space:nowrap}
.kv td .note{display:block;white-space:normal}
.kv tr:last-child th,.kv tr:last-child td{border-bottom:0}
table.grid{border:1px solid #e3e3e3}
table.narrow{width:auto;min-width:50%}
table.grid thead th{background:#f6f6f6;font-weight:600}
.num{text-align:right}
.bad,.bad th,.bad td{color:#b3261e;font-weight:600}
.note{color:#666;font-size:12px;font-weight:normal}
.mark{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:11px;font-weight:700;margin-left:4px}
.mark.pass{background:#1b7f3b}
.mark.fail{background:#b3261e}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:8px}
figure{margin:0 0 28px;break-inside:avoid}
figcaption{color:#555;font-size:12px;margin-top:2px}
svg.chart{width:100%;height:auto;display:block;font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
svg .grid{stroke:#ececec}
svg .axis{stroke:#999}
svg .tick{fill:#555}
svg .label{fill:#333;font-size:12px}
svg .legend text{fill:#333;font-size:12px}
svg .event line{stroke:#8a8a8a;stroke-dasharray:4 3}
svg .event text{fill:#555;font-size:10px;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .threshold line{stroke:#b3261e;stroke-dasharray:6 4;stroke-width:1.5}
svg .threshold text{fill:#b3261e;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .down{stroke:#d00;stroke-width:2}
svg .nodata{fill:#999;font-size:14px}
.events{padding-left:22px}
.events li{margin:2px 0}
.events .t{display:inline-block;min-width:64px;color:#555;font-variant-numeric:tabular-nums}
@media print{main{max-width:none;padding:0}h2{break-after:avoid}}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::summary::{AgentStatus, Delivery, Validity};

    /// The `<svg>` whose `data-chart` is `id`.
    fn chart<'h>(html: &'h str, id: &str) -> &'h str {
        let start = html
            .find(&format!(r#"data-chart="{id}""#))
            .unwrap_or_else(|| panic!("no chart {id}"));
        let end = start + html[start..].find("</svg>").expect("closed svg");
        &html[start..end]
    }

    /// A percentile curve rising from `base` ms.
    fn curve(base: f64) -> Vec<(f64, f64)> {
        let factors = [0.3, 1.0, 1.3, 1.8, 2.3, 4.0, 7.0, 11.0, 15.0, 18.0];
        crate::load::summary::CURVE_QUANTILES
            .iter()
            .zip(factors)
            .map(|(&q, f)| (q, base * f))
            .collect()
    }

    /// A small run: three instances, one killed at 20 s, Redis down from
    /// 40 s to 44 s.
    fn sample() -> LoadSummary {
        let names = [
            "http://conduit-a:8080",
            "http://conduit-b:8080",
            "http://conduit-c:8080",
        ];
        let mut s = LoadSummary {
            run_id: "run-2024-demo".into(),
            started_at: "2024-05-01T10:00:00Z".into(),
            ..LoadSummary::default()
        };
        s.plan.connections = 3000;
        s.plan.duration_s = 60.0;
        s.plan.rate = 10.0;
        s.plan.ramp_per_s = 500.0;
        s.plan.send_via = "redis".into();
        s.plan.instances = names.iter().map(|n| n.to_string()).collect();
        s.plan.agents = 2;
        s.plan.pass_within_ms = 50.0;
        s.validity.valid = true;
        s.connections.target = 3000;
        s.connections.opened = 3000;
        s.connections.peak_held = 3000;
        s.connections.held_at_end = 2990;
        s.connections
            .failures_by_reason
            .insert("connection refused".into(), 12);
        s.connections
            .failures_by_reason
            .insert("handshake timeout".into(), 3);
        s.connections.reconnects = 1000;
        s.connections.connect_ms = Percentiles {
            count: 3000,
            p50: 35.0,
            p90: 60.0,
            p99: 140.0,
            p999: 310.0,
            max: 420.0,
            mean: 40.0,
        };
        s.connections.reconnect_ms.count = 1000;
        s.connections.reconnect_ms.p50 = 1800.0;
        s.connections.reconnect_ms.p99 = 4200.0;
        s.connections.reconnect_ms.max = 12_500.0;
        s.connections.reconnect_curve = curve(300.0);
        s.connections.gave_up = 10;
        s.broadcasts.sent = 560;
        s.broadcasts.rate_achieved = 9.33;
        s.broadcasts.max_behind_ms = 4.2;
        s.delivery = Delivery {
            received: 1_640_000,
            lost_while_connected: 37,
            missed_while_disconnected: 9000,
            ..Delivery::default()
        };
        s.latency.corrected = Percentiles {
            count: 1_640_000,
            p50: 6.1,
            p90: 11.0,
            p99: 24.0,
            p999: 43.0,
            max: 120.0,
            mean: 7.0,
        };
        s.latency.uncorrected.count = 1_640_000;
        s.latency.uncorrected.p50 = 5.9;
        s.latency.uncorrected.p99 = 19.0;
        s.latency.curve = curve(6.0);
        for (i, name) in names.iter().enumerate() {
            let base = 5.0 + 1.5 * i as f64;
            s.instances.push(InstanceSummary {
                name: name.to_string(),
                hub: "navigation".into(),
                connections: 1000,
                delivery: Delivery {
                    received: 540_000,
                    lost_while_connected: if i == 2 { 37 } else { 0 },
                    ..Delivery::default()
                },
                latency: Percentiles {
                    count: 540_000,
                    p50: base,
                    p99: base * 4.0,
                    max: base * 18.0,
                    ..Percentiles::default()
                },
                curve: curve(base),
            });
        }
        for t in 0..60u64 {
            let redis_down = (40..44).contains(&t);
            let held = match t {
                0..=5 => t * 500,
                20..=22 => 2000 + (t - 20) * 300,
                _ => 3000,
            };
            let wobble = (t % 7) as f64;
            s.timeline.push(Tick {
                t_s: t as f64,
                held,
                sent: if redis_down { 0 } else { 10 },
                received: if redis_down {
                    0
                } else {
                    held * 10 - (t % 5) * 40
                },
                lost: if t > 20 { 37 } else { 0 },
                p50_ms: if redis_down { 0.0 } else { 5.0 + wobble * 0.4 },
                p99_ms: if redis_down {
                    0.0
                } else {
                    18.0 + wobble * 2.0 + if t == 21 { 30.0 } else { 0.0 }
                },
                instance_p99_ms: (0..3)
                    .map(|i| {
                        if redis_down {
                            0.0
                        } else {
                            15.0 + 3.0 * i as f64 + wobble
                        }
                    })
                    .collect(),
            });
            s.redis.samples.push(RedisSample {
                t_s: t as f64,
                up: !redis_down,
                used_memory: 3_000_000 + t * 25_000,
                connected_clients: 8,
                pubsub_clients: 3,
                max_subscriber_omem: 0,
                all_channel_subscribers: if (20..25).contains(&t) { 2 } else { 3 },
                nodes: Vec::new(),
            });
        }
        s.redis.memory_start = 3_000_000;
        s.redis.memory_end = 4_475_000;
        s.redis.drift_bytes = 1_475_000;
        s.redis.drift_pct = 49.2;
        s.redis.max_subscriber_omem = 16_384;
        s.redis.pubsub_buffer_limit = "33554432 8388608 60".into();
        s.redis.unreachable_samples = 4;
        s.generator.cores = 2;
        s.generator.cpu_pct_mean = 38.0;
        s.generator.cpu_pct_max = 71.5;
        s.generator.cpu_seconds = 23.4;
        s.generator.loop_lag_ms.count = 6000;
        s.generator.loop_lag_ms.p99 = 1.2;
        s.generator.loop_lag_ms.max = 8.0;
        s.generator.nofile_soft = 65_536;
        s.generator.nofile_hard = 1_048_576;
        s.generator.ephemeral_ports = 28_232;
        for n in names {
            s.generator.connections_per_target.insert(n.into(), 1000);
        }
        s.generator.peak_rss_kib = 180_000;
        s.events = vec![
            Event {
                t_s: 6.0,
                kind: "ramp-done".into(),
                what: "3000 connections open".into(),
            },
            Event {
                t_s: 20.0,
                kind: "kill".into(),
                what: "killed conduit-c".into(),
            },
            Event {
                t_s: 22.0,
                kind: "restart".into(),
                what: "conduit-c back".into(),
            },
            Event {
                t_s: 40.0,
                kind: "redis-stop".into(),
                what: "stopped Redis".into(),
            },
            Event {
                t_s: 44.0,
                kind: "redis-start".into(),
                what: "started Redis".into(),
            },
        ];
        s.agents = vec![
            AgentStatus {
                index: 0,
                connections: 1500,
                state: "finished".into(),
                received: 820_000,
            },
            AgentStatus {
                index: 1,
                connections: 1500,
                state: "stopped".into(),
                received: 820_000,
            },
        ];
        s
    }

    /// An empty summary renders a whole document, with no NaN or infinity
    /// printed anywhere.
    #[test]
    fn empty_summary_renders_complete_document() {
        let page = html(&LoadSummary::default());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        assert!(!page.contains("NaN"));
        assert!(!page.contains("inf"));
        assert!(page.contains("INVALID"));
        assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
    }

    /// NaN and infinite values, single points and all-zero figures are
    /// skipped or shown as dashes, never printed.
    #[test]
    fn non_finite_values_are_skipped() {
        let mut s = sample();
        s.latency.corrected.p99 = f64::NAN;
        s.latency.curve[3].1 = f64::INFINITY;
        s.instances[0].curve = vec![(0.5, f64::NAN)];
        s.instances[1].curve = vec![(0.5, 3.0)];
        s.timeline.truncate(1);
        s.timeline[0].p99_ms = f64::NEG_INFINITY;
        s.timeline[0].t_s = f64::NAN;
        s.events[0].t_s = f64::INFINITY;
        s.redis.samples.iter_mut().for_each(|r| r.used_memory = 0);
        s.generator.cpu_pct_max = f64::NAN;
        let page = html(&s);
        assert!(!page.contains("NaN"));
        assert!(!page.contains("inf"));
    }

    /// Names from the summary cannot inject markup.
    #[test]
    fn strings_are_escaped() {
        let mut s = sample();
        s.run_id = "<script>alert('x')</script>".into();
        s.instances[0].name = "<script>\"a\"&b</script>".into();
        s.events[0].what = "<script>".into();
        let page = html(&s);
        assert!(!page.contains("<script"));
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(page.contains("&lt;script&gt;&quot;a&quot;&amp;b&lt;/script&gt;"));
    }

    /// The percentile chart has one line per instance plus the overall one.
    #[test]
    fn percentile_chart_has_one_line_per_instance() {
        let mut s = sample();
        s.instances.truncate(2);
        let page = html(&s);
        let svg = chart(&page, "percentiles");
        assert_eq!(svg.matches(r#"class="series instance""#).count(), 2);
        assert_eq!(svg.matches(r#"class="series overall""#).count(), 1);
        assert!(svg.contains("<title>Latency percentile curve per instance</title>"));
        assert!(svg.contains(">50 ms</text>"));
    }

    /// Every event is a vertical marker on every time chart, and on no
    /// percentile chart.
    #[test]
    fn events_mark_the_time_charts() {
        let s = sample();
        let page = html(&s);
        for id in [
            "latency-time",
            "connections",
            "throughput",
            "redis-memory",
            "redis-subscribers",
        ] {
            let svg = chart(&page, id);
            assert_eq!(
                svg.matches(r#"<g class="event">"#).count(),
                s.events.len(),
                "{id}"
            );
        }
        for id in ["percentiles", "reconnects"] {
            assert!(!chart(&page, id).contains(r#"class="event""#), "{id}");
        }
    }

    /// An invalid run says INVALID and lists each reason.
    #[test]
    fn invalid_run_shows_banner_with_reasons() {
        let mut s = sample();
        s.validity = Validity {
            valid: false,
            reasons: vec!["CPU above 90 %".into(), "event-loop lag p99 120 ms".into()],
        };
        let page = html(&s);
        assert!(page.contains(r#"class="banner invalid""#));
        assert!(page.contains("the generator was the bottleneck"));
        assert!(page.contains(r#"<li class="reason">CPU above 90 %</li>"#));
        assert!(page.contains(r#"<li class="reason">event-loop lag p99 120 ms</li>"#));
        assert!(!page.contains("banner valid"));
    }

    /// On the percentile axis 99 % lies twice as far from 0 as 90 %, and
    /// the ends are pinned.
    #[test]
    fn percentile_axis_gives_each_nine_one_step() {
        let (p90, p99) = (percentile_x(0.9), percentile_x(0.99));
        assert!((p99 - 2.0 * p90).abs() < 1e-9);
        assert!((p90 - 1.0).abs() < 1e-9);
        assert_eq!(percentile_x(0.0), 0.0);
        assert_eq!(percentile_x(1.0), PERCENTILE_NINES);
        assert!(percentile_x(f64::NAN).is_nan());
    }

    /// Sizes and durations read as people write them.
    #[test]
    fn figures_are_formatted_for_people() {
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(3 * 1024 * 1024), "3 MiB");
        assert_eq!(fmt_signed_bytes(-2048), "−2 KiB");
        assert_eq!(fmt_ms(50.0), "50 ms");
        assert_eq!(fmt_ms(1.25), "1.25 ms");
        assert_eq!(fmt_ms(12_500.0), "12.5 s");
        assert_eq!(fmt_ms(f64::NAN), "–");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
    }

    /// With several hubs the report has a row per hub too.
    #[test]
    fn several_hubs_get_a_hub_table() {
        let mut s = sample();
        assert!(!html(&s).contains("<h2>Hubs</h2>"), "one hub: no table");
        s.hubs = ["navigation", "notifications"]
            .map(|h| InstanceSummary {
                name: h.into(),
                hub: h.into(),
                ..InstanceSummary::default()
            })
            .to_vec();
        let page = html(&s);
        assert!(page.contains("<h2>Hubs</h2>") && page.contains("<th>Hub</th>"));
        assert!(page.contains("<td>notifications</td>"), "{page}");
    }

    /// A realistic run renders every chart; with
    /// `SIGNALSCOPE_WRITE_SAMPLE_REPORT=<path>` it is also written there to
    /// be looked at.
    #[test]
    fn sample_report_renders_every_chart() {
        let page = html(&sample());
        assert_eq!(page.matches("<svg").count(), 7);
        assert!(!page.contains("no data"));
        if let Ok(path) = std::env::var("SIGNALSCOPE_WRITE_SAMPLE_REPORT") {
            std::fs::write(path, &page).expect("write the sample report");
        }
    }
}
