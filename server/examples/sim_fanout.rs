//! Run with `cargo run --release -p signalscope --example sim_fanout -- [clients] [rounds]`
//! (defaults: 1000 clients, 5 rounds; needs `redis-server` on PATH).
//!
//! Measures one sim on loopback: how many connections it holds, its
//! memory per connection (VmRSS from the sim process's own
//! /proc/self/status), and the time to fan one broadcast out to every
//! client (trigger POST → the last client has the record), through a real
//! Redis as in production. The sim runs in a child process (this example
//! re-run with `--serve`) so the clients' memory is not counted.
//! Everything stops after 60 s at most.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use signalscope::children::{free_port, Supervised};
use signalscope::redis_target::RedisTarget;
use signalscope::sim::{Sim, SimConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The whole run's limit.
const BUDGET: Duration = Duration::from_secs(60);
/// Connections opened at once while filling up.
const CONNECT_BATCH: usize = 100;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return serve(args.get(1).ok_or("--serve needs a Redis URL")?).await;
    }
    let clients = args.first().map_or(Ok(1000), |a| a.parse())?;
    let rounds = args.get(1).map_or(Ok(5), |a| a.parse())?;
    tokio::time::timeout(BUDGET, measure(clients, rounds))
        .await
        .map_err(|_| "benchmark exceeded its 60 s budget")?
}

/// Child mode: a sim on a free loopback port that answers `rss` on stdin.
async fn serve(redis: &str) -> Result<(), Error> {
    let sim = Sim::start(SimConfig::new("bench", Some(RedisTarget::parse(redis)?))).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line == "rss" {
                println!("rss {}", vm_rss_kib().unwrap_or(0));
            }
        }
        let _ = eof_tx.send(());
    });
    sim.serve(listener, async {
        let _ = eof_rx.await;
    })
    .await?;
    Ok(())
}

/// VmRSS of this process in KiB.
fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The sim child process and its pipes.
struct Child {
    /// Killed on drop.
    _process: tokio::process::Child,
    /// Where `rss` requests go.
    stdin: ChildStdin,
    /// Its printed lines.
    lines: Lines<BufReader<ChildStdout>>,
}

impl Child {
    async fn rss_kib(&mut self) -> Result<u64, Error> {
        self.stdin.write_all(b"rss\n").await?;
        let line = self.lines.next_line().await?.ok_or("sim exited")?;
        Ok(line
            .strip_prefix("rss ")
            .ok_or("unexpected line")?
            .parse()?)
    }
}

async fn measure(clients: usize, rounds: usize) -> Result<(), Error> {
    let redis_port = free_port()?;
    // Dropping it (on any return) kills the server.
    let mut redis = Supervised::redis_server(redis_port);
    redis.start().await?;
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let mut process = Command::new(std::env::current_exe()?)
        .args(["--serve", &redis_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdin = process.stdin.take().ok_or("no stdin")?;
    let mut lines = BufReader::new(process.stdout.take().ok_or("no stdout")?).lines();
    let first = lines.next_line().await?.ok_or("sim exited")?;
    let base = first
        .strip_prefix("listening on ")
        .ok_or("unexpected first line")?
        .to_owned();
    let mut sim = Child {
        _process: process,
        stdin,
        lines,
    };

    let idle_rss = sim.rss_kib().await?;
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel::<Instant>();
    let fill_started = Instant::now();
    let mut held = 0;
    while held < clients {
        let batch = CONNECT_BATCH.min(clients - held);
        let opened =
            futures_util::future::join_all((0..batch).map(|_| connect(&base, arrived_tx.clone())))
                .await;
        for o in opened {
            o?;
        }
        held += batch;
    }
    let fill = fill_started.elapsed();
    let loaded_rss = sim.rss_kib().await?;
    println!("connections held: {held} (opened in {fill:.2?})");
    println!(
        "sim VmRSS: {idle_rss} KiB idle, {loaded_rss} KiB with {held} connections: {:.1} KiB per connection",
        (loaded_rss.saturating_sub(idle_rss)) as f64 / held as f64
    );

    let http = reqwest::Client::new();
    let trigger = format!("{base}/api/test/trigger-navigation-update");
    let mut times = Vec::new();
    for round in 1..=rounds {
        let sent = Instant::now();
        let response = http.post(&trigger).send().await?.error_for_status()?;
        let body: serde_json::Value = response.json().await?;
        let mut last = sent;
        for _ in 0..held {
            last = last.max(arrived.recv().await.ok_or("clients gone")?);
        }
        let took = last - sent;
        println!(
            "round {round}: broadcast seq {} reached all {held} clients in {took:.2?}",
            body["seq"]
        );
        times.push(took);
    }
    times.sort();
    if let (Some(best), Some(worst)) = (times.first(), times.last()) {
        println!(
            "fan-out to {held} clients: median {:.2?}, best {best:.2?}, worst {worst:.2?}",
            times[times.len() / 2]
        );
    }
    Ok(())
}

/// Opens one client (negotiate, WebSocket, handshake) and leaves a task
/// that reports the arrival time of every NavigationStateUpdate.
async fn connect(base: &str, arrived: mpsc::UnboundedSender<Instant>) -> Result<(), Error> {
    let negotiate: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{base}/hubs/navigation-state/negotiate?negotiateVersion=1"
        ))
        .send()
        .await?
        .json()
        .await?;
    let token = negotiate["connectionToken"].as_str().ok_or("no token")?;
    let url = format!(
        "{}/hubs/navigation-state?id={token}",
        base.replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    ws.send(Message::text("{\"protocol\":\"json\",\"version\":1}\x1e"))
        .await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str() == "{}\x1e" => {}
        other => return Err(format!("handshake failed: {other:?}").into()),
    }
    tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Text(t) = message {
                if t.as_str().contains("\"NavigationStateUpdate\"") {
                    let _ = arrived.send(Instant::now());
                }
            }
        }
    });
    Ok(())
}
