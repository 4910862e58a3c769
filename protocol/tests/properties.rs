//! Property tests: round trips hold for generated values, and no parser
//! panics on arbitrary input.

use proptest::prelude::*;
use protocol::backplane::{
    Ack, Completion, GroupAction, GroupCommand, Invocation, ReturnAddress, Summary,
};
use protocol::framing::{frame, RecordSplitter};
use protocol::handshake::{HandshakeRequest, HandshakeResponse};
use protocol::message::{HubMessage, Outcome};
use protocol::monitor::{quote, MonitorLine};
use protocol::msgpack::{self, LengthPrefixSplitter};
use protocol::negotiate::NegotiateResponse;
use serde_json::{json, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[^\u{0}]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn hub_message() -> impl Strategy<Value = HubMessage> {
    let id = "[0-9a-zA-Z]{1,8}";
    let headers = prop::collection::vec(("[a-z]{1,5}", "[a-z0-9]{0,5}"), 0..3).prop_map(|h| {
        let mut seen = std::collections::HashSet::new();
        h.into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect::<Vec<_>>()
    });
    prop_oneof![
        (
            headers.clone(),
            prop::option::of(id),
            "[A-Za-z]{1,20}",
            prop::collection::vec(json_value(), 0..3),
            prop::collection::vec(id, 0..2)
        )
            .prop_map(|(headers, invocation_id, target, arguments, stream_ids)| {
                HubMessage::Invocation {
                    headers,
                    invocation_id,
                    target,
                    arguments,
                    stream_ids,
                }
            }),
        (headers.clone(), id, json_value()).prop_map(|(headers, invocation_id, item)| {
            HubMessage::StreamItem {
                headers,
                invocation_id,
                item,
            }
        }),
        (
            headers.clone(),
            id,
            prop_oneof![
                Just(Outcome::Void),
                json_value().prop_map(Outcome::Result),
                "[a-z ]{0,10}".prop_map(Outcome::Error)
            ]
        )
            .prop_map(|(headers, invocation_id, outcome)| HubMessage::Completion {
                headers,
                invocation_id,
                outcome
            }),
        (headers.clone(), id).prop_map(|(headers, invocation_id)| HubMessage::CancelInvocation {
            headers,
            invocation_id
        }),
        Just(HubMessage::Ping),
        (prop::option::of("[a-z ]{0,10}"), any::<bool>()).prop_map(|(error, allow_reconnect)| {
            HubMessage::Close {
                error,
                allow_reconnect,
            }
        }),
        any::<u64>().prop_map(|sequence_id| HubMessage::Ack { sequence_id }),
        any::<u64>().prop_map(|sequence_id| HubMessage::Sequence { sequence_id }),
    ]
}

proptest! {
    /// However a stream of records is cut into chunks, the same records come out.
    #[test]
    fn framing_is_independent_of_chunking(
        records in prop::collection::vec("[^\u{1e}]{0,40}", 0..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let stream: Vec<u8> = records.iter().flat_map(|r| frame(r)).collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut s = RecordSplitter::default();
        let mut out = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([stream.len()]) {
            out.extend(s.push(&stream[start..p]).unwrap());
            start = p;
        }
        let expected: Vec<Vec<u8>> = records.iter().map(|r| r.as_bytes().to_vec()).collect();
        prop_assert_eq!(out, expected);
        prop_assert_eq!(s.pending(), 0);
    }

    /// Every hub message survives encode → parse unchanged.
    #[test]
    fn hub_messages_round_trip(m in hub_message()) {
        prop_assert_eq!(HubMessage::parse(m.to_json().as_bytes()).unwrap(), m);
    }

    /// Every hub message survives MessagePack encode → split → parse; only
    /// an empty Close error comes back absent, as ASP.NET writes it as nil.
    #[test]
    fn hub_messages_round_trip_in_messagepack(m in hub_message()) {
        let mut splitter = LengthPrefixSplitter::new(1 << 20);
        let payloads = splitter.push(&msgpack::encode(&m)).unwrap();
        prop_assert_eq!(payloads.len(), 1);
        let expected = match m {
            HubMessage::Close { error, allow_reconnect } => HubMessage::Close {
                error: error.filter(|e| !e.is_empty()),
                allow_reconnect,
            },
            other => other,
        };
        prop_assert_eq!(msgpack::parse(&payloads[0]).unwrap(), expected);
    }

    /// However a stream of MessagePack messages is cut, the same payloads
    /// come out.
    #[test]
    fn length_prefixed_framing_is_independent_of_chunking(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut stream = Vec::new();
        for body in &bodies {
            msgpack::write_length_prefix(&mut stream, body.len());
            stream.extend_from_slice(body);
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut s = LengthPrefixSplitter::new(1 << 20);
        let mut out = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([stream.len()]) {
            out.extend(s.push(&stream[start..p]).unwrap());
            start = p;
        }
        prop_assert_eq!(out, bodies);
        prop_assert_eq!(s.pending(), 0);
    }

    /// Near-valid MessagePack hub messages (a known type, then arbitrary
    /// values) never panic.
    #[test]
    fn msgpack_parser_survives_wrong_types(kind in 0u64..12, items in prop::collection::vec(json_value(), 0..7)) {
        let mut m = vec![Value::from(kind)];
        m.extend(items);
        let body = msgpack::payload(&HubMessage::StreamItem { headers: vec![], invocation_id: "x".into(), item: Value::Array(m) });
        // `94 02 80 a1 78` is the StreamItem's head; what follows is the
        // item, `[kind, …]` in MessagePack: parse that as a message.
        prop_assert_eq!(&body[..5], &[0x94, 0x02, 0x80, 0xa1, b'x']);
        let _ = msgpack::parse(&body[5..]);
    }

    /// No parser panics on arbitrary bytes.
    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = RecordSplitter::new(64).push(&bytes);
        let _ = HubMessage::parse(&bytes);
        let _ = msgpack::parse(&bytes);
        let _ = LengthPrefixSplitter::new(64).push(&bytes);
        let _ = HandshakeRequest::parse(&bytes);
        let _ = HandshakeResponse::parse(&bytes);
        let _ = NegotiateResponse::parse(&bytes);
        let _ = Invocation::decode(&bytes);
        let _ = GroupCommand::decode(&bytes);
        let _ = Ack::decode(&bytes);
        let _ = Completion::decode(&bytes);
        let _ = Summary::of("p:", "p:H:all", Some(&bytes));
        let _ = MonitorLine::parse(&String::from_utf8_lossy(&bytes));
    }

    /// Near-valid JSON hub messages (right keys, random values) never panic.
    #[test]
    fn hub_parser_survives_wrong_types(kind in 0u64..12, v in json_value(), w in json_value()) {
        let text = json!({"type": kind, "invocationId": v, "target": w, "arguments": v, "result": w, "sequenceId": v, "headers": w}).to_string();
        let _ = HubMessage::parse(text.as_bytes());
    }

    /// Backplane invocations round-trip, with or without a return address.
    #[test]
    fn invocations_round_trip(
        excluded in prop::collection::vec("[A-Za-z0-9_-]{1,22}", 0..20),
        messages in prop::collection::vec(("[a-z]{1,12}", prop::collection::vec(any::<u8>(), 0..300)), 0..3),
        ret in prop::option::of(("[0-9]{1,4}", "[A-Za-z.:_]{1,60}")),
    ) {
        let inv = Invocation {
            excluded_connection_ids: excluded,
            messages,
            return_to: ret.map(|(invocation_id, return_channel)| ReturnAddress { invocation_id, return_channel }),
        };
        prop_assert_eq!(Invocation::decode(&inv.encode()).unwrap(), inv);
    }

    /// Group commands, acks and completions round-trip for any values.
    #[test]
    fn internal_messages_round_trip(id in any::<u32>(), s in ".{0,40}", g in ".{0,300}", c in ".{0,30}", add in any::<bool>(), m in prop::collection::vec(any::<u8>(), 0..70_000)) {
        let cmd = GroupCommand { id, server_name: s.clone(), action: if add { GroupAction::Add } else { GroupAction::Remove }, group: g, connection_id: c };
        prop_assert_eq!(GroupCommand::decode(&cmd.encode()).unwrap(), cmd);
        prop_assert_eq!(Ack::decode(&Ack { id }.encode()).unwrap(), Ack { id });
        let comp = Completion { protocol: s, message: m };
        prop_assert_eq!(Completion::decode(&comp.encode()).unwrap(), comp);
    }

    /// Any bytes quoted as Redis quotes them parse back to the same bytes.
    #[test]
    fn monitor_quoting_round_trips(
        args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..5),
        secs in 0u64..10_000_000_000, micros in 0u32..1_000_000, db in 0u32..16, port in 1u16..,
    ) {
        let quoted: Vec<String> = args.iter().map(|a| quote(a)).collect();
        let line = format!("{secs}.{micros:06} [{db} 10.0.0.1:{port}] {}", quoted.join(" "));
        let parsed = MonitorLine::parse(&line).unwrap();
        prop_assert_eq!(parsed.args, args);
        prop_assert_eq!(parsed.micros, secs * 1_000_000 + u64::from(micros));
        prop_assert_eq!(parsed.db, db);
    }
}
