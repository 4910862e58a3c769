//! The official `@microsoft/signalr` client (npm, run under node) against
//! three sims on one real redis-server: the interop reference.

mod sim_support;
mod support;

use serde_json::Value;
use sim_support::{post_json, Node, TestSim, NODE_LIMIT as LIMIT};
use support::{eventually, RedisServer};
use tokio::process::Command;

/// Three sims, the official client on each: RequestCurrentState answers,
/// a broadcast triggered on sim 1 reaches all three, and a client whose sim
/// restarts (same port) reconnects by itself and receives broadcasts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_across_three_sims() {
    let redis = RedisServer::start();
    let mut sims = Vec::new();
    for i in 1..=3 {
        sims.push(TestSim::start(&format!("api-{i}"), Some(&redis.url())).await);
    }
    let urls: Vec<String> = sims.iter().map(TestSim::url).collect();
    let node = Node::start("server/tests/node/official-client.cjs", &urls);
    node.wait_for("ready", 1, |_| true).await;
    let invoked = node.named("invoked");
    assert_eq!(invoked.len(), 3);
    assert!(invoked.iter().all(|e| e["result"].is_null()));
    let states = node.wait_for("state", 3, |_| true).await;
    assert!(states.iter().all(|e| e["arg"]["timestamp"].is_string()));

    let trigger = format!("{}/api/test/trigger-navigation-update", urls[0]);
    let (status, sent) = post_json(&trigger, "").await;
    assert_eq!((status, sent["receivers"].as_i64()), (200, Some(3)));
    let same = |e: &Value| e["arg"]["data"]["id"] == sent["id"];
    let got = node.wait_for("broadcast", 3, same).await;
    assert!(got
        .iter()
        .all(|e| e["arg"]["type"] == "TestBroadcast" && e["arg"]["data"]["origin"] == "api-1"));

    // Restart sim 2 on the same port; its client must come back by itself.
    let port = sims[1].addr.port();
    let second = sims.remove(1);
    second.stop().await;
    node.wait_for("reconnecting", 1, |e| e["index"] == 1).await;
    sims.insert(
        1,
        TestSim::start_on("api-2", Some(&redis.url()), port).await,
    );
    node.wait_for("reconnected", 1, |e| e["index"] == 1).await;
    node.wait_for("state", 4, |_| true).await;

    let (_, again) = post_json(&trigger, "").await;
    let same = |e: &Value| e["arg"]["data"]["id"] == again["id"];
    let got = node.wait_for("broadcast", 3, same).await;
    assert!(
        got.iter().any(|e| e["index"] == 1),
        "the reconnected client got it"
    );
    assert_eq!(again["seq"], 2);
    // Three, not four: the stopped sim let go of its subscriptions.
    assert_eq!(again["receivers"], 3);
    node.stop().await;
}

/// Runs `script` under node (from the repository root, so `require` finds
/// node_modules) with `url` as its argument and returns its last stdout
/// line, within [`LIMIT`].
async fn node_script(script: &str, url: &str) -> String {
    node_lines(script, url).await.pop().unwrap_or_default()
}

/// Like [`node_script`], every stdout line.
async fn node_lines(script: &str, url: &str) -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = Command::new("node")
        .args(["-e", script, url])
        .current_dir(root)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(LIMIT, run)
        .await
        .expect("node finished in time")
        .expect("node on PATH");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.lines().map(str::to_owned).collect()
}

/// The official client, after the stand-in closed its connection for a
/// message over 32 KiB, reconnects by itself: the Close carries
/// `allowReconnect: true`, as ASP.NET's does for an error
/// (HubConnectionHandler.HubOnDisconnectedAsync; HubConnection.ts reconnects
/// only when the Close allows it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_reconnects_after_an_oversized_message() {
    let sim = TestSim::start("api-1", None).await;
    let script = r#"
        const signalR = require("@microsoft/signalr");
        const c = new signalR.HubConnectionBuilder()
            .withUrl(process.argv[1] + "/hubs/navigation-state")
            .withAutomaticReconnect()
            .configureLogging(signalR.LogLevel.None)
            .build();
        const done = (what) => { console.log(what); process.exit(0); };
        c.onreconnected(() => done("reconnected"));
        c.onclose((e) => done("closed: " + e));
        c.start().then(() => c.send("RequestCurrentState", "x".repeat(40 * 1024)));
        setTimeout(() => done("timeout"), 20000);
    "#;
    assert_eq!(node_script(script, &sim.url()).await, "reconnected");
}

/// With Redis down, the official client's start succeeds and the
/// connection then drops (so it reconnects), as against ASP.NET: the
/// handshake answer is written before RedisHubLifetimeManager.OnConnectedAsync
/// fails (HubConnectionHandler.OnConnectedAsync).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_starts_then_drops_while_redis_is_down() {
    let mut redis = RedisServer::start();
    let sim = TestSim::start("api-1", Some(&redis.url())).await;
    redis.kill();
    let health = format!("{}/health", sim.url());
    eventually(LIMIT, "health to report Redis down", || async {
        (sim_support::get_json(&health).await.0 == 503).then_some(())
    })
    .await;
    let script = r#"
        const signalR = require("@microsoft/signalr");
        const c = new signalR.HubConnectionBuilder()
            .withUrl(process.argv[1] + "/hubs/navigation-state")
            .withAutomaticReconnect([60000])
            .configureLogging(signalR.LogLevel.None)
            .build();
        const done = (what) => { console.log(what); process.exit(0); };
        c.onreconnecting(() => done("reconnecting"));
        c.onclose((e) => done("closed: " + e));
        c.start().then(() => console.log("started"), (e) => done("start failed: " + e));
        setTimeout(() => done("timeout"), 20000);
    "#;
    assert_eq!(
        node_lines(script, &sim.url()).await,
        ["started", "reconnecting"]
    );
}
