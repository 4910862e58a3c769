//! Several hubs behind one prefix: the page's config lists them (keys only
//! when the operator opts in), test broadcasts go to any hub and audience
//! with any method and arguments, the status counts every hub, and bad hub
//! settings stop `serve` with an error naming the setting.

mod companion_support;
mod support;

use std::process::Command;

use companion_support::{config, trigger, Companion, WAIT};
use protocol::api::{Audience, DashboardConfig, HubKey, Status, TriggerResponse};
use serde_json::json;
use signalscope::companion::CompanionConfig;
use signalscope::deployment::HubKeys;
use support::RedisServer;

/// The task hub's channels behind Conduit's prefix.
const TASKS: &str = "conduit_signalr:ConduitLLM.Http.Hubs.TaskHub";

/// A companion config serving the navigation and task hubs.
fn two_hubs(redis: &RedisServer) -> CompanionConfig {
    let mut c = config(&redis.url(), vec![]);
    c.hubs.push(protocol::hubs::conduit("tasks").unwrap());
    c
}

/// Keys as `--hub-key tasks=…` gives them.
fn tasks_key(key: &str) -> HubKeys {
    HubKeys::from(vec![HubKey {
        instance: None,
        hub: "tasks".into(),
        key: key.into(),
    }])
}

/// `/api/config` lists every hub in order, with its path, type and key need.
#[tokio::test]
async fn config_lists_every_hub() {
    let redis = RedisServer::start();
    let companion = Companion::start(two_hubs(&redis)).await;
    let c: DashboardConfig = companion.get_json("/api/config").await;
    let hubs: Vec<_> = c
        .hubs
        .iter()
        .map(|h| (h.name.as_str(), h.path.as_str(), h.key_required))
        .collect();
    assert_eq!(
        hubs,
        [
            ("navigation", "/hubs/navigation-state", false),
            ("tasks", "/hubs/tasks", true)
        ]
    );
    assert_eq!(c.hub_path, "/hubs/navigation-state");
    companion.stop().await;
}

/// Configured keys stay out of `/api/config` unless the operator exposes them behind a token.
#[tokio::test]
async fn keys_reach_the_page_only_when_exposed_behind_a_token() {
    const KEY: &str = "condt_secret_31f";
    let redis = RedisServer::start();
    let mut hidden = two_hubs(&redis);
    hidden.hub_keys = tasks_key(KEY);
    hidden.expose_hub_keys = true; // but no token: still hidden
    let companion = Companion::start(hidden).await;
    let text = reqwest::get(companion.url("/api/config"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(KEY), "{text}");
    companion.stop().await;

    let mut exposed = two_hubs(&redis);
    exposed.hub_keys = tasks_key(KEY);
    exposed.expose_hub_keys = true;
    exposed.token = Some("t".into());
    let companion = Companion::start(exposed).await;
    let c: DashboardConfig = companion.get_json("/api/config?token=t").await;
    assert_eq!(c.hub_keys.len(), 1);
    assert_eq!(
        (c.hub_keys[0].hub.as_str(), c.hub_keys[0].key.as_str()),
        ("tasks", KEY)
    );
    companion.stop().await;
}

/// Each audience kind publishes the chosen method and arguments on its own channel of the chosen hub.
#[tokio::test]
async fn every_audience_kind_publishes_on_its_channel() {
    let redis = RedisServer::start();
    let companion = Companion::start(two_hubs(&redis)).await;
    let mut feed = companion.live_feed("").await;
    for (audience, suffix) in [
        (Audience::All, ":all".to_owned()),
        (Audience::Group("task-7".into()), ":group:task-7".into()),
        (Audience::User("vkey-3".into()), ":user:vkey-3".into()),
        (Audience::Connection("c1".into()), ":connection:c1".into()),
    ] {
        let answer = trigger(
            &companion,
            json!({
                "hub": "tasks",
                "audience": audience,
                "target": "TaskProgress",
                "arguments": ["task-7", 40, {"note": audience.kind()}],
            }),
        )
        .await;
        assert_eq!(answer.status(), 200);
        let answer: TriggerResponse = answer.json().await.unwrap();
        let channel = format!("{TASKS}{suffix}");
        assert_eq!(
            (answer.channel.as_str(), answer.hub.as_deref()),
            (channel.as_str(), Some("tasks"))
        );
        let line = feed
            .until(WAIT, &format!("the PUBLISH on {channel}"), |e| {
                e.name == "line" && e.data["command"] == "PUBLISH" && e.data["channel"] == channel
            })
            .await;
        let payload = &line.data["summary"]["payload"];
        assert_eq!(line.data["summary"]["hub"], "ConduitLLM.Http.Hubs.TaskHub");
        assert_eq!(payload["target"], "TaskProgress");
        assert_eq!(
            payload["arguments"],
            json!(["task-7", 40, {"note": audience.kind()}])
        );
    }
    companion.stop().await;
}

/// A broadcast asked for json and messagepack is serialized for both, as the feed decodes it.
#[tokio::test]
async fn both_protocols_on_request() {
    let redis = RedisServer::start();
    let companion = Companion::start(two_hubs(&redis)).await;
    let mut feed = companion.live_feed("").await;
    let body = json!({"hub": "tasks", "protocols": ["json", "messagepack"]});
    let answer: TriggerResponse = trigger(&companion, body).await.json().await.unwrap();
    let line = feed
        .until(WAIT, "the two-protocol PUBLISH", |e| {
            e.name == "line"
                && e.data["command"] == "PUBLISH"
                && e.data["channel"] == answer.channel
        })
        .await;
    assert_eq!(
        line.data["summary"]["payload"]["protocols"],
        json!(["json", "messagepack"])
    );
    companion.stop().await;
}

/// Without a hub or audience the broadcast keeps today's default: NavigationStateUpdate to navigation-updates.
#[tokio::test]
async fn defaults_stay_the_navigation_group() {
    let redis = RedisServer::start();
    let companion = Companion::start(two_hubs(&redis)).await;
    let answer: TriggerResponse = trigger(&companion, json!({})).await.json().await.unwrap();
    assert_eq!(answer.channel, companion_support::GROUP_CHANNEL);
    assert_eq!(answer.target, "NavigationStateUpdate");
    assert_eq!(answer.hub.as_deref(), Some("navigation"));
    companion.stop().await;
}

/// A trigger naming an unknown hub, a nameless group or an unknown protocol is refused, saying which.
#[tokio::test]
async fn bad_trigger_requests_say_what_is_wrong() {
    let redis = RedisServer::start();
    let companion = Companion::start(two_hubs(&redis)).await;
    for (body, expected) in [
        (
            json!({"hub": "chat"}),
            "no hub named 'chat' (hubs: navigation, tasks)",
        ),
        (
            json!({"audience": {"kind": "group", "name": ""}}),
            "a group audience needs its name",
        ),
        (json!({"protocols": ["xml"]}), "unknown hub protocol 'xml'"),
        (json!({"payload": 1, "arguments": [1]}), "not both"),
    ] {
        let answer = trigger(&companion, body).await;
        assert_eq!(answer.status(), 400);
        let text = answer.text().await.unwrap();
        assert!(text.contains(expected), "{text}");
    }
    companion.stop().await;
}

/// The status counts live servers, groups, users and connections per hub, configured or not.
#[tokio::test]
async fn status_counts_every_hub() {
    let redis = RedisServer::start();
    let companion = Companion::start(two_hubs(&redis)).await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut subscriber = client.get_async_pubsub().await.unwrap();
    for channel in [
        format!("{TASKS}:internal:ack:api-1"),
        format!("{TASKS}:group:task-7"),
        format!("{TASKS}:user:vkey-3"),
        format!("{TASKS}:connection:c1"),
        "conduit_signalr:Other.Hub:connection:c2".to_owned(),
    ] {
        subscriber.subscribe(channel).await.unwrap();
    }
    let status = support::eventually(WAIT, "the task hub's channels in the status", || async {
        let s: Status = companion.get_json("/api/status").await;
        let tasks = s
            .redis
            .hubs
            .iter()
            .find(|h| h.name.as_deref() == Some("tasks"))?;
        (tasks.connections == 1).then_some(s)
    })
    .await;
    let hubs = &status.redis.hubs;
    assert_eq!(hubs.len(), 3);
    assert_eq!(hubs[0].name.as_deref(), Some("navigation"));
    assert_eq!(hubs[0].connections, 0);
    assert_eq!(hubs[1].live_servers, ["api-1"]);
    assert_eq!(hubs[1].groups, ["task-7"]);
    assert_eq!(hubs[1].users, ["vkey-3"]);
    assert_eq!(
        (hubs[2].hub_type.as_str(), hubs[2].connections),
        ("Other.Hub", 1)
    );
    companion.stop().await;
}

/// `serve` with bad hub settings (flags or TOML) exits with an error naming the setting, and never echoes a key.
#[test]
fn bad_hub_settings_stop_serve_naming_the_setting() {
    let dir = std::env::temp_dir().join(format!("signalscope-hubs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hubs.toml");
    std::fs::write(&file, "hubs = [\"navigation\", \"chat\"]\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--config", file.to_str().unwrap()], "--hub 'chat'"),
        (
            &["--hub-auth", "navigation=cookie"],
            "--hub-auth 'navigation=cookie'",
        ),
        (
            &["--hub", "tasks", "--hub-key", "chat=s3cret"],
            "--hub-key: no hub named 'chat'",
        ),
        (
            &[
                "--hub",
                "tasks",
                "--hub-key",
                "tasks=s3cret",
                "--expose-hub-keys",
            ],
            "--expose-hub-keys",
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_signalscope"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("s3cret"),
            "{args:?} echoed the key: {stderr}"
        );
    }
}
