//! The companion's HTTP and SSE API as data types: the companion writes
//! them, the dashboard reads them, so the two cannot drift apart.
//!
//! Every name both sides spell (route paths, query values, SSE event
//! names) is defined here once, so renaming one cannot break the page
//! silently.
//!
//! Additions must stay backwards compatible: new fields are `Option` or
//! `#[serde(default)]`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backplane::{ChannelKind, Channels, Summary};

/// The companion's route paths; the router mounts them and the page calls them.
pub mod routes {
    /// `GET`: [`super::DashboardConfig`].
    pub const CONFIG: &str = "/api/config";
    /// `GET`: [`super::Status`].
    pub const STATUS: &str = "/api/status";
    /// `GET ?source=…&filter=…`: the feed, as SSE [`super::FeedEvent`]s.
    pub const FEED: &str = "/api/feed";
    /// `POST` a [`super::TriggerRequest`]: one test broadcast. The stand-in
    /// answers the same path (Conduit does not), so `instance` mode POSTs
    /// it to an instance.
    pub const TRIGGER: &str = "/api/test/trigger-navigation-update";
    /// `GET`: [`super::CanaryReport`], when the companion runs a canary.
    pub const CANARY: &str = "/api/canary";
    /// `GET`: Prometheus metrics (OpenMetrics text), for scrapers.
    pub const METRICS: &str = "/metrics";
    /// `POST` (demo only): start one more stand-in.
    pub const DEMO_INSTANCES: &str = "/api/demo/instances";
    /// `POST …/stop` or `…/start` (demo only): the demo's Redis.
    pub const DEMO_REDIS: &str = "/api/demo/redis";

    /// `POST`: stop or start the demo's instance `name`.
    pub fn demo_instance(name: &str, action: super::DemoAction) -> String {
        format!("{DEMO_INSTANCES}/{name}/{}", action.as_str())
    }

    /// `POST`: stop or start the demo's Redis.
    pub fn demo_redis(action: super::DemoAction) -> String {
        format!("{DEMO_REDIS}/{}", action.as_str())
    }
}

/// `GET /api/config`: everything the page needs to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardConfig {
    /// The instances to open a panel for.
    pub instances: Vec<Instance>,
    /// The first hub's path (`/hubs/navigation-state`), for pages older
    /// than [`Self::hubs`].
    pub hub_path: String,
    /// The first hub's event names, for pages older than [`Self::hubs`].
    pub events: EventNames,
    /// Every hub: a panel per instance and hub (an instance's
    /// [`Instance::hubs`] may narrow it). Empty from an older companion:
    /// then the one hub is `hub_path` with `events`.
    #[serde(default)]
    pub hubs: Vec<Hub>,
    /// Keys from the companion's config, present only when the operator
    /// opted in (`--expose-hub-keys`, which needs `--token`).
    #[serde(default)]
    pub hub_keys: Vec<HubKey>,
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
    /// The hubs it serves, by [`Hub::name`]; empty means every hub (an
    /// Admin API instance serves other hubs than a Core API one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hubs: Vec<String>,
}

impl Instance {
    /// An instance serving every hub.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            hubs: Vec::new(),
        }
    }

    /// Whether it serves the hub called `hub`.
    pub fn serves(&self, hub: &str) -> bool {
        self.hubs.is_empty() || self.hubs.iter().any(|h| h == hub)
    }
}

/// One hub the instances serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hub {
    /// Short name the settings, the page and the trigger use (`navigation`).
    pub name: String,
    /// Path on each instance (`/hubs/navigation-state`).
    pub path: String,
    /// `typeof(THub).FullName`: the middle of its backplane channel names.
    pub hub_type: String,
    /// What test broadcasts are sent as, and what a client invokes on
    /// connect (empty when nothing).
    pub events: EventNames,
    /// Where a test broadcast goes unless the page says otherwise.
    pub audience: Audience,
    /// Whether connecting takes a key, so the page asks for one up front.
    #[serde(default)]
    pub key_required: bool,
    /// How a key is presented.
    #[serde(default)]
    pub auth: KeyPlacement,
    /// Its own StackExchange.Redis channel prefix (the Admin API's hubs are
    /// on `conduit_admin_signalr:`); `None` is the deployment's `--prefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl Hub {
    /// Its channel prefix: its own, else `deployment` (the `--prefix`).
    pub fn prefix_or<'a>(&'a self, deployment: &'a str) -> &'a str {
        self.prefix.as_deref().unwrap_or(deployment)
    }

    /// Its channel naming, behind its own prefix or else `deployment`'s
    /// (the `--prefix` every hub without one shares).
    pub fn channels(&self, deployment: &str) -> Channels {
        Channels::new(self.prefix_or(deployment), self.hub_type.clone())
    }
}

/// The 400 text for a trigger naming no served hub: the name and the
/// known ones, as the companion and the stand-in both answer it.
pub fn no_such_hub<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    format!("no hub named '{name}' (hubs: {})", known.join(", "))
}

/// Who a test broadcast is for: the channel it is published on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "camelCase")]
pub enum Audience {
    /// Every connection of the hub (`:all`).
    All,
    /// One group (`:group:<name>`).
    Group(String),
    /// Every connection of one user (`:user:<id>`).
    User(String),
    /// One connection (`:connection:<id>`).
    Connection(String),
}

impl Audience {
    /// Every kind's word, in the order the page offers them.
    pub const KINDS: [&'static str; 4] = ["all", "group", "user", "connection"];

    /// The kind's word (as serde writes it).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::All => Self::KINDS[0],
            Self::Group(_) => Self::KINDS[1],
            Self::User(_) => Self::KINDS[2],
            Self::Connection(_) => Self::KINDS[3],
        }
    }

    /// The group, user or connection; empty for `all`.
    pub fn name(&self) -> &str {
        match self {
            Self::All => "",
            Self::Group(n) | Self::User(n) | Self::Connection(n) => n,
        }
    }

    /// The audience of kind `kind` called `name` (ignored for `all`).
    pub fn of_kind(kind: &str, name: &str) -> Option<Self> {
        let name = name.to_owned();
        match kind {
            "all" => Some(Self::All),
            "group" => Some(Self::Group(name)),
            "user" => Some(Self::User(name)),
            "connection" => Some(Self::Connection(name)),
            _ => None,
        }
    }

    /// The backplane channel kind it is published on.
    pub fn channel(&self) -> ChannelKind {
        match self {
            Self::All => ChannelKind::All,
            Self::Group(n) => ChannelKind::Group(n.clone()),
            Self::User(n) => ChannelKind::User(n.clone()),
            Self::Connection(n) => ChannelKind::Connection(n.clone()),
        }
    }
}

/// How a client presents a hub's key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "camelCase")]
pub enum KeyPlacement {
    /// As the official client's `accessTokenFactory`: `Authorization:
    /// Bearer` on negotiate, `access_token=` on the WebSocket URL (browsers
    /// cannot set WebSocket headers). Conduit accepts this.
    #[default]
    Bearer,
    /// A named header on negotiate (browsers cannot add it to the WebSocket).
    Header(String),
    /// A named query parameter on negotiate and the WebSocket URL.
    Query(String),
}

impl KeyPlacement {
    /// Reads `bearer`, `header:<Name>` or `query:<name>`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text == "bearer" {
            return Some(Self::Bearer);
        }
        let (kind, name) = text.split_once(':')?;
        let name = name.trim();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        match kind.trim() {
            "header" if valid => Some(Self::Header(name.into())),
            "query" if valid => Some(Self::Query(name.into())),
            _ => None,
        }
    }
}

/// A key from the companion's config, handed to the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubKey {
    /// The instance it is for; `None` for every instance.
    #[serde(default)]
    pub instance: Option<String>,
    /// The hub it is for, by [`Hub::name`].
    pub hub: String,
    /// The key.
    pub key: String,
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

impl TriggerMode {
    /// Every mode, in the order the page offers them.
    pub const ALL: [Self; 3] = [Self::Redis, Self::Instance, Self::Configured];

    /// The name on the wire (as serde writes it) and in the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Instance => "instance",
            Self::Configured => "configured",
        }
    }
}

/// What the demo's controls do to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoAction {
    /// Stop it.
    Stop,
    /// Start it again.
    Start,
}

impl DemoAction {
    /// The last segment of the control's path.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Start => "start",
        }
    }

    /// Reads a path's last segment.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Stop, Self::Start]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
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
    /// The client method, SignalR's invocation target; default the hub's
    /// broadcast event (`NavigationStateUpdate`).
    #[serde(default)]
    pub target: Option<String>,
    /// Replaces the default `{type: TestBroadcast, data}` argument.
    #[serde(default)]
    pub payload: Option<Value>,
    /// Every argument, replacing the default one; not with `payload`.
    #[serde(default)]
    pub arguments: Option<Vec<Value>>,
    /// The hub, by [`Hub::name`]; default the first.
    #[serde(default)]
    pub hub: Option<String>,
    /// Who gets it (`redis` mode); default the hub's [`Hub::audience`].
    #[serde(default)]
    pub audience: Option<Audience>,
    /// Protocols to serialize for (`json`, `messagepack`); default the
    /// companion's `--protocols`.
    #[serde(default)]
    pub protocols: Option<Vec<String>>,
    /// Default: the first of `DashboardConfig::trigger_modes`.
    #[serde(default)]
    pub mode: Option<TriggerMode>,
    /// For `instance` mode: which one (default the first).
    #[serde(default)]
    pub instance: Option<String>,
}

/// A [`TriggerRequest`] read against its hub: what is sent to whom. The
/// companion and the stand-in's own endpoint read requests through it, so
/// both accept and refuse the same bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerPlan {
    /// The request's audience, or the hub's.
    pub audience: Audience,
    /// The request's method (unless blank), or the hub's broadcast event.
    pub target: String,
    /// The caller's arguments (`payload` as the only one); `None` for the
    /// sender's own test broadcast.
    pub arguments: Option<Vec<Value>>,
    /// The protocols asked for; `None` for the sender's own.
    pub protocols: Option<Vec<crate::HubProtocol>>,
}

impl TriggerRequest {
    /// What to send, given the hub's default `audience` and `event`; the
    /// error is the 400's text.
    pub fn plan(self, audience: &Audience, event: &str) -> Result<TriggerPlan, String> {
        let audience = self.audience.unwrap_or_else(|| audience.clone());
        if audience != Audience::All && audience.name().is_empty() {
            return Err(format!("a {} audience needs its name", audience.kind()));
        }
        let arguments = match (self.payload, self.arguments) {
            (Some(_), Some(_)) => {
                return Err(
                    "give either payload (one argument) or arguments (all of them), not both"
                        .into(),
                )
            }
            (Some(p), None) => Some(vec![p]),
            (None, arguments) => arguments,
        };
        let protocols = match self.protocols {
            None => None,
            Some(names) if names.is_empty() => {
                return Err("protocols: name at least one".into());
            }
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| {
                        n.parse()
                            .map_err(|e: crate::hub_protocol::UnknownProtocol| e.to_string())
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let target = self
            .target
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| event.to_owned());
        Ok(TriggerPlan {
            audience,
            target,
            arguments,
            protocols,
        })
    }
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
    /// The hub it was sent on, by [`Hub::name`].
    #[serde(default)]
    pub hub: Option<String>,
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

impl FeedSource {
    /// Every source.
    pub const ALL: [Self; 2] = [Self::Monitor, Self::Pubsub];

    /// The value of `?source=` (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monitor => "monitor",
            Self::Pubsub => "pubsub",
        }
    }
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

impl FeedEvent {
    /// Every SSE event name, for a page that listens to each.
    pub const NAMES: [&'static str; 5] = ["line", "dropped", "redis-down", "redis-up", "error"];

    /// The SSE event name: the `type` serde writes.
    pub fn name(&self) -> &'static str {
        let i = match self {
            Self::Line(_) => 0,
            Self::Dropped { .. } => 1,
            Self::RedisDown { .. } => 2,
            Self::RedisUp => 3,
            Self::Error { .. } => 4,
        };
        Self::NAMES[i]
    }

    /// Reads one SSE event: `name` is the event's name (`message` when it
    /// came unnamed), `data` its JSON. Same result as deserialising a
    /// `FeedEvent`, but a line (nearly every event) goes straight to
    /// [`FeedLine`], read by [`crate::from_json`] as the page reads every
    /// API type: serde's derived decoders cost the page's WebAssembly a
    /// visitor per type (and buffer an internally tagged enum twice).
    pub fn decode(name: &str, data: &str) -> Option<Self> {
        let line = || crate::from_json::from_str(data).map(Self::Line);
        if name == Self::NAMES[0] {
            return line();
        }
        let event = crate::from_json::parse(data).ok()?;
        let text = |key: &str| event.get(key)?.as_str().map(str::to_owned);
        let tag = event.get("type")?.as_str()?;
        match Self::NAMES.iter().position(|n| *n == tag)? {
            0 => line(),
            1 => event
                .get("count")?
                .as_u64()
                .map(|count| Self::Dropped { count }),
            2 => text("error").map(|error| Self::RedisDown { error }),
            3 => Some(Self::RedisUp),
            _ => text("message").map(|message| Self::Error { message }),
        }
    }
}

/// One line of Redis traffic, decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedLine {
    /// When Redis saw it (MONITOR) or the companion got it (pub/sub), Unix µs.
    pub time_micros: u64,
    /// Where it came from.
    pub source: FeedSource,
    /// The Redis node whose MONITOR showed it, `host:port`: set only on a
    /// cluster, where the feed merges every master's MONITOR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
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
    /// Every configured hub, and every other hub with a channel behind one
    /// of the prefixes watched (`--prefix` and the hubs' own).
    #[serde(default)]
    pub hubs: Vec<HubTraffic>,
    /// Why it is unreachable.
    pub error: Option<String>,
    /// Each node of a cluster (its masters) or Sentinel set (the current
    /// master); empty for a single server, which the fields above describe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<RedisNodeStatus>,
}

/// One node of a cluster or Sentinel set, as the companion sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedisNodeStatus {
    /// `host:port`.
    pub address: String,
    /// `role` from INFO: `master` (a replica would say `slave`).
    pub role: Option<String>,
    /// Answered PING.
    pub reachable: bool,
    /// PING round trip.
    pub ping_ms: Option<f64>,
    /// `used_memory` in bytes.
    pub used_memory_bytes: Option<u64>,
    /// `connected_clients` from INFO.
    pub connected_clients: Option<u64>,
    /// Why it is unreachable or could not be read.
    pub error: Option<String>,
}

/// One hub as the backplane's channels show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubTraffic {
    /// The hub's type full name.
    pub hub_type: String,
    /// The channel prefix its channels are behind (empty from a companion
    /// that watched one prefix).
    #[serde(default)]
    pub prefix: String,
    /// The configured hub's short name, if it is one.
    #[serde(default)]
    pub name: Option<String>,
    /// Server names with a live ack channel on this hub.
    pub live_servers: Vec<String>,
    /// Groups with a subscriber (some instance has a member).
    pub groups: Vec<String>,
    /// Users with a subscriber.
    pub users: Vec<String>,
    /// Connected clients, all instances.
    pub connections: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The spelled-out names are the ones serde writes, so the page's
    /// query values and listeners match what the companion parses and sends.
    #[test]
    fn names_match_serde() {
        let json = |v: serde_json::Value| v.as_str().map(str::to_owned);
        for mode in TriggerMode::ALL {
            assert_eq!(
                json(serde_json::to_value(mode).unwrap()).as_deref(),
                Some(mode.as_str())
            );
        }
        for source in FeedSource::ALL {
            assert_eq!(
                json(serde_json::to_value(source).unwrap()).as_deref(),
                Some(source.as_str())
            );
        }
        let events = [
            FeedEvent::Dropped { count: 1 },
            FeedEvent::RedisDown {
                error: String::new(),
            },
            FeedEvent::RedisUp,
            FeedEvent::Error {
                message: String::new(),
            },
        ];
        for event in events {
            let tagged = serde_json::to_value(&event).unwrap();
            assert_eq!(json(tagged["type"].clone()).as_deref(), Some(event.name()));
        }
    }

    /// `decode` reads every event as serde does, named or unnamed, and
    /// refuses data that does not match its name's type.
    #[test]
    fn decode_matches_serde() {
        let line = FeedLine {
            time_micros: 1,
            source: FeedSource::Pubsub,
            publisher_addr: None,
            publisher_name: Some("api-1".into()),
            node: None,
            command: "MESSAGE".into(),
            channel: Some("c".into()),
            summary: None,
            raw: "\"x\"".into(),
            truncated: false,
        };
        let events = [
            FeedEvent::Line(line),
            FeedEvent::Dropped { count: 7 },
            FeedEvent::RedisDown {
                error: "refused".into(),
            },
            FeedEvent::RedisUp,
            FeedEvent::Error {
                message: "NOPERM".into(),
            },
        ];
        for event in events {
            let data = serde_json::to_string(&event).unwrap();
            assert_eq!(
                FeedEvent::decode(event.name(), &data).as_ref(),
                Some(&event)
            );
            assert_eq!(FeedEvent::decode("message", &data).as_ref(), Some(&event));
        }
        assert_eq!(FeedEvent::decode("line", r#"{"type":"redis-up"}"#), None);
        assert_eq!(FeedEvent::decode("dropped", r#"{"type":"dropped"}"#), None);
        assert_eq!(FeedEvent::decode("message", r#"{"type":"other"}"#), None);
        assert_eq!(FeedEvent::decode("error", "not json"), None);
    }

    /// Demo control paths are the prefix, the name and the action.
    #[test]
    fn demo_paths() {
        assert_eq!(
            routes::demo_instance("api-2", DemoAction::Stop),
            "/api/demo/instances/api-2/stop"
        );
        assert_eq!(
            routes::demo_redis(DemoAction::Start),
            "/api/demo/redis/start"
        );
        assert_eq!(DemoAction::parse("stop"), Some(DemoAction::Stop));
        assert_eq!(DemoAction::parse("pause"), None);
    }

    /// Audiences are written `{kind, name}`, each kind's word is the one
    /// serde writes, and each maps to the channel kind it is published on.
    #[test]
    fn audiences_on_the_wire() {
        let group = Audience::Group("g".into());
        assert_eq!(
            serde_json::to_value(&group).unwrap(),
            serde_json::json!({"kind": "group", "name": "g"})
        );
        assert_eq!(
            serde_json::from_value::<Audience>(serde_json::json!({"kind": "all"})).unwrap(),
            Audience::All
        );
        for kind in Audience::KINDS {
            let a = Audience::of_kind(kind, "n").unwrap();
            assert_eq!(serde_json::to_value(&a).unwrap()["kind"], kind);
            assert_eq!(a.channel().label(), kind);
        }
        assert_eq!(Audience::of_kind("everyone", "n"), None);
    }

    /// A plan takes the hub's defaults for what the request leaves out, and
    /// refuses a nameless audience, payload with arguments, and unknown or
    /// no protocols.
    #[test]
    fn trigger_plans() {
        let hub = Audience::Group("g".into());
        let plan = TriggerRequest::default().plan(&hub, "Event").unwrap();
        assert_eq!(
            plan,
            TriggerPlan {
                audience: hub.clone(),
                target: "Event".into(),
                arguments: None,
                protocols: None,
            }
        );
        let asked = TriggerRequest {
            target: Some("Other".into()),
            payload: Some(Value::from(1)),
            audience: Some(Audience::User("u".into())),
            protocols: Some(vec!["messagepack".into()]),
            ..TriggerRequest::default()
        };
        let plan = asked.plan(&hub, "Event").unwrap();
        assert_eq!(
            (plan.target.as_str(), plan.arguments, plan.audience),
            (
                "Other",
                Some(vec![Value::from(1)]),
                Audience::User("u".into())
            )
        );
        assert_eq!(plan.protocols, Some(vec![crate::HubProtocol::MessagePack]));
        let refused = |r: TriggerRequest| r.plan(&hub, "Event").unwrap_err();
        assert!(refused(TriggerRequest {
            audience: Some(Audience::Group(String::new())),
            ..TriggerRequest::default()
        })
        .contains("a group audience needs its name"));
        assert!(refused(TriggerRequest {
            payload: Some(Value::Null),
            arguments: Some(vec![]),
            ..TriggerRequest::default()
        })
        .contains("not both"));
        assert!(refused(TriggerRequest {
            protocols: Some(vec!["xml".into()]),
            ..TriggerRequest::default()
        })
        .contains("'xml'"));
        assert!(refused(TriggerRequest {
            protocols: Some(vec![]),
            ..TriggerRequest::default()
        })
        .contains("at least one"));
        assert_eq!(
            no_such_hub("x", ["a", "b"]),
            "no hub named 'x' (hubs: a, b)"
        );
    }

    /// A hub without its own prefix is named behind the deployment's, and
    /// `/api/config` leaves the field out, as before it existed.
    #[test]
    fn hub_prefix_defaults_to_the_deployments() {
        let mut hub = crate::hubs::navigation();
        assert_eq!(hub.channels("d:").all(), format!("d:{}:all", hub.hub_type));
        assert!(serde_json::to_value(&hub).unwrap().get("prefix").is_none());
        hub.prefix = Some("own:".into());
        assert_eq!(
            hub.channels("d:").all(),
            format!("own:{}:all", hub.hub_type)
        );
        let back: Hub = serde_json::from_value(serde_json::to_value(&hub).unwrap()).unwrap();
        assert_eq!(back, hub);
    }

    /// Key placements read as the settings spell them; anything else is refused.
    #[test]
    fn key_placements_parse() {
        assert_eq!(KeyPlacement::parse("bearer"), Some(KeyPlacement::Bearer));
        assert_eq!(
            KeyPlacement::parse("header:X-API-Key"),
            Some(KeyPlacement::Header("X-API-Key".into()))
        );
        assert_eq!(
            KeyPlacement::parse("query:api_key"),
            Some(KeyPlacement::Query("api_key".into()))
        );
        for bad in ["", "cookie", "header:", "query:a b", "basic:x"] {
            assert_eq!(KeyPlacement::parse(bad), None, "{bad}");
        }
    }
}
