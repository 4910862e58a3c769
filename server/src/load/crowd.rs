//! The connections one agent holds: opened at the agent's share of the
//! ramp rate, held, drained and closed on command, with a snapshot of
//! everything they saw every second. The in-process run and every agent
//! process run exactly this.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::api::Instance;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::client::{self, Phase, Shared, Target};
use super::gauge::{self, CpuMeter, LagProbe};
use super::meter::{Hist, Interval, Machine, Meter};
use super::plan::{Door, Plan};

/// How often an agent reports.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Extra time for connections to close after the drain deadline.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What the coordinator can tell an agent mid-run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Command {
    /// The sender stopped after `last_seq`: finish and report.
    Drain {
        /// The sender's last seq.
        last_seq: u64,
    },
    /// An instance joined: open this agent's share of connections to it.
    AddInstance(Instance),
}

/// Runs agent `index`'s share of `plan` until drained; every second (and
/// once more at the end, with `done`) a snapshot goes to `report`.
pub async fn run(
    plan: Arc<Plan>,
    index: u32,
    mut commands: mpsc::UnboundedReceiver<Command>,
    report: mpsc::UnboundedSender<Interval>,
) -> Result<(), String> {
    let started = Instant::now();
    let nofile = gauge::raise_nofile();
    let rss_start_kib = gauge::rss_kib();
    let mut doors: Vec<Arc<Door>> = plan
        .doors_of(&plan.instances)
        .into_iter()
        .map(Arc::new)
        .collect();
    let meter = Arc::new(Meter::new(
        doors.iter().map(|d| (d.label.clone(), d.hub_name.clone())),
    ));
    let (phase_tx, phase) = watch::channel(Phase::Running);
    let http = http_clients(&plan)?;
    let shared = Arc::new(Shared {
        meter: meter.clone(),
        http,
        origin: plan.origin(),
        skip_negotiation: plan.skip_negotiation,
        connect_timeout: Duration::from_millis(plan.connect_timeout_ms),
        gap_us: if plan.rate > 0.0 {
            (1e6 / plan.rate) as u64
        } else {
            0
        },
        phase,
    });
    let first_doors = doors.len();
    let mut tasks = JoinSet::new();
    let mut to_open: std::collections::VecDeque<(u64, usize)> = plan
        .share(index)
        .map(|n| (n, (n % doors.len() as u64) as usize))
        .collect();
    let mut ramp = tokio::time::interval(plan.ramp_gap());
    ramp.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + REPORT_EVERY, REPORT_EVERY);
    let lag = LagProbe::start();
    let mut cpu = CpuMeter::default();
    let snapshot = |cpu: &mut CpuMeter, done: bool| {
        let mut interval = meter.snapshot(index, started.elapsed().as_millis() as u64);
        let (cpu_pct, cpu_seconds) = cpu.sample();
        interval.machine = Machine {
            cpu_pct,
            cpu_seconds,
            rss_kib: gauge::rss_kib(),
            rss_start_kib,
            loop_lag: Hist(lag.take()),
            nofile,
        };
        interval.done = done;
        interval
    };
    let drain_ms = plan.drain_ms;
    loop {
        tokio::select! {
            _ = ramp.tick(), if !to_open.is_empty() => {
                if let Some((number, i)) = to_open.pop_front() {
                    let target = target(&plan, &meter, &doors[i], i, number);
                    tasks.spawn(client::run(shared.clone(), target));
                }
            }
            _ = tick.tick() => {
                if report.send(snapshot(&mut cpu, false)).is_err() {
                    break;
                }
            }
            command = commands.recv() => match command {
                Some(Command::Drain { last_seq }) => {
                    to_open.clear();
                    let until = Instant::now() + Duration::from_millis(drain_ms);
                    phase_tx.send_replace(Phase::Draining { last_seq, until });
                    let closing = async { while tasks.join_next().await.is_some() {} };
                    let limit = Duration::from_millis(drain_ms) + CLOSE_GRACE;
                    if tokio::time::timeout(limit, closing).await.is_err() {
                        tasks.abort_all();
                    }
                    break;
                }
                Some(Command::AddInstance(instance)) => {
                    // The new instance's doors come after every earlier
                    // one, each with a door's share of connections.
                    let per_door = plan.connections / first_doors.max(1) as u64;
                    let agents = u64::from(plan.agents.max(1));
                    for door in plan.doors_of(std::slice::from_ref(&instance)) {
                        let i = meter.add_instance(door.label.clone(), door.hub_name.clone());
                        doors.push(Arc::new(door));
                        let first = plan.connections + per_door * (i - first_doors) as u64;
                        to_open.extend(
                            (first..first + per_door)
                                .filter(|n| n % agents == u64::from(index))
                                .map(|n| (n, i)),
                        );
                    }
                }
                None => break,
            },
        }
    }
    let _ = report.send(snapshot(&mut cpu, true));
    Ok(())
}

/// Connection `number`'s target through door `i`.
fn target(plan: &Plan, meter: &Meter, door: &Arc<Door>, i: usize, number: u64) -> Target {
    let m = meter.instance(i);
    m.assigned();
    let source = (!plan.source_addrs.is_empty()).then(|| {
        let s = (number as usize / plan.agents.max(1) as usize) % plan.source_addrs.len();
        (s, plan.source_addrs[s])
    });
    Target {
        door: door.clone(),
        meter: m,
        source,
    }
}

/// One negotiate client per source address (or one for the OS's choice).
fn http_clients(plan: &Plan) -> Result<Vec<reqwest::Client>, String> {
    let build = |source: Option<IpAddr>| {
        reqwest::Client::builder()
            .local_address(source)
            .timeout(Duration::from_millis(plan.connect_timeout_ms))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))
    };
    if plan.source_addrs.is_empty() {
        return Ok(vec![build(None)?]);
    }
    plan.source_addrs.iter().map(|&a| build(Some(a))).collect()
}
