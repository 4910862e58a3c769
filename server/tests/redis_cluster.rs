//! A real 3-master Redis Cluster on loopback, given as StackExchange.Redis
//! seeds (`host1:port1,host2:port2,…`): the stand-in's backplane, the
//! companion's trigger, feed and status, `load` (its agents' control
//! streams too) and `check`'s and `load`'s Redis figures all work on it.

mod companion_support;
mod ha_support;
mod load_support;
mod sim_support;
mod support;

use std::collections::BTreeSet;

use companion_support::{config, publish, trigger, Companion, WAIT};
use ha_support::{RedisCluster, FORM};
use load_support::{load, SERIAL};
use protocol::api::{Status, TriggerResponse};
use protocol::backplane::{ChannelKind, Channels, NAVIGATION_GROUP};
use protocol::broadcast::TestBroadcast;
use serde_json::json;
use signalscope::load::probe;
use signalscope::redis_link::RedisLink;
use signalscope::redis_target::RedisTarget;
use sim_support::{Client, TestSim};
use support::eventually;

/// A pub/sub connection to `url` subscribed to `channels`, kept open.
async fn subscriber(url: &str, channels: &[String]) -> redis::aio::PubSub {
    let mut pubsub = redis::Client::open(url)
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    for channel in channels {
        pubsub.subscribe(channel).await.unwrap();
    }
    pubsub
}

/// A stand-in on the cluster delivers a companion trigger that was
/// PUBLISHed on another node than the one it subscribes on.
#[tokio::test]
async fn a_trigger_published_on_another_node_reaches_the_stand_in() {
    let cluster = RedisCluster::start().await;
    let sim = TestSim::start("api-1", Some(&cluster.connection_string())).await;
    let mut client = Client::connect(&sim.url()).await;
    let group = Channels::conduit().group(NAVIGATION_GROUP);
    eventually(WAIT, "the stand-in to subscribe the group", || async {
        (cluster.numsub(&group).await == 1).then_some(())
    })
    .await;
    let mut elsewhere = None;
    for url in cluster.urls() {
        let reply: Vec<(String, i64)> =
            ha_support::query(&url, redis::cmd("PUBSUB").arg("NUMSUB").arg(&group))
                .await
                .unwrap();
        if reply[0].1 == 0 {
            elsewhere = Some(url);
        }
    }
    let elsewhere = elsewhere.expect("a node the stand-in is not subscribed on");
    let companion = Companion::start(config(&elsewhere, vec![])).await;

    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    let (target, arguments) = client.next_invocation().await;
    assert_eq!(target, "NavigationStateUpdate");
    let broadcast = TestBroadcast::from_arguments(&arguments).unwrap();
    assert_eq!(broadcast.id, answer.id);
    companion.stop().await;
}

/// The MONITOR feed on a cluster shows what every master executes, each
/// line named by its node.
#[tokio::test]
async fn the_feed_monitors_every_master_and_names_the_node() {
    let cluster = RedisCluster::start().await;
    let companion = Companion::start(config(&cluster.connection_string(), vec![])).await;
    let mut feed = companion.live_feed("").await;
    let addresses = cluster.addresses();
    for (i, url) in cluster.urls().iter().enumerate() {
        publish(url, &format!("conduit_signalr:ha-test:{i}"), b"x").await;
    }
    let mut seen = BTreeSet::new();
    while seen.len() < addresses.len() {
        let line = feed
            .until(WAIT, "a PUBLISH from each node", |e| {
                e.name == "line" && e.data["command"] == "PUBLISH"
            })
            .await;
        let channel = line.data["channel"].as_str().unwrap().to_owned();
        let i: usize = channel.rsplit(':').next().unwrap().parse().unwrap();
        assert_eq!(line.data["node"], addresses[i].as_str(), "{channel}");
        seen.insert(i);
    }
    companion.stop().await;
}

/// `/api/status` lists each master, and counts the stand-ins' channels
/// over every node.
#[tokio::test]
async fn the_status_lists_each_node() {
    let cluster = RedisCluster::start().await;
    let _sim = TestSim::start("api-1", Some(&cluster.connection_string())).await;
    let companion = Companion::start(config(&cluster.connection_string(), vec![])).await;
    let mut addresses = cluster.addresses();
    addresses.sort();
    let status: Status = eventually(WAIT, "the stand-in live in the status", || async {
        let s: Status = companion.get_json("/api/status").await;
        (s.redis.live_servers.len() == 1).then_some(s)
    })
    .await;
    let listed: Vec<&str> = status
        .redis
        .nodes
        .iter()
        .map(|n| n.address.as_str())
        .collect();
    assert_eq!(listed, addresses);
    for node in &status.redis.nodes {
        assert!(node.reachable, "{node:?}");
        assert_eq!(node.role.as_deref(), Some("master"));
    }
    assert_eq!(status.redis.all_subscribers, Some(1));
    companion.stop().await;
}

/// A small `load` run against stand-ins on the cluster delivers every
/// broadcast to every connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_runs_against_the_cluster() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start().await;
    let redis = cluster.connection_string();
    let a = TestSim::start("api-1", Some(&redis)).await;
    let b = TestSim::start("api-2", Some(&redis)).await;
    let (ia, ib) = (format!("api-1={}", a.url()), format!("api-2={}", b.url()));
    let (_, s) = load(&[
        "--redis",
        &redis,
        "--instance",
        &ia,
        "--instance",
        &ib,
        "--connections",
        "4",
        "--duration",
        "2s",
        "--rate",
        "5",
    ])
    .await;
    assert_eq!((s.connections.opened, s.connections.failed), (4, 0));
    assert!(s.broadcasts.sent >= 5, "sent {}", s.broadcasts.sent);
    assert_eq!(s.delivery.received, 4 * s.broadcasts.sent);
}

/// `load`'s Redis sample reads every master: each is listed with its own
/// figures, and the sample is their total.
#[tokio::test]
async fn load_samples_every_master() {
    let cluster = RedisCluster::start().await;
    let all = Channels::conduit().all();
    let urls = cluster.urls();
    // Subscribers on two different masters, as StackExchange.Redis
    // places them by the channel's slot.
    let _a = subscriber(&urls[0], std::slice::from_ref(&all)).await;
    let _b = subscriber(&urls[2], std::slice::from_ref(&all)).await;
    let target = RedisTarget::parse(&cluster.connection_string()).unwrap();
    let link = RedisLink::new(&target, "test").unwrap();

    let s = probe::sample(&link, &all, &[], 1.0).await;
    assert!(s.up);
    let mut addresses = cluster.addresses();
    addresses.sort();
    let listed: Vec<&str> = s.nodes.iter().map(|n| n.address.as_str()).collect();
    assert_eq!(listed, addresses);
    assert!(s
        .nodes
        .iter()
        .all(|n| n.sample.up && n.sample.used_memory > 0));
    let memory: u64 = s.nodes.iter().map(|n| n.sample.used_memory).sum();
    assert_eq!(s.used_memory, memory);
    assert_eq!((s.all_channel_subscribers, s.pubsub_clients), (2, 2));
}

/// `check`'s backplane figures ask every master: channels subscribed on
/// different masters are all listed, and their subscribers all counted.
#[tokio::test]
async fn check_finds_subscribers_on_every_master() {
    let cluster = RedisCluster::start().await;
    let channels = Channels::conduit();
    let ack = channels.name(&ChannelKind::Ack(String::new()));
    let urls = cluster.urls();
    let _a = subscriber(&urls[0], &[format!("{ack}server-a"), channels.all()]).await;
    let _b = subscriber(&urls[1], &[format!("{ack}server-b"), channels.all()]).await;
    let target = RedisTarget::parse(&cluster.connection_string()).unwrap();
    let link = RedisLink::new(&target, "test").unwrap();

    let servers = link.channels_after_on_every_node(&ack).await.unwrap();
    assert_eq!(servers, ["server-a", "server-b"]);
    let subscribers = link.subscribers_on_every_node(&channels.all()).await;
    assert_eq!(subscribers.unwrap(), 2);
}

/// A link holding a key talks to the master of that key's slot, so keys
/// on every master can be written without a MOVED refusal.
#[tokio::test]
async fn a_link_holding_a_key_goes_to_its_master() {
    let cluster = RedisCluster::start().await;
    let target = RedisTarget::parse(&cluster.connection_string()).unwrap();
    for i in 0..12 {
        let key = format!("key-{i}");
        let link = RedisLink::holding(&target, "test", &key).unwrap();
        let set: Result<String, _> = link.query(redis::cmd("SET").arg(&key).arg(i)).await;
        assert_eq!(set.unwrap(), "OK", "{key}");
    }
}

/// `load --agents` on a cluster keeps its control streams there (one hash
/// slot, one master) and its agent delivers every broadcast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_agents_are_controlled_through_the_cluster() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start().await;
    let redis = cluster.connection_string();
    let sim = TestSim::start("api-1", Some(&redis)).await;
    let instance = format!("api-1={}", sim.url());
    let (_, s) = load(&[
        "--redis",
        &redis,
        "--instance",
        &instance,
        "--agents",
        "1",
        "--connections",
        "2",
        "--duration",
        "2s",
        "--rate",
        "5",
    ])
    .await;
    assert_eq!((s.connections.opened, s.connections.failed), (2, 0));
    assert!(s.broadcasts.sent >= 5, "sent {}", s.broadcasts.sent);
    assert_eq!(s.delivery.received, 2 * s.broadcasts.sent);
}

/// `check` on a cluster passes what it can judge without a demo, and
/// judges Redis memory over every master, naming each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_judges_every_master_of_a_cluster() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start().await;
    let redis = cluster.connection_string();
    let a = TestSim::start("api-1", Some(&redis)).await;
    let b = TestSim::start("api-2", Some(&redis)).await;
    let (ia, ib) = (format!("api-1={}", a.url()), format!("api-2={}", b.url()));
    #[rustfmt::skip]
    let out = load_support::cli(
        &[
            "check", "--json", "--redis", &redis, "--instance", &ia, "--instance", &ib,
            "--connections", "20", "--duration", "2s", "--max-lag-ms", "1000",
            "--pass-within-ms", "500",
        ],
        std::time::Duration::from_secs(180),
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let verdicts: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["PASS", "PASS", "PASS", "PASS", "SKIP", "PASS", "PASS", "SKIP"],
        "{json:#}"
    );
    let memory = json[6]["figure"].as_str().unwrap();
    for address in cluster.addresses() {
        assert!(memory.contains(&address), "{memory}");
    }
}

/// When a master dies and its replica takes over, the feed says that
/// master went down, then shows what the promoted master executes, named
/// by it.
#[tokio::test]
async fn the_feed_follows_a_failover_to_the_promoted_replica() {
    let mut cluster = RedisCluster::start_with(1).await;
    let companion = Companion::start(config(&cluster.connection_string(), vec![])).await;
    let mut feed = companion.live_feed("").await;
    let replica = cluster
        .replica_of(0)
        .await
        .expect("node 0, a master, has a replica");

    cluster.nodes[0].kill();
    let down = feed
        .until(FORM, "the outage", |e| e.name == "redis-down")
        .await;
    let killed = &cluster.addresses()[0];
    let error = down.data["error"].as_str().unwrap_or_default();
    assert!(error.contains(killed.as_str()), "{error}");
    eventually(FORM, "the replica promoted", || async {
        (cluster.role(replica).await.as_deref() == Some("master")).then_some(())
    })
    .await;
    // PUBLISHed on the promoted master until the feed, reopened on it, shows one.
    let url = cluster.urls()[replica].clone();
    let publisher = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            every.tick().await;
            publish(&url, "conduit_signalr:ha-failover", b"x").await;
        }
    });
    let promoted = cluster.addresses()[replica].clone();
    feed.until(FORM, "a PUBLISH from the promoted master", |e| {
        e.name == "line" && e.data["command"] == "PUBLISH" && e.data["node"] == promoted.as_str()
    })
    .await;
    publisher.abort();
    companion.stop().await;
}

/// Seeds of which none answers are refused at start, naming `--redis`.
#[tokio::test]
async fn no_reachable_seed_is_an_error_naming_the_setting() {
    let (a, b) = (support::free_port(), support::free_port());
    let redis = format!("127.0.0.1:{a},127.0.0.1:{b}");
    ha_support::serve_refuses(&redis, "no seed answered").await;
}
