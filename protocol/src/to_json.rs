//! The JSON serde writes for the API types the page sends or exports,
//! built by hand as a [`serde_json::Value`]: the other half of
//! [`crate::from_json`].
//!
//! The page turns `Value`s into text anyway (hub messages are `Value`s);
//! a derived `Serialize` would add, per type, its code for each serializer
//! it meets (text for a request body, `Value` for the export). Each writer
//! here writes exactly what serde writes, key order and left-out fields
//! included; `tests/from_json.rs` compares them.

use serde_json::{Map, Value};

use crate::api::{
    Audience, DashboardConfig, DemoControls, EventNames, FeedLine, FeedSource, Hub, HubKey,
    Instance, KeyPlacement, Thresholds, TriggerMode, TriggerRequest,
};
use crate::backplane::{ChannelKind, Payload, Summary};

/// A type written as the JSON serde writes for it.
pub trait ToJson {
    /// Its JSON.
    fn to_json(&self) -> Value;
}

/// An object built field by field, in serde's order.
#[derive(Debug, Default)]
pub struct Object(Map<String, Value>);

impl Object {
    /// Adds `key`.
    pub fn field(mut self, key: &str, value: &impl ToJson) -> Self {
        self.0.insert(key.to_owned(), value.to_json());
        self
    }

    /// Adds `key` unless `skip` (serde's `skip_serializing_if`).
    pub fn field_unless(self, skip: bool, key: &str, value: &impl ToJson) -> Self {
        if skip {
            self
        } else {
            self.field(key, value)
        }
    }

    /// The object.
    pub fn done(self) -> Value {
        Value::Object(self.0)
    }
}

impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

impl ToJson for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToJson for &str {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToJson for u64 {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ToJson for u32 {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ToJson for f64 {
    /// Not finite is `null`, as serde writes it.
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_json)
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(T::to_json).collect())
    }
}

/// serde's adjacently tagged `{kind, name}`; a kind without a name has
/// only its `kind`.
fn kind_and_name(kind: &str, name: Option<&String>) -> Value {
    let o = Object::default().field("kind", &kind);
    match name {
        Some(n) => o.field("name", n),
        None => o,
    }
    .done()
}

impl ToJson for DashboardConfig {
    fn to_json(&self) -> Value {
        Object::default()
            .field("instances", &self.instances)
            .field("hubPath", &self.hub_path)
            .field("events", &self.events)
            .field("hubs", &self.hubs)
            .field("hubKeys", &self.hub_keys)
            .field("thresholds", &self.thresholds)
            .field("triggerModes", &self.trigger_modes)
            .field("tokenRequired", &self.token_required)
            .field("demo", &self.demo)
            .field("canaryIntervalMs", &self.canary_interval_ms)
            .done()
    }
}

impl ToJson for Instance {
    fn to_json(&self) -> Value {
        Object::default()
            .field("name", &self.name)
            .field("url", &self.url)
            .field_unless(self.hubs.is_empty(), "hubs", &self.hubs)
            .done()
    }
}

impl ToJson for Hub {
    fn to_json(&self) -> Value {
        Object::default()
            .field("name", &self.name)
            .field("path", &self.path)
            .field("hubType", &self.hub_type)
            .field("events", &self.events)
            .field("audience", &self.audience)
            .field("keyRequired", &self.key_required)
            .field("auth", &self.auth)
            .field_unless(self.prefix.is_none(), "prefix", &self.prefix)
            .done()
    }
}

impl ToJson for Audience {
    fn to_json(&self) -> Value {
        match self {
            Self::All => kind_and_name(self.kind(), None),
            Self::Group(n) | Self::User(n) | Self::Connection(n) => {
                kind_and_name(self.kind(), Some(n))
            }
        }
    }
}

impl ToJson for KeyPlacement {
    fn to_json(&self) -> Value {
        match self {
            Self::Bearer => kind_and_name("bearer", None),
            Self::Header(n) => kind_and_name("header", Some(n)),
            Self::Query(n) => kind_and_name("query", Some(n)),
        }
    }
}

impl ToJson for ChannelKind {
    fn to_json(&self) -> Value {
        match self {
            Self::All => kind_and_name("all", None),
            Self::InternalGroups => kind_and_name("internalGroups", None),
            Self::Group(n)
            | Self::Connection(n)
            | Self::User(n)
            | Self::Ack(n)
            | Self::Return(n) => kind_and_name(self.label(), Some(n)),
        }
    }
}

impl ToJson for HubKey {
    fn to_json(&self) -> Value {
        Object::default()
            .field("instance", &self.instance)
            .field("hub", &self.hub)
            .field("key", &self.key)
            .done()
    }
}

impl ToJson for EventNames {
    fn to_json(&self) -> Value {
        Object::default()
            .field("broadcast", &self.broadcast)
            .field("requestState", &self.request_state)
            .field("stateReply", &self.state_reply)
            .done()
    }
}

impl ToJson for Thresholds {
    fn to_json(&self) -> Value {
        Object::default()
            .field("passWithinMs", &self.pass_within_ms)
            .field("serverTimeoutMs", &self.server_timeout_ms)
            .field("keepAliveMs", &self.keep_alive_ms)
            .done()
    }
}

impl ToJson for TriggerMode {
    fn to_json(&self) -> Value {
        Value::from(self.as_str())
    }
}

impl ToJson for FeedSource {
    fn to_json(&self) -> Value {
        Value::from(self.as_str())
    }
}

impl ToJson for DemoControls {
    fn to_json(&self) -> Value {
        Object::default()
            .field("instances", &self.instances)
            .field("redis", &self.redis)
            .done()
    }
}

impl ToJson for TriggerRequest {
    fn to_json(&self) -> Value {
        Object::default()
            .field("target", &self.target)
            .field("payload", &self.payload)
            .field("arguments", &self.arguments)
            .field("hub", &self.hub)
            .field("audience", &self.audience)
            .field("protocols", &self.protocols)
            .field("mode", &self.mode)
            .field("instance", &self.instance)
            .done()
    }
}

impl ToJson for FeedLine {
    fn to_json(&self) -> Value {
        Object::default()
            .field("timeMicros", &self.time_micros)
            .field("source", &self.source)
            .field_unless(self.node.is_none(), "node", &self.node)
            .field("publisherAddr", &self.publisher_addr)
            .field("publisherName", &self.publisher_name)
            .field("command", &self.command)
            .field("channel", &self.channel)
            .field("summary", &self.summary)
            .field("raw", &self.raw)
            .field("truncated", &self.truncated)
            .done()
    }
}

impl ToJson for Summary {
    fn to_json(&self) -> Value {
        Object::default()
            .field("hub", &self.hub)
            .field("channel", &self.channel)
            .field("payload", &self.payload)
            .done()
    }
}

impl ToJson for Payload {
    fn to_json(&self) -> Value {
        let tagged = |tag: &str| Object::default().field("type", &tag);
        match self {
            Self::Invocation {
                target,
                arguments,
                invocation_id,
                excluded_connection_ids,
                protocols,
                return_channel,
            } => tagged("invocation")
                .field("target", target)
                .field("arguments", arguments)
                .field("invocationId", invocation_id)
                .field("excludedConnectionIds", excluded_connection_ids)
                .field("protocols", protocols)
                .field("returnChannel", return_channel),
            Self::GroupCommand {
                id,
                server_name,
                action,
                group,
                connection_id,
            } => tagged("groupCommand")
                .field("id", id)
                .field("serverName", server_name)
                .field("action", action)
                .field("group", group)
                .field("connectionId", connection_id),
            Self::Ack { id } => tagged("ack").field("id", id),
            Self::Completion { protocol, message } => tagged("completion")
                .field("protocol", protocol)
                .field("message", message),
            Self::Undecodable { error } => tagged("undecodable").field("error", error),
        }
        .done()
    }
}
