//! The companion's HTTP and SSE API as data types: the companion writes
//! them, the dashboard reads them, so the two cannot drift apart.
//!
//! Additions must stay backwards compatible: new fields are `Option` or
//! `#[serde(default)]`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backplane::Summary;

/// `GET /api/config`: everything the page needs to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardConfig {
    /// The instances to open a panel for.
    pub instances: Vec<Instance>,
    /// Hub path appended to each instance URL (`/hubs/navigation-state`).
    pub hub_path: String,
    /// Event names the hub uses.
    pub events: EventNames,
    /// Timing thresholds for verdicts and liveness.
    pub thresholds: Thresholds,
    /// Trigger modes this companion offers, default first.
    pub trigger_modes: Vec<TriggerMode>,
    /// Whether API calls need the companion's token.
    #[serde(default)]
    pub token_required: bool,
    /// Present only when `signalscope demo` started the processes, so the
    /// page may stop and start them.
    #[serde(default)]
    pub demo: Option<DemoControls>,
    /// The canary's interval when the companion runs one (`--canary`):
    /// the page then shows its history from `GET /api/canary`.
    #[serde(default)]
    pub canary_interval_ms: Option<u64>,
}

/// One SignalR instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// Display name (`api-1`).
    pub name: String,
    /// Base URL (`http://127.0.0.1:5000`).
    pub url: String,
}

/// The hub's event and method names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNames {
    /// What test broadcasts are sent as (`NavigationStateUpdate`).
    pub broadcast: String,
    /// The method invoked after every (re)connect (`RequestCurrentState`).
    pub request_state: String,
    /// Its reply to the caller (`StateUpdateRequested`).
    pub state_reply: String,
}

/// Numbers that decide colours and verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thresholds {
    /// A broadcast passes when every connected panel got it within this.
    pub pass_within_ms: u64,
    /// The client gives up on a silent server after this.
    pub server_timeout_ms: u64,
    /// The client pings after sending nothing for this long.
    pub keep_alive_ms: u64,
}

/// How a test broadcast is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TriggerMode {
    /// PUBLISH into the backplane directly, in ASP.NET's layout.
    Redis,
    /// POST to one instance's trigger endpoint.
    Instance,
    /// POST to a configured URL with configured headers.
    Configured,
}

/// What the demo lets the page control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoControls {
    /// Instances whose process the demo owns.
    pub instances: Vec<String>,
    /// Whether the demo owns the Redis process.
    pub redis: bool,
}

/// `POST /api/test/trigger-navigation-update` body (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRequest {
    /// Hub event name; default `NavigationStateUpdate`.
    #[serde(default)]
    pub target: Option<String>,
    /// Replaces the default `{type: TestBroadcast, data}` argument.
    #[serde(default)]
    pub payload: Option<Value>,
    /// Default: the first of `DashboardConfig::trigger_modes`.
    #[serde(default)]
    pub mode: Option<TriggerMode>,
    /// For `instance` mode: which one (default the first).
    #[serde(default)]
    pub instance: Option<String>,
}

/// What a trigger did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerResponse {
    /// The broadcast's unique id.
    pub id: String,
    /// Its sequence number.
    pub seq: u64,
    /// Send time, ISO-8601 UTC.
    pub sent_at: String,
    /// The hub event.
    pub target: String,
    /// The Redis channel it was published on.
    pub channel: String,
    /// How it was sent.
    pub mode: TriggerMode,
    /// PUBLISH's receiver count, when known: every subscriber, pattern
    /// subscribers (a feed, a PSUBSCRIBE tool) included.
    pub receivers: Option<i64>,
    /// Subscribers of the channel itself, right after the PUBLISH: the
    /// instances with a client in the group (`redis` mode).
    #[serde(default)]
    pub channel_subscribers: Option<i64>,
    /// The instance that sent it, in `instance` mode.
    #[serde(default)]
    pub instance: Option<String>,
}

impl TriggerResponse {
    /// The `origin` its broadcast carries: the sending instance's name in
    /// `instance` mode, the companion's otherwise.
    pub fn origin(&self) -> &str {
        match (self.mode, &self.instance) {
            (TriggerMode::Instance, Some(name)) => name,
            _ => crate::broadcast::COMPANION_ORIGIN,
        }
    }
}

/// Where feed lines come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FeedSource {
    /// `MONITOR`: every command, including SUBSCRIBEs; costly for Redis.
    Monitor,
    /// `PSUBSCRIBE <prefix>*`: published messages only; cheap.
    Pubsub,
}

/// One event of `GET /api/feed` (SSE; the event name is the `type`).
// Events are built once and serialised straight away; boxing the line
// would cost an allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FeedEvent {
    /// One Redis command or message.
    Line(FeedLine),
    /// This page fell behind and `count` lines were skipped for it.
    Dropped {
        /// How many.
        count: u64,
    },
    /// The feed's Redis connection failed; retrying.
    RedisDown {
        /// Why.
        error: String,
    },
    /// The feed's Redis connection is (back) up.
    RedisUp,
    /// Something the user must know, e.g. MONITOR refused by an ACL.
    Error {
        /// What.
        message: String,
    },
}

/// One line of Redis traffic, decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedLine {
    /// When Redis saw it (MONITOR) or the companion got it (pub/sub), Unix µs.
    pub time_micros: u64,
    /// Where it came from.
    pub source: FeedSource,
    /// Sender's address (MONITOR only).
    #[serde(default)]
    pub publisher_addr: Option<String>,
    /// Sender's CLIENT SETNAME, from CLIENT LIST (stand-ins name themselves).
    #[serde(default)]
    pub publisher_name: Option<String>,
    /// Upper-cased command (`PUBLISH`, `SUBSCRIBE`, …; `MESSAGE` for pub/sub).
    pub command: String,
    /// The channel, when the command has one.
    #[serde(default)]
    pub channel: Option<String>,
    /// The decoded backplane envelope, when the channel is one.
    #[serde(default)]
    pub summary: Option<Summary>,
    /// The line as Redis escapes it.
    pub raw: String,
    /// The raw line was cut at the size limit.
    #[serde(default)]
    pub truncated: bool,
}

/// `GET /api/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The backplane's Redis.
    pub redis: RedisStatus,
    /// Each instance's `/health`.
    pub instances: Vec<InstanceHealth>,
}

/// Redis as the companion sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedisStatus {
    /// Answered PING.
    pub reachable: bool,
    /// PING round trip.
    pub ping_ms: Option<f64>,
    /// `redis_version` from INFO.
    pub version: Option<String>,
    /// `used_memory_human` from INFO.
    pub used_memory: Option<String>,
    /// `used_memory` in bytes, for figures that add up.
    #[serde(default)]
    pub used_memory_bytes: Option<u64>,
    /// `connected_clients` from INFO.
    pub connected_clients: Option<u64>,
    /// `PUBSUB NUMSUB` of the hub's all channel: live instances.
    pub all_subscribers: Option<u64>,
    /// Server names with a live ack channel.
    #[serde(default)]
    pub live_servers: Vec<String>,
    /// Number of `:connection:` channels: connected clients, all instances.
    pub connection_channels: Option<u64>,
    /// Why it is unreachable.
    pub error: Option<String>,
}

/// One instance's health, fetched by the companion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceHealth {
    /// Its name.
    pub name: String,
    /// Its base URL.
    pub url: String,
    /// HTTP status of `/health`, if it answered.
    pub http_status: Option<u16>,
    /// `Healthy`, `Degraded` or `Unhealthy`, from the body.
    pub status: Option<String>,
    /// How long `/health` took.
    pub duration_ms: Option<f64>,
    /// The body's `checks`, as sent.
    #[serde(default)]
    pub checks: Value,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// `GET /api/canary`: the companion's canary, when it runs (`--canary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryReport {
    /// Time between two canary broadcasts.
    pub interval_ms: u64,
    /// A canary not seen this long after it was sent counts as missed.
    pub miss_after_ms: u64,
    /// The instances, in the order of each round's `latencies_ms`.
    pub instances: Vec<String>,
    /// Whether the canary's own connection to each instance is open.
    pub connected: Vec<bool>,
    /// Canary broadcasts sent (published into the backplane).
    pub sent: u64,
    /// Canaries missed per instance, since the start.
    pub missed: Vec<u64>,
    /// The most recent rounds, oldest first.
    pub rounds: Vec<CanaryRound>,
}

/// One canary broadcast and where it arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryRound {
    /// Its sequence number.
    pub seq: u64,
    /// When it was published, Unix ms.
    pub sent_at_ms: u64,
    /// Publish → arrival per instance; `None` while pending or if missed.
    pub latencies_ms: Vec<Option<f64>>,
    /// Whether the round is decided (every instance either got it, or
    /// `miss_after_ms` passed).
    pub settled: bool,
}
