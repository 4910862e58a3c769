//! The live feed: outages, slow pages, sharing one MONITOR connection,
//! refusals and long lines, all over real sockets against a real Redis.

mod companion_support;
mod support;

use std::time::Duration;

use companion_support::{
    config, is_broadcast, publish, trigger, Companion, SseReader, GROUP_CHANNEL, WAIT,
};
use protocol::api::TriggerResponse;
use protocol::backplane::{Channels, Invocation};
use protocol::HubMessage;
use serde_json::json;
use support::{eventually, RedisServer};

/// How many MONITOR connections Redis has right now.
async fn monitors(redis: &RedisServer) -> usize {
    redis
        .client_list()
        .await
        .lines()
        .filter(|l| l.split(' ').any(|f| f == "flags=O"))
        .count()
}

/// A group invocation whose single argument is a string of `size` bytes.
fn big_invocation(size: usize) -> Vec<u8> {
    let msg = HubMessage::invocation("NavigationStateUpdate", vec![json!("a".repeat(size))]);
    Invocation::json(&msg, Vec::new()).encode()
}

/// Redis killed and restarted: redis-down, then redis-up, then lines flow again.
#[tokio::test]
async fn redis_outage_is_reported_and_recovered() {
    let mut redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = companion.live_feed("").await;

    redis.kill();
    let down = feed
        .until(WAIT, "redis-down", |e| e.name == "redis-down")
        .await;
    assert!(down.data["error"].is_string());
    redis.restart();
    feed.until(Duration::from_secs(20), "redis-up", |e| {
        e.name == "redis-up"
    })
    .await;

    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    feed.until(WAIT, "a line after the outage", |e| {
        is_broadcast(e, GROUP_CHANNEL, answer.seq)
    })
    .await;
    companion.stop().await;
}

/// A page that stops reading gets `dropped N` instead of unbounded buffering, then resumes.
#[tokio::test]
async fn slow_page_gets_dropped_count() {
    let redis = RedisServer::start();
    let mut c = config(&redis.url(), vec![]);
    c.feed.buffered_batches = 2;
    c.feed.batch_lines = 8;
    c.feed.max_lags = u32::MAX;
    let companion = Companion::start(c).await;
    let mut feed = companion.live_feed("").await;

    // ~24 MB of feed events, far more than the socket buffers hold while
    // the page is not reading.
    let body = big_invocation(20_000);
    for _ in 0..1_500 {
        publish(&redis.url(), GROUP_CHANNEL, &body).await;
    }
    let dropped = feed
        .until(Duration::from_secs(30), "a dropped event", |e| {
            e.name == "dropped"
        })
        .await;
    assert!(dropped.data["count"].as_u64().unwrap() > 0);

    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    feed.until(Duration::from_secs(30), "lines after the gap", |e| {
        is_broadcast(e, GROUP_CHANNEL, answer.seq)
    })
    .await;
    companion.stop().await;
}

/// A page that keeps falling behind is told why and disconnected.
#[tokio::test]
async fn page_far_behind_is_disconnected() {
    let redis = RedisServer::start();
    let mut c = config(&redis.url(), vec![]);
    c.feed.buffered_batches = 2;
    c.feed.batch_lines = 8;
    c.feed.max_lags = 1;
    let companion = Companion::start(c).await;
    let mut feed = companion.live_feed("").await;

    let body = big_invocation(20_000);
    for _ in 0..1_500 {
        publish(&redis.url(), GROUP_CHANNEL, &body).await;
    }
    let error = feed
        .until(Duration::from_secs(30), "the disconnect notice", |e| {
            e.name == "error"
        })
        .await;
    assert!(error.data["message"]
        .as_str()
        .unwrap()
        .contains("fell behind"));
    loop {
        match feed.next(Duration::from_secs(30)).await {
            None => break,
            Some(e) => assert_eq!(e.name, "line", "only buffered lines may follow the notice"),
        }
    }
    companion.stop().await;
}

/// Two pages share one MONITOR connection, which closes after the last page leaves.
#[tokio::test]
async fn pages_share_one_monitor_connection() {
    let redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut first = companion.live_feed("").await;
    let mut second = companion.live_feed("").await;
    assert_eq!(monitors(&redis).await, 1);

    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    for feed in [&mut first, &mut second] {
        feed.until(WAIT, "the broadcast on each page", |e| {
            is_broadcast(e, GROUP_CHANNEL, answer.seq)
        })
        .await;
    }
    assert_eq!(monitors(&redis).await, 1);

    drop(first);
    drop(second);
    eventually(WAIT, "the MONITOR connection closes", || async {
        (monitors(&redis).await == 0).then_some(())
    })
    .await;
    companion.stop().await;
}

/// MONITOR refused by an ACL is an error event that says so, never silence.
#[tokio::test]
async fn monitor_refused_by_acl_is_an_error_event() {
    let redis = RedisServer::start_with(&[
        "--user", "default", "on", "nopass", "~*", "&*", "+@all", "-monitor",
    ]);
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = SseReader::open(&companion.url("/api/feed")).await;
    let error = feed
        .until(WAIT, "an error event", |e| e.name == "error")
        .await;
    let message = error.data["message"].as_str().unwrap();
    assert!(
        message.contains("refused MONITOR") && message.contains("permission"),
        "{message}"
    );
    companion.stop().await;
}

/// A line over 16 KiB is cut with a marker, and the event stays bounded.
#[tokio::test]
async fn long_lines_are_truncated() {
    let redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = companion.live_feed("").await;

    publish(&redis.url(), GROUP_CHANNEL, &big_invocation(100_000)).await;
    let line = feed
        .until(WAIT, "the long line", |e| {
            e.name == "line" && e.data["command"] == "PUBLISH"
        })
        .await;
    assert_eq!(line.data["truncated"], true);
    let raw = line.data["raw"].as_str().unwrap();
    assert!(
        raw.len() < 17 * 1024 && raw.contains("[truncated: "),
        "{}",
        &raw[raw.len() - 60..]
    );
    assert_eq!(
        line.data["summary"]["payload"]["target"],
        "NavigationStateUpdate"
    );
    assert!(line.data.to_string().len() < 20 * 1024);
    companion.stop().await;
}

/// A glob filter picks the group channel and leaves the all channel out.
#[tokio::test]
async fn glob_filter_selects_lines() {
    let redis = RedisServer::start();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = companion.live_feed("?filter=*:group:navigation-*").await;

    let all = Channels::conduit().all();
    publish(&redis.url(), &all, &big_invocation(10)).await;
    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    let first_line = feed.until(WAIT, "a line", |e| e.name == "line").await;
    assert!(
        is_broadcast(&first_line, GROUP_CHANNEL, answer.seq),
        "{:?}",
        first_line.data
    );
    companion.stop().await;
}

/// A URL with an ACL user and password drives both the trigger and the feed.
#[tokio::test]
async fn acl_user_and_password_url_works() {
    let redis = RedisServer::start_with(&[
        "--user",
        "app",
        "on",
        ">app-pw-77",
        "~*",
        "&*",
        "+@all",
        "--user",
        "default",
        "off",
    ]);
    let url = format!("redis://app:app-pw-77@127.0.0.1:{}", redis.port);
    let companion = Companion::start(config(&url, vec![])).await;
    let mut feed = companion.live_feed("").await;
    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    feed.until(WAIT, "the broadcast", |e| {
        is_broadcast(e, GROUP_CHANNEL, answer.seq)
    })
    .await;
    companion.stop().await;
}

/// A Redis that is down from the start is reported, and the feed comes up when it does.
#[tokio::test]
async fn redis_down_at_start_is_reported() {
    let mut redis = RedisServer::start();
    redis.kill();
    let companion = Companion::start(config(&redis.url(), vec![])).await;
    let mut feed = SseReader::open(&companion.url("/api/feed")).await;
    feed.until(WAIT, "redis-down", |e| e.name == "redis-down")
        .await;
    redis.restart();
    feed.until(Duration::from_secs(20), "redis-up", |e| {
        e.name == "redis-up"
    })
    .await;
    companion.stop().await;
}
