//! `signalscope check`: the Conduit testing guide's Success Criteria,
//! measured against a deployment (the running demo's by default) and
//! judged: one line per criterion — PASS, FAIL or SKIP, the figure, and
//! how it was measured — or JSON with `--json`. Exits non-zero on a FAIL.
//!
//! Two `load` runs do the measuring: a steady one (criteria 2, 4, 6, 7)
//! and, where a demo owns the processes, one that removes an instance and
//! adds one (5, 8). Criteria 1 and 3 ask Redis directly.

use std::time::Duration;

use futures_util::StreamExt;
use protocol::backplane::{ChannelKind, Invocation};
use protocol::broadcast::{TestBroadcast, NAVIGATION_EVENT};
use protocol::HubMessage;
use serde::Serialize;

use crate::clock::{unix_ms, unix_us};
use crate::deployment::{Deployment, DeploymentArgs};
use crate::load;
use crate::load::plan::{parse_duration, SendVia};
use crate::load::summary::LoadSummary;
use crate::redis_link::RedisLink;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// check's CLIENT SETNAME.
const CLIENT_NAME: &str = "signalscope-check";
/// How long MONITOR may take to show the probe broadcast.
const MONITOR_WITHIN: Duration = Duration::from_secs(3);

/// `signalscope check` settings; thresholds default to the guide's.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "With no --redis, --instance or --config, a running `signalscope demo` is checked. \
Criteria 5 and 8 stop and start instances, so they run only against a demo (--demo URL); elsewhere they are SKIP."
)]
pub struct Args {
    /// Where the deployment is (the same settings as `serve`).
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Criterion 6: connections to hold.
    #[arg(long, default_value_t = 10_000)]
    pub connections: u64,
    /// Criterion 6: how long to hold them.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Broadcasts per second during the runs.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Connections opened per second.
    #[arg(long, default_value_t = 1000.0)]
    pub ramp: f64,
    /// Local agent processes for the steady run (0: one process).
    #[arg(long, default_value_t = 0)]
    pub agents: u32,
    /// Criterion 4: p99 publish → arrival must be below this, ms.
    #[arg(long, default_value_t = 50)]
    pub pass_within_ms: u64,
    /// Criterion 6: at most this share of connections may fail, percent.
    #[arg(long, default_value_t = 1.0)]
    pub max_failed_pct: f64,
    /// Criterion 7: Redis used_memory may grow at most this much, MiB.
    #[arg(long, default_value_t = 8.0)]
    pub max_memory_drift_mib: f64,
    /// Criteria 5 and 8: connections in the chaos run.
    #[arg(long, default_value_t = 600)]
    pub chaos_connections: u64,
    /// Criteria 5 and 8: how long the chaos run holds.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub chaos_duration: Duration,
    /// Criteria 5 and 8: how long the removed instance stays down.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub restart_after: Duration,
    /// The demo companion whose processes criteria 5 and 8 may stop.
    #[arg(long, env = "SIGNALSCOPE_DEMO")]
    pub demo: Option<String>,
    /// Event-loop lag p99 (ms) above which a run is invalid.
    #[arg(long, default_value_t = 20.0)]
    pub max_lag_ms: f64,
}

/// One criterion's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    /// 1 to 8, the guide's order.
    pub number: u8,
    /// Short name.
    pub name: &'static str,
    /// `PASS`, `FAIL` or `SKIP`.
    pub verdict: Verdict,
    /// The figure it was judged on.
    pub figure: String,
    /// How it was measured.
    pub how: String,
}

/// A criterion's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Met.
    Pass,
    /// Not met.
    Fail,
    /// Could not be measured here (says why).
    Skip,
}

impl Verdict {
    fn of(ok: bool) -> Self {
        if ok {
            Self::Pass
        } else {
            Self::Fail
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// Runs every criterion and prints the verdicts; fails if any failed.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let json = args.json;
    let criteria = measure(args).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&criteria)?);
    } else {
        for c in &criteria {
            println!(
                "{}  {}. {:<34} {}\n        measured: {}",
                c.verdict.as_str(),
                c.number,
                c.name,
                c.figure,
                c.how
            );
        }
    }
    let failed: Vec<String> = criteria
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.number.to_string())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("criteria failed: {}", failed.join(", ")).into())
    }
}

/// Measures all eight criteria.
pub async fn measure(args: Args) -> Result<Vec<Criterion>, BoxError> {
    let deployment = args.deployment.clone().settle()?;
    let demo = args.demo.clone();
    let link = RedisLink::new(&deployment.redis, CLIENT_NAME)?;
    link.query::<String>(&redis::cmd("PING"))
        .await
        .map_err(|e| format!("the Redis {} is unreachable: {e}", deployment.redis))?;
    let mut out = vec![live_servers(&link, &deployment).await];
    let monitor = monitor_traffic(&link, &deployment).await;

    let steady = load_run(&args, &demo, false).await?;
    out.push(same_broadcasts(&steady));
    out.push(monitor);
    out.push(latency(&steady, args.pass_within_ms));
    match &demo {
        Some(_) => {
            let chaos = load_run(&args, &demo, true).await?;
            out.push(no_loss_while_scaling(&chaos));
            out.push(held(&steady, args.max_failed_pct));
            out.push(memory(&steady, args.max_memory_drift_mib));
            out.push(reconnects(&chaos, &deployment));
        }
        None => {
            let why =
                "needs instances it may stop: run against `signalscope demo` (or pass --demo URL)";
            out.push(skip(5, "no loss while scaling down and up", why));
            out.push(held(&steady, args.max_failed_pct));
            out.push(memory(&steady, args.max_memory_drift_mib));
            out.push(skip(8, "clients reconnect after a failure", why));
        }
    }
    Ok(out)
}

fn skip(number: u8, name: &'static str, why: &str) -> Criterion {
    Criterion {
        number,
        name,
        verdict: Verdict::Skip,
        figure: why.to_owned(),
        how: "not run".into(),
    }
}

/// One `load` run: steady, or with an instance removed and one added.
async fn load_run(
    args: &Args,
    demo: &Option<String>,
    chaos: bool,
) -> Result<LoadSummary, BoxError> {
    let second = |d: &Deployment| {
        d.instances
            .get(1)
            .or(d.instances.first())
            .map(|i| i.name.clone())
    };
    let deployment = args.deployment.clone().settle()?;
    let victim = second(&deployment).ok_or("no instances to check")?;
    let hold = if chaos {
        args.chaos_duration
    } else {
        args.duration
    };
    let at = |fraction: f64| format!("@{}ms", (hold.as_millis() as f64 * fraction) as u64);
    let load_args = load::Args {
        deployment: args.deployment.clone(),
        connections: if chaos {
            args.chaos_connections
        } else {
            args.connections
        },
        duration: hold,
        rate: args.rate,
        ramp: args.ramp,
        send_via: SendVia::Redis,
        skip_negotiation: false,
        event: None,
        agents: if chaos { 0 } else { args.agents },
        remote_agents: 0,
        control_redis: None,
        source_addrs: Vec::new(),
        json: None,
        report: None,
        hlog: None,
        kill_instance: if chaos {
            vec![format!("{victim}{}", at(0.1))]
        } else {
            Vec::new()
        },
        restart_after: chaos.then_some(args.restart_after),
        add_instance: if chaos { vec![at(0.4)] } else { Vec::new() },
        restart_redis: Vec::new(),
        demo: demo.clone(),
        pass_within_ms: Some(args.pass_within_ms),
        max_lag_ms: args.max_lag_ms,
        drain: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(10),
        quiet: true,
    };
    let setup = load_args.settle().await?;
    eprintln!(
        "check: {} run, {} connections for {:?}…",
        if chaos { "chaos" } else { "steady" },
        setup.plan.connections,
        hold
    );
    Ok(load::execute(setup).await?.0)
}

/// 1: every instance's server listens on its ack channel.
async fn live_servers(link: &RedisLink, d: &Deployment) -> Criterion {
    let ack_prefix = d.channels().name(&ChannelKind::Ack(String::new()));
    // On a cluster each master lists only its own subscribers' channels.
    let servers = link.channels_after_on_every_node(&ack_prefix).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default();
    let mut healthy = 0;
    for i in &d.instances {
        let answer = http.get(format!("{}/health", i.url)).send().await;
        if answer.is_ok_and(|a| a.status().is_success()) {
            healthy += 1;
        }
    }
    let how = format!(
        "PUBSUB CHANNELS {ack_prefix}* on every Redis node (each server subscribes to its own ack channel) and GET /health of each instance"
    );
    match servers {
        Ok(s) => Criterion {
            number: 1,
            name: "every instance live on the backplane",
            verdict: Verdict::of(s.len() >= d.instances.len() && healthy == d.instances.len()),
            figure: format!(
                "{} server(s) on the backplane for {} instance(s) [{}]; /health OK on {healthy} of {}",
                s.len(),
                d.instances.len(),
                s.join(", "),
                d.instances.len()
            ),
            how,
        },
        Err(e) => Criterion {
            number: 1,
            name: "every instance live on the backplane",
            verdict: Verdict::Fail,
            figure: e.to_string(),
            how,
        },
    }
}

/// 3: a backplane broadcast shows in MONITOR (PSUBSCRIBE where MONITOR
/// is refused) on the prefix, and reaches every instance's subscription
/// to the hub's all-channel (group channels have subscribers only while
/// a member is connected).
async fn monitor_traffic(link: &RedisLink, d: &Deployment) -> Criterion {
    let name = "MONITOR shows the backplane's traffic";
    // The first hub's own prefix when it has one (the Admin API's hub).
    let prefix = d.primary().prefix_or(&d.prefix).to_owned();
    let channel = d.channels().all();
    let mut broadcast = TestBroadcast::new(
        format!("{:032x}", rand::random::<u128>()),
        1,
        unix_ms(),
        CLIENT_NAME,
    );
    broadcast.sent_at_us = Some(unix_us());
    let token = broadcast.id.clone();
    let bytes = Invocation::json(
        &HubMessage::invocation(NAVIGATION_EVENT, vec![broadcast.to_argument()]),
        Vec::new(),
    )
    .encode();
    let publish = || async {
        let reached = link
            .query::<i64>(redis::cmd("PUBLISH").arg(&channel).arg(&bytes))
            .await
            .unwrap_or(-1);
        // A cluster's PUBLISH counts only the receiving node's subscribers,
        // though it delivers to every node's: count them on each.
        match link.nodes().await {
            Ok(nodes) if nodes.len() > 1 && reached >= 0 => link
                .subscribers_on_every_node(&channel)
                .await
                .map_or(-1, |n| n as i64),
            _ => reached,
        }
    };
    // On a cluster MONITOR watches the node this link publishes to: the
    // only one that executes the PUBLISH (the others relay it over the
    // cluster bus, which MONITOR does not show).
    let client = link.primary_client().await.ok();
    let monitor = match &client {
        Some(c) => c.get_async_monitor().await.ok(),
        None => None,
    };
    let (seen, receivers, source) = match monitor {
        Some(monitor) => {
            let mut lines = monitor.into_on_message::<redis::Value>();
            // MONITOR is live once the connection answered; publish after.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let receivers = publish().await;
            let seen = tokio::time::timeout(MONITOR_WITHIN, async {
                while let Some(v) = lines.next().await {
                    let text = match v {
                        redis::Value::SimpleString(s) => s,
                        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                        _ => continue,
                    };
                    if text.contains(&token) && text.contains(&prefix) {
                        return true;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            (seen, receivers, "MONITOR")
        }
        None => match pubsub_of(client.as_ref()).await {
            Some(mut pubsub) => {
                let subscribed = pubsub.psubscribe(format!("{prefix}*")).await.is_ok();
                let receivers = publish().await;
                let mut messages = pubsub.into_on_message();
                let seen = subscribed
                    && tokio::time::timeout(MONITOR_WITHIN, async {
                        while let Some(m) = messages.next().await {
                            if String::from_utf8_lossy(m.get_payload_bytes()).contains(&token) {
                                return true;
                            }
                        }
                        false
                    })
                    .await
                    .unwrap_or(false);
                (seen, receivers, "PSUBSCRIBE (MONITOR refused)")
            }
            None => (false, -1, "nothing (MONITOR and PSUBSCRIBE refused)"),
        },
    };
    let instances = d.instances.len() as i64;
    Criterion {
        number: 3,
        name,
        verdict: Verdict::of(seen && receivers >= instances),
        figure: format!(
            "{source} {} the test broadcast on {channel}; PUBLISH reached {receivers} subscriber(s) for {instances} instance(s)",
            if seen { "showed" } else { "did NOT show" }
        ),
        how: format!("one backplane invocation PUBLISHed on the hub's all-channel, watched for with {source} for {MONITOR_WITHIN:?}"),
    }
}

/// A pub/sub connection from `client`, if there is one and it connects.
async fn pubsub_of(client: Option<&redis::Client>) -> Option<redis::aio::PubSub> {
    client?.get_async_pubsub().await.ok()
}

/// How a load run was measured, in words.
fn measured(s: &LoadSummary) -> String {
    // The plan's rows are instances, or instance × hub pairs with several hubs.
    let over = match s.hubs.len() {
        0 | 1 => format!("{} instance(s)", s.plan.instances.len()),
        hubs => format!(
            "{} instance × hub pairs ({hubs} hubs)",
            s.plan.instances.len()
        ),
    };
    format!(
        "`signalscope load` run {}: {} connections over {over}, {:.0} s hold, {} broadcasts at {:.1}/s via {}",
        s.run_id,
        s.plan.connections,
        s.plan.duration_s,
        s.broadcasts.sent,
        s.plan.rate,
        s.plan.send_via
    )
}

/// 2: every instance's clients got every broadcast.
fn same_broadcasts(s: &LoadSummary) -> Criterion {
    let per: Vec<String> = s
        .instances
        .iter()
        .map(|i| {
            format!(
                "{} {} of {}",
                i.name,
                i.delivery.received,
                i.connections * s.broadcasts.sent
            )
        })
        .collect();
    let all = s.instances.len() >= 2
        && s.broadcasts.sent > 0
        && s.instances.iter().all(|i| {
            i.delivery.lost_while_connected == 0
                && i.delivery.silent_connections == 0
                && i.delivery.received == i.connections * s.broadcasts.sent
        });
    Criterion {
        number: 2,
        name: "clients on every instance get the same broadcasts",
        verdict: Verdict::of(all),
        figure: format!(
            "arrivals per instance (got of expected): {}",
            per.join(", ")
        ),
        how: measured(s),
    }
}

/// 4: p99 publish → arrival under the threshold, from a valid run.
fn latency(s: &LoadSummary, within_ms: u64) -> Criterion {
    let l = &s.latency.corrected;
    let figure = format!(
        "p99 {:.2} ms (p50 {:.2}, max {:.2}) over {} arrivals; threshold {within_ms} ms",
        l.p99, l.p50, l.max, l.count
    );
    let verdict = if !s.validity.valid {
        Verdict::Skip
    } else {
        Verdict::of(l.count > 0 && l.p99 < within_ms as f64)
    };
    Criterion {
        number: 4,
        name: "p99 propagation below the threshold",
        verdict,
        figure: if s.validity.valid {
            figure
        } else {
            format!(
                "{figure} — not judged: the generator was the bottleneck ({})",
                s.validity.reasons.join("; ")
            )
        },
        how: format!(
            "{}; latency from each broadcast's scheduled send time to its arrival, HdrHistogram",
            measured(s)
        ),
    }
}

/// 5: connections that stayed up lost nothing while an instance left and
/// another joined.
fn no_loss_while_scaling(s: &LoadSummary) -> Criterion {
    let d = &s.delivery;
    let chaos: Vec<String> = s
        .events
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "kill" | "restart" | "add"))
        .map(|e| format!("{} at {:.1} s", e.what, e.t_s))
        .collect();
    let failed_chaos = chaos.iter().any(|c| c.contains("FAILED"));
    Criterion {
        number: 5,
        name: "no loss while scaling down and up",
        verdict: Verdict::of(d.lost_while_connected == 0 && d.silent_connections == 0 && !failed_chaos && chaos.len() >= 2),
        figure: format!(
            "{} lost by connections that stayed up; {} missed by the removed instance's clients while disconnected (expected: SignalR does not replay); {}",
            d.lost_while_connected,
            d.missed_while_disconnected,
            chaos.join(", ")
        ),
        how: measured(s),
    }
}

/// 6: the connections were held with few failures.
fn held(s: &LoadSummary, max_failed_pct: f64) -> Criterion {
    let c = &s.connections;
    let failed = c.target.saturating_sub(c.held_at_end);
    let pct = failed as f64 * 100.0 / c.target.max(1) as f64;
    let reasons: Vec<String> = c
        .failures_by_reason
        .iter()
        .map(|(r, n)| format!("{n} × {r}"))
        .collect();
    Criterion {
        number: 6,
        name: "concurrent connections held",
        verdict: Verdict::of(pct < max_failed_pct),
        figure: format!(
            "{} of {} held to the end of the hold ({failed} = {pct:.2} % not; limit {max_failed_pct} %); connect p99 {:.1} ms{}",
            c.held_at_end,
            c.target,
            c.connect_ms.p99,
            if reasons.is_empty() { String::new() } else { format!("; failures: {}", reasons.join(", ")) }
        ),
        how: measured(s),
    }
}

/// 7: Redis memory stayed within the bound.
fn memory(s: &LoadSummary, max_mib: f64) -> Criterion {
    let r = &s.redis;
    let mib = r.drift_bytes as f64 / (1024.0 * 1024.0);
    let per_node: String = r
        .nodes
        .iter()
        .map(|n| format!("; {} {:+} B", n.address, n.drift_bytes))
        .collect();
    Criterion {
        number: 7,
        name: "Redis memory stable under load",
        verdict: Verdict::of(!r.samples.is_empty() && mib <= max_mib),
        figure: format!(
            "used_memory {} → {} bytes: {mib:+.2} MiB ({:+.1} %); bound +{max_mib} MiB; max subscriber output buffer {} B{per_node}",
            r.memory_start, r.memory_end, r.drift_pct, r.max_subscriber_omem
        ),
        how: format!("INFO used_memory of every Redis node, summed, once a second ({} samples) during {}", r.samples.len(), measured(s)),
    }
}

/// 8: the clients of the failed instance came back.
fn reconnects(s: &LoadSummary, d: &Deployment) -> Criterion {
    let victim = d
        .instances
        .get(1)
        .or(d.instances.first())
        .map(|i| i.name.clone())
        .unwrap_or_default();
    // With several hubs its rows are `victim/<hub>`, one per hub.
    let of_victim = |name: &str| {
        name.strip_prefix(victim.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let expected: u64 = s
        .instances
        .iter()
        .filter(|i| of_victim(&i.name))
        .map(|i| i.connections)
        .sum();
    let c = &s.connections;
    Criterion {
        number: 8,
        name: "clients reconnect after a failure",
        verdict: Verdict::of(expected > 0 && c.reconnects >= expected && c.gave_up == 0),
        figure: format!(
            "{} of {expected} clients of {victim} reconnected, {} gave up; reconnect time p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            c.reconnects, c.gave_up, c.reconnect_ms.p50, c.reconnect_ms.p99, c.reconnect_ms.max
        ),
        how: format!("{} (official client's retry delays 0, 2, 10, 30 s)", measured(s)),
    }
}
