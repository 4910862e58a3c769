//! Redis deployments for high availability, started by the tests on
//! loopback: a 3-master Redis Cluster joined with `redis-cli --cluster
//! create`, and a Sentinel set (one master, one replica, three sentinels
//! with quorum 2 and short timeouts). Every process runs on a free port
//! with its files in a temp directory; all are killed on drop.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::{eventually, free_port, RedisServer};

/// How long a cluster or Sentinel set may take to form, or to fail over.
pub const FORM: Duration = Duration::from_secs(30);

/// A temp directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory named after `what`.
    pub fn new(what: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "signalscope-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs one command on `url` from a fresh connection.
pub async fn query<T: redis::FromRedisValue>(url: &str, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    cmd.query_async(&mut conn).await
}

/// Three masters, no replicas, every slot assigned.
pub struct RedisCluster {
    /// The masters, in port order as created.
    pub nodes: Vec<RedisServer>,
    /// Their `nodes.conf` files.
    _dir: TempDir,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them and waits until
    /// every node says `cluster_state:ok`.
    pub async fn start() -> Self {
        let dir = TempDir::new("cluster");
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let conf = dir.0.join(format!("nodes-{i}.conf"));
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-config-file",
                    conf.to_str().expect("a UTF-8 temp path"),
                ])
            })
            .collect();
        let endpoints: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&endpoints)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli on PATH (scripts/setup.sh installs it)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = Self { nodes, _dir: dir };
        for url in cluster.urls() {
            eventually(FORM, "cluster_state:ok on every node", || async {
                let info: String = query(&url, redis::cmd("CLUSTER").arg("INFO")).await.ok()?;
                info.contains("cluster_state:ok").then_some(())
            })
            .await;
        }
        cluster
    }

    /// `redis://127.0.0.1:<port>` of each node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// `127.0.0.1:<port>` of each node.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect()
    }

    /// The StackExchange.Redis form: every node as a seed.
    pub fn connection_string(&self) -> String {
        self.addresses().join(",")
    }

    /// `PUBSUB NUMSUB channel`, summed over the nodes (each counts only
    /// its own subscribers).
    pub async fn numsub(&self, channel: &str) -> i64 {
        let mut sum = 0;
        for url in self.urls() {
            let reply: Vec<(String, i64)> =
                query(&url, redis::cmd("PUBSUB").arg("NUMSUB").arg(channel))
                    .await
                    .unwrap_or_default();
            sum += reply.first().map_or(0, |(_, n)| *n);
        }
        sum
    }
}

/// A `redis-server --sentinel` process with its config file, killed on drop.
pub struct Sentinel {
    /// Where it listens.
    pub port: u16,
    /// The process.
    child: Child,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The name the sentinels monitor the master under.
pub const SERVICE: &str = "mymaster";

/// One master, one replica, three sentinels with quorum 2.
pub struct SentinelSet {
    /// The master at start.
    pub master: RedisServer,
    /// Its replica, promoted when the master dies.
    pub replica: RedisServer,
    /// The sentinels.
    pub sentinels: Vec<Sentinel>,
    /// Their config files (sentinels rewrite them).
    _dir: TempDir,
}

impl SentinelSet {
    /// Starts the master, the replica (waits until it is in sync), and the
    /// sentinels (waits until each knows the replica and the other two,
    /// so a failover can be agreed).
    pub async fn start() -> Self {
        let dir = TempDir::new("sentinel");
        // The replica keeps the RDB of its full sync in its `--dir`.
        let data = dir.0.to_str().expect("a UTF-8 temp path");
        let master = RedisServer::start_with(&["--dir", data]);
        let master_port = master.port.to_string();
        let replica =
            RedisServer::start_with(&["--dir", data, "--replicaof", "127.0.0.1", &master_port]);
        eventually(FORM, "the replica in sync", || async {
            let info: String = query(&replica.url(), redis::cmd("INFO").arg("replication"))
                .await
                .ok()?;
            info.contains("master_link_status:up").then_some(())
        })
        .await;
        let sentinels: Vec<Sentinel> = (0..3)
            .map(|i| {
                let port = free_port();
                let conf = dir.0.join(format!("sentinel-{i}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {}\n\
                         sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n\
                         sentinel down-after-milliseconds {SERVICE} 500\n\
                         sentinel failover-timeout {SERVICE} 2000\n\
                         sentinel parallel-syncs {SERVICE} 1\n",
                        dir.0.display()
                    ),
                )
                .expect("a sentinel config");
                let child = Command::new("redis-server")
                    .arg(&conf)
                    .arg("--sentinel")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server on PATH");
                Sentinel { port, child }
            })
            .collect();
        let set = Self {
            master,
            replica,
            sentinels,
            _dir: dir,
        };
        for url in set.sentinel_urls() {
            eventually(
                FORM,
                "each sentinel to know the replica and its peers",
                || async {
                    let replicas: Vec<redis::Value> =
                        query(&url, redis::cmd("SENTINEL").arg("REPLICAS").arg(SERVICE))
                            .await
                            .ok()?;
                    let peers: Vec<redis::Value> =
                        query(&url, redis::cmd("SENTINEL").arg("SENTINELS").arg(SERVICE))
                            .await
                            .ok()?;
                    (replicas.len() == 1 && peers.len() == 2).then_some(())
                },
            )
            .await;
        }
        set
    }

    /// `redis://127.0.0.1:<port>` of each sentinel.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect()
    }

    /// The StackExchange.Redis form: the sentinels and `serviceName=`.
    pub fn connection_string(&self) -> String {
        let endpoints: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        format!("{},serviceName={SERVICE}", endpoints.join(","))
    }

    /// The port the first sentinel names as the master now.
    pub async fn master_port(&self) -> Option<u16> {
        let (_, port): (String, u16) = query(
            &self.sentinel_urls()[0],
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(SERVICE),
        )
        .await
        .ok()?;
        Some(port)
    }
}

/// Runs `signalscope serve --redis <redis>` and checks it refuses to start,
/// naming `--redis` and saying `why`.
pub async fn serve_refuses(redis: &str, why: &str) {
    let out = crate::load_support::cli(
        &["serve", "--listen", "127.0.0.1:0", "--redis", redis],
        FORM,
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--redis") && stderr.contains(why),
        "{stderr}"
    );
}
