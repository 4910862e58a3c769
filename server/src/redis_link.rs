//! A command connection to Redis shared by every task that needs one (the
//! companion's handlers, `load`'s sender, sampler and control streams):
//! one multiplexed connection, opened on first use and re-opened after a
//! failure, named with CLIENT SETNAME so the feed can say who sent what,
//! with every error text scrubbed of the password before it reaches a
//! response or a log line.
//!
//! On a cluster or Sentinel set the connection goes to the target's
//! primary node ([`RedisTarget::primary`]) — or, for a link made with
//! [`RedisLink::holding`], to the master holding one key's slot — found
//! again after every lost connection, so a failover is followed;
//! [`RedisLink::nodes`] gives one link per node for what each node must be
//! asked itself (MONITOR, CLIENT LIST, INFO, PUBSUB CHANNELS and NUMSUB:
//! on a cluster each node knows only its own clients and subscribers).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::FromRedisValue;
use tokio::sync::Mutex;

use crate::locks::lock;
use crate::reconnect::{is_connection_lost, open_named};
use crate::redis_target::{Node, RedisTarget};

/// How long connecting or one reply may take before the call fails; the
/// status page must answer even when Redis hangs.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A Redis failure, its text free of the password.
#[derive(Debug, Clone, thiserror::Error)]
#[error("redis: {0}")]
pub struct LinkError(String);

/// A shared, self-healing command connection.
#[derive(Clone)]
pub struct RedisLink {
    /// Shared by every clone.
    inner: Arc<Inner>,
}

struct Inner {
    /// Where Redis is; resolved to a node for every new connection.
    target: RedisTarget,
    /// The password, only to scrub it out of error texts.
    password: Option<String>,
    /// CLIENT SETNAME of the command connection: who sent a broadcast.
    name: &'static str,
    /// The key whose master the command connection goes to, for a link
    /// that reads and writes keys (a cluster answers a key on the wrong
    /// master with MOVED); `None`: the target's primary.
    key: Option<String>,
    /// The live connection, `None` until first use or after a failure.
    conn: Mutex<Option<MultiplexedConnection>>,
    /// One link per node of a cluster or Sentinel set, by address, so the
    /// status and the feed reuse their connections across requests.
    node_links: std::sync::Mutex<HashMap<String, RedisLink>>,
}

impl RedisLink {
    /// A link to `target` whose command connection is called `name`;
    /// connects lazily.
    pub fn new(target: &RedisTarget, name: &'static str) -> Result<Self, LinkError> {
        Self::open(target, name, None)
    }

    /// A link whose command connection goes to the master that holds
    /// `key` ([`RedisTarget::owner_of`]); every key it touches must share
    /// that key's hash slot (a `{hash tag}` makes them).
    pub fn holding(target: &RedisTarget, name: &'static str, key: &str) -> Result<Self, LinkError> {
        Self::open(target, name, Some(key.to_owned()))
    }

    /// [`RedisLink::new`] or [`RedisLink::holding`].
    fn open(
        target: &RedisTarget,
        name: &'static str,
        key: Option<String>,
    ) -> Result<Self, LinkError> {
        if target.is_single() {
            // Refused here rather than on first use, as before.
            target
                .client()
                .map_err(|e| LinkError(format!("{target}: {:?}", e.kind())))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                target: target.clone(),
                password: target.password().map(str::to_owned),
                name,
                key,
                conn: Mutex::new(None),
                node_links: std::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// A client for the node the command connection goes to now, for the
    /// feed's dedicated pub/sub connection and `check`'s MONITOR.
    pub async fn primary_client(&self) -> Result<redis::Client, LinkError> {
        let node = self.primary().await?;
        node.target.client().map_err(|e| LinkError(self.scrub(&e)))
    }

    /// The node the command connection goes to now.
    async fn primary(&self) -> Result<Node, LinkError> {
        let target = &self.inner.target;
        match &self.inner.key {
            Some(key) => target.owner_of(key).await,
            None => target.primary().await,
        }
        .map_err(|e| LinkError(self.scrub(&e)))
    }

    /// Every node ([`RedisTarget::nodes`]) with a link of its own; a single
    /// server is this link itself.
    pub async fn nodes(&self) -> Result<Vec<(String, RedisLink)>, LinkError> {
        let nodes = self
            .inner
            .target
            .nodes()
            .await
            .map_err(|e| LinkError(self.scrub(&e)))?;
        if self.inner.target.is_single() {
            return Ok(nodes
                .into_iter()
                .map(|n| (n.address, self.clone()))
                .collect());
        }
        let mut links = lock(&self.inner.node_links);
        // Nodes that left (a failed-over master) are forgotten.
        links.retain(|address, _| nodes.iter().any(|n| &n.address == address));
        nodes
            .into_iter()
            .map(|node| {
                let link = match links.get(&node.address) {
                    Some(link) => link.clone(),
                    None => {
                        let link = Self::new(&node.target, self.inner.name)?;
                        links.insert(node.address.clone(), link.clone());
                        link
                    }
                };
                Ok((node.address, link))
            })
            .collect()
    }

    /// The connection, opened if need be.
    async fn connection(&self) -> Result<MultiplexedConnection, LinkError> {
        let mut slot = self.inner.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let client = self.primary_client().await?;
        let named = open_named(&client, self.inner.name, TIMEOUT)
            .await
            .map_err(|e| LinkError(self.scrub(&e)))?;
        // Named like the stand-ins name theirs, so the feed can say where a
        // test broadcast came from. An ACL may forbid it; that costs only
        // the name.
        if let Some(e) = named.name_refused {
            tracing::debug!("CLIENT SETNAME refused: {}", self.scrub(&e));
        }
        *slot = Some(named.connection.clone());
        Ok(named.connection)
    }

    /// Runs one command; a broken connection is dropped so the next call
    /// opens a fresh one.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, LinkError> {
        let mut conn = self.connection().await?;
        match cmd.query_async(&mut conn).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if is_connection_lost(&e) {
                    *self.inner.conn.lock().await = None;
                }
                Err(LinkError(self.scrub(&e)))
            }
        }
    }

    /// PUBLISHes an invocation of `target` with `arguments` on `channel`,
    /// laid out as ASP.NET Core's Redis backplane does, serialized for each
    /// of `protocols` (`protocol::hub_protocol::JSON_ONLY` for Conduit): an
    /// instance aborts every client whose protocol the message lacks
    /// (docs/WIRE.md §7.2). Returns how many subscribers Redis handed it to.
    pub async fn publish_invocation(
        &self,
        channel: &str,
        target: &str,
        arguments: Vec<serde_json::Value>,
        protocols: &[protocol::HubProtocol],
    ) -> Result<i64, LinkError> {
        let message = protocol::HubMessage::invocation(target, arguments);
        let bytes =
            protocol::backplane::Invocation::serialized(&message, protocols, Vec::new()).encode();
        self.query(redis::cmd("PUBLISH").arg(channel).arg(bytes))
            .await
    }

    /// The channels with a subscriber whose name starts with `prefix`
    /// (`PUBSUB CHANNELS`), as the rest of their names, sorted: live
    /// servers from ack channels, connections from connection channels.
    pub async fn channels_after(&self, prefix: &str) -> Result<Vec<String>, LinkError> {
        let names: Vec<String> = self
            .query(
                redis::cmd("PUBSUB")
                    .arg("CHANNELS")
                    .arg(format!("{}*", escape_glob(prefix))),
            )
            .await?;
        let mut rest: Vec<String> = names
            .iter()
            .filter_map(|c| c.strip_prefix(prefix).map(str::to_owned))
            .collect();
        rest.sort();
        Ok(rest)
    }

    /// [`RedisLink::channels_after`] asked of every node and merged: on a
    /// cluster, a node lists only the channels its own clients subscribe
    /// to, and a subscriber may be on any master.
    pub async fn channels_after_on_every_node(
        &self,
        prefix: &str,
    ) -> Result<Vec<String>, LinkError> {
        let mut all = Vec::new();
        for (_, node) in self.nodes().await? {
            all.extend(node.channels_after(prefix).await?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// `PUBSUB NUMSUB channel` summed over every node: on a cluster each
    /// counts only its own subscribers (and PUBLISH's reply only those of
    /// the node it was sent to).
    pub async fn subscribers_on_every_node(&self, channel: &str) -> Result<u64, LinkError> {
        let mut sum = 0;
        for (_, node) in self.nodes().await? {
            let numsub: Vec<(String, u64)> = node
                .query(redis::cmd("PUBSUB").arg("NUMSUB").arg(channel))
                .await?;
            sum += numsub.first().map_or(0, |(_, n)| *n);
        }
        Ok(sum)
    }

    /// `e` as text with the password masked.
    pub fn scrub(&self, e: &impl std::fmt::Display) -> String {
        let text = e.to_string();
        match &self.inner.password {
            Some(p) => text.replace(p.as_str(), "***"),
            None => text,
        }
    }
}

/// Backslash-escapes Redis glob characters so a name matches literally.
pub(crate) fn escape_glob(s: &str) -> String {
    s.chars()
        .fold(String::with_capacity(s.len()), |mut out, c| {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Glob characters in a prefix or hub name are matched literally.
    #[test]
    fn globs_are_escaped() {
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
