//! One of Conduit's hubs (a [`Profile`]) and the hub lifetime manager under
//! it: the local connections and groups, the hub methods clients may call,
//! and delivery of what arrives from the backplane, in each connection's
//! hub protocol.
//!
//! As in ASP.NET, sends to All and to groups always go through the
//! backplane, even for local clients; only replies to the caller are local.
//! Client results that another server asks for (.NET 7+) are returned on
//! that server's `:internal:return:` channel.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use axum::body::Bytes;
use base64::Engine as _;
use protocol::backplane::{ChannelKind, Channels, GroupAction, GroupCommand, Invocation};
use protocol::broadcast::iso8601_utc;
use protocol::message::{HubMessage, Outcome};
use protocol::HubProtocol;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::backplane::{Backplane, Inbound};
use super::profiles::{key_group, HubMethod, Profile};
use super::{SimConfig, SimError};
use crate::clock::unix_ms;
use crate::locks::lock;

/// How many records may wait for one slow client before it misses some.
pub const OUTBOX_CAPACITY: usize = 1024;

/// What the hub hands a connection to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A whole record, ready to write.
    Record(Bytes),
    /// End the connection as ASP.NET's `AbortAllowReconnect` does: a Close
    /// with an error and `allowReconnect`, then the socket closes. The text
    /// is for the log only.
    Abort(String),
}

/// The sending half of one connection's outbox.
pub type Outbox = mpsc::Sender<Outgoing>;

/// What a client-result invoke pending on a connection that drops is
/// answered (`RedisHubLifetimeManager.SubscribeToConnection`'s
/// ConnectionAborted callback).
pub const CONNECTION_DISCONNECTED: &str = "Connection disconnected.";

/// Why a connection's `OnConnectedAsync` failed; the two steps fail
/// differently in ASP.NET (`HubConnectionHandler.OnConnectedAsync`).
#[derive(Debug)]
pub enum ConnectFailure {
    /// The lifetime manager (subscribing `:connection:<id>`) failed: the
    /// exception escapes the handler, no Close message is written and the
    /// WebSocket closes with 1011.
    LifetimeManager(SimError),
    /// The hub's own `OnConnectedAsync` (joining its groups) failed: a
    /// Close with an error and without `allowReconnect`.
    Hub(SimError),
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LifetimeManager(e) => write!(f, "lifetime manager: {e}"),
            Self::Hub(e) => write!(f, "hub OnConnectedAsync: {e}"),
        }
    }
}

/// Who is connecting, as the hub needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The hub protocol of its handshake: what its records are written in.
    pub protocol: HubProtocol,
    /// The id of the virtual key it presented (secure hubs only).
    pub virtual_key: Option<u32>,
}

/// A local connection as the hub sees it.
struct Member {
    /// Where its records go.
    outbox: Outbox,
    /// Its hub protocol: which serialization of a broadcast it gets.
    protocol: HubProtocol,
    /// The groups it is in, to leave them all when it goes.
    groups: HashSet<String>,
    /// Client-result invocations another server is waiting on:
    /// invocation id → that server's return channel (unprefixed).
    awaited_results: HashMap<String, String>,
}

/// Who is connected here and which groups they are in.
#[derive(Default)]
struct Registry {
    /// Local connections by connection id.
    connections: HashMap<String, Member>,
    /// Local members of each group.
    groups: HashMap<String, HashSet<String>>,
}

/// One hub of one instance.
pub struct Hub {
    /// The instance's settings, shared by its hubs.
    config: Arc<SimConfig>,
    /// Which of Conduit's hubs this is.
    profile: &'static Profile,
    /// Its channel names (the instance's prefix, its type name).
    channels: Channels,
    /// Redis (or the local loop-back).
    backplane: Backplane,
    /// Local connections and groups.
    registry: Mutex<Registry>,
    /// Sequence number of this instance's test broadcasts.
    broadcasts_sent: AtomicU64,
    /// Id of the next model mapping the stand-in "creates".
    mappings_created: AtomicU64,
}

/// 16 random bytes, base64url without padding: 22 characters, as ASP.NET
/// makes connection ids and tokens.
pub fn new_connection_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

impl Hub {
    /// Starts the hub's backplane (its own connections, as each ASP.NET
    /// `RedisHubLifetimeManager<THub>` has) and the task that delivers what
    /// it receives.
    pub async fn start(config: Arc<SimConfig>, profile: &'static Profile) -> Arc<Self> {
        let channels = profile.channels(&config.prefix);
        let (backplane, inbound) =
            Backplane::start(&config.name, config.redis.as_ref(), channels.clone());
        let hub = Arc::new(Self {
            config,
            profile,
            channels,
            backplane,
            registry: Mutex::new(Registry::default()),
            broadcasts_sent: AtomicU64::new(0),
            mappings_created: AtomicU64::new(0),
        });
        tokio::spawn(deliver_inbound(Arc::downgrade(&hub), inbound));
        hub
    }

    /// The instance's settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Which hub this is.
    pub fn profile(&self) -> &'static Profile {
        self.profile
    }

    /// Its channel names.
    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// The backplane.
    pub fn backplane(&self) -> &Backplane {
        &self.backplane
    }

    /// How many connections are open here.
    pub fn connection_count(&self) -> usize {
        self.registry().connections.len()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    /// Runs after the handshake answer, as in ASP.NET: the lifetime
    /// manager's `OnConnectedAsync` (subscribe `:connection:<id>`), then the
    /// hub's (join its groups, and a keyed caller its key's group). Fails,
    /// leaving no trace, if Redis is down, and says which step failed.
    ///
    /// The connection is registered here before either subscription is
    /// awaited, as ASP.NET adds it to its connection store first: a
    /// broadcast published right after the client saw `{}` still reaches it.
    pub async fn connect(
        &self,
        id: &str,
        outbox: Outbox,
        caller: Caller,
    ) -> Result<(), ConnectFailure> {
        self.registry().connections.insert(
            id.to_owned(),
            Member {
                outbox,
                protocol: caller.protocol,
                groups: HashSet::new(),
                awaited_results: HashMap::new(),
            },
        );
        let channel = self.channels.connection(id);
        if let Err(e) = self.backplane.subscribe(channel).await {
            self.forget(id);
            return Err(ConnectFailure::LifetimeManager(e));
        }
        let groups = self
            .profile
            .groups_on_connect
            .iter()
            .map(|g| g.to_string())
            .chain(
                caller
                    .virtual_key
                    .filter(|_| self.profile.joins_key_group)
                    .map(key_group),
            );
        for group in groups {
            if let Err(e) = self.join_local(id, &group).await {
                self.remove(id);
                return Err(ConnectFailure::Hub(e));
            }
        }
        Ok(())
    }

    /// Unregisters a connection whose channel was never subscribed.
    fn forget(&self, id: &str) {
        self.registry().connections.remove(id);
    }

    /// `OnDisconnectedAsync`: leave every group, release the channels, and
    /// answer every client-result invoke still waiting on this connection
    /// with "Connection disconnected." on its server's return channel.
    pub async fn disconnect(&self, id: &str) {
        // In the connection's protocol, like its own Completions.
        let protocol = self
            .registry()
            .connections
            .get(id)
            .map_or(HubProtocol::Json, |m| m.protocol);
        for (invocation_id, return_channel) in self.remove(id) {
            let error = completion(invocation_id, Err(CONNECTION_DISCONNECTED.to_owned()));
            self.return_result(&return_channel, protocol, &error).await;
        }
    }

    /// Removes a connection and its subscriptions; returns the client-result
    /// invokes it still owed an answer (invocation id, return channel).
    fn remove(&self, id: &str) -> Vec<(String, String)> {
        let (released, awaited) = {
            let mut registry = self.registry();
            let Some(member) = registry.connections.remove(id) else {
                return Vec::new();
            };
            let released = member
                .groups
                .into_iter()
                .filter(|group| remove_member(&mut registry, group, id))
                .collect::<Vec<_>>();
            (released, member.awaited_results.into_iter().collect())
        };
        for group in released {
            self.backplane.unsubscribe(self.channels.group(&group));
        }
        self.backplane.unsubscribe(self.channels.connection(id));
        awaited
    }

    /// `Groups.AddToGroupAsync`: locally if the connection is here, else
    /// by a group command that its owner acks.
    pub async fn add_to_group(&self, id: &str, group: &str) -> Result<(), SimError> {
        if self.is_local(id) {
            return self.join_local(id, group).await;
        }
        self.backplane
            .group_command(GroupAction::Add, group, id)
            .await
    }

    /// `Groups.RemoveFromGroupAsync`, local or through the backplane.
    pub async fn remove_from_group(&self, id: &str, group: &str) -> Result<(), SimError> {
        if self.is_local(id) {
            self.leave_local(id, group);
            return Ok(());
        }
        self.backplane
            .group_command(GroupAction::Remove, group, id)
            .await
    }

    fn is_local(&self, id: &str) -> bool {
        self.registry().connections.contains_key(id)
    }

    /// Adds a local connection to `group`; the group channel is subscribed
    /// for every member, so Redis sees SUBSCRIBE on the first only.
    async fn join_local(&self, id: &str, group: &str) -> Result<(), SimError> {
        {
            let mut registry = self.registry();
            let Some(member) = registry.connections.get_mut(id) else {
                return Ok(());
            };
            if !member.groups.insert(group.to_owned()) {
                return Ok(());
            }
            registry
                .groups
                .entry(group.to_owned())
                .or_default()
                .insert(id.to_owned());
        }
        let subscribed = self.backplane.subscribe(self.channels.group(group)).await;
        if subscribed.is_err() {
            let mut registry = self.registry();
            if let Some(member) = registry.connections.get_mut(id) {
                member.groups.remove(group);
            }
            remove_member(&mut registry, group, id);
        }
        subscribed
    }

    fn leave_local(&self, id: &str, group: &str) {
        let was_member = {
            let mut registry = self.registry();
            let Some(member) = registry.connections.get_mut(id) else {
                return;
            };
            let was = member.groups.remove(group);
            if was {
                remove_member(&mut registry, group, id);
            }
            was
        };
        if was_member {
            self.backplane.unsubscribe(self.channels.group(group));
        }
    }

    /// Runs hub method `target` for connection `caller`. `Ok` is the
    /// method's result (`null` for Conduit's `Task` methods). `stream_ids`
    /// is how many client streams the invocation announced; none of
    /// Conduit's methods takes one, so any makes the call fail unrun.
    pub async fn invoke(
        &self,
        caller: &str,
        target: &str,
        arguments: &[Value],
        stream_ids: usize,
    ) -> Result<Value, String> {
        let binding_failed =
            || format!("Failed to invoke '{target}' due to an error on the server.");
        let method = self
            .find_method(target)
            .ok_or_else(|| method_does_not_exist(target))?;
        // DefaultHubDispatcher.Invoke checks the stream count before binding
        // arguments; a HubException's text is always shown to the client.
        if stream_ids != 0 {
            return Err(format!(
                "An unexpected error occurred invoking '{target}' on the server. HubException: Client sent {stream_ids} stream(s), Hub method expects 0."
            ));
        }
        match method {
            HubMethod::RequestCurrentState => {
                if !arguments.is_empty() {
                    return Err(binding_failed());
                }
                let reply = HubMessage::invocation(
                    "StateUpdateRequested",
                    vec![json!({ "timestamp": iso8601_utc(unix_ms()) })],
                );
                self.send_to_local(caller, &reply);
            }
            HubMethod::SubscribeToModel | HubMethod::UnsubscribeFromModel => {
                let [model] = arguments else {
                    return Err(binding_failed());
                };
                let model = match model {
                    Value::String(s) => s.as_str(),
                    Value::Null => "",
                    _ => return Err(binding_failed()),
                };
                if model.is_empty() {
                    tracing::warn!("{target} called with an empty model id; ignored");
                    return Ok(Value::Null);
                }
                let group = format!("model-{model}");
                if method == HubMethod::SubscribeToModel {
                    self.join_local(caller, &group).await.map_err(|_| {
                        "An unexpected error occurred invoking 'SubscribeToModel' on the server.".to_owned()
                    })?;
                } else {
                    self.leave_local(caller, &group);
                }
            }
        }
        Ok(Value::Null)
    }

    /// Why a StreamInvocation of `target` fails without running anything:
    /// an unknown method, or (all of Conduit's) a non-streaming one
    /// (`DefaultHubDispatcher.ValidateInvocationMode`).
    pub fn stream_invocation_error(&self, target: &str) -> String {
        match self.find_method(target) {
            None => method_does_not_exist(target),
            Some(_) => format!(
                "The client attempted to invoke the non-streaming '{target}' method with a streaming invocation."
            ),
        }
    }

    /// The hub's method called `target`; ASP.NET matches method names
    /// case-insensitively.
    fn find_method(&self, target: &str) -> Option<HubMethod> {
        self.profile
            .methods
            .iter()
            .copied()
            .find(|m| format!("{m:?}").eq_ignore_ascii_case(target))
    }

    /// Sends `message` to a local connection, in its protocol.
    fn send_to_local(&self, id: &str, message: &HubMessage) {
        if let Some(member) = self.registry().connections.get(id) {
            let record = Bytes::from(member.protocol.encode(message));
            offer(&member.outbox, Outgoing::Record(record));
        }
    }

    /// Sends `message` to every member of `group` on every instance,
    /// through the backplane; returns PUBLISH's receiver count.
    pub async fn send_group(
        &self,
        group: &str,
        message: &HubMessage,
    ) -> Result<Option<i64>, SimError> {
        self.publish(self.channels.group(group), message).await
    }

    /// Sends `message` to `audience` (the trigger's), serialized for
    /// `protocols`, as the companion's `redis` mode publishes it: the
    /// channel it went on and how many Redis handed it to.
    pub async fn send_to(
        &self,
        audience: &protocol::api::Audience,
        message: &HubMessage,
        protocols: &[HubProtocol],
    ) -> Result<(String, Option<i64>), SimError> {
        let channel = self.channels.name(&audience.channel());
        let receivers = self
            .publish_for(channel.clone(), message, protocols)
            .await?;
        Ok((channel, receivers))
    }

    /// PUBLISHes `message` on `channel`, serialized for every protocol the
    /// instance serves, as RedisHubLifetimeManager does for every protocol
    /// the app registered.
    async fn publish(
        &self,
        channel: String,
        message: &HubMessage,
    ) -> Result<Option<i64>, SimError> {
        self.publish_for(channel, message, &self.config.protocols)
            .await
    }

    /// PUBLISHes `message` on `channel`, serialized for `protocols`.
    async fn publish_for(
        &self,
        channel: String,
        message: &HubMessage,
        protocols: &[HubProtocol],
    ) -> Result<Option<i64>, SimError> {
        let body = Invocation::serialized(message, protocols, Vec::new()).encode();
        self.backplane.publish(channel, body).await
    }

    /// The next test broadcast sequence number (1, 2, …).
    pub fn next_broadcast_seq(&self) -> u64 {
        self.broadcasts_sent.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The next model mapping id (1, 2, …).
    pub fn next_mapping_id(&self) -> u64 {
        self.mappings_created.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Delivers one backplane message to the local connections it names.
    fn deliver(self: &Arc<Self>, inbound: Inbound) {
        let Some(kind) = self.channels.classify(&inbound.channel) else {
            return;
        };
        match kind {
            ChannelKind::All | ChannelKind::Group(_) | ChannelKind::Connection(_) => {
                self.deliver_invocation(&kind, &inbound.payload)
            }
            ChannelKind::InternalGroups => match GroupCommand::decode(&inbound.payload) {
                Ok(command) => {
                    let hub = self.clone();
                    tokio::spawn(async move { hub.apply_group_command(command).await });
                }
                Err(e) => tracing::warn!("undecodable group command: {e}"),
            },
            other => tracing::debug!("ignored a message on a {} channel", other.label()),
        }
    }

    fn deliver_invocation(&self, kind: &ChannelKind, payload: &[u8]) {
        let invocation = match Invocation::decode(payload) {
            Ok(i) => i,
            Err(e) => return tracing::warn!("undecodable invocation: {e}"),
        };
        // Without an entry for a connection's protocol ASP.NET's write
        // throws (SerializedHubMessage.GetSerializedMessage: a message read
        // from Redis has no HubMessage to serialize on demand) and
        // HubConnectionContext.WriteCore aborts that connection, allowing a
        // reconnect: every connection of that protocol it was for is ended.
        let outgoing_for = |protocol: HubProtocol| match invocation.message_for(protocol.name()) {
            Some(bytes) => Outgoing::Record(Bytes::copy_from_slice(bytes)),
            None => Outgoing::Abort(NO_PROTOCOL_ENTRY.to_owned()),
        };
        let (json, msgpack) = (
            outgoing_for(HubProtocol::Json),
            outgoing_for(HubProtocol::MessagePack),
        );
        let excluded: HashSet<&str> = invocation
            .excluded_connection_ids
            .iter()
            .map(String::as_str)
            .collect();
        let mut registry = self.registry();
        // A client-result invoke (.NET 7+): remember where the answer goes.
        if let (ChannelKind::Connection(id), Some(to)) = (kind, &invocation.return_to) {
            if let Some(member) = registry.connections.get_mut(id) {
                member
                    .awaited_results
                    .insert(to.invocation_id.clone(), to.return_channel.clone());
            }
        }
        let send = |id: &str| {
            if let Some(member) = registry.connections.get(id) {
                let outgoing = match member.protocol {
                    HubProtocol::Json => &json,
                    HubProtocol::MessagePack => &msgpack,
                };
                offer(&member.outbox, outgoing.clone());
            }
        };
        match kind {
            ChannelKind::All => registry
                .connections
                .keys()
                .filter(|id| !excluded.contains(id.as_str()))
                .for_each(|id| send(id)),
            ChannelKind::Group(group) => {
                if let Some(members) = registry.groups.get(group) {
                    members
                        .iter()
                        .filter(|id| !excluded.contains(id.as_str()))
                        .for_each(|id| send(id));
                }
            }
            // `:connection:` ignores exclusions, as ASP.NET does.
            ChannelKind::Connection(id) => send(id),
            _ => {}
        }
    }

    /// Applies a group command if the connection is here, and acks it.
    async fn apply_group_command(&self, command: GroupCommand) {
        if !self.is_local(&command.connection_id) {
            return;
        }
        match command.action {
            GroupAction::Add => {
                if let Err(e) = self
                    .join_local(&command.connection_id, &command.group)
                    .await
                {
                    return tracing::warn!("group command {} not applied: {e}", command.id);
                }
            }
            GroupAction::Remove => self.leave_local(&command.connection_id, &command.group),
        }
        if let Err(e) = self.backplane.ack(&command).await {
            tracing::warn!("ack for group command {} not sent: {e}", command.id);
        }
    }

    /// Forwards a client's Completion to the server that invoked it, if one
    /// is waiting (ASP.NET's `:internal:return:` channel), written in the
    /// client's protocol as ASP.NET re-serializes it.
    pub async fn client_result(&self, id: &str, invocation_id: &str, message: &HubMessage) {
        let awaited = self.registry().connections.get_mut(id).and_then(|m| {
            let channel = m.awaited_results.remove(invocation_id)?;
            Some((channel, m.protocol))
        });
        let Some((return_channel, protocol)) = awaited else {
            return;
        };
        self.return_result(&return_channel, protocol, message).await;
    }

    /// Publishes a Completion on another server's return channel.
    async fn return_result(
        &self,
        return_channel: &str,
        protocol: HubProtocol,
        message: &HubMessage,
    ) {
        // The address travels without the channel prefix; SE.Redis adds it.
        let channel = format!("{}{return_channel}", self.channels.prefix);
        let body = protocol::backplane::Completion {
            protocol: protocol.name().into(),
            message: protocol.encode(message),
        }
        .encode();
        if let Err(e) = self.backplane.publish(channel, body).await {
            tracing::warn!("client result not returned on {return_channel}: {e}");
        }
    }

    /// Ids of the local members of `group`, for status and tests.
    pub fn local_members(&self, group: &str) -> Vec<String> {
        self.registry()
            .groups
            .get(group)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Removes `id` from `group`'s members; true if the group is now empty
/// here (so its channel can be released).
fn remove_member(registry: &mut Registry, group: &str, id: &str) -> bool {
    let Some(members) = registry.groups.get_mut(group) else {
        return false;
    };
    members.remove(id);
    if members.is_empty() {
        registry.groups.remove(group);
        return true;
    }
    false
}

/// ASP.NET's text when a backplane message lacks the connection's protocol.
const NO_PROTOCOL_ENTRY: &str =
    "This message was received from another server that did not have the requested protocol available.";

/// ASP.NET's Completion error for a hub method that does not exist.
fn method_does_not_exist(target: &str) -> String {
    format!("Failed to invoke '{target}' due to an error on the server. HubException: Method does not exist.")
}

/// Queues a record for one connection; a client that has fallen
/// [`OUTBOX_CAPACITY`] records behind misses it rather than stalling others.
fn offer(outbox: &Outbox, outgoing: Outgoing) {
    if let Err(mpsc::error::TrySendError::Full(_)) = outbox.try_send(outgoing) {
        tracing::warn!("a slow client missed a message");
    }
}

async fn deliver_inbound(hub: Weak<Hub>, mut inbound: mpsc::UnboundedReceiver<Inbound>) {
    while let Some(message) = inbound.recv().await {
        let Some(hub) = hub.upgrade() else { return };
        hub.deliver(message);
    }
}

/// What an invoke's Completion says, from a method's result.
pub fn completion(invocation_id: String, result: Result<Value, String>) -> HubMessage {
    HubMessage::Completion {
        headers: Vec::new(),
        invocation_id,
        outcome: match result {
            Ok(v) => Outcome::Result(v),
            Err(e) => Outcome::Error(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sim::profiles::{NAVIGATION, NOTIFICATIONS};
    use protocol::backplane::NAVIGATION_GROUP;

    async fn local_hub() -> Arc<Hub> {
        Hub::start(Arc::new(SimConfig::new("t", None)), &NAVIGATION).await
    }

    /// A JSON caller without a key.
    const JSON_CALLER: Caller = Caller {
        protocol: HubProtocol::Json,
        virtual_key: None,
    };

    /// Connection ids are 22 base64url characters.
    #[test]
    fn connection_id_shape() {
        let id = new_connection_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    /// Hub methods are found whatever their case; others are not.
    #[tokio::test]
    async fn methods_match_case_insensitively() {
        let hub = local_hub().await;
        assert_eq!(
            hub.find_method("requestcurrentstate"),
            Some(HubMethod::RequestCurrentState)
        );
        assert_eq!(hub.find_method("SubscribeToUpdates"), None);
    }

    /// A keyed connection to the notifications hub joins its key's group
    /// and no navigation group (SecureHub.OnConnectedAsync).
    #[tokio::test]
    async fn keyed_connection_joins_its_key_group() {
        let hub = Hub::start(Arc::new(SimConfig::new("t", None)), &NOTIFICATIONS).await;
        let (tx, _rx) = mpsc::channel(4);
        let caller = Caller {
            virtual_key: Some(2),
            ..JSON_CALLER
        };
        hub.connect("c1", tx, caller).await.unwrap();
        assert_eq!(hub.local_members("vkey-2"), vec!["c1".to_owned()]);
        assert!(hub.local_members(NAVIGATION_GROUP).is_empty());
    }

    /// One broadcast reaches a JSON and a MessagePack member each in its
    /// own protocol's bytes.
    #[tokio::test]
    async fn each_member_gets_its_protocol() {
        let mut config = SimConfig::new("t", None);
        config.protocols = vec![HubProtocol::Json, HubProtocol::MessagePack];
        let hub = Hub::start(Arc::new(config), &NAVIGATION).await;
        let (tx1, mut rx1) = mpsc::channel(4);
        let (tx2, mut rx2) = mpsc::channel(4);
        hub.connect("j", tx1, JSON_CALLER).await.unwrap();
        let msgpack = Caller {
            protocol: HubProtocol::MessagePack,
            ..JSON_CALLER
        };
        hub.connect("m", tx2, msgpack).await.unwrap();
        let msg = HubMessage::invocation("E", vec![json!(1)]);
        let audience = hub.profile().audience.api();
        let protocols = hub.config().protocols.clone();
        hub.send_to(&audience, &msg, &protocols).await.unwrap();
        let record = |p: HubProtocol| Outgoing::Record(Bytes::from(p.encode(&msg)));
        assert_eq!(rx1.recv().await.unwrap(), record(HubProtocol::Json));
        assert_eq!(rx2.recv().await.unwrap(), record(HubProtocol::MessagePack));
    }

    /// An unknown method gets ASP.NET's binding-failure text.
    #[tokio::test]
    async fn unknown_method_error_text() {
        let hub = local_hub().await;
        assert_eq!(
            hub.invoke("x", "Nope", &[], 0).await,
            Err("Failed to invoke 'Nope' due to an error on the server. HubException: Method does not exist.".into())
        );
    }

    /// A connection joins navigation-updates on connect and leaves on disconnect.
    #[tokio::test]
    async fn connect_joins_navigation_group() {
        let hub = local_hub().await;
        let (tx, _rx) = mpsc::channel(4);
        hub.connect("c1", tx, JSON_CALLER).await.unwrap();
        assert_eq!(hub.local_members(NAVIGATION_GROUP), vec!["c1".to_owned()]);
        hub.disconnect("c1").await;
        assert!(hub.local_members(NAVIGATION_GROUP).is_empty());
    }

    /// SubscribeToModel joins `model-{id}`; Unsubscribe leaves it.
    #[tokio::test]
    async fn model_groups() {
        let hub = local_hub().await;
        let (tx, _rx) = mpsc::channel(4);
        hub.connect("c1", tx, JSON_CALLER).await.unwrap();
        assert_eq!(
            hub.invoke("c1", "SubscribeToModel", &[json!("gpt")], 0)
                .await,
            Ok(Value::Null)
        );
        assert_eq!(hub.local_members("model-gpt"), vec!["c1".to_owned()]);
        hub.invoke("c1", "UnsubscribeFromModel", &[json!("gpt")], 0)
            .await
            .unwrap();
        assert!(hub.local_members("model-gpt").is_empty());
    }

    /// In single-instance mode a group send reaches local members, not others.
    #[tokio::test]
    async fn local_group_send_reaches_members() {
        let hub = local_hub().await;
        let (tx1, mut rx1) = mpsc::channel(4);
        let (tx2, mut rx2) = mpsc::channel(4);
        hub.connect("c1", tx1, JSON_CALLER).await.unwrap();
        hub.connect("c2", tx2, JSON_CALLER).await.unwrap();
        hub.invoke("c1", "SubscribeToModel", &[json!("m")], 0)
            .await
            .unwrap();
        let msg = HubMessage::invocation("ModelUpdate", vec![json!(1)]);
        hub.send_group("model-m", &msg).await.unwrap();
        hub.send_group(NAVIGATION_GROUP, &msg).await.unwrap();
        let record = Outgoing::Record(Bytes::from(msg.to_record()));
        assert_eq!(rx1.recv().await.unwrap(), record);
        assert_eq!(rx1.recv().await.unwrap(), record);
        // c2 is only in navigation-updates: its first record is the second send.
        assert_eq!(rx2.recv().await.unwrap(), record);
        assert!(rx2.try_recv().is_err());
    }
}
