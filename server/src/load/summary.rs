//! What a load run found, as data: the JSON summary (`--json`), the input
//! of the HTML report and of `signalscope check`. Agents send their part
//! in the same shapes and the coordinator adds them up.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes.
pub const HIGHEST_US: u64 = 600_000_000;
/// Three significant digits: 0.1 % resolution at every magnitude.
const SIGFIG: u8 = 3;

/// An empty latency histogram with the bounds every part of `load` uses,
/// so histograms from any agent can be added without loss.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, SIGFIG).expect("valid histogram bounds")
}

/// The quantiles drawn in percentile curves.
pub const CURVE_QUANTILES: [f64; 10] =
    [0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999, 1.0];

/// A distribution in milliseconds, from a histogram of microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many values were recorded.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile: what the Success Criteria judge.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// The largest value.
    pub max: f64,
    /// The mean.
    pub mean: f64,
}

impl Percentiles {
    /// Reads `h` (microseconds) as milliseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// `(quantile, milliseconds)` pairs at [`CURVE_QUANTILES`].
pub fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    CURVE_QUANTILES
        .iter()
        .map(|&q| (q, h.value_at_quantile(q) as f64 / 1000.0))
        .collect()
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Names the run's keys on the control Redis and its broadcasts' origin.
    pub run_id: String,
    /// Start, ISO-8601 UTC.
    pub started_at: String,
    /// What was asked for.
    pub plan: PlanEcho,
    /// Whether the figures describe the servers (see [`Validity`]).
    pub validity: Validity,
    /// Opening, holding and reopening connections.
    pub connections: ConnectionStats,
    /// The paced sender.
    pub broadcasts: SendStats,
    /// What arrived, and what did not, counted per connection by seq.
    pub delivery: Delivery,
    /// Publish → arrival, overall.
    pub latency: LatencyStats,
    /// The same figures per instance (per instance × hub with several hubs).
    pub instances: Vec<InstanceSummary>,
    /// The same figures per hub, every instance's share together.
    #[serde(default)]
    pub hubs: Vec<InstanceSummary>,
    /// One row per second.
    pub timeline: Vec<Tick>,
    /// Redis sampled once a second.
    pub redis: RedisSummary,
    /// The load generator's own health.
    pub generator: GeneratorStats,
    /// Chaos and other notable moments, on the run's time axis.
    pub events: Vec<Event>,
    /// One entry per agent process (empty for an in-process run).
    pub agents: Vec<AgentStatus>,
}

/// The plan, as echoed in the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanEcho {
    /// Connections asked for.
    pub connections: u64,
    /// How long they were held, seconds.
    pub duration_s: f64,
    /// Broadcasts per second asked for.
    pub rate: f64,
    /// Connections opened per second while ramping up.
    pub ramp_per_s: f64,
    /// `redis` (PUBLISH into the backplane) or `instance` (its trigger).
    pub send_via: String,
    /// The instances (instance × hub pairs with several hubs), in
    /// round-robin order.
    pub instances: Vec<String>,
    /// Agent processes (0: everything in this process).
    pub agents: u32,
    /// The threshold the latency verdict uses, ms.
    pub pass_within_ms: f64,
}

/// A run is invalid when the generator, not the servers, set the figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Validity {
    /// False when any reason below applies.
    pub valid: bool,
    /// Why not, in words.
    pub reasons: Vec<String>,
}

/// Connection figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// Asked for.
    pub target: u64,
    /// Opened successfully at least once.
    pub opened: u64,
    /// First attempts that failed.
    pub failed: u64,
    /// Failures (first attempts and reconnects) by reason.
    pub failures_by_reason: BTreeMap<String, u64>,
    /// Most held at once.
    pub peak_held: u64,
    /// Held when the hold time ended, before closing.
    pub held_at_end: u64,
    /// Negotiate + WebSocket + handshake, first attempts.
    pub connect_ms: Percentiles,
    /// Connections that dropped and were opened again.
    pub reconnects: u64,
    /// Drop → handshake done again.
    pub reconnect_ms: Percentiles,
    /// Drop → reconnected, as a curve (storms show as a long tail).
    pub reconnect_curve: Vec<(f64, f64)>,
    /// Connections that dropped and exhausted the retry policy.
    pub gave_up: u64,
}

/// Sender figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendStats {
    /// Published (or triggered) successfully.
    pub sent: u64,
    /// Publish attempts that failed (Redis or instance down).
    pub failed: u64,
    /// Achieved rate over the hold time.
    pub rate_achieved: f64,
    /// How far the sender ever fell behind its schedule, ms.
    pub max_behind_ms: f64,
}

/// Per-connection accounting, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Test broadcasts that arrived (first copies).
    pub received: u64,
    /// Seqs missing inside a stretch where the connection stayed up: a
    /// failure of the backplane.
    pub lost_while_connected: u64,
    /// Seqs sent while a connection was down (SignalR does not replay):
    /// expected, and shown apart.
    pub missed_while_disconnected: u64,
    /// Second copies of a seq.
    pub duplicates: u64,
    /// Seqs that arrived after a later one.
    pub reordered: u64,
    /// Connections held past the first broadcast that never received one.
    pub silent_connections: u64,
}

impl Delivery {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Delivery) {
        self.received += other.received;
        self.lost_while_connected += other.lost_while_connected;
        self.missed_while_disconnected += other.missed_while_disconnected;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.silent_connections += other.silent_connections;
    }
}

/// Publish → arrival figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// From the *scheduled* send time: corrected for coordinated omission.
    pub corrected: Percentiles,
    /// From the actual publish: what a naive tool reports.
    pub uncorrected: Percentiles,
    /// The corrected curve, overall.
    pub curve: Vec<(f64, f64)>,
}

/// One instance's (or instance × hub's, or hub's) share.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceSummary {
    /// Its name: the instance's, `instance/hub`, or the hub's.
    pub name: String,
    /// The hub its connections are on.
    #[serde(default)]
    pub hub: String,
    /// Connections assigned to it.
    pub connections: u64,
    /// Its connections' accounting.
    pub delivery: Delivery,
    /// Corrected publish → arrival.
    pub latency: Percentiles,
    /// The percentile curve, `(quantile, ms)`.
    pub curve: Vec<(f64, f64)>,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the first connection attempt.
    pub t_s: f64,
    /// Connections held.
    pub held: u64,
    /// Broadcasts sent in this second.
    pub sent: u64,
    /// Arrivals in this second.
    pub received: u64,
    /// Lost-while-connected so far.
    pub lost: u64,
    /// Arrivals' corrected latency in this second, p50 and p99 (ms).
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// Per instance: this second's p99 (ms), in instance order.
    pub instance_p99_ms: Vec<f64>,
}

/// One Redis sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisSample {
    /// Seconds since the start.
    pub t_s: f64,
    /// Whether Redis answered.
    pub up: bool,
    /// `used_memory` minus the control streams' own keys.
    pub used_memory: u64,
    /// `connected_clients`.
    pub connected_clients: u64,
    /// Clients with a subscription (`CLIENT LIST` sub/psub > 0).
    pub pubsub_clients: u64,
    /// The largest output buffer of a subscriber (`CLIENT LIST` omem).
    pub max_subscriber_omem: u64,
    /// `PUBSUB NUMSUB` of the hub's all-channel: live instances.
    pub all_channel_subscribers: u64,
    /// On a Redis Cluster, each master's own figures (each knows only its
    /// own memory, clients and subscribers); the fields above are then
    /// their total — summed, the largest buffer of all, `up` only when
    /// every master answered. Empty for one server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<RedisNodeSample>,
}

/// One master's part of a [`RedisSample`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisNodeSample {
    /// `host:port`.
    pub address: String,
    /// Its figures, read from it alone (their own `nodes` empty).
    #[serde(flatten)]
    pub sample: RedisSample,
}

/// One master's memory over the hold, on a Redis Cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisNodeMemory {
    /// `host:port`.
    pub address: String,
    /// Its `used_memory` in the hold's first sample where every master
    /// answered (the total's `memory_start` is the sum of these).
    pub memory_start: u64,
    /// The same in the hold's last such sample.
    pub memory_end: u64,
    /// Last minus first, bytes.
    pub drift_bytes: i64,
}

/// Redis over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisSummary {
    /// Every sample.
    pub samples: Vec<RedisSample>,
    /// `used_memory` at the first and last sample of the hold where Redis
    /// was up (the ramp's growth, one channel per connection, is not drift).
    pub memory_start: u64,
    /// See `memory_start`.
    pub memory_end: u64,
    /// Last minus first, bytes (negative: it shrank).
    pub drift_bytes: i64,
    /// The drift as a share of the first sample, percent.
    pub drift_pct: f64,
    /// The largest subscriber output buffer seen.
    pub max_subscriber_omem: u64,
    /// `client-output-buffer-limit` for pubsub, as Redis reports it.
    pub pubsub_buffer_limit: String,
    /// Samples Redis did not answer.
    pub unreachable_samples: u64,
    /// On a Redis Cluster, each master's share of the memory figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<RedisNodeMemory>,
}

/// The generator's own health: what makes a run valid or not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorStats {
    /// Cores this machine has.
    pub cores: u64,
    /// Our CPU use, percent of one core: mean and max over 1 s samples.
    pub cpu_pct_mean: f64,
    /// See `cpu_pct_mean`.
    pub cpu_pct_max: f64,
    /// CPU seconds the generator spent in all.
    pub cpu_seconds: f64,
    /// How late a 10 ms timer fired: the event loop's lag.
    pub loop_lag_ms: Percentiles,
    /// Open-file limit: soft after raising it, and the hard ceiling.
    pub nofile_soft: u64,
    /// See `nofile_soft`.
    pub nofile_hard: u64,
    /// Local ports available per (source address, target).
    pub ephemeral_ports: u64,
    /// Connections asked per target, to set against `ephemeral_ports`.
    pub connections_per_target: BTreeMap<String, u64>,
    /// The generator's resident memory at peak, KiB (the largest agent).
    pub peak_rss_kib: u64,
    /// Resident memory added per connection held at peak, KiB, summed
    /// over agents: (peak − before the first connection) / peak held.
    pub kib_per_connection: f64,
    /// CPU seconds spent while opening the connections (ramp).
    pub ramp_cpu_seconds: f64,
    /// Connections opened per CPU-second of the ramp.
    pub connections_per_cpu_second: f64,
}

/// Something that happened at a moment of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the start.
    pub t_s: f64,
    /// `kill`, `restart`, `add`, `redis-stop`, `redis-start`, `ramp-done`,
    /// `hold-done`, `agent-stopped`.
    pub kind: String,
    /// In words.
    pub what: String,
}

/// One agent's fate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// Its index (the Kubernetes Indexed Job's completion index).
    pub index: u32,
    /// Connections it was given.
    pub connections: u64,
    /// `finished`, or `stopped` when it went silent.
    pub state: String,
    /// Arrivals it recorded.
    pub received: u64,
}
