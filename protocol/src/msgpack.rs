//! The MessagePack hub protocol (docs/WIRE.md §8): every message is a
//! MessagePack array behind a VarInt length prefix, written as ASP.NET
//! Core's `MessagePackHubProtocolWorker` writes it and read as leniently.
//!
//! Arguments stay JSON values, as in [`crate::message`]: a JSON object is
//! written as a map with the same keys, numbers in their smallest form
//! (floats as float64, as MessagePack-CSharp writes a `double`). Reading
//! turns binary into an array of bytes and refuses extension types, which
//! have no JSON form.

use rmpv::Value as Packed;
use serde_json::{Map, Number, Value};

use crate::framing::FramingError;
use crate::message::{Headers, HubMessage, MessageError, Outcome};

/// The protocol's name in the handshake and in the backplane's map.
pub const NAME: &str = "messagepack";

/// `BinaryMessageParser`: payloads up to 2 GB, so at most five prefix bytes.
const MAX_PREFIX: usize = 5;

/// Completion result kinds (`MessagePackHubProtocolWorker`).
const ERROR_RESULT: u64 = 1;
/// The method returned nothing.
const VOID_RESULT: u64 = 2;
/// The method returned a value (possibly nil).
const NON_VOID_RESULT: u64 = 3;

/// Appends `len` as a VarInt: seven bits a byte, least significant first,
/// the top bit set on every byte but the last (`BinaryMessageFormatter`).
pub fn write_length_prefix(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let low = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Reads a length prefix: `(payload length, prefix length)`, or `None`
/// while its last byte has not arrived.
fn read_length_prefix(bytes: &[u8]) -> Result<Option<(usize, usize)>, FramingError> {
    let mut len = 0usize;
    for (i, &byte) in bytes.iter().take(MAX_PREFIX).enumerate() {
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // The fifth byte may add only three bits: 0x7fffffff at most.
            if i == MAX_PREFIX - 1 && byte > 7 {
                return Err(FramingError::LengthPrefix);
            }
            return Ok(Some((len, i + 1)));
        }
    }
    if bytes.len() >= MAX_PREFIX {
        return Err(FramingError::LengthPrefix);
    }
    Ok(None)
}

/// Incremental splitter of length-prefixed messages, the MessagePack
/// counterpart of [`crate::RecordSplitter`].
#[derive(Debug, Clone)]
pub struct LengthPrefixSplitter {
    /// Bytes of messages not yet complete.
    buffer: Vec<u8>,
    /// Largest message accepted, prefix included, as ASP.NET's
    /// `MaximumReceiveMessageSize` window counts it.
    max_message: usize,
}

impl LengthPrefixSplitter {
    /// A splitter that refuses a message (prefix plus payload) over
    /// `max_message` bytes. The prefix announces the size, so an oversized
    /// message is refused as soon as its prefix is read, where ASP.NET
    /// notices once that many bytes have arrived; the outcome is the same.
    pub fn new(max_message: usize) -> Self {
        Self {
            buffer: Vec::new(),
            max_message,
        }
    }

    /// Feeds one chunk; returns the payloads it completes, prefixes
    /// removed. After an error the splitter is reset and the caller is
    /// expected to close the connection.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        self.buffer.extend_from_slice(chunk);
        let mut payloads = Vec::new();
        let mut at = 0;
        loop {
            let (len, prefix) = match read_length_prefix(&self.buffer[at..]) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(e) => {
                    self.buffer.clear();
                    return Err(e);
                }
            };
            let whole = prefix.saturating_add(len);
            if whole > self.max_message {
                self.buffer.clear();
                return Err(FramingError::TooLarge {
                    limit: self.max_message,
                    seen: whole,
                });
            }
            if self.buffer.len() - at < whole {
                break;
            }
            payloads.push(self.buffer[at + prefix..at + whole].to_vec());
            at += whole;
        }
        self.buffer.drain(..at);
        Ok(payloads)
    }

    /// Bytes held back waiting for the rest of a message.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

// Writes into a Vec cannot fail, so these wrappers keep the encoder free
// of `Result`s that could never be `Err`.
fn put_array(out: &mut Vec<u8>, len: usize) {
    rmp::encode::write_array_len(out, len as u32).expect("writing to a Vec");
}
fn put_map(out: &mut Vec<u8>, len: usize) {
    rmp::encode::write_map_len(out, len as u32).expect("writing to a Vec");
}
fn put_str(out: &mut Vec<u8>, s: &str) {
    rmp::encode::write_str(out, s).expect("writing to a Vec");
}
fn put_uint(out: &mut Vec<u8>, n: u64) {
    rmp::encode::write_uint(out, n).expect("writing to a Vec");
}

/// A JSON value as MessagePack, in the smallest encodings.
fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => rmp::encode::write_nil(out).expect("writing to a Vec"),
        Value::Bool(b) => rmp::encode::write_bool(out, *b).expect("writing to a Vec"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                put_uint(out, u);
            } else if let Some(i) = n.as_i64() {
                rmp::encode::write_sint(out, i).expect("writing to a Vec");
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                rmp::encode::write_f64(out, f).expect("writing to a Vec");
            }
        }
        Value::String(s) => put_str(out, s),
        Value::Array(items) => put_values(out, items),
        Value::Object(map) => {
            put_map(out, map.len());
            for (k, v) in map {
                put_str(out, k);
                put_value(out, v);
            }
        }
    }
}

/// An array of values, written in place (no `Value::Array` built around
/// a message's arguments just to write it).
fn put_values(out: &mut Vec<u8>, items: &[Value]) {
    put_array(out, items.len());
    items.iter().for_each(|v| put_value(out, v));
}

/// `PackHeaders`: always a map, empty when there are none.
fn put_headers(out: &mut Vec<u8>, headers: &Headers) {
    put_map(out, headers.len());
    for (k, v) in headers {
        put_str(out, k);
        put_str(out, v);
    }
}

/// `WriteStreamIds`: always an array, empty when there are none.
fn put_str_array(out: &mut Vec<u8>, items: &[String]) {
    put_array(out, items.len());
    items.iter().for_each(|s| put_str(out, s));
}

/// The message body without its length prefix, laid out as
/// `MessagePackHubProtocolWorker.WriteMessageCore` writes it.
pub fn payload(message: &HubMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let kind = u64::from(message.kind());
    match message {
        HubMessage::Invocation {
            headers,
            invocation_id,
            target,
            arguments,
            stream_ids,
        } => {
            put_array(&mut out, 6);
            put_uint(&mut out, kind);
            put_headers(&mut out, headers);
            match invocation_id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => put_str(&mut out, id),
                None => rmp::encode::write_nil(&mut out).expect("writing to a Vec"),
            }
            put_str(&mut out, target);
            put_values(&mut out, arguments);
            put_str_array(&mut out, stream_ids);
        }
        HubMessage::StreamInvocation {
            headers,
            invocation_id,
            target,
            arguments,
            stream_ids,
        } => {
            put_array(&mut out, 6);
            put_uint(&mut out, kind);
            put_headers(&mut out, headers);
            put_str(&mut out, invocation_id);
            put_str(&mut out, target);
            put_values(&mut out, arguments);
            put_str_array(&mut out, stream_ids);
        }
        HubMessage::StreamItem {
            headers,
            invocation_id,
            item,
        } => {
            put_array(&mut out, 4);
            put_uint(&mut out, kind);
            put_headers(&mut out, headers);
            put_str(&mut out, invocation_id);
            put_value(&mut out, item);
        }
        HubMessage::Completion {
            headers,
            invocation_id,
            outcome,
        } => {
            let with_value = !matches!(outcome, Outcome::Void);
            put_array(&mut out, if with_value { 5 } else { 4 });
            put_uint(&mut out, kind);
            put_headers(&mut out, headers);
            put_str(&mut out, invocation_id);
            match outcome {
                Outcome::Error(e) => {
                    put_uint(&mut out, ERROR_RESULT);
                    put_str(&mut out, e);
                }
                Outcome::Void => put_uint(&mut out, VOID_RESULT),
                Outcome::Result(r) => {
                    put_uint(&mut out, NON_VOID_RESULT);
                    put_value(&mut out, r);
                }
            }
        }
        HubMessage::CancelInvocation {
            headers,
            invocation_id,
        } => {
            put_array(&mut out, 3);
            put_uint(&mut out, kind);
            put_headers(&mut out, headers);
            put_str(&mut out, invocation_id);
        }
        HubMessage::Ping => {
            put_array(&mut out, 1);
            put_uint(&mut out, kind);
        }
        HubMessage::Close {
            error,
            allow_reconnect,
        } => {
            put_array(&mut out, 3);
            put_uint(&mut out, kind);
            match error.as_deref().filter(|e| !e.is_empty()) {
                Some(e) => put_str(&mut out, e),
                None => rmp::encode::write_nil(&mut out).expect("writing to a Vec"),
            }
            rmp::encode::write_bool(&mut out, *allow_reconnect).expect("writing to a Vec");
        }
        HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
            put_array(&mut out, 2);
            put_uint(&mut out, kind);
            put_uint(&mut out, *sequence_id);
        }
    }
    out
}

/// The message as sent on a socket: length prefix, then the body.
pub fn encode(message: &HubMessage) -> Vec<u8> {
    let body = payload(message);
    let mut out = Vec::with_capacity(body.len() + MAX_PREFIX);
    write_length_prefix(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Reads one payload (length prefix already removed). Bytes after the
/// array are ignored, as ASP.NET's reader never looks at them.
pub fn parse(payload: &[u8]) -> Result<HubMessage, MessageError> {
    let mut cursor = payload;
    let value = rmpv::decode::read_value(&mut cursor)
        .map_err(|e| MessageError::MessagePack(e.to_string()))?;
    let Packed::Array(items) = value else {
        return Err(MessageError::MessagePack(format!(
            "expected an array, got {value}"
        )));
    };
    let kind = items
        .first()
        .and_then(Packed::as_u64)
        .ok_or(MessageError::MissingType)?;
    let kind = match u8::try_from(kind) {
        Ok(k @ 1..=9) => k,
        _ => return Err(MessageError::UnknownType(kind)),
    };
    let f = Items {
        items: &items,
        kind,
    };
    Ok(match kind {
        1 => HubMessage::Invocation {
            headers: f.headers()?,
            // An empty id is how MessagePack clients say "no id".
            invocation_id: f.opt_str(2, "invocationId")?.filter(|id| !id.is_empty()),
            target: f.required_str(3, "target")?,
            arguments: f.arguments()?,
            stream_ids: f.stream_ids()?,
        },
        2 => HubMessage::StreamItem {
            headers: f.headers()?,
            invocation_id: f.required_str(2, "invocationId")?,
            item: f.value(3, "item")?,
        },
        3 => HubMessage::Completion {
            headers: f.headers()?,
            invocation_id: f.required_str(2, "invocationId")?,
            outcome: match f.get(3, "resultKind")?.as_u64() {
                Some(ERROR_RESULT) => Outcome::Error(f.opt_str(4, "error")?.unwrap_or_default()),
                Some(VOID_RESULT) => Outcome::Void,
                Some(NON_VOID_RESULT) => Outcome::Result(f.value(4, "result")?),
                _ => return Err(f.bad("resultKind")),
            },
        },
        4 => HubMessage::StreamInvocation {
            headers: f.headers()?,
            invocation_id: f.required_str(2, "invocationId")?,
            target: f.required_str(3, "target")?,
            arguments: f.arguments()?,
            stream_ids: f.stream_ids()?,
        },
        5 => HubMessage::CancelInvocation {
            headers: f.headers()?,
            invocation_id: f.required_str(2, "invocationId")?,
        },
        6 => HubMessage::Ping,
        7 => HubMessage::Close {
            error: f.opt_str(1, "error")?,
            allow_reconnect: match items.get(2) {
                None => false,
                Some(Packed::Boolean(b)) => *b,
                Some(_) => return Err(f.bad("allowReconnect")),
            },
        },
        8 => HubMessage::Ack {
            sequence_id: f.sequence_id()?,
        },
        _ => HubMessage::Sequence {
            sequence_id: f.sequence_id()?,
        },
    })
}

/// Typed access to one message's array, naming the field on error.
struct Items<'a> {
    /// The array, the type number first.
    items: &'a [Packed],
    /// The type number.
    kind: u8,
}

impl Items<'_> {
    fn bad(&self, field: &'static str) -> MessageError {
        MessageError::BadField {
            kind: self.kind,
            field,
        }
    }

    fn get(&self, at: usize, field: &'static str) -> Result<&Packed, MessageError> {
        self.items.get(at).ok_or_else(|| self.bad(field))
    }

    fn opt_str(&self, at: usize, field: &'static str) -> Result<Option<String>, MessageError> {
        match self.get(at, field)? {
            Packed::Nil => Ok(None),
            Packed::String(s) => s
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| self.bad(field)),
            _ => Err(self.bad(field)),
        }
    }

    /// A string that must be present and not empty (`ThrowIfNullOrEmpty`).
    fn required_str(&self, at: usize, field: &'static str) -> Result<String, MessageError> {
        self.opt_str(at, field)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.bad(field))
    }

    fn value(&self, at: usize, field: &'static str) -> Result<Value, MessageError> {
        to_json(self.get(at, field)?).ok_or_else(|| self.bad(field))
    }

    fn headers(&self) -> Result<Headers, MessageError> {
        match self.get(1, "headers")? {
            Packed::Nil => Ok(Vec::new()),
            Packed::Map(entries) => entries
                .iter()
                .map(|(k, v)| match (k.as_str(), v.as_str()) {
                    (Some(k), Some(v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
                    _ => Err(self.bad("headers")),
                })
                .collect(),
            _ => Err(self.bad("headers")),
        }
    }

    fn arguments(&self) -> Result<Vec<Value>, MessageError> {
        match self.get(4, "arguments")? {
            Packed::Array(items) => items
                .iter()
                .map(|v| to_json(v).ok_or_else(|| self.bad("arguments")))
                .collect(),
            _ => Err(self.bad("arguments")),
        }
    }

    /// Older clients send five elements, without stream ids.
    fn stream_ids(&self) -> Result<Vec<String>, MessageError> {
        match self.items.get(5) {
            None | Some(Packed::Nil) => Ok(Vec::new()),
            Some(Packed::Array(ids)) => ids
                .iter()
                .map(|id| {
                    id.as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .ok_or_else(|| self.bad("streamIds"))
                })
                .collect(),
            Some(_) => Err(self.bad("streamIds")),
        }
    }

    fn sequence_id(&self) -> Result<u64, MessageError> {
        self.get(1, "sequenceId")?
            .as_u64()
            .ok_or_else(|| self.bad("sequenceId"))
    }
}

/// A MessagePack value as JSON; `None` for what JSON cannot hold (an
/// extension type, a string that is not UTF-8).
fn to_json(value: &Packed) -> Option<Value> {
    Some(match value {
        Packed::Nil => Value::Null,
        Packed::Boolean(b) => Value::Bool(*b),
        Packed::Integer(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (None, Some(i)) => Value::from(i),
            (None, None) => return None,
        },
        Packed::F32(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Packed::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Packed::String(s) => Value::from(s.as_str()?),
        Packed::Binary(b) => Value::Array(b.iter().map(|&byte| Value::from(byte)).collect()),
        Packed::Array(items) => Value::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        Packed::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Packed::String(s) => s.as_str()?.to_owned(),
                    other => other.to_string(),
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        Packed::Ext(..) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A server push is `[1, {}, nil, target, [args], []]` behind its
    /// length, as MessagePackHubProtocolWorker.WriteInvocationMessage writes it.
    #[test]
    fn server_push_matches_aspnet_layout() {
        let m = HubMessage::invocation("T", vec![json!({"a": 1, "b": [true, null, -1, 1.5]})]);
        assert_eq!(
            hex(&encode(&m)),
            "1b".to_owned()
                + "96" // array of 6
                + "01" // Invocation
                + "80" // no headers
                + "c0" // no invocation id
                + "a154" // "T"
                + "91" // one argument
                + "82a16101a16294c3c0ff" // {"a":1,"b":[true,nil,-1,
                + "cb3ff8000000000000" // 1.5 as float64]}
                + "90" // no stream ids
        );
    }

    /// Ping and Close have the shapes of WritePingMessage and WriteCloseMessage.
    #[test]
    fn ping_and_close_bytes() {
        assert_eq!(encode(&HubMessage::Ping), [0x02, 0x91, 0x06]);
        let close = HubMessage::Close {
            error: Some("x".into()),
            allow_reconnect: true,
        };
        assert_eq!(hex(&encode(&close)), "059307a178c3");
        let clean = HubMessage::Close {
            error: None,
            allow_reconnect: false,
        };
        assert_eq!(hex(&encode(&clean)), "049307c0c2");
    }

    /// The completion bytes in ASP.NET's RedisProtocolTests
    /// (`[3, {}, "xyz", 3, 42]`) parse and encode back.
    #[test]
    fn completion_vector_round_trips() {
        let bytes = [0x95, 0x03, 0x80, 0xa3, b'x', b'y', b'z', 0x03, 0x2a];
        let m = parse(&bytes).unwrap();
        assert_eq!(
            m,
            HubMessage::Completion {
                headers: vec![],
                invocation_id: "xyz".into(),
                outcome: Outcome::Result(json!(42)),
            }
        );
        assert_eq!(payload(&m), bytes);
    }

    /// VarInt prefixes: one byte below 128, two from 128, five for 2 GB;
    /// a sixth byte or a fifth over 7 is refused (BinaryMessageParser).
    #[test]
    fn length_prefixes() {
        let mut out = Vec::new();
        write_length_prefix(&mut out, 0x35);
        write_length_prefix(&mut out, 128);
        write_length_prefix(&mut out, 0x7fff_ffff);
        assert_eq!(out, [0x35, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x07]);
        assert_eq!(
            read_length_prefix(&[0x80, 0x25]).unwrap(),
            Some((0x1280, 2))
        );
        assert_eq!(read_length_prefix(&[0x80]).unwrap(), None);
        assert_eq!(
            read_length_prefix(&[0xff, 0xff, 0xff, 0xff, 0x08]),
            Err(FramingError::LengthPrefix)
        );
        assert_eq!(
            read_length_prefix(&[0x80; 6]),
            Err(FramingError::LengthPrefix)
        );
    }

    /// Messages split anywhere come out whole, several per chunk too.
    #[test]
    fn splitter_reassembles() {
        let mut bytes = encode(&HubMessage::Ping);
        bytes.extend(encode(&HubMessage::invocation(
            "T",
            vec![json!("x".repeat(200))],
        )));
        let mut s = LengthPrefixSplitter::new(1024);
        let (a, b) = bytes.split_at(4);
        assert_eq!(s.push(a).unwrap(), vec![vec![0x91, 0x06]]);
        assert_eq!(s.push(b).unwrap().len(), 1);
        assert_eq!(s.pending(), 0);
    }

    /// The limit counts the prefix, as ASP.NET's window does.
    #[test]
    fn limit_counts_the_prefix() {
        let mut s = LengthPrefixSplitter::new(3);
        assert_eq!(s.push(&[0x02, 0x91, 0x06]).unwrap().len(), 1);
        assert_eq!(
            s.push(&[0x03]),
            Err(FramingError::TooLarge { limit: 3, seen: 4 })
        );
    }

    /// The official client's invoke (`[1, {}, "0", target, [], []]`) parses;
    /// an empty id means fire-and-forget.
    #[test]
    fn client_invocations_parse() {
        let mut bytes = vec![
            0x96, 0x01, 0x80, 0xa1, b'0', 0xa1, b'M', 0x91, 0xa1, b'x', 0x90,
        ];
        let m = parse(&bytes).unwrap();
        assert_eq!(
            m,
            HubMessage::Invocation {
                headers: vec![],
                invocation_id: Some("0".into()),
                target: "M".into(),
                arguments: vec![json!("x")],
                stream_ids: vec![],
            }
        );
        bytes[3..5].copy_from_slice(&[0xa0, 0xc0]);
        bytes.remove(4);
        assert!(matches!(
            parse(&bytes).unwrap(),
            HubMessage::Invocation {
                invocation_id: None,
                ..
            }
        ));
    }

    /// Bad input errors name what was wrong.
    #[test]
    fn bad_input_is_named() {
        assert_eq!(parse(&[0x90]), Err(MessageError::MissingType));
        assert_eq!(parse(&[0x91, 0x0a]), Err(MessageError::UnknownType(10)));
        assert_eq!(
            parse(&[0x93, 0x01, 0x80, 0xc0]),
            Err(MessageError::BadField {
                kind: 1,
                field: "target"
            })
        );
        assert!(matches!(parse(&[0xa1]), Err(MessageError::MessagePack(_))));
        assert!(matches!(parse(&[0x01]), Err(MessageError::MessagePack(_))));
    }
}
