//! The golden vectors from ASP.NET Core's `RedisProtocolTests.cs`
//! (`shared/spec/backplane-vectors.json`), reproduced byte for byte in both
//! directions. The file is read, never retyped.

use protocol::backplane::{Ack, Completion, GroupAction, GroupCommand, Invocation};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = std::env::var("SIGNALSCOPE_SHARED")
        .map(|d| format!("{d}/spec/backplane-vectors.json"))
        .unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/spec/backplane-vectors.json"
            )
            .into()
        });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the golden vectors at {path}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("vectors file is JSON");
    assert_eq!(
        doc["schema"], "backplane-vectors/1",
        "unknown vectors schema"
    );
    doc["vectors"].as_array().expect("a vectors array").clone()
}

fn of_kind(kind: &str) -> Vec<Value> {
    let v: Vec<_> = vectors()
        .into_iter()
        .filter(|v| v["kind"] == kind)
        .collect();
    assert!(!v.is_empty(), "no {kind} vectors in the file");
    v
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

/// Every ack vector encodes to its bytes and decodes back to its id.
#[test]
fn ack_vectors() {
    for v in of_kind("ack") {
        let ack = Ack {
            id: v["input"]["messageId"].as_u64().unwrap() as u32,
        };
        let bytes = hex(v["hex"].as_str().unwrap());
        assert_eq!(ack.encode(), bytes, "{}", v["name"]);
        assert_eq!(Ack::decode(&bytes).unwrap(), ack, "{}", v["name"]);
    }
}

/// Every group-command vector encodes and decodes exactly.
#[test]
fn group_command_vectors() {
    for v in of_kind("group_command") {
        let i = &v["input"];
        let action = match i["actionByte"].as_u64().unwrap() {
            1 => GroupAction::Add,
            2 => GroupAction::Remove,
            other => panic!("unknown action byte {other}"),
        };
        let cmd = GroupCommand {
            id: i["id"].as_u64().unwrap() as u32,
            server_name: text(&i["serverName"]),
            action,
            group: text(&i["groupName"]),
            connection_id: text(&i["connectionId"]),
        };
        let bytes = hex(v["hex"].as_str().unwrap());
        assert_eq!(cmd.encode(), bytes, "{}", v["name"]);
        assert_eq!(GroupCommand::decode(&bytes).unwrap(), cmd, "{}", v["name"]);
    }
}

/// Every invocation vector encodes and decodes exactly (null excluded
/// list = empty).
#[test]
fn invocation_vectors() {
    for v in of_kind("invocation") {
        let i = &v["input"];
        let excluded = match &i["excludedConnectionIds"] {
            Value::Null => vec![],
            ids => ids.as_array().unwrap().iter().map(text).collect(),
        };
        let messages = i["protocols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (text(&p["name"]), hex(p["serialized_hex"].as_str().unwrap())))
            .collect();
        assert!(
            i["returnChannel"].is_null(),
            "vectors without return channel only"
        );
        let inv = Invocation {
            excluded_connection_ids: excluded,
            messages,
            return_to: None,
        };
        let bytes = hex(v["hex"].as_str().unwrap());
        assert_eq!(inv.encode(), bytes, "{}", v["name"]);
        assert_eq!(Invocation::decode(&bytes).unwrap(), inv, "{}", v["name"]);
    }
}

/// Every completion vector encodes and decodes exactly.
#[test]
fn completion_vectors() {
    for v in of_kind("completion") {
        let i = &v["input"];
        let c = Completion {
            protocol: text(&i["protocolName"]),
            message: hex(i["completion_hex"].as_str().unwrap()),
        };
        let bytes = hex(v["hex"].as_str().unwrap());
        assert_eq!(c.encode(), bytes, "{}", v["name"]);
        assert_eq!(Completion::decode(&bytes).unwrap(), c, "{}", v["name"]);
    }
}

/// The file holds the twelve vectors the spec promises, all covered above.
#[test]
fn every_vector_is_covered() {
    let all = vectors();
    assert_eq!(all.len(), 12);
    for v in &all {
        let kind = v["kind"].as_str().unwrap();
        assert!(
            ["ack", "group_command", "invocation", "completion"].contains(&kind),
            "uncovered kind {kind}"
        );
    }
}
