//! The MessagePack payloads of the backplane (docs/WIRE.md §7.2), byte for byte as
//! ASP.NET Core's `RedisProtocol` writes them. Writing uses `rmp`, which
//! picks the smallest encoding as MessagePack-CSharp does; reading uses
//! `rmpv` and accepts any valid width.

use rmpv::Value;
use thiserror::Error;

use crate::hub_protocol::{HubProtocol, JSON_ONLY};
use crate::message::HubMessage;

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackplaneError {
    /// Not valid MessagePack (truncated, or trailing bytes).
    #[error("not valid MessagePack: {0}")]
    MessagePack(String),
    /// Valid MessagePack of the wrong shape.
    #[error("unexpected {what}: {detail}")]
    Shape {
        /// The element being read.
        what: &'static str,
        /// What was found instead.
        detail: String,
    },
}

fn shape(what: &'static str, found: &Value) -> BackplaneError {
    let mut detail = found.to_string();
    if detail.len() > 80 {
        let mut cut = 80;
        while !detail.is_char_boundary(cut) {
            cut -= 1;
        }
        detail.truncate(cut);
        detail.push('…');
    }
    BackplaneError::Shape { what, detail }
}

/// Reads exactly one MessagePack value from `bytes`.
fn read_one(bytes: &[u8]) -> Result<Value, BackplaneError> {
    let mut cursor = bytes;
    let value = rmpv::decode::read_value(&mut cursor)
        .map_err(|e| BackplaneError::MessagePack(e.to_string()))?;
    if !cursor.is_empty() {
        return Err(BackplaneError::MessagePack(format!(
            "{} trailing bytes after the payload",
            cursor.len()
        )));
    }
    Ok(value)
}

fn array<'a>(v: &'a Value, what: &'static str) -> Result<&'a [Value], BackplaneError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| shape(what, v))
}

fn string(v: &Value, what: &'static str) -> Result<String, BackplaneError> {
    v.as_str().map(str::to_owned).ok_or_else(|| shape(what, v))
}

fn int(v: &Value, what: &'static str) -> Result<u32, BackplaneError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| shape(what, v))
}

fn bin(v: &Value, what: &'static str) -> Result<Vec<u8>, BackplaneError> {
    match v {
        Value::Binary(b) => Ok(b.clone()),
        other => Err(shape(what, other)),
    }
}

// Writes into a Vec cannot fail, so these wrappers keep the encoders
// free of `Result`s that could never be `Err`.
fn put_array(out: &mut Vec<u8>, len: usize) {
    rmp::encode::write_array_len(out, len as u32).expect("writing to a Vec");
}
fn put_map(out: &mut Vec<u8>, len: usize) {
    rmp::encode::write_map_len(out, len as u32).expect("writing to a Vec");
}
fn put_str(out: &mut Vec<u8>, s: &str) {
    rmp::encode::write_str(out, s).expect("writing to a Vec");
}
fn put_bin(out: &mut Vec<u8>, b: &[u8]) {
    rmp::encode::write_bin(out, b).expect("writing to a Vec");
}
fn put_uint(out: &mut Vec<u8>, n: u32) {
    rmp::encode::write_uint(out, u64::from(n)).expect("writing to a Vec");
}

/// Where a client result must be sent (the .NET 7+ 4-element form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnAddress {
    /// The invocation id the client will complete.
    pub invocation_id: String,
    /// `<Hub>:internal:return:<server>`, without the channel prefix.
    pub return_channel: String,
}

/// An invocation published on `:all`, `:group:`, `:connection:` or `:user:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Connections that must not receive it (`AllExcept`, `Others`, …).
    pub excluded_connection_ids: Vec<String>,
    /// Protocol name → the serialized hub message, record separator
    /// included; receivers write it to matching connections verbatim.
    pub messages: Vec<(String, Vec<u8>)>,
    /// Present for a client-result invoke.
    pub return_to: Option<ReturnAddress>,
}

impl Invocation {
    /// An invocation of `message` serialized for each of `protocols`, in
    /// that order, as `RedisProtocol.WriteInvocation` serializes for every
    /// protocol the app registered (json first: `AddSignalR` registers it
    /// before `AddMessagePackProtocol` adds MessagePack).
    pub fn serialized(
        message: &HubMessage,
        protocols: &[HubProtocol],
        excluded_connection_ids: Vec<String>,
    ) -> Self {
        Self {
            excluded_connection_ids,
            messages: protocols
                .iter()
                .map(|p| (p.name().to_owned(), p.encode(message)))
                .collect(),
            return_to: None,
        }
    }

    /// A JSON-only invocation of `message`, as Conduit (JSON only) publishes.
    pub fn json(message: &HubMessage, excluded_connection_ids: Vec<String>) -> Self {
        Self::serialized(message, JSON_ONLY, excluded_connection_ids)
    }

    /// The serialized message for `protocol`, if the publisher included it.
    pub fn message_for(&self, protocol: &str) -> Option<&[u8]> {
        self.messages
            .iter()
            .find(|(p, _)| p == protocol)
            .map(|(_, b)| b.as_slice())
    }

    /// The MessagePack body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self
                .messages
                .iter()
                .map(|(p, b)| p.len() + b.len() + 8)
                .sum::<usize>(),
        );
        put_array(&mut out, if self.return_to.is_some() { 4 } else { 2 });
        put_array(&mut out, self.excluded_connection_ids.len());
        for id in &self.excluded_connection_ids {
            put_str(&mut out, id);
        }
        put_map(&mut out, self.messages.len());
        for (protocol, bytes) in &self.messages {
            put_str(&mut out, protocol);
            put_bin(&mut out, bytes);
        }
        if let Some(r) = &self.return_to {
            put_str(&mut out, &r.invocation_id);
            put_str(&mut out, &r.return_channel);
        }
        out
    }

    /// Reads a body; at least 2 elements, extras past the 4th ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, BackplaneError> {
        let v = read_one(bytes)?;
        let items = array(&v, "invocation array")?;
        if items.len() < 2 {
            return Err(shape("invocation array (needs 2 or 4 elements)", &v));
        }
        let excluded_connection_ids = match &items[0] {
            Value::Nil => Vec::new(),
            other => array(other, "excluded connection ids")?
                .iter()
                .map(|id| string(id, "excluded connection id"))
                .collect::<Result<_, _>>()?,
        };
        let map = items[1]
            .as_map()
            .ok_or_else(|| shape("protocol map", &items[1]))?;
        let messages = map
            .iter()
            .map(|(k, v)| Ok((string(k, "protocol name")?, bin(v, "serialized message")?)))
            .collect::<Result<_, BackplaneError>>()?;
        let return_to = if items.len() >= 4 {
            Some(ReturnAddress {
                invocation_id: string(&items[2], "invocation id")?,
                return_channel: string(&items[3], "return channel")?,
            })
        } else {
            None
        };
        Ok(Self {
            excluded_connection_ids,
            messages,
            return_to,
        })
    }
}

/// Add or remove, as the single byte ASP.NET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAction {
    /// `GroupAction.Add` = 1.
    Add = 1,
    /// `GroupAction.Remove` = 2.
    Remove = 2,
}

/// A group change for a connection on another server, on `:internal:groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCommand {
    /// The sender's counter; the ack echoes it.
    pub id: u32,
    /// The sender's server name; the ack goes to its ack channel.
    pub server_name: String,
    /// Add or remove.
    pub action: GroupAction,
    /// The group.
    pub group: String,
    /// The connection, owned by whichever server has it.
    pub connection_id: String,
}

impl GroupCommand {
    /// The MessagePack body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self.server_name.len() + self.group.len() + self.connection_id.len(),
        );
        put_array(&mut out, 5);
        put_uint(&mut out, self.id);
        put_str(&mut out, &self.server_name);
        put_uint(&mut out, self.action as u32);
        put_str(&mut out, &self.group);
        put_str(&mut out, &self.connection_id);
        out
    }

    /// Reads a body.
    pub fn decode(bytes: &[u8]) -> Result<Self, BackplaneError> {
        let v = read_one(bytes)?;
        let items = array(&v, "group command array")?;
        if items.len() < 5 {
            return Err(shape("group command array (needs 5 elements)", &v));
        }
        let action = match int(&items[2], "group action")? {
            1 => GroupAction::Add,
            2 => GroupAction::Remove,
            _ => return Err(shape("group action (1 or 2)", &items[2])),
        };
        Ok(Self {
            id: int(&items[0], "group command id")?,
            server_name: string(&items[1], "server name")?,
            action,
            group: string(&items[3], "group name")?,
            connection_id: string(&items[4], "connection id")?,
        })
    }
}

/// The reply to a group command, on the sender's `:internal:ack:` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The group command's id.
    pub id: u32,
}

impl Ack {
    /// The MessagePack body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6);
        put_array(&mut out, 1);
        put_uint(&mut out, self.id);
        out
    }

    /// Reads a body.
    pub fn decode(bytes: &[u8]) -> Result<Self, BackplaneError> {
        let v = read_one(bytes)?;
        let items = array(&v, "ack array")?;
        let first = items
            .first()
            .ok_or_else(|| shape("ack array (needs 1 element)", &v))?;
        Ok(Self {
            id: int(first, "ack id")?,
        })
    }
}

/// A client result on `:internal:return:<server>` (.NET 7+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The protocol that serialized `message`.
    pub protocol: String,
    /// The Completion message as that protocol writes it.
    pub message: Vec<u8>,
}

impl Completion {
    /// The MessagePack body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.protocol.len() + self.message.len());
        put_array(&mut out, 2);
        put_str(&mut out, &self.protocol);
        put_bin(&mut out, &self.message);
        out
    }

    /// Reads a body.
    pub fn decode(bytes: &[u8]) -> Result<Self, BackplaneError> {
        let v = read_one(bytes)?;
        let items = array(&v, "completion array")?;
        if items.len() < 2 {
            return Err(shape("completion array (needs 2 elements)", &v));
        }
        Ok(Self {
            protocol: string(&items[0], "protocol name")?,
            message: bin(&items[1], "completion message")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 197-byte JSON record gets a bin8 header, as in docs/WIRE.md §7.2.
    #[test]
    fn worked_example_layout() {
        let msg = HubMessage::invocation(
            "NavigationStateUpdate",
            vec![serde_json::json!({"type": "TestBroadcast", "data": {"pad": "x".repeat(124)}})],
        );
        let body = Invocation::json(&msg, vec![]).encode();
        let record = msg.to_record();
        assert_eq!(&body[..7], &[0x92, 0x90, 0x81, 0xa4, b'j', b's', b'o']);
        assert_eq!(body[8], 0xc4);
        assert_eq!(body[9] as usize, record.len());
        assert_eq!(&body[10..], record.as_slice());
    }

    /// A record of 256 bytes or more switches to bin16.
    #[test]
    fn long_record_uses_bin16() {
        let msg = HubMessage::invocation("T", vec![serde_json::json!("y".repeat(300))]);
        let body = Invocation::json(&msg, vec![]).encode();
        assert_eq!(body[8], 0xc5);
    }

    /// Truncated and trailing bytes are errors, not panics.
    #[test]
    fn truncated_and_trailing_bytes_are_errors() {
        assert!(matches!(
            Ack::decode(&[0x91]),
            Err(BackplaneError::MessagePack(_))
        ));
        assert!(matches!(
            Ack::decode(&[0x91, 0x01, 0x01]),
            Err(BackplaneError::MessagePack(_))
        ));
        assert!(matches!(
            Ack::decode(&[0x90]),
            Err(BackplaneError::Shape { .. })
        ));
    }

    /// Both protocols ride in one message, json first, each framed as its
    /// socket carries it.
    #[test]
    fn both_protocols_in_registration_order() {
        let msg = HubMessage::invocation("T", vec![]);
        let both = [HubProtocol::Json, HubProtocol::MessagePack];
        let inv =
            Invocation::decode(&Invocation::serialized(&msg, &both, vec![]).encode()).unwrap();
        let names: Vec<&str> = inv.messages.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["json", "messagepack"]);
        assert_eq!(inv.message_for("json"), Some(msg.to_record().as_slice()));
        assert_eq!(
            inv.message_for("messagepack"),
            Some(crate::msgpack::encode(&msg).as_slice())
        );
    }

    /// The 4-element form keeps its return address.
    #[test]
    fn four_element_form_round_trips() {
        let inv = Invocation {
            excluded_connection_ids: vec![],
            messages: vec![("json".into(), b"{}\x1e".to_vec())],
            return_to: Some(ReturnAddress {
                invocation_id: "1".into(),
                return_channel: "H:internal:return:s".into(),
            }),
        };
        assert_eq!(Invocation::decode(&inv.encode()).unwrap(), inv);
    }
}
