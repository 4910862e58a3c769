//! Hub profiles, secure hubs and MessagePack on the stand-in, against the
//! official `@microsoft/signalr` client (and its MessagePack protocol) under
//! node, on a real redis-server, with broadcasts published the way the
//! companion publishes them (`RedisLink::publish_invocation`).

mod sim_support;
mod support;

use protocol::backplane::NAVIGATION_GROUP;
use protocol::broadcast::NAVIGATION_EVENT;
use protocol::hub_protocol::JSON_ONLY;
use protocol::HubProtocol;
use serde_json::{json, Value};
use signalscope::redis_link::RedisLink;
use signalscope::redis_target::RedisTarget;
use signalscope::sim::profiles::{Profile, NAVIGATION, NOTIFICATIONS};
use signalscope::sim::SimConfig;
use sim_support::{listen, TestSim};
use support::RedisServer;

/// Both protocols, json first, as ASP.NET registers them.
const BOTH: &[HubProtocol] = &[HubProtocol::Json, HubProtocol::MessagePack];

/// The notifications event the tests send (Conduit's services send it to
/// `Clients.All`).
const NOTIFICATION_EVENT: &str = "OnModelMappingChanged";

/// A stand-in on `redis` serving `hubs` in `protocols`, accepting `keys`.
async fn sim(
    redis: &RedisServer,
    hubs: Vec<&'static Profile>,
    keys: &[&str],
    protocols: &[HubProtocol],
) -> TestSim {
    let mut config = SimConfig::new("api-1", Some(RedisTarget::parse(&redis.url()).unwrap()));
    config.hubs = hubs;
    config.keys = keys.iter().map(|k| k.to_string()).collect();
    config.protocols = protocols.to_vec();
    TestSim::start_with(config, 0).await
}

/// A command link to `redis`, as the companion has.
fn link(redis: &RedisServer) -> RedisLink {
    RedisLink::new(
        &RedisTarget::parse(&redis.url()).unwrap(),
        "signalscope-test",
    )
    .unwrap()
}

/// A test broadcast's argument with what MessagePack must carry intact:
/// nesting, an integer, a float, a null, text beyond ASCII.
fn argument(id: &str) -> Value {
    json!({"type": "TestBroadcast", "data": {"id": id, "seq": 7, "ratio": 2.5, "none": null, "text": "héllo"}})
}

/// A MessagePack client receives a broadcast published with json and
/// messagepack serializations, its argument intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messagepack_client_receives_a_broadcast_published_for_both_protocols() {
    let redis = RedisServer::start();
    let sim = sim(&redis, vec![&NAVIGATION], &[], BOTH).await;
    let (node, _) = listen(&sim, &NAVIGATION, "messagepack", None).await;
    let channel = NAVIGATION
        .channels(protocol::backplane::CONDUIT_PREFIX)
        .group(NAVIGATION_GROUP);
    let sent = argument("both");
    let receivers = link(&redis)
        .publish_invocation(&channel, NAVIGATION_EVENT, vec![sent.clone()], BOTH)
        .await
        .unwrap();
    assert_eq!(receivers, 1);
    let got = node.wait_for("received", 1, |_| true).await;
    assert_eq!(
        (got[0]["name"].as_str(), &got[0]["arg"]),
        (Some(NAVIGATION_EVENT), &sent)
    );
    node.stop().await;
}

/// A MessagePack client is disconnected, with ASP.NET's error, when a
/// broadcast arrives with only the json serialization
/// (SerializedHubMessage.GetSerializedMessage throws for a message read
/// from Redis without the connection's protocol; HubConnectionContext
/// aborts the connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messagepack_client_is_disconnected_by_a_json_only_broadcast() {
    let redis = RedisServer::start();
    let sim = sim(&redis, vec![&NAVIGATION], &[], BOTH).await;
    let (node, _) = listen(&sim, &NAVIGATION, "messagepack", None).await;
    let channel = NAVIGATION
        .channels(protocol::backplane::CONDUIT_PREFIX)
        .group(NAVIGATION_GROUP);
    link(&redis)
        .publish_invocation(
            &channel,
            NAVIGATION_EVENT,
            vec![argument("json")],
            JSON_ONLY,
        )
        .await
        .unwrap();
    let closed = node.wait_for("closed", 1, |_| true).await;
    assert_eq!(
        closed[0]["error"],
        "Error: Server returned an error on close: Connection closed with an error."
    );
    assert!(node.named("received").is_empty());
}

/// Two hubs on one stand-in: each client gets its own hub's broadcast and
/// not the other's, and each hub has its own channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_each_client_gets_only_its_hubs_broadcast() {
    let redis = RedisServer::start();
    let sim = sim(
        &redis,
        vec![&NAVIGATION, &NOTIFICATIONS],
        &["vk-1"],
        &[HubProtocol::Json],
    )
    .await;
    let (navigation, _) = listen(&sim, &NAVIGATION, "json", None).await;
    let (notifications, _) = listen(&sim, &NOTIFICATIONS, "json", Some("vk-1")).await;
    let link = link(&redis);
    let prefix = protocol::backplane::CONDUIT_PREFIX;
    let to_navigation = NAVIGATION.channels(prefix).group(NAVIGATION_GROUP);
    let to_notifications = NOTIFICATIONS.channels(prefix).all();
    let (nav_arg, note_arg) = (argument("navigation"), argument("notifications"));
    // Each channel reaches one subscriber: its own hub's.
    for (channel, event, arg) in [
        (&to_notifications, NOTIFICATION_EVENT, &note_arg),
        (&to_navigation, NAVIGATION_EVENT, &nav_arg),
    ] {
        let receivers = link
            .publish_invocation(channel, event, vec![arg.clone()], JSON_ONLY)
            .await
            .unwrap();
        assert_eq!(receivers, 1, "{channel}");
    }
    let got = navigation.wait_for("received", 1, |_| true).await;
    assert_eq!(
        (got[0]["name"].as_str(), &got[0]["arg"]),
        (Some(NAVIGATION_EVENT), &nav_arg)
    );
    let got = notifications.wait_for("received", 1, |_| true).await;
    assert_eq!(
        (got[0]["name"].as_str(), &got[0]["arg"]),
        (Some(NOTIFICATION_EVENT), &note_arg)
    );
    assert_eq!(navigation.named("received").len(), 1);
    assert_eq!(notifications.named("received").len(), 1);
    navigation.stop().await;
    notifications.stop().await;
}

/// The notifications hub refuses negotiate and the WebSocket request
/// without a valid key with ASP.NET's bare 401, takes a key in every place
/// Conduit looks, and puts a keyed connection in its key's group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_hub_needs_a_key_and_groups_by_key() {
    let redis = RedisServer::start();
    let sim = sim(
        &redis,
        vec![&NOTIFICATIONS],
        &["vk-1", "vk-2"],
        &[HubProtocol::Json],
    )
    .await;
    let hub_url = format!("{}{}", sim.url(), NOTIFICATIONS.path);
    let http = reqwest::Client::new();
    let negotiate = format!("{hub_url}/negotiate?negotiateVersion=1");
    let status_and_body = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(
        status_and_body(http.post(&negotiate)).await,
        (401, String::new())
    );
    let wrong = http.post(&negotiate).bearer_auth("nope");
    assert_eq!(status_and_body(wrong).await, (401, String::new()));
    assert_eq!(status_and_body(http.get(&hub_url)).await.0, 401);
    for accepted in [
        http.post(&negotiate).bearer_auth("vk-2"),
        http.post(&negotiate).header("X-API-Key", "vk-2"),
        http.post(format!("{negotiate}&access_token=vk-2")),
        http.post(format!("{negotiate}&api_key=vk-2")),
    ] {
        assert_eq!(status_and_body(accepted).await.0, 200);
    }

    let (node, id) = listen(&sim, &NOTIFICATIONS, "json", Some("vk-2")).await;
    let hub = sim.sim.hub_for(&NOTIFICATIONS).unwrap();
    assert_eq!(hub.local_members("vkey-2"), vec![id]);
    assert!(hub.local_members("vkey-1").is_empty());
    node.stop().await;
}
