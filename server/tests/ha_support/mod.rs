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

/// Three masters, every slot assigned, and as many replicas as asked.
pub struct RedisCluster {
    /// The servers, in port order as created; without replicas, the
    /// masters.
    pub nodes: Vec<RedisServer>,
    /// Their `nodes.conf` files.
    _dir: TempDir,
}

impl RedisCluster {
    /// [`RedisCluster::start_with`] no replicas.
    pub async fn start() -> Self {
        Self::start_with(0).await
    }

    /// Starts 3 × (1 + `replicas`) cluster-enabled servers, joins them
    /// (`redis-cli` makes masters of the first three) and waits until every
    /// node says `cluster_state:ok` and every replica is in sync.
    pub async fn start_with(replicas: usize) -> Self {
        let dir = TempDir::new("cluster");
        let nodes: Vec<RedisServer> = (0..3 * (1 + replicas))
            .map(|i| {
                let conf = dir.0.join(format!("nodes-{i}.conf"));
                let rdb = format!("dump-{i}.rdb");
                // A replica keeps the RDB of its full sync there, one each.
                RedisServer::start_with(&[
                    "--dir",
                    dir.0.to_str().expect("a UTF-8 temp path"),
                    "--dbfilename",
                    &rdb,
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
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
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
            eventually(FORM, "every replica in sync", || async {
                let info: String = query(&url, redis::cmd("INFO").arg("replication"))
                    .await
                    .ok()?;
                let replica = info.contains("role:slave");
                (!replica || info.contains("master_link_status:up")).then_some(())
            })
            .await;
        }
        cluster
    }

    /// `ROLE`'s first word on the node at `index`: `master` or `slave`.
    pub async fn role(&self, index: usize) -> Option<String> {
        let role: Vec<redis::Value> = query(&self.urls()[index], &redis::cmd("ROLE")).await.ok()?;
        match role.first()? {
            redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            redis::Value::SimpleString(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The index of the replica of the master at `master`, from that
    /// master's `INFO replication` (`slave0:ip=…,port=…`).
    pub async fn replica_of(&self, master: usize) -> Option<usize> {
        let info: String = query(&self.urls()[master], redis::cmd("INFO").arg("replication"))
            .await
            .ok()?;
        let port: u16 = info
            .lines()
            .find(|l| l.starts_with("slave0:"))?
            .split(',')
            .find_map(|kv| kv.strip_prefix("port="))?
            .parse()
            .ok()?;
        self.nodes.iter().position(|n| n.port == port)
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

/// The password of a [`SentinelSet`] started with one.
pub const PASSWORD: &str = "s3nt:nel-pw";

/// Which processes of a [`SentinelSet`] require [`PASSWORD`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passwords {
    /// None does.
    None,
    /// The master and the replica; the sentinels are open (then a client
    /// that sends the password to them is refused, as Redis refuses AUTH
    /// without a password set).
    Servers,
    /// The servers and the sentinels.
    Everywhere,
}

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
    /// Who requires [`PASSWORD`].
    passwords: Passwords,
}

/// `redis://[:password@]127.0.0.1:<port>`.
fn url_with(password: Option<&str>, port: u16) -> String {
    match password {
        Some(p) => format!("redis://:{}@127.0.0.1:{port}", p.replace(':', "%3A")),
        None => format!("redis://127.0.0.1:{port}"),
    }
}

impl SentinelSet {
    /// [`SentinelSet::start_with`] without passwords.
    pub async fn start() -> Self {
        Self::start_with(Passwords::None).await
    }

    /// Starts the master, the replica (waits until it is in sync), and the
    /// sentinels (waits until each knows the replica and the other two,
    /// so a failover can be agreed), with `passwords` where they say.
    pub async fn start_with(passwords: Passwords) -> Self {
        let dir = TempDir::new("sentinel");
        // The replica keeps the RDB of its full sync in its `--dir`.
        let data = dir.0.to_str().expect("a UTF-8 temp path");
        let server_auth: &[&str] = match passwords {
            Passwords::None => &[],
            // masterauth too: either may be the replica after a failover.
            _ => &["--requirepass", PASSWORD, "--masterauth", PASSWORD],
        };
        let master = RedisServer::start_with(&[&["--dir", data][..], server_auth].concat());
        let master_port = master.port.to_string();
        let replica = RedisServer::start_with(
            &[
                &["--dir", data, "--replicaof", "127.0.0.1", &master_port][..],
                server_auth,
            ]
            .concat(),
        );
        let server_password = (passwords != Passwords::None).then_some(PASSWORD);
        eventually(FORM, "the replica in sync", || async {
            let info: String = query(
                &url_with(server_password, replica.port),
                redis::cmd("INFO").arg("replication"),
            )
            .await
            .ok()?;
            info.contains("master_link_status:up").then_some(())
        })
        .await;
        // How sentinels log in to the servers, and to each other.
        let sentinel_auth = match passwords {
            Passwords::None => String::new(),
            Passwords::Servers => format!("sentinel auth-pass {SERVICE} {PASSWORD}\n"),
            Passwords::Everywhere => format!(
                "sentinel auth-pass {SERVICE} {PASSWORD}\nrequirepass {PASSWORD}\nsentinel sentinel-pass {PASSWORD}\n"
            ),
        };
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
                         sentinel parallel-syncs {SERVICE} 1\n\
                         {sentinel_auth}",
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
            passwords,
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

    /// The URL of each sentinel, with the password if they require it.
    pub fn sentinel_urls(&self) -> Vec<String> {
        let password = (self.passwords == Passwords::Everywhere).then_some(PASSWORD);
        self.sentinels
            .iter()
            .map(|s| url_with(password, s.port))
            .collect()
    }

    /// The StackExchange.Redis form: the sentinels, `serviceName=` and the
    /// password if the servers require one.
    pub fn connection_string(&self) -> String {
        let endpoints: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let password = match self.passwords {
            Passwords::None => String::new(),
            _ => format!(",password={PASSWORD}"),
        };
        format!("{},serviceName={SERVICE}{password}", endpoints.join(","))
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
