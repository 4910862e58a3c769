//! `signalscope load` against real parts: a real redis-server, real
//! stand-ins, the real binary, real sockets. Small runs of the same code
//! paths the 10,000-connection benchmarks use.

mod load_support;
mod sim_support;
mod support;

use std::time::Duration;

use load_support::{channels, cli, load, DemoStack, SERIAL};
use sim_support::TestSim;
use support::{eventually, RedisServer};

/// A throwaway Redis, two stand-ins on it, and the flags that point
/// `load` at them.
struct TwoSims {
    /// The backplane.
    redis: RedisServer,
    /// api-1; kept so it serves until the test ends.
    _a: TestSim,
    /// api-2; likewise.
    _b: TestSim,
    /// `--redis … --instance api-1=… --instance api-2=…`.
    flags: Vec<String>,
}

impl TwoSims {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let url = redis.url();
        let a = TestSim::start("api-1", Some(&url)).await;
        let b = TestSim::start("api-2", Some(&url)).await;
        let flags = vec![
            "--redis".into(),
            url,
            "--instance".into(),
            format!("api-1={}", a.url()),
            "--instance".into(),
            format!("api-2={}", b.url()),
        ];
        Self {
            redis,
            _a: a,
            _b: b,
            flags,
        }
    }
}

fn args<'a>(fixed: &'a [String], more: &[&'a str]) -> Vec<&'a str> {
    fixed
        .iter()
        .map(String::as_str)
        .chain(more.iter().copied())
        .collect()
}

/// A small run opens exactly the connections asked for (Redis, not load,
/// says so while they are held) and every one receives every broadcast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_run_is_counted_independently() {
    let _serial = SERIAL.lock().await;
    let stack = TwoSims::start().await;
    let (redis, flags) = (&stack.redis, &stack.flags);
    let url = redis.url();
    // Each SignalR connection has its own :connection: channel on Redis.
    let watcher = tokio::spawn(async move {
        eventually(
            Duration::from_secs(30),
            "40 connection channels on Redis",
            || async { (channels(&url, "*:connection:*").await == 40).then_some(()) },
        )
        .await
    });
    let (_, s) = load(&args(
        flags,
        &["--connections", "40", "--duration", "3s", "--rate", "10"],
    ))
    .await;
    watcher
        .await
        .expect("Redis saw all 40 connections while they were held");
    assert_eq!((s.connections.opened, s.connections.failed), (40, 0));
    assert_eq!(s.connections.held_at_end, 40);
    assert!(s.broadcasts.sent >= 25, "sent {}", s.broadcasts.sent);
    assert_eq!(s.delivery.received, 40 * s.broadcasts.sent);
    assert_eq!(s.delivery.lost_while_connected, 0);
    assert_eq!(s.latency.corrected.count, s.delivery.received);
    assert_eq!(
        s.instances
            .iter()
            .map(|i| i.connections)
            .collect::<Vec<_>>(),
        [20, 20]
    );
    assert!(s.redis.samples.iter().filter(|x| x.up).count() >= 3);
    assert_eq!(
        s.redis.samples.last().map(|x| x.all_channel_subscribers),
        Some(2)
    );
}

/// Broadcasts sent through an instance's trigger reach both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_through_an_instance_reach_all() {
    let _serial = SERIAL.lock().await;
    let stack = TwoSims::start().await;
    let flags = &stack.flags;
    let (_, s) = load(&args(
        flags,
        &[
            "--connections",
            "10",
            "--duration",
            "2s",
            "--send-via",
            "instance",
            "--skip-negotiation",
        ],
    ))
    .await;
    assert!(s.broadcasts.sent >= 15);
    assert_eq!(s.delivery.received, 10 * s.broadcasts.sent);
    assert_eq!(s.plan.send_via, "instance");
}

/// Clients of a killed instance miss what was sent while they were down —
/// shown apart — and nothing counts as lost; they all reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_is_missed_not_lost() {
    let _serial = SERIAL.lock().await;
    let demo = DemoStack::start().await;
    let flags = demo.flags();
    let (_, s) = load(&args(
        &flags,
        &[
            "--connections",
            "60",
            "--duration",
            "6s",
            "--rate",
            "10",
            "--kill-instance",
            "api-2@1s",
            "--restart-after",
            "1s",
        ],
    ))
    .await;
    let by_name = |n: &str| s.instances.iter().find(|i| i.name == n).unwrap().clone();
    assert_eq!(s.delivery.lost_while_connected, 0);
    assert!(by_name("api-2").delivery.missed_while_disconnected > 0);
    assert_eq!(by_name("api-1").delivery.missed_while_disconnected, 0);
    assert_eq!(by_name("api-3").delivery.missed_while_disconnected, 0);
    assert_eq!(s.connections.reconnects, 20, "every api-2 client came back");
    assert!(s.connections.reconnect_ms.p50 > 0.0);
    let kinds: Vec<&str> = s.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"kill") && kinds.contains(&"restart"),
        "{kinds:?}"
    );
}

/// A connection that stays up while its instance's backplane subscription
/// is cut (as when Redis drops a subscriber that fell behind) counts real
/// loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_on_a_live_connection_is_counted() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let port = support::free_port();
    let mut sim = tokio::process::Command::new(load_support::exe())
        .args([
            "sim",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--redis",
            &redis.url(),
            "--name",
            "api-1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = redis.url();
    eventually(
        Duration::from_secs(20),
        "the sim on the backplane",
        || async { (channels(&url, "*:internal:ack:*").await == 1).then_some(()) },
    )
    .await;
    let pid = nix::unistd::Pid::from_raw(sim.id().unwrap() as i32);
    let pause = tokio::spawn(async move {
        // Freeze the instance mid-hold and cut its subscription: its
        // clients stay connected, and what is published meanwhile reaches
        // no instance at all.
        tokio::time::sleep(Duration::from_secs(3)).await;
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
        let client = redis::Client::open(url).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(killed, 1, "the instance's subscriber");
        tokio::time::sleep(Duration::from_secs(2)).await;
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    });
    let instance = format!("api-1=http://127.0.0.1:{port}");
    let (_, s) = load(&[
        "--redis",
        &redis.url(),
        "--instance",
        &instance,
        "--connections",
        "5",
        "--duration",
        "8s",
        "--rate",
        "20",
    ])
    .await;
    pause.await.unwrap();
    let _ = sim.kill().await;
    assert!(s.delivery.lost_while_connected > 0, "{:?}", s.delivery);
    assert_eq!(s.delivery.missed_while_disconnected, 0);
    assert_eq!(s.connections.reconnects, 0, "the clients never dropped");
}

/// Two local agent processes hold half the connections each, and the
/// coordinator's totals are exactly the sum of their parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_merge_to_the_sum() {
    let _serial = SERIAL.lock().await;
    let stack = TwoSims::start().await;
    let (redis, flags) = (&stack.redis, &stack.flags);
    let (_, s) = load(&args(
        flags,
        &["--connections", "40", "--duration", "3s", "--agents", "2"],
    ))
    .await;
    assert_eq!(s.agents.len(), 2);
    assert!(s
        .agents
        .iter()
        .all(|x| x.state == "finished" && x.connections == 20));
    let parts: u64 = s.agents.iter().map(|x| x.received).sum();
    assert_eq!(parts, s.delivery.received);
    assert_eq!(s.delivery.received, 40 * s.broadcasts.sent);
    assert_eq!(s.latency.corrected.count, s.delivery.received);
    assert_eq!(s.connections.opened, 40);
    // The control streams are gone after the run.
    assert_eq!(channels(&redis.url(), "signalscope:load:*").await, 0);
}

/// An agent that dies mid-run is shown as stopped, marks the run invalid,
/// and does not hang it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_agent_is_reported() {
    let _serial = SERIAL.lock().await;
    let stack = TwoSims::start().await;
    let (redis, mut flags) = (&stack.redis, stack.flags.clone());
    flags.extend(["--remote-agents", "2", "--control-redis", &redis.url()].map(String::from));
    let coordinator = tokio::spawn({
        let flags = flags.clone();
        async move { load(&args(&flags, &["--connections", "20", "--duration", "8s"])).await }
    });
    let agent = |index: &str| {
        tokio::process::Command::new(load_support::exe())
            .args(["agent", "--control", &redis.url(), "--index", index])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    // The agents find the newest run on the control Redis by themselves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut first = agent("0");
    let mut second = agent("1");
    let url = redis.url();
    eventually(Duration::from_secs(30), "20 connections held", || async {
        (channels(&url, "*:connection:*").await == 20).then_some(())
    })
    .await;
    second.kill().await.unwrap();
    let (_, s) = coordinator.await.unwrap();
    let _ = first.wait().await;
    assert_eq!(s.agents[0].state, "finished");
    assert_eq!(s.agents[1].state, "stopped");
    assert!(!s.validity.valid);
    assert!(
        s.validity.reasons.iter().any(|r| r.contains("agent 1")),
        "{:?}",
        s.validity.reasons
    );
    assert!(s.events.iter().any(|e| e.kind == "agent-stopped"));
}

/// An unreachable control Redis is a clear error, not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_control_redis_is_a_clear_error() {
    let _serial = SERIAL.lock().await;
    let stack = TwoSims::start().await;
    let flags = &stack.flags;
    let closed = format!("redis://127.0.0.1:{}", support::free_port());
    let mut all = vec!["load"];
    all.extend(args(
        flags,
        &[
            "--agents",
            "1",
            "--control-redis",
            &closed,
            "--duration",
            "1s",
        ],
    ));
    let out = cli(&all, Duration::from_secs(30)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("control Redis") && err.contains("unreachable"),
        "{err}"
    );
}

/// Bad flags are refused with a clear word before anything starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_are_refused_before_anything_starts() {
    let closed = format!("http://127.0.0.1:{}", support::free_port());
    let instance = format!("api-1={closed}");
    let cases: [(&[&str], &str); 6] = [
        (&["--duration", "10parsecs"], "unknown unit"),
        (
            &["--kill-instance", "api-9@1s"],
            "no instance named 'api-9'",
        ),
        (&["--connections", "0"], "at least 1"),
        (&["--rate=-1"], "--rate must be a number"),
        (&["--connections", "500000"], "open files"),
        (
            &["--kill-instance", "api-1@1s"],
            "need a `signalscope demo`",
        ),
    ];
    for (bad, expected) in cases {
        let mut all = vec![
            "load",
            "--redis",
            "redis://127.0.0.1:1",
            "--instance",
            &instance,
        ];
        all.extend_from_slice(bad);
        let out = cli(&all, Duration::from_secs(10)).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} was accepted");
        assert!(
            err.contains(expected),
            "{bad:?}: expected '{expected}' in: {err}"
        );
    }
}
