//! The companion's JSON read by hand from a parsed [`serde_json::Value`],
//! for the page.
//!
//! The companion writes these types with serde and may read them with
//! serde; the page reads them here instead. In WebAssembly every derived
//! `Deserialize` costs a visitor per type and per `Option<T>`/`Vec<T>`
//! (a map visitor and a sequence visitor, field matching, error texts):
//! about 56 KB of the page's code. The page parses JSON into a `Value`
//! anyway (hub messages are `Value`s), so walking that `Value` costs only
//! the lookups below. Each decoder reads what serde writes, with serde's
//! rules for what may be missing: an `Option` or a `#[serde(default)]`
//! field may be absent, any other field must be there with the right type.
//! `tests/from_json.rs` holds them to that and to never panicking.

use serde_json::{Map, Value};

use crate::api::{
    Audience, CanaryReport, CanaryRound, DashboardConfig, DemoControls, EventNames, FeedLine,
    FeedSource, Hub, HubKey, HubTraffic, Instance, InstanceHealth, KeyPlacement, RedisNodeStatus,
    RedisStatus, Status, Thresholds, TriggerMode, TriggerResponse,
};
use crate::backplane::{ChannelKind, Payload, Summary};
use crate::broadcast::TestBroadcast;

/// A type read from the JSON serde writes for it; `None` when it is not.
pub trait FromJson: Sized {
    /// Reads `value`.
    fn from_json(value: &Value) -> Option<Self>;
}

/// Parses `text` and reads it as `T`.
pub fn from_str<T: FromJson>(text: &str) -> Option<T> {
    T::from_json(&parse(text).ok()?)
}

/// Parses JSON text into a `Value` as the hub protocol parses a record
/// (from bytes): serde_json's parser is generic over its reader, and one
/// instance of it is enough for the page.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(text.as_bytes())
}

/// A JSON object whose fields are read by name.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a>(&'a Map<String, Value>);

impl<'a> Object<'a> {
    /// `value` if it is an object.
    pub fn of(value: &'a Value) -> Option<Self> {
        value.as_object().map(Self)
    }

    /// A field that must be present.
    pub fn field<T: FromJson>(self, key: &str) -> Option<T> {
        T::from_json(self.0.get(key)?)
    }

    /// A field that may be absent, then its default: serde's
    /// `#[serde(default)]`, and how serde reads a missing `Option`.
    pub fn or_default<T: FromJson + Default>(self, key: &str) -> Option<T> {
        self.0.get(key).map_or(Some(T::default()), T::from_json)
    }

    /// A text field, borrowed (tags and kinds, compared, not kept).
    fn text(self, key: &str) -> Option<&'a str> {
        self.0.get(key)?.as_str()
    }
}

impl FromJson for Value {
    fn from_json(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

impl FromJson for String {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl FromJson for bool {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

impl FromJson for u64 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_u64()
    }
}

impl FromJson for u32 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_u64()?.try_into().ok()
    }
}

impl FromJson for u16 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_u64()?.try_into().ok()
    }
}

impl FromJson for i64 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_i64()
    }
}

impl FromJson for f64 {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_f64()
    }
}

impl<T: FromJson> FromJson for Option<T> {
    /// `null` is `None`, as serde reads it.
    fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_json(v).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_array()?.iter().map(T::from_json).collect()
    }
}

impl FromJson for DashboardConfig {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            instances: o.field("instances")?,
            hub_path: o.field("hubPath")?,
            events: o.field("events")?,
            hubs: o.or_default("hubs")?,
            hub_keys: o.or_default("hubKeys")?,
            thresholds: o.field("thresholds")?,
            trigger_modes: o.field("triggerModes")?,
            token_required: o.or_default("tokenRequired")?,
            demo: o.or_default("demo")?,
            canary_interval_ms: o.or_default("canaryIntervalMs")?,
        })
    }
}

impl FromJson for Instance {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            name: o.field("name")?,
            url: o.field("url")?,
            hubs: o.or_default("hubs")?,
        })
    }
}

impl FromJson for Hub {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            name: o.field("name")?,
            path: o.field("path")?,
            hub_type: o.field("hubType")?,
            events: o.field("events")?,
            audience: o.field("audience")?,
            key_required: o.or_default("keyRequired")?,
            auth: o.or_default("auth")?,
            prefix: o.or_default("prefix")?,
        })
    }
}

/// Reads serde's adjacently tagged `{kind, name}`: the kind's word, and
/// the name unless the kind has none (then it must be absent or `null`).
fn kind_and_name<T>(
    value: &Value,
    read: impl FnOnce(&str, Option<String>) -> Option<T>,
) -> Option<T> {
    let o = Object::of(value)?;
    let name: Option<String> = o.or_default("name")?;
    read(o.text("kind")?, name)
}

impl FromJson for Audience {
    fn from_json(value: &Value) -> Option<Self> {
        kind_and_name(value, |kind, name| match (kind, name) {
            ("all", None) => Some(Self::All),
            ("all", Some(_)) | (_, None) => None,
            (kind, Some(name)) => Self::of_kind(kind, &name),
        })
    }
}

impl FromJson for KeyPlacement {
    fn from_json(value: &Value) -> Option<Self> {
        kind_and_name(value, |kind, name| match (kind, name) {
            ("bearer", None) => Some(Self::Bearer),
            ("header", Some(name)) => Some(Self::Header(name)),
            ("query", Some(name)) => Some(Self::Query(name)),
            _ => None,
        })
    }
}

impl FromJson for ChannelKind {
    fn from_json(value: &Value) -> Option<Self> {
        kind_and_name(value, |kind, name| match (kind, name) {
            ("all", None) => Some(Self::All),
            ("internalGroups", None) => Some(Self::InternalGroups),
            ("group", Some(n)) => Some(Self::Group(n)),
            ("connection", Some(n)) => Some(Self::Connection(n)),
            ("user", Some(n)) => Some(Self::User(n)),
            ("ack", Some(n)) => Some(Self::Ack(n)),
            ("return", Some(n)) => Some(Self::Return(n)),
            _ => None,
        })
    }
}

impl FromJson for HubKey {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            instance: o.or_default("instance")?,
            hub: o.field("hub")?,
            key: o.field("key")?,
        })
    }
}

impl FromJson for EventNames {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            broadcast: o.field("broadcast")?,
            request_state: o.field("requestState")?,
            state_reply: o.field("stateReply")?,
        })
    }
}

impl FromJson for Thresholds {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            pass_within_ms: o.field("passWithinMs")?,
            server_timeout_ms: o.field("serverTimeoutMs")?,
            keep_alive_ms: o.field("keepAliveMs")?,
        })
    }
}

impl FromJson for TriggerMode {
    fn from_json(value: &Value) -> Option<Self> {
        let word = value.as_str()?;
        Self::ALL.into_iter().find(|m| m.as_str() == word)
    }
}

impl FromJson for FeedSource {
    fn from_json(value: &Value) -> Option<Self> {
        let word = value.as_str()?;
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

impl FromJson for DemoControls {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            instances: o.field("instances")?,
            redis: o.field("redis")?,
        })
    }
}

impl FromJson for TriggerResponse {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            id: o.field("id")?,
            seq: o.field("seq")?,
            sent_at: o.field("sentAt")?,
            target: o.field("target")?,
            channel: o.field("channel")?,
            mode: o.field("mode")?,
            receivers: o.or_default("receivers")?,
            channel_subscribers: o.or_default("channelSubscribers")?,
            instance: o.or_default("instance")?,
            hub: o.or_default("hub")?,
        })
    }
}

impl FromJson for FeedLine {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            time_micros: o.field("timeMicros")?,
            source: o.field("source")?,
            node: o.or_default("node")?,
            publisher_addr: o.or_default("publisherAddr")?,
            publisher_name: o.or_default("publisherName")?,
            command: o.field("command")?,
            channel: o.or_default("channel")?,
            summary: o.or_default("summary")?,
            raw: o.field("raw")?,
            truncated: o.or_default("truncated")?,
        })
    }
}

impl FromJson for Summary {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            hub: o.field("hub")?,
            channel: o.field("channel")?,
            payload: o.or_default("payload")?,
        })
    }
}

impl FromJson for Payload {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(match o.text("type")? {
            "invocation" => Self::Invocation {
                target: o.or_default("target")?,
                arguments: o.or_default("arguments")?,
                invocation_id: o.or_default("invocationId")?,
                excluded_connection_ids: o.field("excludedConnectionIds")?,
                protocols: o.field("protocols")?,
                return_channel: o.or_default("returnChannel")?,
            },
            "groupCommand" => Self::GroupCommand {
                id: o.field("id")?,
                server_name: o.field("serverName")?,
                action: o.field("action")?,
                group: o.field("group")?,
                connection_id: o.field("connectionId")?,
            },
            "ack" => Self::Ack { id: o.field("id")? },
            "completion" => Self::Completion {
                protocol: o.field("protocol")?,
                message: o.field("message")?,
            },
            "undecodable" => Self::Undecodable {
                error: o.field("error")?,
            },
            _ => return None,
        })
    }
}

impl FromJson for Status {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            redis: o.field("redis")?,
            instances: o.field("instances")?,
        })
    }
}

impl FromJson for RedisStatus {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            reachable: o.field("reachable")?,
            ping_ms: o.or_default("pingMs")?,
            version: o.or_default("version")?,
            used_memory: o.or_default("usedMemory")?,
            used_memory_bytes: o.or_default("usedMemoryBytes")?,
            connected_clients: o.or_default("connectedClients")?,
            all_subscribers: o.or_default("allSubscribers")?,
            live_servers: o.or_default("liveServers")?,
            connection_channels: o.or_default("connectionChannels")?,
            hubs: o.or_default("hubs")?,
            error: o.or_default("error")?,
            nodes: o.or_default("nodes")?,
        })
    }
}

impl FromJson for RedisNodeStatus {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            address: o.field("address")?,
            role: o.or_default("role")?,
            reachable: o.field("reachable")?,
            ping_ms: o.or_default("pingMs")?,
            used_memory_bytes: o.or_default("usedMemoryBytes")?,
            connected_clients: o.or_default("connectedClients")?,
            error: o.or_default("error")?,
        })
    }
}

impl FromJson for HubTraffic {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            hub_type: o.field("hubType")?,
            prefix: o.or_default("prefix")?,
            name: o.or_default("name")?,
            live_servers: o.field("liveServers")?,
            groups: o.field("groups")?,
            users: o.field("users")?,
            connections: o.field("connections")?,
        })
    }
}

impl FromJson for InstanceHealth {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            name: o.field("name")?,
            url: o.field("url")?,
            http_status: o.or_default("httpStatus")?,
            status: o.or_default("status")?,
            duration_ms: o.or_default("durationMs")?,
            checks: o.or_default("checks")?,
            error: o.or_default("error")?,
        })
    }
}

impl FromJson for CanaryReport {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            interval_ms: o.field("intervalMs")?,
            miss_after_ms: o.field("missAfterMs")?,
            instances: o.field("instances")?,
            connected: o.field("connected")?,
            sent: o.field("sent")?,
            missed: o.field("missed")?,
            rounds: o.field("rounds")?,
        })
    }
}

impl FromJson for CanaryRound {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            seq: o.field("seq")?,
            sent_at_ms: o.field("sentAtMs")?,
            latencies_ms: o.field("latenciesMs")?,
            settled: o.field("settled")?,
        })
    }
}

impl FromJson for TestBroadcast {
    fn from_json(value: &Value) -> Option<Self> {
        let o = Object::of(value)?;
        Some(Self {
            id: o.field("id")?,
            seq: o.field("seq")?,
            sent_at: o.field("sentAt")?,
            origin: o.field("origin")?,
            sent_at_us: o.or_default("sentAtUs")?,
            scheduled_at_us: o.or_default("scheduledAtUs")?,
        })
    }
}
