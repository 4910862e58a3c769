//! The always-on canary: the proof the dashboard gives while someone
//! watches, kept running for monitoring.
//!
//! It holds one SignalR connection of its own to every hub of every
//! instance (as the official client does: negotiate with the hub's key,
//! handshake, pings, reconnects, forever), publishes a test broadcast on
//! every hub's channel each interval, and records for each instance × hub
//! whether and when it arrived, timed by the kernel's receive time of the
//! frame. With several hubs, rows and metric labels read `instance/hub`. Results go to [`Metrics`] (for
//! `/metrics`) and to a short history for the page (`/api/canary`).
//!
//! * [`Canary`]: starts the tasks; they stop when it is dropped.
//! * `listener`: one instance × hub's connection.
//! * `rounds`: the ledger of who got which round.
//! * [`Args`] / [`run`]: `signalscope canary`, the canary with `/metrics`
//!   and no dashboard.
//!
//! Its traffic is labelled twice: the Redis connection that publishes is
//! named [`CANARY_CLIENT_NAME`] (the feed shows it on every line), and each
//! broadcast's origin is `canary-<id>` (pages leave it out of their own
//! counts).

mod listener;
mod rounds;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::api::{CanaryReport, Hub, Instance};
use protocol::broadcast::{TestBroadcast, CANARY_ORIGIN_PREFIX};
use tokio::task::AbortHandle;

use crate::clock::unix_us;
use crate::companion::{self, BoxError, CompanionConfig};
use crate::deployment::{DeploymentArgs, HubKeys};
use crate::load::plan::{doors, parse_duration, Door};
use crate::locks::lock;
use crate::metrics::Metrics;
use crate::redis_link::RedisLink;
use crate::redis_target::RedisTarget;
use rounds::Rounds;

/// The canary's Redis connection's name, as the feed shows it.
pub const CANARY_CLIENT_NAME: &str = "signalscope-canary";
/// `signalscope canary`'s interval unless told otherwise.
pub const DEFAULT_INTERVAL: &str = "10s";
/// A canary slower than this counts as missed (unless the interval is
/// longer: then the interval). Healthy backplanes deliver in
/// milliseconds; seconds mean something is wrong.
const MISS_AFTER: Duration = Duration::from_secs(5);

/// What the canary watches and how often.
#[derive(Debug, Clone)]
pub struct CanarySettings {
    /// Time between two canary broadcasts.
    pub interval: Duration,
    /// The instances to hold connections to, one per hub each serves.
    pub instances: Vec<Instance>,
    /// The hubs: each one's path, key placement, audience channel and event.
    pub hubs: Vec<Hub>,
    /// The hubs' keys, for the secure ones.
    pub keys: HubKeys,
    /// StackExchange.Redis ChannelPrefix.
    pub prefix: String,
    /// The backplane's Redis, where canaries are published.
    pub redis: RedisTarget,
}

impl CanarySettings {
    /// What its report and metrics call each listener, in order.
    pub fn labels(&self) -> Vec<String> {
        self.doors().into_iter().map(|d| d.label).collect()
    }

    /// Every instance × hub it listens on.
    fn doors(&self) -> Vec<Door> {
        doors(&self.instances, &self.hubs, &self.keys)
    }
}

/// What the tasks share.
#[derive(Debug)]
struct Shared {
    /// This canary's broadcasts carry this origin; others are ignored.
    origin: String,
    /// Every instance × hub listened on, in ledger order.
    doors: Vec<Door>,
    /// Who got which round.
    rounds: Mutex<Rounds>,
    /// The canary's connection through each door is open.
    connected: Vec<AtomicBool>,
    /// Where results are exported.
    metrics: Arc<Metrics>,
}

impl Shared {
    /// The ledger, even if a task panicked while holding it (the ledger
    /// stays consistent between calls).
    fn rounds(&self) -> std::sync::MutexGuard<'_, Rounds> {
        lock(&self.rounds)
    }
}

/// A running canary; dropping it stops every task.
#[derive(Debug)]
pub struct Canary {
    /// The tasks' common state, read for reports.
    shared: Arc<Shared>,
    /// Time between two canaries.
    interval: Duration,
    /// See [`MISS_AFTER`].
    miss_after: Duration,
    /// Aborted on drop.
    tasks: Vec<AbortHandle>,
}

impl Canary {
    /// Starts the connections, the sender and the judge. Must be called
    /// inside a Tokio runtime.
    pub fn start(settings: CanarySettings, metrics: Arc<Metrics>) -> Result<Self, BoxError> {
        if settings.interval < Duration::from_millis(100) {
            return Err(format!(
                "--canary {:?} is too short: use 100ms or more",
                settings.interval
            )
            .into());
        }
        let link = RedisLink::new(&settings.redis, CANARY_CLIENT_NAME)?;
        let miss_after = MISS_AFTER.max(settings.interval);
        let doors = settings.doors();
        // Each round goes out once per hub, on its audience channel.
        let channels = settings
            .hubs
            .iter()
            .map(|hub| {
                let channel = hub.channels(&settings.prefix);
                (
                    channel.name(&hub.audience.channel()),
                    hub.events.broadcast.clone(),
                )
            })
            .collect();
        let shared = Arc::new(Shared {
            origin: format!("{CANARY_ORIGIN_PREFIX}-{:08x}", rand::random::<u32>()),
            rounds: Mutex::new(Rounds::new(doors.len())),
            connected: doors.iter().map(|_| AtomicBool::new(false)).collect(),
            doors,
            metrics,
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let mut tasks = Vec::new();
        for i in 0..shared.doors.len() {
            let task = listener::listen(shared.clone(), i, http.clone());
            tasks.push(tokio::spawn(task).abort_handle());
        }
        let send = send(shared.clone(), link, channels, settings.interval);
        tasks.push(tokio::spawn(send).abort_handle());
        tasks.push(tokio::spawn(judge(shared.clone(), miss_after)).abort_handle());
        Ok(Self {
            shared,
            interval: settings.interval,
            miss_after,
            tasks,
        })
    }

    /// The recent rounds and the totals, for the page.
    pub fn report(&self) -> CanaryReport {
        let rounds = self.shared.rounds();
        CanaryReport {
            interval_ms: self.interval.as_millis() as u64,
            miss_after_ms: self.miss_after.as_millis() as u64,
            instances: self.shared.doors.iter().map(|d| d.label.clone()).collect(),
            connected: self
                .shared
                .connected
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sent: rounds.sent_count(),
            missed: rounds.missed().to_vec(),
            rounds: rounds.history(),
        }
    }

    /// The time between two canaries.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Publishes a canary every `interval` on every `(channel, event)`. A
/// round enters the ledger before its publish (an arrival can beat
/// PUBLISH's reply) and leaves it again if Redis refused it everywhere: a
/// canary that never went out is nobody's miss.
async fn send(
    shared: Arc<Shared>,
    link: RedisLink,
    channels: Vec<(String, String)>,
    interval: Duration,
) {
    // The first canary waits one interval, so the connections are open:
    // a round sent before anyone could listen would be a false miss.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    loop {
        tick.tick().await;
        let next = seq + 1;
        let sent_us = unix_us();
        let mut broadcast = TestBroadcast::new(
            format!("{}:{next}", shared.origin),
            next,
            sent_us / 1000,
            shared.origin.clone(),
        );
        broadcast.sent_at_us = Some(sent_us);
        shared.rounds().sent(next, sent_us);
        // A round counts if any hub's publish went out; a hub whose
        // publish failed then shows it as missed, which it was.
        let mut any = false;
        for (channel, event) in &channels {
            let argument = vec![broadcast.to_argument()];
            let json = protocol::hub_protocol::JSON_ONLY;
            match link
                .publish_invocation(channel, event, argument, json)
                .await
            {
                Ok(_) => any = true,
                Err(e) => tracing::warn!(error = %e, %channel, "canary: publish failed"),
            }
        }
        if any {
            seq = next;
            shared.metrics.canary_sent();
        } else {
            shared.rounds().unsent(next);
            shared.metrics.canary_publish_failed();
        }
    }
}

/// Settles rounds past their deadline: every instance a round did not
/// reach missed it.
async fn judge(shared: Arc<Shared>, miss_after: Duration) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let misses = shared
            .rounds()
            .settle(unix_us(), miss_after.as_micros() as u64);
        for i in misses {
            shared.metrics.missed(&shared.doors[i].label);
        }
    }
}

/// `signalscope canary`: the canary and `/metrics` (with `/api/status`
/// and `/api/canary`), without the dashboard.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Where the deployment is: Redis, instances, hubs, keys and names.
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Address to serve /metrics on. A non-loopback address needs --token
    /// or --insecure.
    #[arg(long, env = "SIGNALSCOPE_LISTEN", default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// Token every scrape must carry (`Authorization: Bearer …`).
    #[arg(long, env = "SIGNALSCOPE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Allow a non-loopback bind without a token.
    #[arg(long, env = "SIGNALSCOPE_INSECURE")]
    pub insecure: bool,
    /// Time between two canary broadcasts.
    #[arg(long, env = "SIGNALSCOPE_CANARY", default_value = DEFAULT_INTERVAL, value_parser = parse_duration)]
    pub interval: Duration,
}

/// Runs `signalscope canary` until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> Result<(), BoxError> {
    let deployment = args.deployment.settle()?;
    deployment.redis.check_reachable("--redis").await?;
    let token = args.token.filter(|t| !t.is_empty());
    companion::check_exposure(args.listen, token.as_deref(), args.insecure)?;
    let mut config = CompanionConfig::for_deployment(deployment);
    config.token = token;
    config.canary = Some(args.interval);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    println!(
        "canary every {:?}; metrics on http://{}/metrics",
        args.interval,
        listener.local_addr()?
    );
    let state = companion::AppState::new(config)?;
    axum::serve(listener, companion::monitoring(state))
        .with_graceful_shutdown(crate::shutdown::signal())
        .await?;
    Ok(())
}
