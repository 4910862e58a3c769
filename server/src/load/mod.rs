//! `signalscope load`: many real SignalR connections, a paced sender of
//! test broadcasts, and an honest account of what arrived and when.
//!
//! A tour, from the wire up:
//!
//! * [`plan`]: the run's plan (shared by every agent) and the chaos schedule;
//! * [`client`]: one connection, as the official client behaves; it times
//!   every arrival by the kernel's receive time ([`stamped`]) and accounts
//!   for it with a [`tally`];
//! * [`meter`]: what connections record into, snapshotted every second
//!   as an [`meter::Interval`];
//! * [`crowd`]: the connections of one agent, ramped, held and drained;
//! * [`agent`] and [`control`]: the same crowd in other processes,
//!   coordinated over Redis Streams;
//! * [`sender`]: the paced sender; [`probe`]: Redis sampled every second;
//!   [`gauge`]: the generator watching itself; [`chaos`]: the demo's
//!   processes stopped and started on schedule;
//! * [`ledger`]: every agent's snapshots folded into totals and a
//!   timeline; [`summary`]: the result as data, [`report`] as HTML, and
//!   [`run`] writes the JSON, the `.hlog` and prints the verdict.

pub mod agent;
pub mod chaos;
pub mod client;
pub mod control;
pub mod crowd;
pub mod gauge;
pub mod ledger;
pub mod meter;
pub mod plan;
pub mod probe;
pub mod report;
pub mod sender;
pub mod stamped;
pub mod summary;
pub mod tally;

use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::broadcast::iso8601_utc;
use tokio::process::Child;
use tokio::sync::{mpsc, watch};

use crate::deployment::{Deployment, DeploymentArgs};
use crate::redis_link::RedisLink;
use crate::redis_target::RedisTarget;
use chaos::DemoControls;
use control::Control;
use crowd::Command;
use ledger::Ledger;
use meter::Interval;
use plan::{parse_duration, Chaos, Plan, SendVia};
use summary::{Event, GeneratorStats, LoadSummary, PlanEcho, SendStats, Validity};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The load generator's CLIENT SETNAME: the feed shows who published.
const CLIENT_NAME: &str = "signalscope-load";
/// Open files one process keeps for itself beyond its connections.
const SPARE_FILES: u64 = 256;
/// How long agents may take to join a run.
const JOIN_WITHIN: Duration = Duration::from_secs(30);

/// `signalscope load` settings.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "With no --redis, --instance or --config, a running `signalscope demo` is used. \
Durations: 500ms, 60s, 2m. Chaos (--kill-instance, --add-instance, --restart-redis) needs processes a demo \
owns; times count from the start of the hold."
)]
pub struct Args {
    /// Where the deployment is (the same settings as `serve`).
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Connections to open, spread round-robin over every hub of every
    /// instance (the hubs each instance serves).
    #[arg(long, default_value_t = 1000)]
    pub connections: u64,
    /// How long to hold them once all are open.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Test broadcasts per second while holding.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Connections opened per second while ramping up.
    #[arg(long, default_value_t = 1000.0)]
    pub ramp: f64,
    /// How broadcasts are sent: into the backplane, or through an
    /// instance's trigger endpoint.
    #[arg(long, value_enum, default_value = "redis")]
    pub send_via: SendVia,
    /// Skip negotiate and open WebSockets directly.
    #[arg(long)]
    pub skip_negotiation: bool,
    /// The hub event broadcasts arrive as on every hub [default: each
    /// hub's own, e.g. NavigationStateUpdate on navigation].
    #[arg(long)]
    pub event: Option<String>,
    /// Agent processes to start on this machine (0: connections in this process).
    #[arg(long, default_value_t = 0)]
    pub agents: u32,
    /// Agents started elsewhere (`signalscope agent`) to wait for.
    #[arg(long, default_value_t = 0)]
    pub remote_agents: u32,
    /// The Redis that carries plans and reports [default: the target Redis].
    #[arg(long)]
    pub control_redis: Option<RedisTarget>,
    /// Local addresses to connect from (e.g. 127.0.0.2,127.0.0.3), when one
    /// address has too few ports for the connections per target.
    #[arg(long, value_delimiter = ',')]
    pub source_addrs: Vec<IpAddr>,
    /// Write the JSON summary here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write an HdrHistogram interval log here.
    #[arg(long)]
    pub hlog: Option<PathBuf>,
    /// Stop an instance at a time of the hold: NAME@TIME (demo only).
    #[arg(long)]
    pub kill_instance: Vec<String>,
    /// Start killed instances (and Redis) again after this long.
    #[arg(long, value_parser = parse_duration)]
    pub restart_after: Option<Duration>,
    /// Add an instance at a time of the hold: @TIME (demo only).
    #[arg(long)]
    pub add_instance: Vec<String>,
    /// Restart Redis at a time of the hold: @TIME (demo only).
    #[arg(long)]
    pub restart_redis: Vec<String>,
    /// The demo companion whose controls perform the chaos [default: the
    /// running demo's].
    #[arg(long, env = "SIGNALSCOPE_DEMO")]
    pub demo: Option<String>,
    /// The latency threshold the verdict uses, ms [default: 50].
    #[arg(long, env = "SIGNALSCOPE_PASS_WITHIN_MS")]
    pub pass_within_ms: Option<u64>,
    /// Event-loop lag p99 (ms) above which the run is invalid.
    #[arg(long, default_value_t = 20.0)]
    pub max_lag_ms: f64,
    /// How long to wait for the last broadcasts after the sender stops.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Ceiling for one connect attempt.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// A run, settled and checked, before anything starts.
pub struct Setup {
    /// What every agent does.
    pub plan: Plan,
    /// The backplane.
    pub deployment: Deployment,
    /// Chaos acts in time order.
    pub chaos: Vec<Chaos>,
    /// Where chaos is performed.
    pub demo: Option<DemoControls>,
    /// Local agent processes.
    pub local_agents: u32,
    /// Agents started elsewhere.
    pub remote_agents: u32,
    /// The control Redis, when agents are used.
    pub control: Option<RedisTarget>,
    /// How broadcasts go out.
    pub send_via: SendVia,
    /// The latency threshold, ms.
    pub pass_within_ms: u64,
    /// Validity: event-loop lag p99 ceiling, ms.
    pub max_lag_ms: f64,
    /// Print progress.
    pub progress: bool,
}

impl Args {
    /// Turns flags into a checked [`Setup`]; every mistake is reported
    /// here, before any connection or process starts.
    pub async fn settle(self) -> Result<Setup, BoxError> {
        let deployment = self.deployment.settle()?;
        if deployment.instances.is_empty() {
            return Err("no instances: pass --instance [name=]http://host:port (or start `signalscope demo`)".into());
        }
        if let Some(i) = deployment
            .instances
            .iter()
            .find(|i| i.url.starts_with("https://"))
        {
            return Err(format!(
                "instance {} is https://: load opens plain ws:// connections only (put it behind a local http port)",
                i.name
            )
            .into());
        }
        if self.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if self.send_via == SendVia::Instance && deployment.hubs.len() > 1 {
            return Err(
                "--send-via instance drives one hub: use --send-via redis with several --hub"
                    .into(),
            );
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err("--rate must be a number ≥ 0".into());
        }
        if !(self.ramp.is_finite() && self.ramp > 0.0) {
            return Err("--ramp must be a number > 0".into());
        }
        let agents = self.agents + self.remote_agents;
        if self.agents > 0 && self.remote_agents > 0 {
            return Err("use --agents or --remote-agents, not both".into());
        }
        let chaos = plan::schedule(
            &self.kill_instance,
            self.restart_after,
            &self.add_instance,
            &self.restart_redis,
            &deployment.instances,
        )?;
        let demo = self.demo.map(|url| DemoControls::new(&url));
        if !chaos.is_empty() {
            let Some(d) = &demo else {
                return Err("chaos flags need a `signalscope demo` (its processes are the only ones load may stop); pass --demo URL".into());
            };
            d.available().await?;
        }
        let per_process = self.connections.div_ceil(u64::from(agents.max(1)));
        let (soft, hard) = gauge::raise_nofile();
        if agents == 0 && per_process + SPARE_FILES > soft {
            return Err(format!(
                "{} connections need about {} open files; this process may open {soft} (hard limit {hard}). Use --agents {} to spread them over processes.",
                self.connections,
                per_process + SPARE_FILES,
                self.connections.div_ceil(soft.saturating_sub(SPARE_FILES).max(1))
            )
            .into());
        }
        let ports = gauge::ephemeral_ports();
        let sources = self.source_addrs.len().max(1) as u64;
        let per_target = self.connections.div_ceil(deployment.instances.len() as u64);
        if per_target > ports * sources {
            return Err(format!(
                "{per_target} connections per instance exceed the {ports} local ports of {sources} source address(es): add --source-addrs 127.0.0.2,127.0.0.3,…"
            )
            .into());
        }
        let run_id = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
        let plan = Plan {
            run_id,
            instances: deployment.instances.clone(),
            hubs: deployment.hubs.clone(),
            keys: deployment.keys.clone(),
            event: self.event,
            skip_negotiation: self.skip_negotiation,
            connections: self.connections,
            ramp_per_s: self.ramp,
            hold_ms: self.duration.as_millis() as u64,
            rate: self.rate,
            agents: agents.max(1),
            source_addrs: self.source_addrs,
            connect_timeout_ms: self.connect_timeout.as_millis() as u64,
            drain_ms: self.drain.as_millis() as u64,
        };
        let control = (agents > 0).then(|| {
            self.control_redis
                .clone()
                .unwrap_or_else(|| deployment.redis.clone())
        });
        Ok(Setup {
            plan,
            chaos,
            demo,
            local_agents: self.agents,
            remote_agents: self.remote_agents,
            control,
            send_via: self.send_via,
            pass_within_ms: self.pass_within_ms.unwrap_or(50),
            max_lag_ms: self.max_lag_ms,
            progress: !self.quiet,
            deployment,
        })
    }
}

/// Runs `signalscope load` and writes what was asked for.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let (json, report, hlog) = (args.json.clone(), args.report.clone(), args.hlog.clone());
    let setup = args.settle().await?;
    setup.deployment.redis.check_reachable("--redis").await?;
    eprintln!(
        "load: {} connections over {} ({}), hold {:?}, {} broadcasts/s via {}",
        setup.plan.connections,
        setup
            .plan
            .doors_of(&setup.plan.instances)
            .iter()
            .map(|d| d.label.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        setup.deployment.source,
        Duration::from_millis(setup.plan.hold_ms),
        setup.plan.rate,
        setup.send_via.as_str()
    );
    let (summary, ledger) = execute(setup).await?;
    if let Some(path) = &json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &report {
        std::fs::write(path, report::html(&summary))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &hlog {
        write_hlog(path, &ledger)?;
    }
    print_summary(&summary);
    Ok(())
}

/// The agents of a run, whichever kind.
enum Agents {
    /// Connections in this process.
    InProcess(mpsc::UnboundedSender<Command>),
    /// Agent processes, told over the control Redis.
    Remote {
        /// The control connection.
        control: Control,
        /// Local agent processes (killed on drop).
        _children: Vec<Child>,
    },
}

impl Agents {
    async fn tell(&self, run: &str, command: Command) {
        match self {
            Self::InProcess(tx) => {
                let _ = tx.send(command);
            }
            Self::Remote { control, .. } => {
                if let Err(e) = control.tell(run, Some(&command)).await {
                    tracing::warn!("could not tell the agents: {e}");
                }
            }
        }
    }
}

/// Starts the agents; their intervals arrive on the returned receiver.
async fn start_agents(
    setup: &Setup,
    plan: &Arc<Plan>,
) -> Result<(Agents, mpsc::UnboundedReceiver<Interval>), BoxError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let Some(target) = &setup.control else {
        let (ctx, crx) = mpsc::unbounded_channel();
        let plan = plan.clone();
        tokio::spawn(async move {
            if let Err(e) = crowd::run(plan, 0, crx, tx).await {
                tracing::error!("load: {e}");
            }
        });
        return Ok((Agents::InProcess(ctx), rx));
    };
    let control = Control::connect(target, CLIENT_NAME).await?;
    control.announce(plan).await?;
    let mut children = Vec::new();
    let exe = std::env::current_exe()?;
    for index in 0..setup.local_agents {
        let child = tokio::process::Command::new(&exe)
            .args(["agent", "--control", target.url(), "--run", &plan.run_id])
            .args(["--index", &index.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start agent {index}: {e}"))?;
        children.push(child);
    }
    let missing = control
        .await_agents(&plan.run_id, plan.agents, JOIN_WITHIN)
        .await?;
    if !missing.is_empty() {
        control.cleanup(&plan.run_id).await;
        return Err(format!(
            "agents {missing:?} did not join run {} within {JOIN_WITHIN:?} (start them with `signalscope agent --control {target} --run {} --index N`)",
            plan.run_id, plan.run_id
        )
        .into());
    }
    control.tell(&plan.run_id, None).await?;
    tokio::spawn(control.clone().collect(plan.run_id.clone(), tx));
    Ok((
        Agents::Remote {
            control,
            _children: children,
        },
        rx,
    ))
}

/// Runs the load: ramp, hold (with sender and chaos), drain. Returns the
/// summary and the books (for the interval log).
pub async fn execute(setup: Setup) -> Result<(LoadSummary, Ledger), BoxError> {
    let plan = Arc::new(setup.plan.clone());
    let started = Instant::now();
    let started_at = iso8601_utc(crate::clock::unix_ms());
    let link = RedisLink::new(&setup.deployment.redis, CLIENT_NAME)?;
    link.query::<String>(&redis::cmd("PING"))
        .await
        .map_err(|e| {
            format!(
                "the target Redis {} is unreachable: {e}",
                setup.deployment.redis
            )
        })?;
    let pubsub_limit = probe::pubsub_limit(&link).await;
    let control_keys = match &setup.control {
        Some(t) if t == &setup.deployment.redis => control::run_keys(&plan.run_id),
        _ => Vec::new(),
    };
    let (probe_stop, probe_stop_rx) = watch::channel(false);
    let (samples_tx, samples_rx) = watch::channel(Vec::new());
    tokio::spawn(probe::watch(
        link.clone(),
        setup.deployment.channels().all(),
        control_keys,
        started,
        probe_stop_rx,
        samples_tx,
    ));

    let doors = plan.doors_of(&plan.instances);
    if doors.is_empty() {
        return Err("no instance serves any of the hubs (see --instance …#hub|hub)".into());
    }
    keys_accepted(&plan, &doors).await?;
    let (agents, mut intervals) = start_agents(&setup, &plan).await?;
    let shares: Vec<u64> = (0..plan.agents)
        .map(|i| plan.share(i).count() as u64)
        .collect();
    let mut ledger = Ledger::new(
        doors
            .iter()
            .map(|d| (d.label.clone(), d.hub_name.clone()))
            .collect(),
        &shares,
    );
    let mut events = Vec::new();
    let mut progress = Progress::new(setup.progress);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let t = |at: Instant| at.duration_since(started).as_secs_f64();

    // Ramp: until every connection was attempted, or it is clearly stuck.
    let ramp_limit = Duration::from_secs_f64(plan.connections as f64 / plan.ramp_per_s)
        + Duration::from_millis(plan.connect_timeout_ms)
        + Duration::from_secs(5);
    while ledger.attempted() < plan.connections && started.elapsed() < ramp_limit {
        tokio::select! {
            Some(i) = intervals.recv() => ledger.absorb(i),
            _ = tick.tick() => {
                note_stopped(&mut ledger, &mut events, t(Instant::now()));
                let row = ledger.tick(t(Instant::now()), 0);
                progress.show("ramp", &row, &ledger, plan.connections);
                if ledger.all_finished() { break; }
            }
        }
    }
    let ramp_cpu_seconds = ledger.cpu_seconds();
    events.push(Event {
        t_s: t(Instant::now()),
        kind: "ramp-done".into(),
        what: format!(
            "{} of {} connections attempted",
            ledger.attempted(),
            plan.connections
        ),
    });

    // Hold: the sender runs, chaos happens on schedule.
    let hold_start = Instant::now();
    let (sender_stop, sender_stop_rx) = watch::channel(false);
    let (sent_tx, sent_rx) = watch::channel(sender::Sent::default());
    let route = match setup.send_via {
        SendVia::Redis => sender::Route::Redis {
            link: link.clone(),
            channels: plan
                .hubs
                .iter()
                .map(|hub| {
                    let channel = hub.channels(&setup.deployment.prefix);
                    (channel.name(&hub.audience.channel()), plan.event_of(hub))
                })
                .collect(),
            protocols: setup.deployment.protocols.clone(),
        },
        SendVia::Instance => sender::Route::Instance {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()?,
            instances: plan.instances.clone(),
            event: plan.event_of(&plan.hubs[0]),
        },
    };
    let sender = tokio::spawn(sender::run(
        route,
        plan.origin(),
        plan.rate,
        sender_stop_rx,
        sent_tx,
    ));
    let mut chaos = setup.chaos.iter().peekable();
    let hold = Duration::from_millis(plan.hold_ms);
    let mut sent_before = 0;
    while hold_start.elapsed() < hold {
        let next_chaos = chaos.peek().map_or(hold, |c| c.at.min(hold));
        tokio::select! {
            Some(i) = intervals.recv() => ledger.absorb(i),
            _ = tick.tick() => {
                note_stopped(&mut ledger, &mut events, t(Instant::now()));
                let sent = sent_rx.borrow().sent;
                let row = ledger.tick(t(Instant::now()), sent - sent_before);
                sent_before = sent;
                progress.show("hold", &row, &ledger, plan.connections);
            }
            _ = tokio::time::sleep_until((hold_start + next_chaos).into()) => {
                let Some(c) = chaos.next_if(|c| c.at <= hold) else { continue };
                let (kind, mut what) = chaos::describe(&c.act);
                if let Some(demo) = &setup.demo {
                    match demo.perform(&c.act).await {
                        Ok(Some(added)) => {
                            what = format!("{} added at {}", added.name, added.url);
                            agents.tell(&plan.run_id, Command::AddInstance(added)).await;
                        }
                        Ok(None) => {}
                        Err(e) => what = format!("{what} — FAILED: {e}"),
                    }
                }
                events.push(Event { t_s: t(Instant::now()), kind: kind.into(), what });
            }
        }
    }
    sender_stop.send_replace(true);
    let sent = sender.await.unwrap_or_default();
    events.push(Event {
        t_s: t(Instant::now()),
        kind: "hold-done".into(),
        what: format!("sender stopped after seq {}", sent.last_seq),
    });
    agents
        .tell(
            &plan.run_id,
            Command::Drain {
                last_seq: sent.last_seq,
            },
        )
        .await;

    // Drain: every agent reports its final books, or is marked stopped.
    let drain_limit = Instant::now()
        + Duration::from_millis(plan.drain_ms)
        + Duration::from_secs(10)
        + ledger::AGENT_SILENCE;
    while !ledger.all_finished() && Instant::now() < drain_limit {
        tokio::select! {
            i = intervals.recv() => match i {
                Some(i) => ledger.absorb(i),
                None => break,
            },
            _ = tick.tick() => {
                note_stopped(&mut ledger, &mut events, t(Instant::now()));
            }
        }
    }
    progress.done();
    probe_stop.send_replace(true);
    if let Agents::Remote { control, .. } = &agents {
        control.cleanup(&plan.run_id).await;
    }
    drop(agents);

    let held_at_end = ledger.timeline.last().map_or(0, |row| row.held);
    let hold_window = (
        hold_start.duration_since(started).as_secs_f64(),
        hold_start.duration_since(started).as_secs_f64() + hold.as_secs_f64() + 1.0,
    );
    let redis = probe::summarise(samples_rx.borrow().clone(), pubsub_limit, hold_window);
    let mut connections = ledger.connections(plan.connections);
    connections.held_at_end = held_at_end;
    let (cpu_mean, cpu_max, cpu_seconds) = ledger.cpu();
    let (nofile_soft, nofile_hard) = ledger.nofile();
    let per_target = plan.connections.div_ceil(plan.instances.len() as u64);
    let generator = GeneratorStats {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        cpu_pct_mean: cpu_mean,
        cpu_pct_max: cpu_max,
        cpu_seconds,
        loop_lag_ms: ledger.loop_lag(),
        nofile_soft,
        nofile_hard,
        ephemeral_ports: gauge::ephemeral_ports(),
        connections_per_target: plan
            .instances
            .iter()
            .map(|i| (i.name.clone(), per_target))
            .collect(),
        peak_rss_kib: ledger.peak_rss_kib(),
        kib_per_connection: ledger.added_rss_kib() as f64 / connections.peak_held.max(1) as f64,
        ramp_cpu_seconds,
        connections_per_cpu_second: connections.opened as f64 / ramp_cpu_seconds.max(1e-3),
    };
    let hold_s = hold.as_secs_f64();
    let broadcasts = SendStats {
        sent: sent.sent,
        failed: sent.failed,
        rate_achieved: if hold_s > 0.0 {
            sent.sent as f64 / hold_s
        } else {
            0.0
        },
        max_behind_ms: sent.max_behind.as_secs_f64() * 1000.0,
    };
    let agents_status = if setup.control.is_some() {
        ledger.agents()
    } else {
        Vec::new()
    };
    let validity = validity(&setup, &plan, &generator, &broadcasts, &agents_status);
    let summary = LoadSummary {
        run_id: plan.run_id.clone(),
        started_at,
        plan: PlanEcho {
            connections: plan.connections,
            duration_s: hold_s,
            rate: plan.rate,
            ramp_per_s: plan.ramp_per_s,
            send_via: setup.send_via.as_str().into(),
            instances: ledger.instances().iter().map(|i| i.name.clone()).collect(),
            agents: if setup.control.is_some() {
                plan.agents
            } else {
                0
            },
            pass_within_ms: setup.pass_within_ms as f64,
        },
        validity,
        connections,
        broadcasts,
        delivery: ledger.delivery(),
        latency: ledger.latency(),
        instances: ledger.instances(),
        hubs: ledger.hubs(),
        timeline: ledger.timeline.clone(),
        redis,
        generator,
        events,
        agents: agents_status,
    };
    Ok((summary, ledger))
}

/// Opens one connection through every door before the run, so a hub that
/// refuses its key (or wants one) stops the run at once with the setting to
/// fix, instead of a run of failed connections. Other failures are left
/// to the run to count (an instance may be down on purpose).
async fn keys_accepted(plan: &Plan, doors: &[plan::Door]) -> Result<(), BoxError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(plan.connect_timeout_ms))
        .build()?;
    let timeout = Duration::from_millis(plan.connect_timeout_ms);
    let tries = doors.iter().map(|door| {
        let http = &http;
        async move {
            let attempt = client::connect(http, door, plan.skip_negotiation, None);
            match tokio::time::timeout(timeout, attempt).await {
                Ok(Ok(mut ws)) => {
                    let _ = futures_util::SinkExt::close(&mut ws).await;
                    None
                }
                Ok(Err(reason)) if client::is_key_refused(&reason) => {
                    Some(format!("{}: {reason}", door.label))
                }
                _ => None,
            }
        }
    });
    let refused: Vec<String> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .flatten()
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(refused.join("; ").into())
    }
}

/// Records agents that went silent as events.
fn note_stopped(ledger: &mut Ledger, events: &mut Vec<Event>, t_s: f64) {
    for i in ledger.check_silence() {
        events.push(Event {
            t_s,
            kind: "agent-stopped".into(),
            what: format!("agent {i} stopped reporting"),
        });
    }
}

/// Whether the generator, not the servers, set the figures.
fn validity(
    setup: &Setup,
    plan: &Plan,
    generator: &GeneratorStats,
    broadcasts: &SendStats,
    agents: &[summary::AgentStatus],
) -> Validity {
    let mut reasons = Vec::new();
    if generator.loop_lag_ms.p99 > setup.max_lag_ms {
        reasons.push(format!(
            "the generator's event loop lagged: p99 {:.1} ms > {:.1} ms (--max-lag-ms)",
            generator.loop_lag_ms.p99, setup.max_lag_ms
        ));
    }
    // Agents on this machine share its cores: the ceiling is the machine's.
    let ceiling = 90.0 * generator.cores as f64;
    if generator.cpu_pct_mean > ceiling {
        reasons.push(format!(
            "the generator used {:.0} % CPU on average (ceiling {:.0} % for {} cores)",
            generator.cpu_pct_mean, ceiling, generator.cores
        ));
    }
    if plan.rate > 0.0 && broadcasts.max_behind_ms > 1000.0 / plan.rate {
        reasons.push(format!(
            "the sender fell {:.1} ms behind its schedule (more than one interval); latencies are corrected, but the rate was not met",
            broadcasts.max_behind_ms
        ));
    }
    for a in agents.iter().filter(|a| a.state != "finished") {
        reasons.push(format!("agent {} stopped before the end", a.index));
    }
    Validity {
        valid: reasons.is_empty(),
        reasons,
    }
}

/// The live progress line (a terminal) or a plain line every 5 s.
struct Progress {
    /// Whether to print at all.
    enabled: bool,
    /// stderr is a terminal: rewrite one line.
    terminal: bool,
    /// Rows printed, for the plain cadence.
    rows: u64,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            rows: 0,
        }
    }

    fn show(&mut self, phase: &str, row: &summary::Tick, ledger: &Ledger, target: u64) {
        self.rows += 1;
        if !self.enabled || (!self.terminal && self.rows % 5 != 0) {
            return;
        }
        let d = ledger.delivery();
        let p99 = summary::Percentiles::of(&ledger.latency_overall()).p99;
        let line = format!(
            "[{:>5.0}s {phase}] connections {}/{target}  broadcasts/s {}  arrivals/s {}  p99 {p99:.1} ms  lost {}  missed {}",
            row.t_s, row.held, row.sent, row.received, d.lost_while_connected, d.missed_while_disconnected
        );
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn done(&self) {
        if self.enabled && self.terminal {
            eprintln!();
        }
    }
}

/// The human verdict on stdout.
fn print_summary(s: &LoadSummary) {
    let c = &s.connections;
    let d = &s.delivery;
    let l = &s.latency.corrected;
    println!("signalscope load — run {}", s.run_id);
    println!(
        "  validity     {}",
        if s.validity.valid {
            "VALID".to_owned()
        } else {
            format!("INVALID: {}", s.validity.reasons.join("; "))
        }
    );
    println!(
        "  connections  {} of {} opened, {} failed, peak {} held, {} at end; connect p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        c.opened, c.target, c.failed, c.peak_held, c.held_at_end, c.connect_ms.p50, c.connect_ms.p99, c.connect_ms.max
    );
    for (reason, n) in &c.failures_by_reason {
        println!("               {n} × {reason}");
    }
    println!(
        "  broadcasts   {} sent ({:.1}/s), {} failed, sender at most {:.1} ms behind",
        s.broadcasts.sent,
        s.broadcasts.rate_achieved,
        s.broadcasts.failed,
        s.broadcasts.max_behind_ms
    );
    println!(
        "  delivery     {} received; LOST while connected {}; missed while disconnected {} (expected: SignalR does not replay); {} duplicates, {} reordered, {} silent",
        d.received, d.lost_while_connected, d.missed_while_disconnected, d.duplicates, d.reordered, d.silent_connections
    );
    println!(
        "  latency      publish → arrival p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} arrivals; uncorrected p99 {:.2} ms) — p99 {} {} ms",
        l.p50, l.p90, l.p99, l.max, l.count, s.latency.uncorrected.p99,
        if l.p99 < s.plan.pass_within_ms { "<" } else { "≥" },
        s.plan.pass_within_ms
    );
    for i in s.hubs.iter().filter(|_| s.hubs.len() > 1) {
        println!(
            "  hub {:<10} {} connections, {} received, lost {}, missed {}, p50 {:.2} ms, p99 {:.2} ms",
            i.name, i.connections, i.delivery.received, i.delivery.lost_while_connected,
            i.delivery.missed_while_disconnected, i.latency.p50, i.latency.p99
        );
    }
    for i in &s.instances {
        println!(
            "    {:<10} {} connections, {} received, lost {}, missed {}, p50 {:.2} ms, p99 {:.2} ms",
            i.name, i.connections, i.delivery.received, i.delivery.lost_while_connected,
            i.delivery.missed_while_disconnected, i.latency.p50, i.latency.p99
        );
    }
    if c.reconnects > 0 || c.gave_up > 0 {
        println!(
            "  reconnects   {} (p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms), {} gave up",
            c.reconnects, c.reconnect_ms.p50, c.reconnect_ms.p99, c.reconnect_ms.max, c.gave_up
        );
    }
    println!(
        "  redis        used_memory {} → {} bytes (drift {:+} bytes, {:+.2} %), max subscriber omem {} B (limit {})",
        s.redis.memory_start, s.redis.memory_end, s.redis.drift_bytes, s.redis.drift_pct,
        s.redis.max_subscriber_omem, s.redis.pubsub_buffer_limit
    );
    for n in &s.redis.nodes {
        println!(
            "    {:<21} used_memory {} → {} bytes (drift {:+} bytes)",
            n.address, n.memory_start, n.memory_end, n.drift_bytes
        );
    }
    let g = &s.generator;
    println!(
        "  generator    CPU {:.0} % mean / {:.0} % max of one core ({} cores), {:.1} CPU-s, loop lag p99 {:.2} ms, open files {}/{}",
        g.cpu_pct_mean, g.cpu_pct_max, g.cores, g.cpu_seconds, g.loop_lag_ms.p99, g.nofile_soft, g.nofile_hard
    );
    println!(
        "               peak RSS {} KiB, {:.1} KiB per connection; {:.0} connections opened per CPU-second",
        g.peak_rss_kib, g.kib_per_connection, g.connections_per_cpu_second
    );
    for e in &s.events {
        println!("  event {:>6.1}s {:<13} {}", e.t_s, e.kind, e.what);
    }
}

/// Writes every agent's interval histograms as an HdrHistogram log.
fn write_hlog(path: &std::path::Path, ledger: &Ledger) -> Result<(), BoxError> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment("signalscope load: publish -> arrival, microseconds, per agent per second")
            .begin_log_with(&mut out, &mut serializer)?;
        for (agent, end_ms, h) in &ledger.log {
            let start = Duration::from_millis(end_ms.saturating_sub(1000));
            let tag = format!("agent-{agent}");
            writer.write_histogram(h, start, Duration::from_secs(1), Tag::new(&tag))?;
        }
    }
    std::fs::write(path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
