//! Test broadcasts in each mode, seen decoded in the live feed.

mod companion_support;
mod support;

use companion_support::{
    config, is_broadcast, trigger, Companion, Sim, StandIn, GROUP_CHANNEL, WAIT,
};
use protocol::api::{TriggerMode, TriggerResponse};
use serde_json::json;
use signalscope::companion::ConfiguredTrigger;
use support::RedisServer;

/// Redis mode PUBLISHes an ASP.NET-layout invocation that the feed decodes to its target and seq.
#[tokio::test]
async fn redis_mode_publish_is_decoded_in_the_feed() {
    let redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = companion.live_feed("").await;

    let answer = trigger(&companion, json!({})).await;
    assert_eq!(answer.status(), 200);
    let answer: TriggerResponse = answer.json().await.unwrap();
    assert_eq!(answer.mode, TriggerMode::Redis);
    assert_eq!(answer.channel, GROUP_CHANNEL);
    assert_eq!(answer.receivers, Some(0));
    assert_eq!(answer.id.len(), 32);

    let line = feed
        .until(WAIT, "the decoded PUBLISH", |e| {
            is_broadcast(e, GROUP_CHANNEL, answer.seq)
        })
        .await;
    assert_eq!(line.data["command"], "PUBLISH");
    assert_eq!(
        line.data["summary"]["payload"]["arguments"][0]["type"],
        "TestBroadcast"
    );
    assert_eq!(
        line.data["summary"]["payload"]["arguments"][0]["data"]["id"],
        answer.id.as_str()
    );
    assert_eq!(
        line.data["summary"]["payload"]["arguments"][0]["data"]["origin"],
        "companion"
    );
    assert_eq!(line.data["publisherName"], "signalscope-companion");
    companion.stop().await;
}

/// Instance mode goes through the real stand-in's endpoint, relays its answer, and the feed names it as publisher.
#[tokio::test]
async fn instance_mode_goes_through_the_instance() {
    let redis = RedisServer::start();
    let first = Sim::start("api-1", &redis.url()).await;
    let second = Sim::start("api-2", &redis.url()).await;
    let instances = vec![first.instance.clone(), second.instance.clone()];
    let companion = Companion::start(config(&redis.url(), instances)).await;
    let mut feed = companion.live_feed("").await;

    let answer = support::eventually(WAIT, "api-2 answers its trigger", || async {
        let r = trigger(&companion, json!({"mode": "instance", "instance": "api-2"})).await;
        match r.status().as_u16() {
            200 => r.json::<TriggerResponse>().await.ok(),
            _ => None,
        }
    })
    .await;
    assert_eq!(answer.mode, TriggerMode::Instance);
    assert_eq!(answer.instance.as_deref(), Some("api-2"));

    let line = feed
        .until(WAIT, "the instance's PUBLISH", |e| {
            is_broadcast(e, GROUP_CHANNEL, answer.seq)
        })
        .await;
    assert_eq!(line.data["publisherName"], "api-2");
    let data = &line.data["summary"]["payload"]["arguments"][0]["data"];
    assert_eq!(data["id"].as_str(), Some(answer.id.as_str()));
    assert_eq!(data["origin"], "api-2");
    companion.stop().await;
}

/// Configured mode sends the configured headers, and their values never reach the browser.
#[tokio::test]
async fn configured_mode_sends_secret_headers_without_showing_them() {
    const SECRET: &str = "admin-key-4f1d9c";
    let redis = RedisServer::start();
    let stand_in = StandIn::start("admin", &redis.url(), Some(("X-API-Key", SECRET))).await;
    let mut c = config(&redis.url(), vec![]);
    c.trigger = Some(
        ConfiguredTrigger::new(
            format!(
                "{}/api/test/trigger-navigation-update",
                stand_in.instance.url
            ),
            vec![("X-API-Key".into(), SECRET.into())],
        )
        .unwrap(),
    );
    let companion = Companion::start(c).await;
    let mut feed = companion.live_feed("").await;

    let answer = trigger(&companion, json!({"mode": "configured"})).await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    assert!(!text.contains(SECRET));
    let answer: TriggerResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(answer.mode, TriggerMode::Configured);
    feed.until(WAIT, "the configured PUBLISH", |e| {
        is_broadcast(e, GROUP_CHANNEL, answer.seq)
    })
    .await;

    let config_text = reqwest::get(companion.url("/api/config"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(config_text.contains("\"configured\""), "{config_text}");
    assert!(!config_text.contains(SECRET));
    companion.stop().await;
}

/// The pub/sub source shows the same broadcast, decoded, as a MESSAGE;
/// the answer tells the feed's subscription apart from instances.
#[tokio::test]
async fn pubsub_source_shows_the_broadcast() {
    let redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = companion.live_feed("?source=pubsub").await;

    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    assert_eq!(
        answer.receivers,
        Some(1),
        "PUBLISH counts the feed's own PSUBSCRIBE"
    );
    assert_eq!(
        answer.channel_subscribers,
        Some(0),
        "the channel's own subscribers are the instances: none here"
    );
    let line = feed
        .until(WAIT, "the MESSAGE", |e| {
            is_broadcast(e, GROUP_CHANNEL, answer.seq)
        })
        .await;
    assert_eq!(line.data["command"], "MESSAGE");
    assert_eq!(line.data["source"], "pubsub");
    companion.stop().await;
}

/// An unknown instance and an unconfigured mode are the caller's mistakes (400), not the server's.
#[tokio::test]
async fn bad_trigger_requests_are_400() {
    let redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    for body in [
        json!({"mode": "instance"}),
        json!({"mode": "configured"}),
        json!({"mode": "nope"}),
    ] {
        let r = trigger(&companion, body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"].is_string());
    }
    companion.stop().await;
}
