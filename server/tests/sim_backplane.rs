//! Sims on one real redis-server exchanging what ASP.NET Core's Redis
//! backplane exchanges: invocations in its exact layout, exclusions, group
//! commands and acks, and recovery from a Redis outage.

mod sim_support;
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use protocol::backplane::{
    Ack, ChannelKind, Channels, Completion, GroupAction, GroupCommand, Invocation, ReturnAddress,
    NAVIGATION_GROUP,
};
use protocol::broadcast::TestBroadcast;
use protocol::message::HubMessage;
use serde_json::{json, Value};
use sim_support::{get_json, numsub, post_json, publish, redis_client, Client, Received, TestSim};
use support::{eventually, RedisServer};

const LIMIT: Duration = Duration::from_secs(15);

/// Starts `n` sims named api-1… on `redis`, each with one connected client.
async fn sims_with_clients(redis: &RedisServer, n: usize) -> (Vec<TestSim>, Vec<Client>) {
    let mut sims = Vec::new();
    let mut clients = Vec::new();
    for i in 1..=n {
        let sim = TestSim::start(&format!("api-{i}"), Some(&redis.url())).await;
        clients.push(Client::connect(&sim.url()).await);
        sims.push(sim);
    }
    (sims, clients)
}

/// A message published in ASP.NET's exact layout is written, byte for
/// byte, to a client on every sim.
#[tokio::test]
async fn aspnet_layout_publish_reaches_every_sim_verbatim() {
    let redis = RedisServer::start();
    let (_sims, mut clients) = sims_with_clients(&redis, 3).await;
    // Odd spacing proves the sims forward the bytes rather than re-encode.
    let record =
        b"{\"type\":1, \"target\":\"NavigationStateUpdate\",\"arguments\":[{\"type\":\"X\"}]}\x1e"
            .to_vec();
    let body = Invocation {
        excluded_connection_ids: vec![],
        messages: vec![("json".into(), record.clone())],
        return_to: None,
    }
    .encode();
    let receivers = publish(
        &redis.url(),
        &Channels::conduit().group(NAVIGATION_GROUP),
        &body,
    )
    .await;
    assert_eq!(receivers, 3);
    for client in &mut clients {
        let text = client.next_record_text().await;
        assert_eq!(format!("{text}\x1e").as_bytes(), record.as_slice());
    }
}

/// The trigger's PUBLISH decodes with the protocol crate to ASP.NET's
/// layout: no exclusions, one `json` entry ending in 0x1E, the test broadcast.
#[tokio::test]
async fn trigger_publish_decodes_to_aspnet_layout() {
    let redis = RedisServer::start();
    let sim = TestSim::start("api-1", Some(&redis.url())).await;
    let _client = Client::connect(&sim.url()).await;
    let mut pubsub = redis_client(&redis.url()).get_async_pubsub().await.unwrap();
    let channel = Channels::conduit().group(NAVIGATION_GROUP);
    pubsub.subscribe(&channel).await.unwrap();
    let (status, response) = post_json(
        &format!("{}/api/test/trigger-navigation-update", sim.url()),
        "",
    )
    .await;
    assert_eq!(status, 200);
    // The sim (it has a member) and this test's subscriber.
    assert_eq!(response["receivers"], 2);
    let message = tokio::time::timeout(LIMIT, pubsub.on_message().next())
        .await
        .unwrap()
        .unwrap();
    let payload = message.get_payload_bytes();
    assert_eq!(&payload[..7], &[0x92, 0x90, 0x81, 0xa4, b'j', b's', b'o']);
    let invocation = Invocation::decode(payload).unwrap();
    assert!(invocation.excluded_connection_ids.is_empty());
    assert_eq!(invocation.messages.len(), 1);
    let record = invocation.message_for("json").unwrap();
    let json = record.strip_suffix(b"\x1e").expect("record ends in 0x1E");
    let HubMessage::Invocation {
        target,
        arguments,
        invocation_id,
        ..
    } = HubMessage::parse(json).unwrap()
    else {
        panic!("not an invocation")
    };
    assert_eq!(
        (target.as_str(), invocation_id),
        ("NavigationStateUpdate", None)
    );
    let broadcast = TestBroadcast::from_arguments(&arguments).expect("a test broadcast");
    assert_eq!((broadcast.origin.as_str(), broadcast.seq), ("api-1", 1));
    assert_eq!(response["id"], broadcast.id);
}

/// Excluded connection ids are skipped; everyone else still gets it.
#[tokio::test]
async fn excluded_connection_ids_are_skipped() {
    let redis = RedisServer::start();
    let (_sims, mut clients) = sims_with_clients(&redis, 2).await;
    let all = Channels::conduit().all();
    let first = HubMessage::invocation("First", vec![]);
    let second = HubMessage::invocation("Second", vec![]);
    let excluded = vec![clients[0].connection_id.clone()];
    publish(
        &redis.url(),
        &all,
        &Invocation::json(&first, excluded).encode(),
    )
    .await;
    publish(
        &redis.url(),
        &all,
        &Invocation::json(&second, vec![]).encode(),
    )
    .await;
    // Same channel, so order is kept: the excluded client's first is "Second".
    assert_eq!(clients[0].next_invocation().await.0, "Second");
    assert_eq!(clients[1].next_invocation().await.0, "First");
    assert_eq!(clients[1].next_invocation().await.0, "Second");
}

/// A sim adds and removes a connection owned by another sim through a
/// group command, and the owner's ack completes the call.
#[tokio::test]
async fn group_add_and_remove_across_instances() {
    let redis = RedisServer::start();
    let a = TestSim::start("api-1", Some(&redis.url())).await;
    let b = TestSim::start("api-2", Some(&redis.url())).await;
    let mut client = Client::connect(&b.url()).await;
    let id = client.connection_id.clone();
    a.sim
        .hub()
        .add_to_group(&id, "ops")
        .await
        .expect("acked add");
    assert_eq!(b.sim.hub().local_members("ops"), vec![id.clone()]);
    let hello = HubMessage::invocation("Hello", vec![json!("ops")]);
    assert_eq!(
        a.sim.hub().send_group("ops", &hello).await.unwrap(),
        Some(1)
    );
    assert_eq!(client.next_invocation().await.0, "Hello");
    a.sim
        .hub()
        .remove_from_group(&id, "ops")
        .await
        .expect("acked remove");
    assert!(b.sim.hub().local_members("ops").is_empty());
    let ops = Channels::conduit().group("ops");
    eventually(LIMIT, "the group channel to be released", || async {
        (numsub(&redis.url(), &ops).await == Some(0)).then_some(())
    })
    .await;
}

/// A group command from a foreign server (as ASP.NET would send it) is
/// applied and acked on that server's ack channel.
#[tokio::test]
async fn foreign_group_command_is_applied_and_acked() {
    let redis = RedisServer::start();
    let sim = TestSim::start("api-1", Some(&redis.url())).await;
    let client = Client::connect(&sim.url()).await;
    let channels = Channels::conduit();
    let mut pubsub = redis_client(&redis.url()).get_async_pubsub().await.unwrap();
    pubsub.subscribe(channels.ack("aspnet_0123")).await.unwrap();
    let command = GroupCommand {
        id: 7,
        server_name: "aspnet_0123".into(),
        action: GroupAction::Add,
        group: "model-gpt".into(),
        connection_id: client.connection_id.clone(),
    };
    publish(&redis.url(), &channels.internal_groups(), &command.encode()).await;
    let ack = tokio::time::timeout(LIMIT, pubsub.on_message().next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Ack::decode(ack.get_payload_bytes()).unwrap(), Ack { id: 7 });
    assert_eq!(
        sim.sim.hub().local_members("model-gpt"),
        vec![client.connection_id.clone()]
    );
}

/// The publishing connection carries the instance name (CLIENT SETNAME).
#[tokio::test]
async fn redis_client_name_is_the_instance_name() {
    let redis = RedisServer::start();
    let _sim = TestSim::start("api-7", Some(&redis.url())).await;
    let list = redis.client_list().await;
    assert!(list.lines().any(|l| l.contains(" name=api-7 ")), "{list}");
}

/// The subscriber connection carries the instance name too, as
/// StackExchange.Redis names every connection it opens
/// (ServerEndPoint's handshake sends CLIENT SETNAME whatever the
/// connection type), so every SUBSCRIBE has a name in the feed.
#[tokio::test]
async fn subscriber_connection_is_named_too() {
    let redis = RedisServer::start();
    let _sim = TestSim::start("api-7", Some(&redis.url())).await;
    let list = redis.client_list().await;
    let subscriber = list
        .lines()
        .find(|l| l.contains(" psub=0 ") && !l.contains(" sub=0 "))
        .expect("a subscribed connection");
    assert!(subscriber.contains(" name=api-7 "), "{subscriber}");
}

/// Redis killed and restarted: clients stay connected, a new connection
/// meanwhile gets `{}` and then a 1011 close, and afterwards every sim is
/// subscribed again and a broadcast reaches everyone. ASP.NET writes the
/// handshake answer first (HubConnectionContext.HandshakeAsync), then
/// RedisHubLifetimeManager.OnConnectedAsync's failing subscribe escapes
/// HubConnectionHandler.OnConnectedAsync, so WebSocketsServerTransport
/// closes with InternalServerError and no Close message.
#[tokio::test]
async fn redis_outage_and_recovery() {
    let mut redis = RedisServer::start();
    let (sims, mut clients) = sims_with_clients(&redis, 3).await;
    let all = Channels::conduit().all();
    assert_eq!(numsub(&redis.url(), &all).await, Some(3));

    redis.kill();
    for sim in &sims {
        let health = format!("{}/health", sim.url());
        eventually(LIMIT, "health to report Redis down", || async {
            let (status, body) = get_json(&health).await;
            (status == 503 && body["checks"][0]["status"] == "Unhealthy").then_some(())
        })
        .await;
    }
    // Still connected: a local round trip works on every client.
    for client in &mut clients {
        let reply = client.invoke("1", "RequestCurrentState", json!([])).await;
        assert!(
            matches!(reply, HubMessage::Invocation { ref target, .. } if target == "StateUpdateRequested")
        );
        assert!(matches!(
            client.next_message().await,
            HubMessage::Completion { .. }
        ));
    }
    let (status, _) = post_json(
        &format!("{}/api/test/trigger-navigation-update", sims[0].url()),
        "",
    )
    .await;
    assert_eq!(status, 503, "a send fails while Redis is down");
    let mut refused = Client::open(&sims[1].url(), None).await.unwrap();
    refused
        .send_text("{\"protocol\":\"json\",\"version\":1}\x1e")
        .await;
    assert!(matches!(refused.next().await, Received::Record(r) if r == b"{}"));
    assert!(matches!(refused.next().await, Received::Closed(1011)));

    redis.restart();
    eventually(LIMIT, "every sim to resubscribe :all", || async {
        (numsub(&redis.url(), &all).await == Some(3)).then_some(())
    })
    .await;
    let group = Channels::conduit().group(NAVIGATION_GROUP);
    eventually(LIMIT, "every sim to resubscribe its group", || async {
        (numsub(&redis.url(), &group).await == Some(3)).then_some(())
    })
    .await;
    let own = Channels::conduit().connection(&clients[0].connection_id);
    assert_eq!(
        numsub(&redis.url(), &own).await,
        Some(1),
        "connection channel resubscribed"
    );
    let (status, response) = post_json(
        &format!("{}/api/test/trigger-navigation-update", sims[0].url()),
        "",
    )
    .await;
    assert_eq!((status, response["receivers"].clone()), (200, json!(3)));
    for client in &mut clients {
        let (target, arguments) = client.next_invocation().await;
        assert_eq!(target, "NavigationStateUpdate");
        let broadcast = TestBroadcast::from_arguments(&arguments).unwrap();
        assert_eq!(Value::from(broadcast.id), response["id"]);
    }
}

/// The seed's model-mapping POST notifies `navigation-updates` on every
/// sim and `model-{alias}` only where a client subscribed to that model.
#[tokio::test]
async fn model_mapping_notifies_navigation_and_model_groups() {
    let redis = RedisServer::start();
    let (sims, mut clients) = sims_with_clients(&redis, 2).await;
    let subscribed = clients[1]
        .invoke("0", "SubscribeToModel", json!(["test-model-1"]))
        .await;
    assert!(matches!(subscribed, HubMessage::Completion { .. }));
    let body = r#"{"virtualModelName":"test-model-1","providerModelName":"gpt-3.5-turbo","providerName":"openai"}"#;
    let (status, created) =
        post_json(&format!("{}/api/admin/model-mappings", sims[0].url()), body).await;
    assert_eq!(status, 201);
    assert_eq!(
        created["receivers"],
        json!({"navigationUpdates": 2, "modelGroup": 1})
    );

    let (target, arguments) = clients[1].next_invocation().await;
    assert_eq!(target, "NavigationStateUpdate");
    assert_eq!(arguments[0]["type"], "ModelMappingChanged");
    assert_eq!(arguments[0]["data"]["modelAlias"], "test-model-1");
    let (target, arguments) = clients[1].next_invocation().await;
    assert_eq!(
        (target.as_str(), &arguments[0]["data"]["changeType"]),
        ("ModelUpdate", &json!("Created"))
    );

    // The unsubscribed client gets the navigation update, then nothing
    // until the next broadcast: no ModelUpdate in between.
    assert_eq!(
        clients[0].next_invocation().await.1[0]["type"],
        "ModelMappingChanged"
    );
    post_json(
        &format!("{}/api/test/trigger-navigation-update", sims[0].url()),
        "",
    )
    .await;
    assert_eq!(
        clients[0].next_invocation().await.1[0]["type"],
        "TestBroadcast"
    );
}

/// A publishing connection killed on the Redis side (CLIENT KILL) is
/// replaced: sends fail for a moment, then flow again under the same
/// client name, without the subscriptions being torn down.
#[tokio::test]
async fn killed_publishing_connection_is_replaced() {
    let redis = RedisServer::start();
    let sim = TestSim::start("api-1", Some(&redis.url())).await;
    let mut client = Client::connect(&sim.url()).await;
    let mut conn = redis_client(&redis.url())
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let list = redis.client_list().await;
    let publisher = list
        .lines()
        .find(|l| l.contains(" name=api-1 "))
        .expect("the named publisher");
    let id = publisher
        .split(' ')
        .find_map(|f| f.strip_prefix("id="))
        .unwrap()
        .to_owned();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let trigger = format!("{}/api/test/trigger-navigation-update", sim.url());
    let sent = eventually(LIMIT, "a trigger to succeed again", || async {
        let (status, body) = post_json(&trigger, "").await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!(sent["receivers"], 1);
    let (_, arguments) = client.next_invocation().await;
    assert_eq!(
        Value::from(TestBroadcast::from_arguments(&arguments).unwrap().id),
        sent["id"]
    );
    let list = redis.client_list().await;
    assert!(list
        .lines()
        .any(|l| l.contains(" name=api-1 ") && !l.contains(&format!("id={id} "))));
}

/// A client-result invoke from another server (the .NET 7+ 4-element
/// invocation on `:connection:`), as both client-result tests send it.
struct ClientResultAsk {
    /// The stand-in the client is on.
    _sim: TestSim,
    /// The client asked for a result.
    client: Client,
    /// Subscribed to the invoking server's return channel.
    returns: redis::aio::PubSub,
}

impl ClientResultAsk {
    /// Connects a client and publishes `GetState` to it with a return
    /// address on server `aspnet_0123`; asserts exactly it received it.
    async fn send(redis: &RedisServer) -> Self {
        let sim = TestSim::start("api-1", Some(&redis.url())).await;
        let mut client = Client::connect(&sim.url()).await;
        let channels = Channels::conduit();
        let mut returns = redis_client(&redis.url()).get_async_pubsub().await.unwrap();
        returns
            .subscribe(channels.return_channel("aspnet_0123"))
            .await
            .unwrap();
        let ask = HubMessage::Invocation {
            headers: vec![],
            invocation_id: Some("s1".into()),
            target: "GetState".into(),
            arguments: vec![],
            stream_ids: vec![],
        };
        let body = Invocation {
            excluded_connection_ids: vec![],
            messages: vec![("json".into(), ask.to_record())],
            return_to: Some(ReturnAddress {
                invocation_id: "s1".into(),
                return_channel: channels.unprefixed(&ChannelKind::Return("aspnet_0123".into())),
            }),
        };
        let receivers = publish(
            &redis.url(),
            &channels.connection(&client.connection_id),
            &body.encode(),
        )
        .await;
        assert_eq!(receivers, 1);
        assert_eq!(client.next_message().await, ask);
        Self {
            _sim: sim,
            client,
            returns,
        }
    }
}

/// The next Completion on a return channel.
async fn next_completion(returns: &mut redis::aio::PubSub) -> Completion {
    let back = tokio::time::timeout(LIMIT, returns.on_message().next())
        .await
        .unwrap()
        .unwrap();
    Completion::decode(back.get_payload_bytes()).unwrap()
}

/// A client-result invoke from another server reaches the client, and its
/// Completion goes back on that server's return channel.
#[tokio::test]
async fn client_result_returns_to_the_invoking_server() {
    let redis = RedisServer::start();
    let mut case = ClientResultAsk::send(&redis).await;
    case.client
        .send_text("{\"type\":3,\"invocationId\":\"s1\",\"result\":42}\x1e")
        .await;
    let completion = next_completion(&mut case.returns).await;
    assert_eq!(completion.protocol, "json");
    assert_eq!(
        completion.message,
        b"{\"type\":3,\"invocationId\":\"s1\",\"result\":42}\x1e"
    );
}

/// A client-result invoke pending on a connection that drops is answered
/// "Connection disconnected." on the invoking server's return channel
/// (RedisHubLifetimeManager.SubscribeToConnection registers that answer on
/// ConnectionAborted).
#[tokio::test]
async fn pending_client_result_of_dropped_connection_is_answered() {
    let redis = RedisServer::start();
    let mut case = ClientResultAsk::send(&redis).await;
    drop(case.client);
    let completion = next_completion(&mut case.returns).await;
    assert_eq!(
        completion.message,
        b"{\"type\":3,\"invocationId\":\"s1\",\"error\":\"Connection disconnected.\"}\x1e"
    );
}
