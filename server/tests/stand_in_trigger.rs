//! A deployment of two backplanes, as Conduit's is: a stand-in serving the
//! Core API's navigation hub (prefix `conduit_signalr:`) and the Admin API's
//! notification hub (prefix `conduit_admin_signalr:`), on a real Redis,
//! with the official client connected, behind a companion configured with
//! `--hub navigation --hub admin-notifications`. Broadcasts go through the
//! stand-in's own trigger (`instance` mode) or straight into Redis, to the
//! hub, audience, method and arguments asked for, each on its hub's prefix;
//! the feed and the status show both prefixes.

mod companion_support;
mod sim_support;
mod support;

use companion_support::{config, trigger, Companion, SseReader, WAIT};
use protocol::api::{Instance, Status, TriggerResponse};
use serde_json::{json, Value};
use signalscope::deployment::parse_hubs;
use signalscope::redis_target::RedisTarget;
use signalscope::sim::profiles::{ADMIN_NOTIFICATIONS, NAVIGATION};
use signalscope::sim::SimConfig;
use sim_support::{listen, post_json, Node, TestSim};
use support::RedisServer;

/// The master key the stand-in's Admin hub accepts.
const KEY: &str = "master-1";

/// The navigation hub's channels, behind the Core API's prefix.
const NAVIGATION_CHANNELS: &str = "conduit_signalr:ConduitLLM.Http.Hubs.NavigationStateHub";

/// The Admin hub's channels, behind the Admin API's prefix.
const ADMIN_CHANNELS: &str = "conduit_admin_signalr:ConduitLLM.Admin.Hubs.AdminNotificationHub";

/// Redis, the two-hub stand-in `api-1` and the companion in front of it.
struct TwoBackplanes {
    /// The backplane; stopped on drop.
    redis: RedisServer,
    /// The stand-in.
    sim: TestSim,
    /// The companion, with both hubs.
    companion: Companion,
}

impl TwoBackplanes {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let mut sim = SimConfig::new("api-1", Some(RedisTarget::parse(&redis.url()).unwrap()));
        sim.hubs = vec![&NAVIGATION, &ADMIN_NOTIFICATIONS];
        sim.keys = vec![KEY.into()];
        let sim = TestSim::start_with(sim, 0).await;
        let mut companion = config(&redis.url(), vec![Instance::new("api-1", sim.url())]);
        let hubs = ["navigation".to_owned(), "admin-notifications".to_owned()];
        companion.hubs = parse_hubs(&hubs, None).unwrap();
        let companion = Companion::start(companion).await;
        Self {
            redis,
            sim,
            companion,
        }
    }

    /// An official client on the navigation hub.
    async fn navigation_client(&self) -> (Node, String) {
        listen(&self.sim, &NAVIGATION, "json", None).await
    }

    /// An official client on the Admin hub, with the master key.
    async fn admin_client(&self) -> (Node, String) {
        listen(&self.sim, &ADMIN_NOTIFICATIONS, "json", Some(KEY)).await
    }

    /// A trigger through the companion that must succeed.
    async fn send(&self, body: Value) -> TriggerResponse {
        let answer = trigger(&self.companion, body.clone()).await;
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert_eq!(status, 200, "{body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn stop(self) {
        self.companion.stop().await;
        self.sim.stop().await;
        drop(self.redis);
    }
}

/// The test broadcast's sequence number in a client's `received` event.
fn seq_of(received: &Value) -> &Value {
    &received["arg"]["data"]["seq"]
}

/// Waits for the feed line of the PUBLISH (MONITOR) or message (pub/sub)
/// on `channel`.
async fn line_on(feed: &mut SseReader, channel: &str) -> Value {
    let what = format!("a line on {channel}");
    feed.until(WAIT, &what, |e| {
        e.name == "line"
            && e.data["channel"] == channel
            && matches!(e.data["command"].as_str(), Some("PUBLISH" | "MESSAGE"))
    })
    .await
    .data
}

/// In instance mode each hub's broadcast goes out on its own hub's channel,
/// behind its own prefix, and reaches that hub's client only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hubs_broadcast_reaches_only_its_clients_on_its_prefix() {
    let d = TwoBackplanes::start().await;
    let (navigation, _) = d.navigation_client().await;
    let (admin, _) = d.admin_client().await;

    let to_navigation = d
        .send(json!({"mode": "instance", "hub": "navigation"}))
        .await;
    let to_admin = d
        .send(json!({"mode": "instance", "hub": "admin-notifications"}))
        .await;
    let navigation_group = format!("{NAVIGATION_CHANNELS}:group:navigation-updates");
    let admin_group = format!("{ADMIN_CHANNELS}:group:admin");
    for (answer, hub, channel) in [
        (&to_navigation, "navigation", &navigation_group),
        (&to_admin, "admin-notifications", &admin_group),
    ] {
        assert_eq!(
            (
                answer.hub.as_deref(),
                answer.channel.as_str(),
                answer.instance.as_deref(),
                answer.receivers,
            ),
            (Some(hub), channel.as_str(), Some("api-1"), Some(1))
        );
    }
    let got = navigation.wait_for("received", 1, |_| true).await;
    assert_eq!(
        (got[0]["name"].as_str(), seq_of(&got[0])),
        (Some("NavigationStateUpdate"), &json!(to_navigation.seq))
    );
    let got = admin.wait_for("received", 1, |_| true).await;
    assert_eq!(
        (got[0]["name"].as_str(), seq_of(&got[0])),
        (Some("SystemAnnouncement"), &json!(to_admin.seq))
    );
    // A second broadcast to the navigation hub, once arrived, shows the
    // Admin hub's broadcast (sent before it) never reached that client.
    let again = d
        .send(json!({"mode": "instance", "hub": "navigation"}))
        .await;
    let got = navigation.wait_for("received", 2, |_| true).await;
    assert_eq!(seq_of(&got[1]), &json!(again.seq));
    assert_eq!(admin.named("received").len(), 1);
    navigation.stop().await;
    admin.stop().await;
    d.stop().await;
}

/// In redis mode the companion publishes the Admin hub's broadcast on the
/// Admin API's prefix, and the Admin client gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_mode_reaches_the_admin_hub_on_its_prefix() {
    let d = TwoBackplanes::start().await;
    let (admin, _) = d.admin_client().await;
    let answer = d
        .send(json!({"mode": "redis", "hub": "admin-notifications"}))
        .await;
    assert_eq!(
        (answer.channel, answer.channel_subscribers),
        (format!("{ADMIN_CHANNELS}:group:admin"), Some(1))
    );
    let got = admin.wait_for("received", 1, |_| true).await;
    assert_eq!(
        (got[0]["name"].as_str(), seq_of(&got[0])),
        (Some("SystemAnnouncement"), &json!(answer.seq))
    );
    admin.stop().await;
    d.stop().await;
}

/// The stand-in's trigger sends the audience, method, arguments and
/// protocols the page asked for: one connection, a group, a user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_mode_honours_audience_target_and_arguments() {
    let d = TwoBackplanes::start().await;
    let (first, first_id) = d.admin_client().await;
    let (second, _) = d.admin_client().await;
    let mut feed = d.companion.live_feed("?source=pubsub").await;

    let to_first = d
        .send(json!({
            "mode": "instance",
            "hub": "admin-notifications",
            "audience": {"kind": "connection", "name": first_id},
            "target": "VirtualKeyUpdate",
            "arguments": [{"virtualKeyId": 7}, "updated"],
            "protocols": ["json", "messagepack"],
        }))
        .await;
    let connection = format!("{ADMIN_CHANNELS}:connection:{first_id}");
    assert_eq!(
        (to_first.channel.as_str(), to_first.target.as_str()),
        (connection.as_str(), "VirtualKeyUpdate")
    );
    let got = first.wait_for("received", 1, |_| true).await;
    assert_eq!(
        (got[0]["name"].as_str(), &got[0]["arg"]),
        (Some("VirtualKeyUpdate"), &json!({"virtualKeyId": 7}))
    );
    let line = line_on(&mut feed, &connection).await;
    let payload = &line["summary"]["payload"];
    assert_eq!(
        (&payload["arguments"], &payload["protocols"]),
        (
            &json!([{"virtualKeyId": 7}, "updated"]),
            &json!(["json", "messagepack"])
        )
    );

    let to_user = d
        .send(json!({
            "mode": "instance",
            "hub": "admin-notifications",
            "audience": {"kind": "user", "name": "admin-7"},
        }))
        .await;
    let user = format!("{ADMIN_CHANNELS}:user:admin-7");
    assert_eq!(to_user.channel, user);
    let line = line_on(&mut feed, &user).await;
    assert_eq!(
        line["summary"]["channel"],
        json!({"kind": "user", "name": "admin-7"})
    );

    let to_group = d
        .send(json!({
            "mode": "instance",
            "hub": "admin-notifications",
            "audience": {"kind": "group", "name": "admin"},
        }))
        .await;
    assert_eq!(to_group.channel, format!("{ADMIN_CHANNELS}:group:admin"));
    // The group broadcast reaches both, and being the last one sent, shows
    // the second client got neither the first's nor the user's.
    for client in [&first, &second] {
        let got = client
            .wait_for("received", 1, |e| seq_of(e) == &json!(to_group.seq))
            .await;
        assert_eq!(got[0]["name"], "SystemAnnouncement");
    }
    assert_eq!(first.named("received").len(), 2);
    assert_eq!(second.named("received").len(), 1);
    first.stop().await;
    second.stop().await;
    d.stop().await;
}

/// The feed, MONITOR and pub/sub alike, shows the traffic of both
/// prefixes, decoded under each hub's type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_shows_both_prefixes_decoded() {
    let d = TwoBackplanes::start().await;
    let mut monitor = d.companion.live_feed("").await;
    let mut pubsub = d.companion.live_feed("?source=pubsub").await;
    let to_navigation = d.send(json!({"hub": "navigation"})).await;
    let to_admin = d
        .send(json!({"mode": "instance", "hub": "admin-notifications"}))
        .await;
    for feed in [&mut monitor, &mut pubsub] {
        for (answer, hub_type, target) in [
            (
                &to_navigation,
                "ConduitLLM.Http.Hubs.NavigationStateHub",
                "NavigationStateUpdate",
            ),
            (
                &to_admin,
                "ConduitLLM.Admin.Hubs.AdminNotificationHub",
                "SystemAnnouncement",
            ),
        ] {
            let line = line_on(feed, &answer.channel).await;
            assert_eq!(
                (
                    &line["summary"]["hub"],
                    &line["summary"]["payload"]["target"],
                    &line["summary"]["payload"]["arguments"][0]["data"]["seq"],
                ),
                (&json!(hub_type), &json!(target), &json!(answer.seq))
            );
        }
    }
    d.stop().await;
}

/// The status lists both hubs, each behind its own prefix, with the
/// stand-in live on both and the Admin client in its group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_both_hubs_on_their_prefixes() {
    let d = TwoBackplanes::start().await;
    let (admin, _) = d.admin_client().await;
    let status: Status = d.companion.get_json("/api/status").await;
    // The stand-in's server name on each backplane is its own random one,
    // as ASP.NET's is: one live server each.
    let hubs: Vec<_> = status
        .redis
        .hubs
        .iter()
        .map(|h| {
            (
                h.name.as_deref(),
                h.prefix.as_str(),
                h.live_servers.len(),
                h.groups.clone(),
                h.connections,
            )
        })
        .collect();
    assert_eq!(
        hubs,
        [
            (Some("navigation"), "conduit_signalr:", 1, vec![], 0),
            (
                Some("admin-notifications"),
                "conduit_admin_signalr:",
                1,
                vec!["admin".to_owned()],
                1
            ),
        ]
    );
    admin.stop().await;
    d.stop().await;
}

/// A hub the stand-in does not serve is a 400 naming it and the hubs it
/// does serve; through the companion, that answer is quoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hub_is_refused_naming_the_known_ones() {
    let redis = RedisServer::start();
    let mut sim = SimConfig::new("api-1", Some(RedisTarget::parse(&redis.url()).unwrap()));
    sim.hubs = vec![&NAVIGATION, &ADMIN_NOTIFICATIONS];
    sim.keys = vec![KEY.into()];
    let sim = TestSim::start_with(sim, 0).await;
    let known = "(hubs: navigation, admin-notifications)";
    let url = format!("{}/api/test/trigger-navigation-update", sim.url());
    let (status, body) = post_json(&url, r#"{"hub":"tasks"}"#).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, format!("no hub named 'tasks' {known}").as_str())
    );

    // The companion knows `tasks`, so it asks the stand-in, which does not.
    let mut c = config(&redis.url(), vec![Instance::new("api-1", sim.url())]);
    let hubs = ["navigation".to_owned(), "tasks".to_owned()];
    c.hubs = parse_hubs(&hubs, None).unwrap();
    let companion = Companion::start(c).await;
    let answer = trigger(&companion, json!({"mode": "instance", "hub": "tasks"})).await;
    assert_eq!(answer.status(), 502);
    let text = answer.text().await.unwrap();
    assert!(
        text.contains("400 Bad Request") && text.contains("no hub named 'tasks'"),
        "{text}"
    );
    // And a hub neither knows is refused by the companion, naming its own.
    let answer = trigger(&companion, json!({"mode": "instance", "hub": "nope"})).await;
    assert_eq!(answer.status(), 400);
    let text = answer.text().await.unwrap();
    assert!(
        text.contains("no hub named 'nope' (hubs: navigation, tasks)"),
        "{text}"
    );
    companion.stop().await;
    sim.stop().await;
}

/// The stand-in refuses the bodies the companion refuses, with the same
/// words: a nameless audience, payload with arguments, an unknown protocol.
#[tokio::test]
async fn stand_in_refuses_what_the_companion_refuses() {
    let sim = TestSim::start("api-1", None).await;
    let url = format!("{}/api/test/trigger-navigation-update", sim.url());
    for (body, says) in [
        (
            r#"{"audience":{"kind":"group","name":""}}"#,
            "a group audience needs its name",
        ),
        (r#"{"payload":1,"arguments":[1]}"#, "not both"),
        (r#"{"protocols":["xml"]}"#, "unknown hub protocol 'xml'"),
    ] {
        let (status, answer) = post_json(&url, body).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{body}");
        assert!(error.contains(says), "{body}: {error}");
    }
    sim.stop().await;
}
