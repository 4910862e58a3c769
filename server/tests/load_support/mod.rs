//! What the `load` and `check` tests share: the real `signalscope` binary
//! run as a user runs it (with a deadline), a whole demo stack in a child
//! process, and one lock so runs in the same test binary never compete
//! for the two cores they measure on.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use signalscope::load::summary::LoadSummary;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Load runs share the machine's two cores: one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_signalscope")
}

/// A fresh path in the temp directory.
pub fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "signalscope-test-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Runs `signalscope <args>` to completion, killed after `limit`.
pub async fn cli(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(exe())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the signalscope binary starts");
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("signalscope {args:?} did not finish within {limit:?}"))
        .expect("signalscope's output")
}

/// Runs `signalscope load <args> --json … --quiet`; returns its output
/// and summary, failing the test with its stderr if it failed.
pub async fn load(args: &[&str]) -> (Output, LoadSummary) {
    let json = temp_path("summary.json");
    let mut all = vec!["load", "--quiet", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = cli(&all, Duration::from_secs(120)).await;
    assert!(
        out.status.success(),
        "load failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&json).expect("the JSON summary");
    let _ = std::fs::remove_file(&json);
    (out, serde_json::from_str(&text).expect("a LoadSummary"))
}

/// `signalscope demo` in a child process: Redis and three stand-ins it
/// owns (so chaos may stop them), stopped with SIGTERM on drop.
pub struct DemoStack {
    /// The demo process.
    child: Child,
    /// Its Redis URL.
    pub redis: String,
    /// `name=url` of each instance, as `--instance` takes them.
    pub instances: Vec<String>,
    /// The companion's URL (its controls live under /api/demo).
    pub url: String,
    /// The dashboard directory it was given.
    dist: PathBuf,
}

impl DemoStack {
    /// Starts a demo on free ports and waits for its ready line.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`DemoStack::start`] with `extra` flags for `signalscope demo`.
    pub async fn start_with(extra: &[&str]) -> Self {
        let dist = temp_path("dist");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
        for _ in 0..5 {
            let base = 20_000 + (rand::random::<u16>() % 20_000);
            let listen = format!("127.0.0.1:{}", base + 100);
            let mut child = Command::new(exe())
                .args([
                    "demo",
                    "--dist",
                    dist.to_str().unwrap(),
                    "--listen",
                    &listen,
                ])
                .args(["--base-port", &base.to_string()])
                .args(extra)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                // Its own process group, so its Redis and stand-ins can be
                // ended with it whatever happens to the demo itself.
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .expect("signalscope demo starts");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let (mut redis, mut instances, mut ready) = (String::new(), Vec::new(), false);
            let read = async {
                while let Ok(Some(line)) = lines.next_line().await {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    match words.as_slice() {
                        ["redis", url, ..] => redis = (*url).to_owned(),
                        [name, url, ..] if name.starts_with("api-") => {
                            instances.push(format!("{name}={url}"))
                        }
                        _ if line.starts_with(signalscope::demo::READY_LINE) => {
                            ready = true;
                            break;
                        }
                        _ => {}
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(30), read).await;
            if ready {
                // Keep draining its output so it never blocks on a pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Self {
                    child,
                    redis,
                    instances,
                    url: format!("http://{listen}"),
                    dist,
                };
            }
            let _ = child.kill().await;
        }
        panic!("could not start a demo on free ports in 5 tries");
    }

    /// The flags that point `load`/`check` at this demo and nothing else.
    pub fn flags(&self) -> Vec<String> {
        let mut f = vec![
            "--redis".to_owned(),
            self.redis.clone(),
            "--demo".into(),
            self.url.clone(),
        ];
        for i in &self.instances {
            f.push("--instance".into());
            f.push(i.clone());
        }
        f
    }
}

impl Drop for DemoStack {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            // Let it stop its own children; killing it outright would
            // orphan its Redis and stand-ins.
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dist);
    }
}

/// `PUBSUB CHANNELS <pattern>` count.
pub async fn channels(redis_url: &str, pattern: &str) -> usize {
    let Ok(client) = redis::Client::open(redis_url) else {
        return 0;
    };
    let Ok(mut c) = client.get_multiplexed_async_connection().await else {
        return 0;
    };
    redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg(pattern)
        .query_async::<Vec<String>>(&mut c)
        .await
        .map_or(0, |v| v.len())
}
