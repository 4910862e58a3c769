//! Where Redis is, from either spelling users have at hand: a `redis://` /
//! `rediss://` URL, or a StackExchange.Redis connection string such as
//! `localhost:6379,password=x,ssl=true,abortConnect=false` (what
//! `ConnectionStrings__RedisSignalR` holds in Conduit's setup).
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

/// Why a Redis address could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read Redis address '{shown}': {reason}")]
pub struct RedisTargetError {
    /// The input with any password masked.
    shown: String,
    /// What was wrong.
    reason: String,
}

/// A Redis endpoint, normalised to a URL that redis-rs accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// Full URL, credentials included: only ever handed to redis-rs.
    url: String,
    /// The same URL with the password masked: for logs and responses.
    shown: String,
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
        let url = if input.starts_with("redis://") || input.starts_with("rediss://") {
            input.to_owned()
        } else {
            from_connection_string(input).map_err(|reason| RedisTargetError {
                shown: mask_connection_string(input),
                reason,
            })?
        };
        let shown = mask_url(&url);
        if redis::IntoConnectionInfo::into_connection_info(url.as_str()).is_err() {
            return Err(RedisTargetError {
                shown,
                reason: "not a valid redis:// or rediss:// URL".into(),
            });
        }
        Ok(Self { url, shown })
    }

    /// A plain loopback target on `port`.
    pub fn local(port: u16) -> Self {
        let url = format!("redis://127.0.0.1:{port}");
        Self {
            shown: url.clone(),
            url,
        }
    }

    /// The URL with credentials, for redis-rs only.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A redis-rs client for this target.
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        redis::Client::open(self.url.as_str())
    }
}

/// `host:port,key=value,…` → `redis[s]://[user:pass@]host:port[/db]`.
fn from_connection_string(s: &str) -> Result<String, String> {
    let mut endpoint = None;
    let (mut user, mut password, mut tls, mut db) = (None, None, false, None);
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) => match k.trim().to_ascii_lowercase().as_str() {
                "password" => password = Some(v.to_owned()),
                "user" => user = Some(v.to_owned()),
                "ssl" => tls = v.trim().eq_ignore_ascii_case("true"),
                // sslHost, sslProtocols, checkCertificateRevocation: rustls
                // checks the host name and has no revocation lists, and no
                // key means "skip the check" (see the module comment).
                "defaultdatabase" => db = Some(v.trim().to_owned()),
                // Timeouts, abortConnect and the like tune StackExchange.Redis
                // itself and mean nothing here.
                _ => {}
            },
            None if endpoint.is_none() => endpoint = Some(part.to_owned()),
            // Further endpoints name replicas; the first one is enough.
            None => {}
        }
    }
    let endpoint = endpoint.ok_or("no host:port in the connection string")?;
    let endpoint = if endpoint.contains(':') {
        endpoint
    } else {
        format!("{endpoint}:6379")
    };
    let auth = match (user, password) {
        (Some(u), Some(p)) => format!("{}:{}@", encode(&u), encode(&p)),
        (None, Some(p)) => format!(":{}@", encode(&p)),
        (Some(u), None) => format!("{}@", encode(&u)),
        (None, None) => String::new(),
    };
    let scheme = if tls { "rediss" } else { "redis" };
    let db = db.map(|d| format!("/{d}")).unwrap_or_default();
    Ok(format!("{scheme}://{auth}{endpoint}{db}"))
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

    /// Nonsense is refused with the password masked in the error.
    #[test]
    fn nonsense_is_refused_without_leaking() {
        let e = RedisTarget::parse(",password=hunter2").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }
}
