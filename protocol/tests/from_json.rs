//! Property tests of `protocol::from_json` and `protocol::to_json`, the
//! page's hand-written JSON: the decoders read everything the companion's
//! serde serialisation writes, never read anything serde would refuse or
//! read otherwise, and never panic; the writers write what serde writes.

use std::fmt::Debug;

use proptest::prelude::*;
use protocol::api::{
    Audience, CanaryReport, CanaryRound, DashboardConfig, DemoControls, EventNames, FeedEvent,
    FeedLine, FeedSource, Hub, HubKey, HubTraffic, Instance, InstanceHealth, KeyPlacement,
    RedisNodeStatus, RedisStatus, Status, Thresholds, TriggerMode, TriggerRequest, TriggerResponse,
};
use protocol::backplane::{ChannelKind, Payload, Summary};
use protocol::broadcast::TestBroadcast;
use protocol::from_json::FromJson;
use protocol::to_json::ToJson;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6..1e6f64).prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9:.-]{0,8}"
}

fn maybe_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..3)
}

fn maybe_ms() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(0.0..1e6f64)
}

fn channel_kind() -> impl Strategy<Value = ChannelKind> {
    prop_oneof![
        Just(ChannelKind::All),
        Just(ChannelKind::InternalGroups),
        text().prop_map(ChannelKind::Group),
        text().prop_map(ChannelKind::Connection),
        text().prop_map(ChannelKind::User),
        text().prop_map(ChannelKind::Ack),
        text().prop_map(ChannelKind::Return),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    // The companion writes an invocation's arguments as an array, or
    // leaves them out; `Some(null)` would read back as `None` with serde too.
    let arguments =
        prop::option::of(prop::collection::vec(json_value(), 0..3).prop_map(Value::Array));
    prop_oneof![
        (
            maybe_text(),
            arguments,
            maybe_text(),
            texts(),
            texts(),
            maybe_text()
        )
            .prop_map(
                |(
                    target,
                    arguments,
                    invocation_id,
                    excluded_connection_ids,
                    protocols,
                    return_channel,
                )| {
                    Payload::Invocation {
                        target,
                        arguments,
                        invocation_id,
                        excluded_connection_ids,
                        protocols,
                        return_channel,
                    }
                }
            ),
        (any::<u32>(), text(), text(), text(), text()).prop_map(
            |(id, server_name, action, group, connection_id)| Payload::GroupCommand {
                id,
                server_name,
                action,
                group,
                connection_id,
            }
        ),
        any::<u32>().prop_map(|id| Payload::Ack { id }),
        (text(), text()).prop_map(|(protocol, message)| Payload::Completion { protocol, message }),
        text().prop_map(|error| Payload::Undecodable { error }),
    ]
}

fn summary() -> impl Strategy<Value = Summary> {
    (text(), channel_kind(), prop::option::of(payload())).prop_map(|(hub, channel, payload)| {
        Summary {
            hub,
            channel,
            payload,
        }
    })
}

fn feed_line() -> impl Strategy<Value = FeedLine> {
    (
        any::<u64>(),
        prop::sample::select(FeedSource::ALL.to_vec()),
        maybe_text(),
        maybe_text(),
        maybe_text(),
        text(),
        maybe_text(),
        prop::option::of(summary()),
        text(),
        any::<bool>(),
    )
        .prop_map(
            |(
                time_micros,
                source,
                node,
                publisher_addr,
                publisher_name,
                command,
                channel,
                summary,
                raw,
                truncated,
            )| FeedLine {
                time_micros,
                source,
                node,
                publisher_addr,
                publisher_name,
                command,
                channel,
                summary,
                raw,
                truncated,
            },
        )
}

fn audience() -> impl Strategy<Value = Audience> {
    prop_oneof![
        Just(Audience::All),
        text().prop_map(Audience::Group),
        text().prop_map(Audience::User),
        text().prop_map(Audience::Connection),
    ]
}

fn key_placement() -> impl Strategy<Value = KeyPlacement> {
    prop_oneof![
        Just(KeyPlacement::Bearer),
        text().prop_map(KeyPlacement::Header),
        text().prop_map(KeyPlacement::Query),
    ]
}

fn event_names() -> impl Strategy<Value = EventNames> {
    (text(), text(), text()).prop_map(|(broadcast, request_state, state_reply)| EventNames {
        broadcast,
        request_state,
        state_reply,
    })
}

fn hub() -> impl Strategy<Value = Hub> {
    (
        text(),
        text(),
        text(),
        event_names(),
        audience(),
        any::<bool>(),
        key_placement(),
        maybe_text(),
    )
        .prop_map(
            |(name, path, hub_type, events, audience, key_required, auth, prefix)| Hub {
                name,
                path,
                hub_type,
                events,
                audience,
                key_required,
                auth,
                prefix,
            },
        )
}

fn dashboard_config() -> impl Strategy<Value = DashboardConfig> {
    let instance =
        (text(), text(), texts()).prop_map(|(name, url, hubs)| Instance { name, url, hubs });
    let hub_key = (maybe_text(), text(), text()).prop_map(|(instance, hub, key)| HubKey {
        instance,
        hub,
        key,
    });
    let thresholds = (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
        |(pass_within_ms, server_timeout_ms, keep_alive_ms)| Thresholds {
            pass_within_ms,
            server_timeout_ms,
            keep_alive_ms,
        },
    );
    let demo =
        (texts(), any::<bool>()).prop_map(|(instances, redis)| DemoControls { instances, redis });
    (
        prop::collection::vec(instance, 0..3),
        text(),
        event_names(),
        prop::collection::vec(hub(), 0..3),
        prop::collection::vec(hub_key, 0..2),
        thresholds,
        prop::collection::vec(prop::sample::select(TriggerMode::ALL.to_vec()), 0..3),
        any::<bool>(),
        prop::option::of(demo),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(
                instances,
                hub_path,
                events,
                hubs,
                hub_keys,
                thresholds,
                trigger_modes,
                token_required,
                demo,
                canary_interval_ms,
            )| DashboardConfig {
                instances,
                hub_path,
                events,
                hubs,
                hub_keys,
                thresholds,
                trigger_modes,
                token_required,
                demo,
                canary_interval_ms,
            },
        )
}

fn status() -> impl Strategy<Value = Status> {
    let counts = || prop::option::of(any::<u64>());
    let traffic = (
        text(),
        text(),
        maybe_text(),
        texts(),
        texts(),
        texts(),
        any::<u64>(),
    )
        .prop_map(
            |(hub_type, prefix, name, live_servers, groups, users, connections)| HubTraffic {
                hub_type,
                prefix,
                name,
                live_servers,
                groups,
                users,
                connections,
            },
        );
    let node = (
        text(),
        maybe_text(),
        any::<bool>(),
        maybe_ms(),
        counts(),
        counts(),
        maybe_text(),
    )
        .prop_map(
            |(address, role, reachable, ping_ms, used_memory_bytes, connected_clients, error)| {
                RedisNodeStatus {
                    address,
                    role,
                    reachable,
                    ping_ms,
                    used_memory_bytes,
                    connected_clients,
                    error,
                }
            },
        );
    let redis = (
        any::<bool>(),
        maybe_ms(),
        maybe_text(),
        maybe_text(),
        counts(),
        counts(),
        counts(),
        texts(),
        counts(),
        prop::collection::vec(traffic, 0..2),
        maybe_text(),
        prop::collection::vec(node, 0..2),
    )
        .prop_map(
            |(
                reachable,
                ping_ms,
                version,
                used_memory,
                used_memory_bytes,
                connected_clients,
                all_subscribers,
                live_servers,
                connection_channels,
                hubs,
                error,
                nodes,
            )| RedisStatus {
                reachable,
                ping_ms,
                version,
                used_memory,
                used_memory_bytes,
                connected_clients,
                all_subscribers,
                live_servers,
                connection_channels,
                hubs,
                error,
                nodes,
            },
        );
    let health = (
        text(),
        text(),
        prop::option::of(any::<u16>()),
        maybe_text(),
        maybe_ms(),
        json_value(),
        maybe_text(),
    )
        .prop_map(
            |(name, url, http_status, status, duration_ms, checks, error)| InstanceHealth {
                name,
                url,
                http_status,
                status,
                duration_ms,
                checks,
                error,
            },
        );
    (redis, prop::collection::vec(health, 0..3))
        .prop_map(|(redis, instances)| Status { redis, instances })
}

fn trigger_response() -> impl Strategy<Value = TriggerResponse> {
    (
        text(),
        any::<u64>(),
        text(),
        text(),
        text(),
        prop::sample::select(TriggerMode::ALL.to_vec()),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        maybe_text(),
        maybe_text(),
    )
        .prop_map(
            |(
                id,
                seq,
                sent_at,
                target,
                channel,
                mode,
                receivers,
                channel_subscribers,
                instance,
                hub,
            )| {
                TriggerResponse {
                    id,
                    seq,
                    sent_at,
                    target,
                    channel,
                    mode,
                    receivers,
                    channel_subscribers,
                    instance,
                    hub,
                }
            },
        )
}

fn canary_report() -> impl Strategy<Value = CanaryReport> {
    let round = (
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(maybe_ms(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(seq, sent_at_ms, latencies_ms, settled)| CanaryRound {
            seq,
            sent_at_ms,
            latencies_ms,
            settled,
        });
    (
        any::<u64>(),
        any::<u64>(),
        texts(),
        prop::collection::vec(any::<bool>(), 0..3),
        any::<u64>(),
        prop::collection::vec(any::<u64>(), 0..3),
        prop::collection::vec(round, 0..3),
    )
        .prop_map(
            |(interval_ms, miss_after_ms, instances, connected, sent, missed, rounds)| {
                CanaryReport {
                    interval_ms,
                    miss_after_ms,
                    instances,
                    connected,
                    sent,
                    missed,
                    rounds,
                }
            },
        )
}

fn test_broadcast() -> impl Strategy<Value = TestBroadcast> {
    (
        text(),
        any::<u64>(),
        text(),
        text(),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(id, seq, sent_at, origin, sent_at_us, scheduled_at_us)| TestBroadcast {
                id,
                seq,
                sent_at,
                origin,
                sent_at_us,
                scheduled_at_us,
            },
        )
}

fn trigger_request() -> impl Strategy<Value = TriggerRequest> {
    (
        maybe_text(),
        prop::option::of(json_value()),
        prop::option::of(prop::collection::vec(json_value(), 0..3)),
        maybe_text(),
        prop::option::of(audience()),
        prop::option::of(texts()),
        prop::option::of(prop::sample::select(TriggerMode::ALL.to_vec())),
        maybe_text(),
    )
        .prop_map(
            |(target, payload, arguments, hub, audience, protocols, mode, instance)| {
                TriggerRequest {
                    target,
                    payload,
                    arguments,
                    hub,
                    audience,
                    protocols,
                    mode,
                    instance,
                }
            },
        )
}

/// `to_json` writes what serde writes, to the key order.
fn writes_as_serde<T: Serialize + ToJson>(value: &T) -> Result<(), TestCaseError> {
    let ours = value.to_json();
    let serdes = serde_json::to_value(value).unwrap();
    prop_assert_eq!(ours.to_string(), serdes.to_string());
    Ok(())
}

/// What serde writes, `from_json` reads back as the same value.
fn round_trips<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + FromJson + PartialEq + Debug,
{
    let json = serde_json::to_value(value).unwrap();
    let read = T::from_json(&json);
    prop_assert_eq!(read.as_ref(), Some(value), "{}", json);
    Ok(())
}

/// Whatever `from_json` reads, serde reads the same.
fn agrees<T>(json: &Value) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + FromJson + PartialEq + Debug,
{
    if let Some(ours) = T::from_json(json) {
        let serdes = serde_json::from_value::<T>(json.clone());
        prop_assert_eq!(serdes.ok(), Some(ours), "{}", json);
    }
    Ok(())
}

/// `json` with one field somewhere inside it removed (`with` is `None`)
/// or replaced; `pick` chooses the field, counted over every object's
/// keys in document order.
fn mutated(mut json: Value, pick: usize, with: Option<Value>) -> Value {
    fn fields(v: &Value) -> usize {
        match v {
            Value::Object(m) => m.len() + m.values().map(fields).sum::<usize>(),
            Value::Array(a) => a.iter().map(fields).sum(),
            _ => 0,
        }
    }
    fn visit(v: &mut Value, pick: &mut usize, with: &mut Option<Option<Value>>) {
        match v {
            Value::Object(m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    if with.is_none() {
                        return;
                    }
                    if *pick == 0 {
                        match with.take().flatten() {
                            // serde also reads a struct from an array of its
                            // fields, which the companion never writes and
                            // the page need not read.
                            Some(Value::Array(_)) if m[&k].is_object() => m.insert(k, Value::Null),
                            Some(new) => m.insert(k, new),
                            None => m.shift_remove(&k),
                        };
                        return;
                    }
                    *pick -= 1;
                    if let Some(child) = m.get_mut(&k) {
                        visit(child, pick, with);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| visit(c, pick, with)),
            _ => {}
        }
    }
    let total = fields(&json);
    if total > 0 {
        let mut pick = pick % total;
        visit(&mut json, &mut pick, &mut Some(with));
    }
    json
}

/// Checks a type: its serde form round-trips, and with one field removed
/// or replaced `from_json` reads it exactly when serde does, and alike.
fn holds<T>(value: &T, pick: usize, with: Option<Value>) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + FromJson + PartialEq + Debug,
{
    round_trips(value)?;
    let json = mutated(serde_json::to_value(value).unwrap(), pick, with);
    let serdes = serde_json::from_value::<T>(json.clone()).ok();
    prop_assert_eq!(T::from_json(&json), serdes, "{}", json);
    Ok(())
}

proptest! {
    /// Feed lines, with every summary and payload kind.
    #[test]
    fn feed_lines(line in feed_line(), pick in any::<usize>(), with in prop::option::of(json_value())) {
        holds(&line, pick, with)?;
        // From text, decoded as serde decodes it (serde_json's float
        // parsing may differ from the written float in the last digit).
        let data = serde_json::to_string(&FeedEvent::Line(line)).unwrap();
        prop_assert_eq!(FeedEvent::decode("line", &data), serde_json::from_str(&data).ok());
    }

    /// `GET /api/config`.
    #[test]
    fn dashboard_configs(config in dashboard_config(), pick in any::<usize>(), with in prop::option::of(json_value())) {
        holds(&config, pick, with)?;
    }

    /// The trigger's body, as the page sends it.
    #[test]
    fn trigger_requests_are_written_as_serde_writes(request in trigger_request()) {
        writes_as_serde(&request)?;
    }

    /// Feed lines, as the page exports them.
    #[test]
    fn feed_lines_are_written_as_serde_writes(line in feed_line()) {
        writes_as_serde(&line)?;
    }

    /// The config, as the page exports it.
    #[test]
    fn configs_are_written_as_serde_writes(config in dashboard_config()) {
        writes_as_serde(&config)?;
    }

    /// `GET /api/status`.
    #[test]
    fn statuses(status in status(), pick in any::<usize>(), with in prop::option::of(json_value())) {
        holds(&status, pick, with)?;
    }

    /// The trigger's answer.
    #[test]
    fn trigger_responses(response in trigger_response(), pick in any::<usize>(), with in prop::option::of(json_value())) {
        holds(&response, pick, with)?;
    }

    /// `GET /api/canary`.
    #[test]
    fn canary_reports(report in canary_report(), pick in any::<usize>(), with in prop::option::of(json_value())) {
        holds(&report, pick, with)?;
    }

    /// A test broadcast, alone and recognised among a message's arguments.
    #[test]
    fn test_broadcasts(broadcast in test_broadcast(), pick in any::<usize>(), with in prop::option::of(json_value())) {
        holds(&broadcast, pick, with)?;
        prop_assert_eq!(TestBroadcast::from_arguments(&[broadcast.to_argument()]), Some(broadcast));
    }

    /// Arbitrary JSON never panics a decoder, and what one reads serde reads alike.
    #[test]
    fn arbitrary_json(json in json_value()) {
        agrees::<DashboardConfig>(&json)?;
        agrees::<Status>(&json)?;
        agrees::<TriggerResponse>(&json)?;
        agrees::<CanaryReport>(&json)?;
        agrees::<FeedLine>(&json)?;
        agrees::<Summary>(&json)?;
        agrees::<Payload>(&json)?;
        agrees::<ChannelKind>(&json)?;
        agrees::<Audience>(&json)?;
        agrees::<KeyPlacement>(&json)?;
        agrees::<TestBroadcast>(&json)?;
    }

    /// Unit kinds with a name, and named kinds without, are refused by both.
    #[test]
    fn tagged_kinds(kind in prop::sample::select(vec!["all", "group", "bearer", "header", "internalGroups", "ack", "x"]), name in prop::option::of(json_value())) {
        let mut json = serde_json::json!({ "kind": kind });
        if let Some(name) = name {
            json["name"] = name;
        }
        agrees::<Audience>(&json)?;
        agrees::<KeyPlacement>(&json)?;
        agrees::<ChannelKind>(&json)?;
    }
}
