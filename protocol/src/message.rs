//! Hub messages of the JSON hub protocol, types 1–9 (docs/WIRE.md §4).
//!
//! Decoding is lenient the way ASP.NET's reader is: unknown fields are
//! skipped and `headers` are tolerated on every message. Encoding writes
//! fields in the order ASP.NET's `JsonHubProtocol` writes them, so the
//! stand-in's bytes match a real server's.

use serde_json::{Map, Value};
use thiserror::Error;

/// Optional string→string headers that may ride on message types 1–5.
pub type Headers = Vec<(String, String)>;

/// Why a record is not a valid hub message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Not JSON, or not a JSON object.
    #[error("hub message is not a JSON object: {0}")]
    NotAnObject(String),
    /// Not valid MessagePack, or not a MessagePack array.
    #[error("hub message is not a MessagePack array: {0}")]
    MessagePack(String),
    /// No numeric `type` field.
    #[error("hub message has no numeric 'type'")]
    MissingType,
    /// A `type` outside 1–9.
    #[error("unknown hub message type {0}")]
    UnknownType(u64),
    /// A required field is absent or has the wrong JSON type.
    #[error("hub message of type {kind} has a missing or invalid '{field}'")]
    BadField {
        /// The message type number.
        kind: u8,
        /// The field at fault.
        field: &'static str,
    },
    /// A Completion carried both `result` and `error`.
    #[error("the 'error' and 'result' properties are mutually exclusive")]
    ResultAndError,
}

/// How an invocation ended, as carried by a Completion.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The method returned nothing (`void`/`Task`): no `result` field.
    Void,
    /// The method returned this value (`null` for ASP.NET's `Task` methods).
    Result(Value),
    /// The method failed with this text.
    Error(String),
}

/// One hub message. Arguments and items stay JSON values: signalscope
/// shows and relays them, it never binds them to types.
#[derive(Debug, Clone, PartialEq)]
pub enum HubMessage {
    /// Type 1: call a method; no `invocation_id` means fire-and-forget.
    Invocation {
        /// Optional headers.
        headers: Headers,
        /// Present when the caller expects a Completion.
        invocation_id: Option<String>,
        /// Method name; clients match it case-insensitively.
        target: String,
        /// Positional arguments.
        arguments: Vec<Value>,
        /// Ids of client-to-server streams passed as arguments.
        stream_ids: Vec<String>,
    },
    /// Type 2: one item of a stream.
    StreamItem {
        /// Optional headers.
        headers: Headers,
        /// The stream's invocation.
        invocation_id: String,
        /// The item.
        item: Value,
    },
    /// Type 3: the end of an invocation.
    Completion {
        /// Optional headers.
        headers: Headers,
        /// The invocation it completes.
        invocation_id: String,
        /// Result, error, or neither.
        outcome: Outcome,
    },
    /// Type 4: call a streaming method.
    StreamInvocation {
        /// Optional headers.
        headers: Headers,
        /// Required for streams.
        invocation_id: String,
        /// Method name.
        target: String,
        /// Positional arguments.
        arguments: Vec<Value>,
        /// Ids of client-to-server streams passed as arguments.
        stream_ids: Vec<String>,
    },
    /// Type 5: stop a stream.
    CancelInvocation {
        /// Optional headers.
        headers: Headers,
        /// The stream to stop.
        invocation_id: String,
    },
    /// Type 6: keep-alive.
    Ping,
    /// Type 7: the peer is closing.
    Close {
        /// Why, if it was an error.
        error: Option<String>,
        /// The client should reconnect as after a drop.
        allow_reconnect: bool,
    },
    /// Type 8: stateful-reconnect acknowledgement.
    Ack {
        /// Highest sequence id received.
        sequence_id: u64,
    },
    /// Type 9: stateful-reconnect resume point.
    Sequence {
        /// First sequence id about to be replayed.
        sequence_id: u64,
    },
}

impl HubMessage {
    /// A fire-and-forget invocation, the shape servers push to clients.
    pub fn invocation(target: impl Into<String>, arguments: Vec<Value>) -> Self {
        HubMessage::Invocation {
            headers: Vec::new(),
            invocation_id: None,
            target: target.into(),
            arguments,
            stream_ids: Vec::new(),
        }
    }

    /// The type number on the wire.
    pub fn kind(&self) -> u8 {
        match self {
            HubMessage::Invocation { .. } => 1,
            HubMessage::StreamItem { .. } => 2,
            HubMessage::Completion { .. } => 3,
            HubMessage::StreamInvocation { .. } => 4,
            HubMessage::CancelInvocation { .. } => 5,
            HubMessage::Ping => 6,
            HubMessage::Close { .. } => 7,
            HubMessage::Ack { .. } => 8,
            HubMessage::Sequence { .. } => 9,
        }
    }

    /// Reads one record (separator already removed).
    pub fn parse(record: &[u8]) -> Result<Self, MessageError> {
        let obj = match serde_json::from_slice::<Value>(record) {
            Ok(Value::Object(m)) => m,
            Ok(other) => return Err(MessageError::NotAnObject(format!("got {other}"))),
            Err(e) => return Err(MessageError::NotAnObject(e.to_string())),
        };
        let kind = obj
            .get("type")
            .and_then(Value::as_u64)
            .ok_or(MessageError::MissingType)?;
        let kind = match u8::try_from(kind) {
            Ok(k @ 1..=9) => k,
            _ => return Err(MessageError::UnknownType(kind)),
        };
        let f = Fields { obj: &obj, kind };
        Ok(match kind {
            1 => HubMessage::Invocation {
                headers: f.headers()?,
                invocation_id: f.opt_str("invocationId")?,
                target: f.str("target")?,
                arguments: f.array("arguments")?,
                stream_ids: f.stream_ids()?,
            },
            2 => HubMessage::StreamItem {
                headers: f.headers()?,
                invocation_id: f.str("invocationId")?,
                item: obj.get("item").cloned().unwrap_or(Value::Null),
            },
            3 => {
                let error = f.opt_str("error")?;
                let result = obj.get("result").cloned();
                let outcome = match (error, result) {
                    (Some(_), Some(_)) => return Err(MessageError::ResultAndError),
                    (Some(e), None) => Outcome::Error(e),
                    (None, Some(r)) => Outcome::Result(r),
                    (None, None) => Outcome::Void,
                };
                HubMessage::Completion {
                    headers: f.headers()?,
                    invocation_id: f.str("invocationId")?,
                    outcome,
                }
            }
            4 => HubMessage::StreamInvocation {
                headers: f.headers()?,
                invocation_id: f.str("invocationId")?,
                target: f.str("target")?,
                arguments: f.array("arguments")?,
                stream_ids: f.stream_ids()?,
            },
            5 => HubMessage::CancelInvocation {
                headers: f.headers()?,
                invocation_id: f.str("invocationId")?,
            },
            6 => HubMessage::Ping,
            7 => HubMessage::Close {
                error: f.opt_str("error")?,
                allow_reconnect: match obj.get("allowReconnect") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(f.bad("allowReconnect")),
                },
            },
            8 => HubMessage::Ack {
                sequence_id: f.u64("sequenceId")?,
            },
            _ => HubMessage::Sequence {
                sequence_id: f.u64("sequenceId")?,
            },
        })
    }

    /// The JSON text in ASP.NET's field order, without the separator.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("type".into(), Value::from(self.kind()));
        let put_headers = |m: &mut Map<String, Value>, h: &Headers| {
            if !h.is_empty() {
                let hs = h
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                    .collect();
                m.insert("headers".into(), Value::Object(hs));
            }
        };
        let put_call =
            |m: &mut Map<String, Value>, target: &str, args: &[Value], ids: &[String]| {
                m.insert("target".into(), Value::from(target));
                m.insert("arguments".into(), Value::Array(args.to_vec()));
                if !ids.is_empty() {
                    m.insert("streamIds".into(), Value::from(ids.to_vec()));
                }
            };
        match self {
            HubMessage::Invocation {
                headers,
                invocation_id,
                target,
                arguments,
                stream_ids,
            } => {
                put_headers(&mut m, headers);
                if let Some(id) = invocation_id.as_deref().filter(|id| !id.is_empty()) {
                    m.insert("invocationId".into(), Value::from(id));
                }
                put_call(&mut m, target, arguments, stream_ids);
            }
            HubMessage::StreamInvocation {
                headers,
                invocation_id,
                target,
                arguments,
                stream_ids,
            } => {
                put_headers(&mut m, headers);
                m.insert("invocationId".into(), Value::from(invocation_id.clone()));
                put_call(&mut m, target, arguments, stream_ids);
            }
            HubMessage::StreamItem {
                headers,
                invocation_id,
                item,
            } => {
                put_headers(&mut m, headers);
                m.insert("invocationId".into(), Value::from(invocation_id.clone()));
                m.insert("item".into(), item.clone());
            }
            HubMessage::Completion {
                headers,
                invocation_id,
                outcome,
            } => {
                put_headers(&mut m, headers);
                m.insert("invocationId".into(), Value::from(invocation_id.clone()));
                match outcome {
                    Outcome::Void => {}
                    Outcome::Result(r) => {
                        m.insert("result".into(), r.clone());
                    }
                    Outcome::Error(e) => {
                        m.insert("error".into(), Value::from(e.clone()));
                    }
                }
            }
            HubMessage::CancelInvocation {
                headers,
                invocation_id,
            } => {
                put_headers(&mut m, headers);
                m.insert("invocationId".into(), Value::from(invocation_id.clone()));
            }
            HubMessage::Ping => {}
            HubMessage::Close {
                error,
                allow_reconnect,
            } => {
                if let Some(e) = error {
                    m.insert("error".into(), Value::from(e.clone()));
                }
                if *allow_reconnect {
                    m.insert("allowReconnect".into(), Value::Bool(true));
                }
            }
            HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
                m.insert("sequenceId".into(), Value::from(*sequence_id));
            }
        }
        Value::Object(m).to_string()
    }

    /// The record as sent on a socket: JSON plus the separator.
    pub fn to_record(&self) -> Vec<u8> {
        crate::framing::frame(&self.to_json())
    }
}

/// Typed access to one message's fields, naming the field on error.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    kind: u8,
}

impl Fields<'_> {
    fn bad(&self, field: &'static str) -> MessageError {
        MessageError::BadField {
            kind: self.kind,
            field,
        }
    }

    fn str(&self, field: &'static str) -> Result<String, MessageError> {
        self.opt_str(field)?.ok_or_else(|| self.bad(field))
    }

    fn opt_str(&self, field: &'static str) -> Result<Option<String>, MessageError> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(field)),
        }
    }

    fn u64(&self, field: &'static str) -> Result<u64, MessageError> {
        self.obj
            .get(field)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.bad(field))
    }

    fn array(&self, field: &'static str) -> Result<Vec<Value>, MessageError> {
        match self.obj.get(field) {
            Some(Value::Array(a)) => Ok(a.clone()),
            _ => Err(self.bad(field)),
        }
    }

    fn stream_ids(&self) -> Result<Vec<String>, MessageError> {
        match self.obj.get("streamIds") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.bad("streamIds"))
                })
                .collect(),
            Some(_) => Err(self.bad("streamIds")),
        }
    }

    fn headers(&self) -> Result<Headers, MessageError> {
        match self.obj.get("headers") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(h)) => h
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(self.bad("headers")),
                })
                .collect(),
            Some(_) => Err(self.bad("headers")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A group broadcast encodes exactly as a real server pushes it.
    #[test]
    fn server_push_matches_aspnet_bytes() {
        let m = HubMessage::invocation("NavigationStateUpdate", vec![json!({"type": "X"})]);
        assert_eq!(
            m.to_json(),
            r#"{"type":1,"target":"NavigationStateUpdate","arguments":[{"type":"X"}]}"#
        );
    }

    /// The official client's invoke shape (other field order) parses.
    #[test]
    fn ts_client_invoke_parses() {
        let m = HubMessage::parse(
            br#"{"arguments":[],"invocationId":"0","target":"RequestCurrentState","type":1}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            HubMessage::Invocation {
                headers: vec![],
                invocation_id: Some("0".into()),
                target: "RequestCurrentState".into(),
                arguments: vec![],
                stream_ids: vec![],
            }
        );
    }

    /// A Task-returning method's completion carries `result: null`.
    #[test]
    fn void_task_completion_has_null_result() {
        let m = HubMessage::Completion {
            headers: vec![],
            invocation_id: "0".into(),
            outcome: Outcome::Result(Value::Null),
        };
        assert_eq!(
            m.to_json(),
            r#"{"type":3,"invocationId":"0","result":null}"#
        );
        assert_eq!(HubMessage::parse(m.to_json().as_bytes()).unwrap(), m);
    }

    /// Headers come right after `type`, and unknown fields are skipped.
    #[test]
    fn headers_written_after_type_and_unknown_fields_skipped() {
        let m = HubMessage::parse(
            br#"{"type":5,"invocationId":"7","headers":{"a":"b"},"future":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(
            m.to_json(),
            r#"{"type":5,"headers":{"a":"b"},"invocationId":"7"}"#
        );
    }

    /// Close writes `allowReconnect` only when true.
    #[test]
    fn close_writes_allow_reconnect_only_when_true() {
        let c = |allow| HubMessage::Close {
            error: None,
            allow_reconnect: allow,
        };
        assert_eq!(c(false).to_json(), r#"{"type":7}"#);
        assert_eq!(c(true).to_json(), r#"{"type":7,"allowReconnect":true}"#);
    }

    /// Ping's record equals the bytes in docs/WIRE.md §4.
    #[test]
    fn ping_record_bytes() {
        assert_eq!(HubMessage::Ping.to_record(), b"{\"type\":6}\x1e");
    }

    /// A Completion with both result and error is a protocol error.
    #[test]
    fn completion_with_both_is_refused() {
        assert_eq!(
            HubMessage::parse(br#"{"type":3,"invocationId":"1","result":1,"error":"x"}"#),
            Err(MessageError::ResultAndError)
        );
    }

    /// Bad input errors name what was wrong.
    #[test]
    fn bad_input_is_named() {
        assert_eq!(HubMessage::parse(b"{}"), Err(MessageError::MissingType));
        assert_eq!(
            HubMessage::parse(br#"{"type":10}"#),
            Err(MessageError::UnknownType(10))
        );
        assert_eq!(
            HubMessage::parse(br#"{"type":1,"arguments":[]}"#),
            Err(MessageError::BadField {
                kind: 1,
                field: "target"
            })
        );
        assert!(matches!(
            HubMessage::parse(b"[1]"),
            Err(MessageError::NotAnObject(_))
        ));
    }

    /// Ack and Sequence carry their sequence ids.
    #[test]
    fn ack_and_sequence_round_trip() {
        for m in [
            HubMessage::Ack { sequence_id: 5 },
            HubMessage::Sequence { sequence_id: 9 },
        ] {
            assert_eq!(HubMessage::parse(m.to_json().as_bytes()).unwrap(), m);
        }
    }
}
