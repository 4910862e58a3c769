//! Run with
//! `cargo run --release -p signalscope --example relay_throughput -- [publishes]`.
//!
//! How fast the companion's filtered MONITOR relay is, against the shell's
//! `redis-cli MONITOR | grep conduit_signalr`, on the same Redis load.
//!
//! A throwaway `redis-server` (free loopback port) gets a fixed load from a
//! second process (`redis-cli --pipe`): PUBLISHes of a real backplane
//! invocation (a test broadcast) on Conduit's group channel, which match
//! the filter and are decoded, and as many SETs of unrelated keys, which
//! do not. Each consumer runs alone
//! against the same load and counts matching lines until none came for a
//! second; CPU is user+system time from /proc (the companion's includes
//! this process's SSE reader, the shell's both redis-cli and grep).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::backplane::{Channels, Invocation};
use protocol::broadcast::TestBroadcast;
use protocol::HubMessage;
use signalscope::children::{free_port, Supervised};
use signalscope::companion::{self, CompanionConfig};
use signalscope::redis_target::RedisTarget;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A consumer's result.
struct Run {
    /// Matching lines it delivered.
    lines: u64,
    /// Lines it reported as dropped (the companion only).
    dropped: u64,
    /// From the start of the load to the last line.
    wall: Duration,
    /// CPU seconds spent.
    cpu: f64,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let publishes: u64 = std::env::args().nth(1).map_or(Ok(200_000), |a| a.parse())?;
    let port = free_port()?;
    let mut redis = Supervised::redis_server(port);
    redis.start().await?;
    let result = bench(port, publishes).await;
    redis.stop().await;
    result
}

async fn bench(port: u16, publishes: u64) -> Result<(), BoxError> {
    let channel = Channels::conduit().group("navigation-updates");
    let argument = TestBroadcast::new(
        "0123456789abcdef0123456789abcdef",
        1,
        1_795_756_157_203,
        "bench",
    )
    .to_argument();
    let body = Invocation::json(
        &HubMessage::invocation("NavigationStateUpdate", vec![argument]),
        Vec::new(),
    )
    .encode();
    let resp = std::env::temp_dir().join(format!("signalscope-relay-load-{port}.resp"));
    std::fs::write(&resp, resp_load(publishes, &channel, &body))?;
    println!(
        "load: {publishes} x (PUBLISH on {channel}, {} bytes; SET of an unrelated key), one redis-cli --pipe",
        body.len()
    );

    let shell = shell_run(port, publishes, &resp).await?;
    report(
        "redis-cli MONITOR | grep conduit_signalr",
        &shell,
        publishes,
    );
    let ours = companion_run(port, publishes, &resp).await?;
    let _ = std::fs::remove_file(&resp);
    report(
        "signalscope companion /api/feed (MONITOR, filter conduit_signalr)",
        &ours,
        publishes,
    );
    println!(
        "ratio companion/shell: lines/s {:.2}, CPU per line {:.2}",
        rate(&ours) / rate(&shell),
        (ours.cpu / ours.lines.max(1) as f64) / (shell.cpu / shell.lines.max(1) as f64)
    );
    Ok(())
}

fn rate(r: &Run) -> f64 {
    r.lines as f64 / r.wall.as_secs_f64()
}

fn report(name: &str, r: &Run, expected: u64) {
    println!(
        "{name}: {} of {expected} lines ({} dropped) in {:.2} s = {:.0} lines/s; CPU {:.2} s ({:.1} µs/line)",
        r.lines,
        r.dropped,
        r.wall.as_secs_f64(),
        rate(r),
        r.cpu,
        r.cpu * 1e6 / r.lines.max(1) as f64
    );
}

/// The load as raw RESP: `publishes` times a PUBLISH of `body` on
/// `channel` (matches the filter) followed by a SET of an unrelated key
/// (does not).
fn resp_load(publishes: u64, channel: &str, body: &[u8]) -> Vec<u8> {
    fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    }
    let mut out = Vec::new();
    for i in 0..publishes {
        command(&mut out, &[b"PUBLISH", channel.as_bytes(), body]);
        command(
            &mut out,
            &[b"SET", format!("unrelated:key:{i}").as_bytes(), b"v"],
        );
    }
    out
}

/// Sends the load from a second process (`redis-cli --pipe`) and waits for it.
async fn load(port: u16, resp: &std::path::Path) -> Result<(), BoxError> {
    let mut pipe = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(std::fs::File::open(resp)?)
        .stdout(Stdio::null())
        .spawn()?;
    tokio::task::spawn_blocking(move || pipe.wait()).await??;
    Ok(())
}

/// Waits for `count` to stop growing for a second (or reach `expected`);
/// returns when the last line came.
async fn settle(count: &AtomicU64, expected: u64, started: Instant) -> Duration {
    let (mut last, mut last_at) = (0, started.elapsed());
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count.load(Ordering::Relaxed);
        if now != last {
            (last, last_at) = (now, started.elapsed());
        }
        if now >= expected || started.elapsed() - last_at > Duration::from_secs(1) {
            return last_at;
        }
    }
}

/// CPU seconds of `pid` so far (utime + stime).
fn cpu_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

async fn shell_run(port: u16, publishes: u64, resp: &std::path::Path) -> Result<Run, BoxError> {
    let mut cli = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "MONITOR"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut grep = Command::new("grep")
        .args(["--line-buffered", "conduit_signalr"])
        .stdin(Stdio::from(cli.stdout.take().ok_or("no redis-cli stdout")?))
        .stdout(Stdio::piped())
        .spawn()?;
    let count = Arc::new(AtomicU64::new(0));
    let out = grep.stdout.take().ok_or("no grep stdout")?;
    let counter = Arc::clone(&count);
    std::thread::spawn(move || {
        for _ in BufReader::new(out).lines() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await; // let MONITOR start
    let started = Instant::now();
    load(port, resp).await?;
    let wall = settle(&count, publishes, started).await;
    let cpu = cpu_of(&cli.id().to_string()) + cpu_of(&grep.id().to_string());
    let _ = cli.kill();
    let _ = grep.kill();
    let _ = cli.wait();
    let _ = grep.wait();
    Ok(Run {
        lines: count.load(Ordering::Relaxed),
        dropped: 0,
        wall,
        cpu,
    })
}

async fn companion_run(port: u16, publishes: u64, resp: &std::path::Path) -> Result<Run, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = CompanionConfig::new(RedisTarget::local(port), Vec::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(companion::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    let mut feed = reqwest::get(format!("http://{addr}/api/feed")).await?;
    let count = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let (lines, gaps) = (Arc::clone(&count), Arc::clone(&dropped));
    let (up_tx, up_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut up = Some(up_tx);
        let mut carry = String::new();
        while let Ok(Some(chunk)) = feed.chunk().await {
            carry.push_str(&String::from_utf8_lossy(&chunk));
            let cut = carry.rfind('\n').map_or(0, |i| i + 1);
            for line in carry[..cut].lines() {
                match line {
                    "event: line" => {
                        lines.fetch_add(1, Ordering::Relaxed);
                    }
                    "event: redis-up" => {
                        if let Some(u) = up.take() {
                            let _ = u.send(());
                        }
                    }
                    l if l.starts_with("data: {\"type\":\"dropped\"") => {
                        let n = l
                            .split("\"count\":")
                            .nth(1)
                            .and_then(|v| v.trim_end_matches('}').parse().ok());
                        gaps.fetch_add(n.unwrap_or(0), Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
            carry.drain(..cut);
        }
    });
    tokio::time::timeout(Duration::from_secs(10), up_rx).await??;
    let cpu_before = cpu_of("self");
    let started = Instant::now();
    load(port, resp).await?;
    let wall = settle(&count, publishes, started).await;
    let cpu = cpu_of("self") - cpu_before;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    Ok(Run {
        lines: count.load(Ordering::Relaxed),
        dropped: dropped.load(Ordering::Relaxed),
        wall,
        cpu,
    })
}
