//! What every long-lived Redis user here does alike: open a connection
//! and name it, tell a lost connection from a refused command, and pause
//! between attempts to get it back. The stand-in's backplane loop
//! ([`crate::sim`]), the companion's command link ([`crate::redis_link`])
//! and its feed relays each keep their own loop; they share these parts.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, RedisResult};

/// First pause after a failure; doubles per further failure.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
/// Longest pause. One policy for every loop: each wants to be back soon
/// after Redis is (a restarted Redis is in use again within 2 s), and one
/// attempt every 2 s costs a Redis that is still down nothing.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// A fresh connection and whether Redis let it take its name.
pub struct Named {
    /// The connection (cheap to clone: it is multiplexed).
    pub connection: MultiplexedConnection,
    /// Why CLIENT SETNAME failed, if it did (an ACL may forbid it); the
    /// caller decides whether a nameless connection will do.
    pub name_refused: Option<RedisError>,
}

/// Opens a multiplexed connection whose connecting and every reply are
/// bounded by `timeout`, then names it `name` with CLIENT SETNAME, so
/// MONITOR and CLIENT LIST readers (the feed) can say who sent what.
pub async fn open_named(
    client: &redis::Client,
    name: &str,
    timeout: Duration,
) -> RedisResult<Named> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let named = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async::<()>(&mut connection)
        .await;
    Ok(Named {
        connection,
        name_refused: named.err(),
    })
}

/// Whether `e` means the connection is gone (reset, closed, silent, or in
/// a state redis-rs cannot recover from), so it must be replaced; any
/// other error is Redis refusing one command on a connection that still
/// works.
pub fn is_connection_lost(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// Exponential back-off between reconnect attempts.
#[derive(Debug)]
pub struct Backoff {
    /// The pause [`Backoff::pause`] hands out next.
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: BACKOFF_FIRST,
        }
    }
}

impl Backoff {
    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }

    /// How long to wait before the next attempt; each call doubles the one
    /// after, up to the maximum.
    pub fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (pause * 2).min(BACKOFF_MAX);
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reset connection or a garbled reply means the connection must go;
    /// an error Redis answered a command with does not.
    #[test]
    fn lost_versus_refused() {
        use redis::{ErrorKind, ServerErrorKind};
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let garbled = RedisError::from((ErrorKind::Parse, "garbled reply"));
        let refused = RedisError::from((ErrorKind::Server(ServerErrorKind::ResponseError), "ERR"));
        assert!(is_connection_lost(&reset));
        assert!(is_connection_lost(&garbled));
        assert!(!is_connection_lost(&refused));
    }

    /// Pauses double from 100 ms up to the 2 s cap, and start over on reset.
    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut b = Backoff::default();
        let ms: Vec<u128> = (0..7).map(|_| b.pause().as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 2000, 2000]);
        b.reset();
        assert_eq!(b.pause(), BACKOFF_FIRST);
    }
}
