//! The client's connection policy as pure functions (docs/WIRE.md §5–§6): states
//! and their legal transitions, reconnect delays, keep-alive and timeout.
//!
//! Time is passed in as milliseconds from any fixed origin, so the browser
//! (`performance.now()`), tokio and tests with a fake clock share one rule.

use std::fmt;

/// The official client's five states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Not connected and not trying.
    Disconnected,
    /// First start: negotiate, transport, handshake.
    Connecting,
    /// Handshake done; messages flow.
    Connected,
    /// `stop()` was called; waiting for the transport to close.
    Disconnecting,
    /// The connection dropped; retrying per the reconnect policy.
    Reconnecting,
}

impl ConnectionState {
    /// The official client's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disconnected => "Disconnected",
            Self::Connecting => "Connecting",
            Self::Connected => "Connected",
            Self::Disconnecting => "Disconnecting",
            Self::Reconnecting => "Reconnecting",
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// `start()` was called.
    Start,
    /// Negotiate, transport and handshake succeeded.
    Opened,
    /// A start or reconnect attempt failed.
    AttemptFailed,
    /// The transport dropped (or the server timed out) and the policy
    /// allows another attempt.
    Lost,
    /// The policy has no more attempts, or the server closed without
    /// `allowReconnect`.
    GaveUp,
    /// `stop()` was called.
    Stop,
    /// The transport finished closing after `stop()`.
    Closed,
}

/// An event that makes no sense in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition: {event:?} while {from}")]
pub struct IllegalTransition {
    /// The state the connection was in.
    pub from: ConnectionState,
    /// The event that does not apply there.
    pub event: ConnectionEvent,
}

/// The state after `event`, or why that cannot happen.
///
/// Follows the official client, plus one extension the dashboard needs:
/// a failed first start may go on to `Reconnecting` (`Connecting` + `Lost`)
/// where the official client would give up.
pub fn transition(
    from: ConnectionState,
    event: ConnectionEvent,
) -> Result<ConnectionState, IllegalTransition> {
    use ConnectionEvent as E;
    use ConnectionState as S;
    let to = match (from, event) {
        (S::Disconnected, E::Start) => S::Connecting,
        (S::Connecting, E::Opened) | (S::Reconnecting, E::Opened) => S::Connected,
        (S::Connecting, E::AttemptFailed) | (S::Connecting, E::GaveUp) => S::Disconnected,
        (S::Connecting, E::Lost) | (S::Connected, E::Lost) => S::Reconnecting,
        (S::Reconnecting, E::AttemptFailed) | (S::Reconnecting, E::Lost) => S::Reconnecting,
        (S::Connected, E::GaveUp) | (S::Reconnecting, E::GaveUp) => S::Disconnected,
        (S::Connecting, E::Stop) | (S::Connected, E::Stop) => S::Disconnecting,
        (S::Reconnecting, E::Stop) => S::Disconnected,
        (S::Disconnecting, E::Closed) | (S::Disconnecting, E::GaveUp) => S::Disconnected,
        (S::Disconnecting, E::Lost) => S::Disconnected,
        (S::Disconnected, E::Stop) => S::Disconnected,
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

/// The official client's `withAutomaticReconnect()` delays, in ms.
pub const DEFAULT_RETRY_DELAYS_MS: [u64; 4] = [0, 2_000, 10_000, 30_000];

/// When to try again after a drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconnectPolicy {
    /// Try after each delay in turn, then give up.
    Delays(Vec<u64>),
    /// Try after each delay in turn, then keep trying every `then_every_ms`.
    Forever {
        /// The first delays.
        delays: Vec<u64>,
        /// Delay for every attempt after those.
        then_every_ms: u64,
    },
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self::Delays(DEFAULT_RETRY_DELAYS_MS.to_vec())
    }
}

impl ReconnectPolicy {
    /// The default delays, then every 30 s without end.
    pub fn forever() -> Self {
        Self::Forever {
            delays: DEFAULT_RETRY_DELAYS_MS.to_vec(),
            then_every_ms: 30_000,
        }
    }

    /// Delay before the next attempt after `previous_retry_count` failed
    /// ones, or `None` to give up (the TS client's
    /// `nextRetryDelayInMilliseconds`).
    pub fn next_delay_ms(&self, previous_retry_count: u32) -> Option<u64> {
        let i = previous_retry_count as usize;
        match self {
            Self::Delays(d) => d.get(i).copied(),
            Self::Forever {
                delays,
                then_every_ms,
            } => Some(delays.get(i).copied().unwrap_or(*then_every_ms)),
        }
    }
}

/// Keep-alive and timeout settings for one side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// The client sends a Ping when it sent nothing for this long; an
    /// ASP.NET server pings on this fixed cadence whatever else it sent
    /// (`HubConnectionContext.KeepAliveTick` only counts pings).
    pub keep_alive_ms: u64,
    /// Give up on the peer when nothing was received for this long (an
    /// ASP.NET server arms this only once the client's first Ping arrived).
    pub timeout_ms: u64,
}

impl Liveness {
    /// The official client's defaults (15 s ping, 30 s server timeout).
    pub const CLIENT_DEFAULT: Self = Self {
        keep_alive_ms: 15_000,
        timeout_ms: 30_000,
    };
    /// A client for Conduit: its server pings every 30 s, so the client
    /// waits 60 s (twice that) before declaring the server gone.
    pub const CLIENT_FOR_CONDUIT: Self = Self {
        keep_alive_ms: 15_000,
        timeout_ms: 60_000,
    };
    /// Conduit's server: `KeepAliveInterval` 30 s, `ClientTimeoutInterval` 60 s.
    pub const CONDUIT_SERVER: Self = Self {
        keep_alive_ms: 30_000,
        timeout_ms: 60_000,
    };
}

/// The two clocks of one connection: last send and last receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The settings in force.
    pub liveness: Liveness,
    /// When this side last sent anything; pings are due relative to it.
    last_sent_ms: u64,
    /// When anything last arrived; the timeout runs from it.
    last_received_ms: u64,
}

impl Heartbeat {
    /// Both clocks start at `now_ms` (the handshake).
    pub fn new(liveness: Liveness, now_ms: u64) -> Self {
        Self {
            liveness,
            last_sent_ms: now_ms,
            last_received_ms: now_ms,
        }
    }

    /// Record a send (any message counts, not only pings).
    pub fn sent(&mut self, now_ms: u64) {
        self.last_sent_ms = self.last_sent_ms.max(now_ms);
    }

    /// Record a receipt (any message counts).
    pub fn received(&mut self, now_ms: u64) {
        self.last_received_ms = self.last_received_ms.max(now_ms);
    }

    /// When this side last heard from the peer.
    pub fn last_received_ms(&self) -> u64 {
        self.last_received_ms
    }

    /// Whether a Ping should go out now.
    pub fn ping_due(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_sent_ms) >= self.liveness.keep_alive_ms
    }

    /// Whether the peer has been silent past the timeout.
    pub fn timed_out(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_received_ms) >= self.liveness.timeout_ms
    }

    /// Milliseconds until the next ping or timeout is due (0 if one is).
    pub fn next_check_in_ms(&self, now_ms: u64) -> u64 {
        let ping_at = self.last_sent_ms + self.liveness.keep_alive_ms;
        let timeout_at = self.last_received_ms + self.liveness.timeout_ms;
        ping_at.min(timeout_at).saturating_sub(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionEvent as E;
    use ConnectionState as S;

    /// The default policy retries after 0, 2, 10, 30 s and then gives up.
    #[test]
    fn default_policy_matches_official_client() {
        let p = ReconnectPolicy::default();
        let delays: Vec<_> = (0..5).map(|i| p.next_delay_ms(i)).collect();
        assert_eq!(
            delays,
            [Some(0), Some(2_000), Some(10_000), Some(30_000), None]
        );
    }

    /// A custom list gives up after its last delay; an empty one at once.
    #[test]
    fn custom_policy_gives_up_after_its_list() {
        let p = ReconnectPolicy::Delays(vec![5]);
        assert_eq!((p.next_delay_ms(0), p.next_delay_ms(1)), (Some(5), None));
        assert_eq!(ReconnectPolicy::Delays(vec![]).next_delay_ms(0), None);
    }

    /// Retry-forever keeps going at its steady interval.
    #[test]
    fn forever_never_gives_up() {
        let p = ReconnectPolicy::forever();
        assert_eq!(p.next_delay_ms(3), Some(30_000));
        assert_eq!(p.next_delay_ms(10_000), Some(30_000));
    }

    /// The happy path, a drop and a recovery are all legal.
    #[test]
    fn drop_and_recover() {
        let mut s = S::Disconnected;
        for e in [E::Start, E::Opened, E::Lost, E::AttemptFailed, E::Opened] {
            s = transition(s, e).unwrap();
        }
        assert_eq!(s, S::Connected);
    }

    /// Nothing opens a connection that was never started.
    #[test]
    fn opened_while_disconnected_is_illegal() {
        assert_eq!(
            transition(S::Disconnected, E::Opened),
            Err(IllegalTransition {
                from: S::Disconnected,
                event: E::Opened
            })
        );
    }

    /// Stop during a reconnect delay ends at Disconnected directly.
    #[test]
    fn stop_while_reconnecting() {
        assert_eq!(transition(S::Reconnecting, E::Stop), Ok(S::Disconnected));
        assert_eq!(transition(S::Connected, E::Stop), Ok(S::Disconnecting));
    }

    /// A Conduit client neither pings early nor times out on a 30 s ping.
    #[test]
    fn conduit_client_survives_thirty_second_pings() {
        let mut h = Heartbeat::new(Liveness::CLIENT_FOR_CONDUIT, 0);
        assert!(!h.ping_due(14_999));
        assert!(h.ping_due(15_000));
        h.received(30_000);
        assert!(!h.timed_out(59_999));
        assert!(!h.timed_out(89_999));
        assert!(h.timed_out(90_000));
    }

    /// With the official default, a 30 s server ping arrives too late.
    #[test]
    fn default_client_flaps_against_conduit() {
        let h = Heartbeat::new(Liveness::CLIENT_DEFAULT, 0);
        assert!(h.timed_out(30_000));
    }

    /// The next check is the earlier of ping and timeout.
    #[test]
    fn next_check_is_the_earliest_deadline() {
        let mut h = Heartbeat::new(Liveness::CONDUIT_SERVER, 0);
        assert_eq!(h.next_check_in_ms(10_000), 20_000);
        h.sent(25_000);
        assert_eq!(h.next_check_in_ms(30_000), 25_000);
        assert_eq!(h.next_check_in_ms(70_000), 0);
    }
}
