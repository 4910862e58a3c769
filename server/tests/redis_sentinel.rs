//! A real Sentinel set on loopback (master, replica, three sentinels),
//! given as StackExchange.Redis does (`sentinels…,serviceName=mymaster`):
//! the stand-in and the companion find the master through the sentinels
//! and follow a failover, with or without passwords (sent to the sentinels
//! too, as StackExchange.Redis sends them).

mod companion_support;
mod ha_support;
mod load_support;
mod sim_support;
mod support;

use companion_support::{config, trigger, Companion};
use ha_support::{Passwords, SentinelSet, FORM};
use protocol::api::{Status, TriggerResponse};
use protocol::broadcast::TestBroadcast;
use serde_json::json;
use sim_support::{Client, TestSim};
use support::eventually;

/// After the master is killed and the replica promoted, the feed reports
/// the outage and resumes, and a broadcast reaches the stand-in's client.
#[tokio::test]
async fn the_feed_and_the_stand_in_follow_a_failover() {
    follow_a_failover(SentinelSet::start().await).await;
}

/// The same with every server and sentinel requiring the password: the
/// connection string's `password=` reaches the sentinels as well.
#[tokio::test]
async fn a_failover_is_followed_when_the_sentinels_require_the_password() {
    follow_a_failover(SentinelSet::start_with(Passwords::Everywhere).await).await;
}

/// Sentinels without a password, in front of servers with one, are still
/// asked (again without the password they refuse) and name the master.
#[tokio::test]
async fn open_sentinels_in_front_of_protected_servers_name_the_master() {
    let set = SentinelSet::start_with(Passwords::Servers).await;
    let companion = Companion::start(config(&set.connection_string(), vec![])).await;
    let status: Status = companion.get_json("/api/status").await;
    let node = &status.redis.nodes[0];
    assert_eq!(node.address, format!("127.0.0.1:{}", set.master.port));
    assert!(node.reachable, "{node:?}");
    assert_eq!(node.role.as_deref(), Some("master"));
    companion.stop().await;
}

/// Kills `set`'s master and checks the feed, the stand-in and a trigger
/// follow the promoted replica.
async fn follow_a_failover(mut set: SentinelSet) {
    let redis = set.connection_string();
    let sim = TestSim::start("api-1", Some(&redis)).await;
    let companion = Companion::start(config(&redis, vec![])).await;
    let status: Status = companion.get_json("/api/status").await;
    let master = format!("127.0.0.1:{}", set.master.port);
    assert_eq!(status.redis.nodes[0].address, master);
    let mut feed = companion.live_feed("").await;

    set.master.kill();
    feed.until(FORM, "the outage", |e| e.name == "redis-down")
        .await;
    let replica = set.replica.port;
    eventually(FORM, "the sentinels to promote the replica", || async {
        (set.master_port().await == Some(replica)).then_some(())
    })
    .await;
    feed.until(FORM, "the feed back on the new master", |e| {
        e.name == "redis-up"
    })
    .await;

    // The stand-in's backplane finds the new master through the sentinels.
    eventually(FORM, "the stand-in's backplane up again", || async {
        sim.sim.hub().backplane().is_up().then_some(())
    })
    .await;
    let mut client = Client::connect(&sim.url()).await;
    let answer: TriggerResponse = eventually(FORM, "a trigger through the new master", || async {
        let a: TriggerResponse = trigger(&companion, json!({})).await.json().await.ok()?;
        (a.receivers == Some(1)).then_some(a)
    })
    .await;
    let (target, arguments) = client.next_invocation().await;
    assert_eq!(target, "NavigationStateUpdate");
    assert_eq!(
        TestBroadcast::from_arguments(&arguments).unwrap().id,
        answer.id
    );
    companion.stop().await;
}

/// Sentinels of which none answers are refused at start, naming `--redis`.
#[tokio::test]
async fn an_unreachable_sentinel_is_an_error_naming_the_setting() {
    let port = support::free_port();
    let redis = format!("127.0.0.1:{port},serviceName=mymaster");
    ha_support::serve_refuses(&redis, "no sentinel named the master 'mymaster'").await;
}
