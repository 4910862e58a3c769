//! Where Redis is, from either spelling users have at hand: a `redis://` /
//! `rediss://` URL, or a StackExchange.Redis connection string such as
//! `localhost:6379,password=x,ssl=true,abortConnect=false` (what
//! `ConnectionStrings__RedisSignalR` holds in Conduit's setup).
//!
//! A connection string may name a deployment rather than one server, as
//! StackExchange.Redis reads it:
//! * several endpoints (`host1:7000,host2:7001,password=x`) are seeds: the
//!   first that answers is asked `CLUSTER NODES`, and on a Redis Cluster
//!   every master is a node (MONITOR and the status cover each); a seed
//!   without cluster support is used alone, as one endpoint would be;
//! * `serviceName=mymaster` makes the endpoints sentinels (port 26379 by
//!   default): they are asked `SENTINEL get-master-addr-by-name`, and
//!   asked again whenever a connection is lost, so a failover is followed.
//!   Sentinels get the connection string's `user=` and `password=` as
//!   StackExchange.Redis sends them (one configuration authenticates every
//!   endpoint it connects to, sentinels included); a sentinel that has no
//!   password refuses any AUTH, so it is then asked again without.
//!
//! [`RedisTarget::primary`], [`RedisTarget::owner_of`] and
//! [`RedisTarget::nodes`] turn a target into the servers to connect to
//! *now*; a single server resolves without a round trip, so a plain
//! deployment behaves exactly as before.
//!
//! TLS: `rediss://` (or `ssl=true` in a connection string) checks the
//! server's certificate against the system's roots (or `SSL_CERT_FILE`).
//! `rediss://host:port/#insecure` (redis-rs's own fragment) skips that
//! check, for self-signed servers.
//! StackExchange.Redis has no connection-string key for skipping it: its
//! `sslHost`, `sslProtocols` and `checkCertificateRevocation` only tune
//! the check, and trusting a self-signed server takes code there (the
//! `CertificateValidation` callback or `TrustIssuer`), so such a server
//! must be given here as a `rediss://…/#insecure` URL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncConnectionConfig;

/// How long one seed or sentinel may take to connect and answer before
/// the next is tried.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);
/// A sentinel's port when the endpoint names none (StackExchange.Redis's).
const SENTINEL_PORT: u16 = 26379;
/// A server's port when the endpoint names none.
const REDIS_PORT: u16 = 6379;
/// How many hash slots a Redis Cluster divides its keys into.
const SLOTS: u16 = 16384;

/// Why a Redis address could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read Redis address '{shown}': {reason}")]
pub struct RedisTargetError {
    /// The input with any password masked.
    shown: String,
    /// What was wrong.
    reason: String,
}

/// Why no server of a cluster or Sentinel set could be found just now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(String);

/// A Redis deployment: one server, a cluster's seeds, or a Sentinel set.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// Which kind, and how to reach it (credentials included); shared, so
    /// a target stays small to hold and cheap to clone.
    kind: Arc<Kind>,
    /// What [`RedisTarget::url`] hands out: reads back as the same target.
    spec: String,
    /// The same with the password masked: for logs and responses.
    shown: String,
    /// The password, only to scrub it out of error texts.
    password: Option<String>,
}

/// The three shapes a deployment takes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// One server, as a redis-rs URL.
    Single(String),
    /// Several endpoints: a cluster's seeds (or servers without cluster
    /// support, of which the first that answers is used).
    Seeds {
        /// `host:port` of each, in the order given.
        endpoints: Vec<String>,
        /// How to reach any node: scheme, credentials, database.
        node: NodeUrl,
    },
    /// `serviceName=`: the master is whoever the sentinels name.
    Sentinel {
        /// The monitored master's name.
        service: String,
        /// `host:port` of each sentinel.
        sentinels: Vec<String>,
        /// How to reach the master and the sentinels.
        node: NodeUrl,
    },
}

/// The parts of a node's URL that are not its address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeUrl {
    /// `ssl=true`.
    tls: bool,
    /// `user:password@` (percent-encoded), or empty.
    auth: String,
    /// `/n` for `defaultDatabase=n`, or empty.
    db: String,
}

impl NodeUrl {
    /// The URL of the server at `address`, with credentials.
    fn at(&self, address: &str) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://{}{address}{}", self.auth, self.db)
    }

    /// The URLs to ask a sentinel at `address` by, in order: with the
    /// credentials, then (if there are any) without, for a sentinel that
    /// has no password and so refuses every AUTH. No database: a sentinel
    /// has none.
    fn sentinel(&self, address: &str) -> Vec<String> {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let mut urls = vec![format!("{scheme}://{}{address}", self.auth)];
        if !self.auth.is_empty() {
            urls.push(format!("{scheme}://{address}"));
        }
        urls
    }
}

/// One server to connect to now, from [`RedisTarget::nodes`].
#[derive(Debug, Clone)]
pub struct Node {
    /// `host:port`: how the feed and the status name it.
    pub address: String,
    /// The server alone, as a single-server target.
    pub target: RedisTarget,
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTarget({})", self.shown)
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::str::FromStr for RedisTarget {
    type Err = RedisTargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl RedisTarget {
    /// Reads a URL or a StackExchange.Redis connection string.
    pub fn parse(input: &str) -> Result<Self, RedisTargetError> {
        let input = input.trim();
        if input.starts_with("redis://") || input.starts_with("rediss://") {
            return Self::single(input.to_owned());
        }
        let refused = |reason: String| RedisTargetError {
            shown: mask_connection_string(input),
            reason,
        };
        let parts = ConnectionString::read(input).map_err(refused)?;
        let node = NodeUrl {
            tls: parts.tls,
            auth: parts.auth(),
            db: parts.db.map(|d| format!("/{d}")).unwrap_or_default(),
        };
        let kind = match parts.service {
            Some(service) => Kind::Sentinel {
                service,
                sentinels: with_port(&parts.endpoints, SENTINEL_PORT),
                node,
            },
            None if parts.endpoints.len() > 1 => Kind::Seeds {
                endpoints: with_port(&parts.endpoints, REDIS_PORT),
                node,
            },
            None => return Self::single(node.at(&with_port(&parts.endpoints, REDIS_PORT)[0])),
        };
        // Every node's URL must be one redis-rs reads; the first stands for all.
        let probe = match &kind {
            Kind::Seeds { endpoints, node } => node.at(&endpoints[0]),
            Kind::Sentinel {
                sentinels, node, ..
            } => node.at(&sentinels[0]),
            Kind::Single(url) => url.clone(),
        };
        if redis::IntoConnectionInfo::into_connection_info(probe.as_str()).is_err() {
            return Err(refused("an endpoint is not a valid host:port".into()));
        }
        Ok(Self {
            kind: Arc::new(kind),
            spec: input.to_owned(),
            shown: mask_connection_string(input),
            password: parts.password.filter(|p| !p.is_empty()),
        })
    }

    /// One server at `url`, checked.
    fn single(url: String) -> Result<Self, RedisTargetError> {
        let shown = mask_url(&url);
        let Ok(info) = redis::IntoConnectionInfo::into_connection_info(url.as_str()) else {
            return Err(RedisTargetError {
                shown,
                reason: "not a valid redis:// or rediss:// URL".into(),
            });
        };
        let password = info
            .redis_settings()
            .password()
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        Ok(Self {
            kind: Arc::new(Kind::Single(url.clone())),
            spec: url,
            shown,
            password,
        })
    }

    /// A plain loopback target on `port`.
    pub fn local(port: u16) -> Self {
        let url = format!("redis://127.0.0.1:{port}");
        Self {
            kind: Arc::new(Kind::Single(url.clone())),
            shown: url.clone(),
            spec: url,
            password: None,
        }
    }

    /// The address with credentials, as [`RedisTarget::parse`] reads it
    /// back: for redis-rs, and for handing to another process.
    pub fn url(&self) -> &str {
        &self.spec
    }

    /// The password, if any, to scrub out of error texts.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Whether this is one server, not a cluster or Sentinel set.
    pub fn is_single(&self) -> bool {
        matches!(*self.kind, Kind::Single(_))
    }

    /// A redis-rs client for a single server; a cluster or Sentinel set
    /// must be resolved to its nodes first ([`RedisTarget::primary`]).
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        match &*self.kind {
            Kind::Single(url) => redis::Client::open(url.as_str()),
            _ => Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "a cluster or Sentinel target has no single client",
            ))),
        }
    }

    /// The server to send commands to and subscribe on now: the server
    /// itself, the master the sentinels name, or a cluster's first master
    /// (any node will do: a cluster broadcasts every PUBLISH to all).
    pub async fn primary(&self) -> Result<Node, ResolveError> {
        let mut nodes = self.nodes().await?;
        Ok(nodes.swap_remove(0))
    }

    /// The server that holds `key` now: on a cluster, the master serving
    /// the key's hash slot (a key elsewhere is answered with MOVED);
    /// otherwise [`RedisTarget::primary`].
    pub async fn owner_of(&self, key: &str) -> Result<Node, ResolveError> {
        let Kind::Seeds { endpoints, node } = &*self.kind else {
            return self.primary().await;
        };
        let slot = key_slot(key);
        ask_seeds(endpoints, node)
            .await?
            .into_iter()
            .find(|m| m.serves(slot))
            .map(|m| self.node(node.at(&m.address)))
            .ok_or_else(|| ResolveError(format!("no live master serves hash slot {slot}")))
    }

    /// Every server whose traffic MONITOR must watch and the status lists:
    /// the server itself, the master the sentinels name, or every master
    /// of a cluster (sorted by address). Never empty.
    pub async fn nodes(&self) -> Result<Vec<Node>, ResolveError> {
        match &*self.kind {
            Kind::Single(url) => Ok(vec![self.node(url.clone())]),
            Kind::Sentinel {
                service,
                sentinels,
                node,
            } => {
                let address = ask_sentinels(service, sentinels, node).await?;
                Ok(vec![self.node(node.at(&address))])
            }
            Kind::Seeds { endpoints, node } => {
                let masters = ask_seeds(endpoints, node).await?;
                Ok(masters
                    .iter()
                    .map(|m| self.node(node.at(&m.address)))
                    .collect())
            }
        }
    }

    /// The single server at `url` (one this target's own settings built).
    fn node(&self, url: String) -> Node {
        let address = redis::IntoConnectionInfo::into_connection_info(url.as_str())
            .map(|i| i.addr().to_string())
            .unwrap_or_default();
        Node {
            address,
            target: Self {
                shown: mask_url(&url),
                kind: Arc::new(Kind::Single(url.clone())),
                spec: url,
                password: self.password.clone(),
            },
        }
    }

    /// For a cluster or Sentinel set, proves a node can be found now and
    /// says which `setting` is wrong if not; a single server is not
    /// contacted (it may come up later, as before).
    pub async fn check_reachable(&self, setting: &str) -> Result<(), ResolveError> {
        if self.is_single() {
            return Ok(());
        }
        self.nodes()
            .await
            .map(drop)
            .map_err(|e| ResolveError(format!("{setting} {self}: {e}")))
    }
}

/// What a StackExchange.Redis connection string says.
#[derive(Debug, Default)]
struct ConnectionString {
    /// Endpoints as written (`host`, `host:port`), at least one.
    endpoints: Vec<String>,
    /// `user=`.
    user: Option<String>,
    /// `password=`.
    password: Option<String>,
    /// `ssl=true`.
    tls: bool,
    /// `defaultDatabase=`.
    db: Option<String>,
    /// `serviceName=`: the endpoints are sentinels.
    service: Option<String>,
}

impl ConnectionString {
    /// `host:port,…,key=value,…`.
    fn read(s: &str) -> Result<Self, String> {
        let mut parts = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((k, v)) => match k.trim().to_ascii_lowercase().as_str() {
                    "password" => parts.password = Some(v.to_owned()),
                    "user" => parts.user = Some(v.to_owned()),
                    "ssl" => parts.tls = v.trim().eq_ignore_ascii_case("true"),
                    // sslHost, sslProtocols, checkCertificateRevocation: rustls
                    // checks the host name and has no revocation lists, and no
                    // key means "skip the check" (see the module comment).
                    "defaultdatabase" => parts.db = Some(v.trim().to_owned()),
                    "servicename" => parts.service = Some(v.trim().to_owned()),
                    // Timeouts, abortConnect and the like tune StackExchange.Redis
                    // itself and mean nothing here.
                    _ => {}
                },
                None => parts.endpoints.push(part.to_owned()),
            }
        }
        if parts.endpoints.is_empty() {
            return Err("no host:port in the connection string".into());
        }
        if parts.service.as_deref() == Some("") {
            return Err("serviceName is empty".into());
        }
        Ok(parts)
    }

    /// `user:password@`, percent-encoded, or empty.
    fn auth(&self) -> String {
        match (&self.user, &self.password) {
            (Some(u), Some(p)) => format!("{}:{}@", encode(u), encode(p)),
            (None, Some(p)) => format!(":{}@", encode(p)),
            (Some(u), None) => format!("{}@", encode(u)),
            (None, None) => String::new(),
        }
    }
}

/// `host` → `host:<port>`; `host:port` stays.
fn with_port(endpoints: &[String], port: u16) -> Vec<String> {
    endpoints
        .iter()
        .map(|e| {
            if e.contains(':') {
                e.clone()
            } else {
                format!("{e}:{port}")
            }
        })
        .collect()
}

/// A connection to `url` whose connecting and replies are bounded.
async fn ask_connection(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(ASK_TIMEOUT))
        .set_response_timeout(Some(ASK_TIMEOUT));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// The master's `host:port` from the first sentinel that knows it.
async fn ask_sentinels(
    service: &str,
    sentinels: &[String],
    node: &NodeUrl,
) -> Result<String, ResolveError> {
    let mut failures = Vec::new();
    for sentinel in sentinels {
        let mut answer = None;
        for url in node.sentinel(sentinel) {
            let asked = async {
                let mut conn = ask_connection(&url).await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(service)
                    .query_async::<Option<(String, u16)>>(&mut conn)
                    .await
            };
            answer = Some(asked.await);
            // Only a refused AUTH is worth asking again without it.
            if !matches!(&answer, Some(Err(e)) if e.kind() == redis::ErrorKind::AuthenticationFailed)
            {
                break;
            }
        }
        match answer {
            Some(Ok(Some((host, port)))) => return Ok(format!("{host}:{port}")),
            Some(Ok(None)) => failures.push(format!("{sentinel}: knows no master '{service}'")),
            Some(Err(e)) => failures.push(format!("{sentinel}: {e}")),
            None => {}
        }
    }
    Err(ResolveError(format!(
        "no sentinel named the master '{service}' ({})",
        failures.join("; ")
    )))
}

/// One master of a cluster, as `CLUSTER NODES` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Master {
    /// `host:port`.
    address: String,
    /// The hash slots it serves, as inclusive ranges: what decides where a
    /// key lives.
    slots: Vec<(u16, u16)>,
}

impl Master {
    /// A server without cluster support: it holds every key.
    fn alone(address: String) -> Self {
        Self {
            address,
            slots: vec![(0, SLOTS - 1)],
        }
    }

    /// Whether `slot`'s keys live here.
    fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(lo, hi)| (lo..=hi).contains(&slot))
    }
}

/// Every live master of the cluster the first answering seed belongs to;
/// that seed alone if it has no cluster support.
async fn ask_seeds(endpoints: &[String], node: &NodeUrl) -> Result<Vec<Master>, ResolveError> {
    let mut failures = Vec::new();
    for seed in endpoints {
        let asked = async {
            let mut conn = ask_connection(&node.at(seed)).await?;
            redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<String>(&mut conn)
                .await
        };
        match asked.await {
            Ok(text) => {
                let host = seed.rsplit_once(':').map_or(seed.as_str(), |(h, _)| h);
                let masters = cluster_masters(&text, host);
                if !masters.is_empty() {
                    return Ok(masters);
                }
                failures.push(format!("{seed}: CLUSTER NODES lists no live master"));
            }
            // A server without cluster support answers, but refuses.
            Err(e)
                if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) =>
            {
                return Ok(vec![Master::alone(seed.clone())]);
            }
            Err(e) => failures.push(format!("{seed}: {e}")),
        }
    }
    Err(ResolveError(format!(
        "no seed answered ({})",
        failures.join("; ")
    )))
}

/// Every master in a `CLUSTER NODES` reply that is not failing, sorted by
/// address, with the slots it serves; a node that does not know its own IP
/// yet (an empty host) is at `seed_host`. Lines it cannot read are skipped.
fn cluster_masters(text: &str, seed_host: &str) -> Vec<Master> {
    let mut masters: Vec<Master> = text
        .lines()
        .filter_map(|line| {
            // id address flags master ping-sent pong-recv epoch link slots…
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags: Vec<&str> = fields.next()?.split(',').collect();
            let live = flags.contains(&"master")
                && !flags
                    .iter()
                    .any(|f| matches!(*f, "fail" | "fail?" | "handshake" | "noaddr"));
            if !live {
                return None;
            }
            // `ip:port@cport[,hostname]`
            let address = address.split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            port.parse::<u16>().ok()?;
            let host = if host.is_empty() { seed_host } else { host };
            // `[slot->-id]` entries are slots on the move: still served here.
            let slots = fields.skip(5).filter_map(slot_range).collect();
            Some(Master {
                address: format!("{host}:{port}"),
                slots,
            })
        })
        .collect();
    masters.sort_by(|a, b| a.address.cmp(&b.address));
    masters.dedup_by(|a, b| a.address == b.address);
    masters
}

/// `lo-hi` or `n` of a `CLUSTER NODES` line; `None` for anything else.
fn slot_range(field: &str) -> Option<(u16, u16)> {
    let (lo, hi) = field.split_once('-').unwrap_or((field, field));
    let (lo, hi) = (lo.parse().ok()?, hi.parse().ok()?);
    (lo <= hi && hi < SLOTS).then_some((lo, hi))
}

/// The hash slot of `key`, as Redis Cluster computes it: CRC16 (XMODEM)
/// of the key, or of its hash tag (the text inside the first `{…}`, if
/// not empty), modulo 16384.
fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &bytes[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(bytes);
    crc16(hashed) % SLOTS
}

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| {
        (0..8).fold(crc ^ (u16::from(b) << 8), |c, _| {
            if c & 0x8000 == 0 {
                c << 1
            } else {
                (c << 1) ^ 0x1021
            }
        })
    })
}

/// Percent-encodes what may not stand in a URL's userinfo.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

fn mask_connection_string(s: &str) -> String {
    s.split(',')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.trim().eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guide's connection string becomes a plain URL.
    #[test]
    fn guide_connection_string() {
        let t =
            RedisTarget::parse("localhost:6379,abortConnect=false,connectTimeout=5000").unwrap();
        assert_eq!(t.url(), "redis://localhost:6379");
    }

    /// Passwords, TLS and a database carry over, and are masked when shown.
    #[test]
    fn password_tls_and_db() {
        let t =
            RedisTarget::parse("cache:6380,password=s3cr:t,ssl=true,defaultDatabase=2").unwrap();
        assert_eq!(t.url(), "rediss://:s3cr%3At@cache:6380/2");
        assert_eq!(t.to_string(), "rediss://:***@cache:6380/2");
        assert!(!format!("{t:?}").contains("s3cr"));
    }

    /// URLs pass through; their password is masked when shown.
    #[test]
    fn urls_pass_through_masked() {
        let t = RedisTarget::parse("redis://app:hunter2@127.0.0.1:7000").unwrap();
        assert_eq!(t.url(), "redis://app:hunter2@127.0.0.1:7000");
        assert_eq!(t.to_string(), "redis://app:***@127.0.0.1:7000");
    }

    /// `#insecure` (skip certificate checks) survives parsing and masking.
    #[test]
    fn insecure_tls_fragment_is_kept() {
        let t = RedisTarget::parse("rediss://:pw@127.0.0.1:6380/#insecure").unwrap();
        assert_eq!(t.url(), "rediss://:pw@127.0.0.1:6380/#insecure");
        assert_eq!(t.to_string(), "rediss://:***@127.0.0.1:6380/#insecure");
        assert!(t.client().is_ok());
    }

    /// Several endpoints are a cluster's seeds; the password is masked and
    /// `url()` reads back as the same target.
    #[test]
    fn several_endpoints_are_seeds() {
        let t = RedisTarget::parse("10.0.0.1:7000,10.0.0.2,password=pw").unwrap();
        assert!(!t.is_single());
        assert_eq!(t.to_string(), "10.0.0.1:7000,10.0.0.2,password=***");
        assert_eq!(RedisTarget::parse(t.url()).unwrap(), t);
        assert_eq!(t.password(), Some("pw"));
        let Kind::Seeds { endpoints, node } = &*t.kind else {
            panic!("not seeds: {t:?}");
        };
        assert_eq!(endpoints, &["10.0.0.1:7000", "10.0.0.2:6379"]);
        assert_eq!(node.at("10.0.0.3:7002"), "redis://:pw@10.0.0.3:7002");
    }

    /// `serviceName=` makes the endpoints sentinels, on 26379 unless given.
    #[test]
    fn service_name_means_sentinels() {
        let t = RedisTarget::parse("s1,s2:5000,serviceName=mymaster,ssl=true").unwrap();
        let Kind::Sentinel {
            service,
            sentinels,
            node,
        } = &*t.kind
        else {
            panic!("not a sentinel set: {t:?}");
        };
        assert_eq!(service, "mymaster");
        assert_eq!(sentinels, &["s1:26379", "s2:5000"]);
        assert_eq!(node.sentinel("s1:26379"), ["rediss://s1:26379"]);
        assert!(t.client().is_err());
    }

    /// Sentinels are asked with the connection string's credentials first
    /// (as StackExchange.Redis does), then without, never with the database.
    #[test]
    fn sentinels_get_the_credentials_first() {
        let t =
            RedisTarget::parse("s1,serviceName=m,user=app,password=p w,defaultDatabase=3").unwrap();
        let Kind::Sentinel { node, .. } = &*t.kind else {
            panic!("not a sentinel set: {t:?}");
        };
        assert_eq!(
            node.sentinel("s1:26379"),
            ["redis://app:p%20w@s1:26379", "redis://s1:26379"]
        );
    }

    /// Key slots match Redis's own (`CLUSTER KEYSLOT`), hash tags included.
    #[test]
    fn key_slots_match_redis() {
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("123456789"), 0x31C3 % SLOTS);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("a{}b"), crc16(b"a{}b") % SLOTS);
        assert_eq!(key_slot("a{b"), crc16(b"a{b") % SLOTS);
    }

    /// CLUSTER NODES gives the live masters, sorted, without bus ports or
    /// host names; replicas, failing nodes and garbage are left out.
    #[test]
    fn cluster_nodes_masters() {
        let text = "\
a1 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
b2 127.0.0.1:7003@17003,host-b slave a1 0 0 3 connected
c3 :7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-a1]
d4 127.0.0.1:7001@17001 master,fail - 0 0 2 connected
garbage
e5 127.0.0.1:notaport@1 master - 0 0 2 connected
";
        let masters = cluster_masters(text, "10.1.1.1");
        let addresses: Vec<&str> = masters.iter().map(|m| m.address.as_str()).collect();
        assert_eq!(addresses, ["10.1.1.1:7000", "127.0.0.1:7002"]);
        assert_eq!(masters[0].slots, [(0, 5460)]);
        assert!(masters[1].serves(16383) && !masters[1].serves(10922));
    }

    /// Nonsense is refused with the password masked in the error.
    #[test]
    fn nonsense_is_refused_without_leaking() {
        let e = RedisTarget::parse(",password=hunter2").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }
}
