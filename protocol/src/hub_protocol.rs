//! The hub protocols, by name: what a handshake asks for, what a
//! backplane message carries one serialization of, and how each frames its
//! messages on a socket (docs/WIRE.md §3, §8).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::framing::{FramingError, RecordSplitter};
use crate::message::{HubMessage, MessageError};
use crate::msgpack::{self, LengthPrefixSplitter};

/// A hub protocol ASP.NET Core ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubProtocol {
    /// `json`: `0x1E`-terminated JSON records in text frames.
    Json,
    /// `messagepack`: length-prefixed MessagePack arrays in binary frames.
    MessagePack,
}

/// What Conduit (and every default ASP.NET app) registers: JSON only.
pub const JSON_ONLY: &[HubProtocol] = &[HubProtocol::Json];

/// A protocol name that is neither `json` nor `messagepack`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown hub protocol '{0}' (known: json, messagepack)")]
pub struct UnknownProtocol(pub String);

impl HubProtocol {
    /// The name in the handshake and in the backplane's protocol map.
    pub fn name(self) -> &'static str {
        match self {
            HubProtocol::Json => "json",
            HubProtocol::MessagePack => msgpack::NAME,
        }
    }

    /// The protocol called `name`; ASP.NET's `DefaultHubProtocolResolver`
    /// ignores case.
    pub fn from_name(name: &str) -> Option<Self> {
        [HubProtocol::Json, HubProtocol::MessagePack]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether its messages travel in binary WebSocket frames
    /// (`TransferFormat.Binary`).
    pub fn is_binary(self) -> bool {
        self == HubProtocol::MessagePack
    }

    /// One message as written on a socket, framing included.
    pub fn encode(self, message: &HubMessage) -> Vec<u8> {
        match self {
            HubProtocol::Json => message.to_record(),
            HubProtocol::MessagePack => msgpack::encode(message),
        }
    }

    /// Reads one message whose framing the splitter removed.
    pub fn parse(self, message: &[u8]) -> Result<HubMessage, MessageError> {
        match self {
            HubProtocol::Json => HubMessage::parse(message),
            HubProtocol::MessagePack => msgpack::parse(message),
        }
    }

    /// A splitter for this protocol's framing, refusing messages over
    /// `max_message_size` bytes framing included (ASP.NET's
    /// `MaximumReceiveMessageSize`).
    pub fn splitter(self, max_message_size: usize) -> MessageSplitter {
        match self {
            HubProtocol::Json => {
                MessageSplitter::Records(RecordSplitter::counting_separator(max_message_size))
            }
            HubProtocol::MessagePack => {
                MessageSplitter::LengthPrefixed(LengthPrefixSplitter::new(max_message_size))
            }
        }
    }
}

impl fmt::Display for HubProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HubProtocol {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s.trim()).ok_or_else(|| UnknownProtocol(s.trim().to_owned()))
    }
}

/// Splits incoming bytes into messages in either protocol's framing.
#[derive(Debug, Clone)]
pub enum MessageSplitter {
    /// JSON: `0x1E` separators.
    Records(RecordSplitter),
    /// MessagePack: VarInt length prefixes.
    LengthPrefixed(LengthPrefixSplitter),
}

impl MessageSplitter {
    /// Feeds one chunk; returns the messages it completes, framing removed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        match self {
            MessageSplitter::Records(s) => s.push(chunk),
            MessageSplitter::LengthPrefixed(s) => s.push(chunk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are ASP.NET's, matched without regard to case; others are
    /// refused with the known names listed.
    #[test]
    fn names() {
        assert_eq!("json".parse(), Ok(HubProtocol::Json));
        assert_eq!("MessagePack".parse(), Ok(HubProtocol::MessagePack));
        assert_eq!(HubProtocol::MessagePack.to_string(), "messagepack");
        let err = "protobuf".parse::<HubProtocol>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown hub protocol 'protobuf' (known: json, messagepack)"
        );
    }

    /// Each protocol reads back what it wrote through its own splitter.
    #[test]
    fn each_protocol_round_trips_through_its_splitter() {
        let m = HubMessage::invocation("T", vec![serde_json::json!({"x": [1, "y"]})]);
        for p in [HubProtocol::Json, HubProtocol::MessagePack] {
            let framed = p.encode(&m);
            let mut s = p.splitter(1024);
            let out = s.push(&framed).unwrap();
            assert_eq!(out.len(), 1, "{p}");
            assert_eq!(p.parse(&out[0]).unwrap(), m, "{p}");
        }
    }
}
