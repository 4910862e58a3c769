//! A readable account of one backplane publish: which hub, which kind of
//! channel, and the decoded payload. The companion builds it from MONITOR
//! lines or pub/sub messages and sends it as JSON; the dashboard shows it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::channel::{classify_any, ChannelKind};
use super::codec::{Ack, Completion, GroupAction, GroupCommand, Invocation};
use crate::message::HubMessage;

/// One backplane channel and, for a publish, what was published on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The hub's type full name.
    pub hub: String,
    /// What the channel carries.
    pub channel: ChannelKind,
    /// The decoded body; `None` for SUBSCRIBE and the like.
    pub payload: Option<Payload>,
}

/// A decoded backplane body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Payload {
    /// An invocation for clients.
    #[serde(rename_all = "camelCase")]
    Invocation {
        /// The client method, read from the JSON message if present.
        target: Option<String>,
        /// Its arguments as JSON.
        arguments: Option<Value>,
        /// Set when the server expects a client result.
        invocation_id: Option<String>,
        /// Connections skipped by the receivers.
        excluded_connection_ids: Vec<String>,
        /// Protocols the publisher serialized for, in order.
        protocols: Vec<String>,
        /// Where a client result goes (4-element form).
        return_channel: Option<String>,
    },
    /// A group add or remove for a remote connection.
    #[serde(rename_all = "camelCase")]
    GroupCommand {
        /// Sender's counter.
        id: u32,
        /// Sender's server name.
        server_name: String,
        /// `add` or `remove`.
        action: String,
        /// The group.
        group: String,
        /// The connection.
        connection_id: String,
    },
    /// The ack of a group command.
    Ack {
        /// The command's id.
        id: u32,
    },
    /// A client result forwarded to the invoking server.
    Completion {
        /// Its protocol.
        protocol: String,
        /// The message, as text where it is UTF-8.
        message: String,
    },
    /// The body did not decode; the reason is kept for the reader.
    Undecodable {
        /// Why.
        error: String,
    },
}

impl Summary {
    /// Summarises `channel` (and its `body`, for a publish) if it is a
    /// backplane channel behind `prefix`.
    pub fn of(prefix: &str, channel: &str, body: Option<&[u8]>) -> Option<Self> {
        let (hub, kind) = classify_any(prefix, channel)?;
        let payload = body.map(|b| decode(&kind, b));
        Some(Self {
            hub,
            channel: kind,
            payload,
        })
    }
}

fn decode(kind: &ChannelKind, body: &[u8]) -> Payload {
    let undecodable = |e: super::BackplaneError| Payload::Undecodable {
        error: e.to_string(),
    };
    match kind {
        ChannelKind::All
        | ChannelKind::Group(_)
        | ChannelKind::Connection(_)
        | ChannelKind::User(_) => match Invocation::decode(body) {
            Ok(inv) => invocation(inv),
            Err(e) => undecodable(e),
        },
        ChannelKind::InternalGroups => match GroupCommand::decode(body) {
            Ok(c) => Payload::GroupCommand {
                id: c.id,
                server_name: c.server_name,
                action: match c.action {
                    GroupAction::Add => "add".into(),
                    GroupAction::Remove => "remove".into(),
                },
                group: c.group,
                connection_id: c.connection_id,
            },
            Err(e) => undecodable(e),
        },
        ChannelKind::Ack(_) => match Ack::decode(body) {
            Ok(a) => Payload::Ack { id: a.id },
            Err(e) => undecodable(e),
        },
        ChannelKind::Return(_) => match Completion::decode(body) {
            Ok(c) => Payload::Completion {
                protocol: c.protocol,
                message: String::from_utf8_lossy(&c.message).into_owned(),
            },
            Err(e) => undecodable(e),
        },
    }
}

fn invocation(inv: Invocation) -> Payload {
    let (target, arguments) = inv
        .message_for("json")
        .map(|record| {
            record
                .strip_suffix(&[crate::RECORD_SEPARATOR])
                .unwrap_or(record)
        })
        .and_then(|json| HubMessage::parse(json).ok())
        .and_then(|m| match m {
            HubMessage::Invocation {
                target, arguments, ..
            } => Some((Some(target), Some(Value::Array(arguments)))),
            _ => None,
        })
        .unwrap_or((None, None));
    Payload::Invocation {
        target,
        arguments,
        invocation_id: inv.return_to.as_ref().map(|r| r.invocation_id.clone()),
        excluded_connection_ids: inv.excluded_connection_ids,
        protocols: inv.messages.into_iter().map(|(p, _)| p).collect(),
        return_channel: inv.return_to.map(|r| r.return_channel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backplane::Channels;
    use serde_json::json;

    /// A Conduit group broadcast summarises to its target and arguments.
    #[test]
    fn group_broadcast_summary() {
        let c = Channels::conduit();
        let msg = HubMessage::invocation("NavigationStateUpdate", vec![json!({"type": "T"})]);
        let body = Invocation::json(&msg, vec!["x".into()]).encode();
        let s = Summary::of(
            "conduit_signalr:",
            &c.group("navigation-updates"),
            Some(&body),
        )
        .unwrap();
        assert_eq!(s.channel, ChannelKind::Group("navigation-updates".into()));
        assert_eq!(
            s.payload,
            Some(Payload::Invocation {
                target: Some("NavigationStateUpdate".into()),
                arguments: Some(json!([{"type": "T"}])),
                invocation_id: None,
                excluded_connection_ids: vec!["x".into()],
                protocols: vec!["json".into()],
                return_channel: None,
            })
        );
    }

    /// A garbage body is reported, not dropped.
    #[test]
    fn garbage_body_is_undecodable() {
        let c = Channels::conduit();
        let s = Summary::of("conduit_signalr:", &c.all(), Some(b"hello")).unwrap();
        assert!(matches!(s.payload, Some(Payload::Undecodable { .. })));
    }

    /// The JSON form is what the dashboard reads.
    #[test]
    fn serialises_with_tags() {
        let s = Summary {
            hub: "H".into(),
            channel: ChannelKind::Ack("s".into()),
            payload: Some(Payload::Ack { id: 3 }),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            json!({"hub": "H", "channel": {"kind": "ack", "name": "s"}, "payload": {"type": "ack", "id": 3}})
        );
        assert_eq!(serde_json::from_value::<Summary>(v).unwrap(), s);
    }
}
