//! Reconnect bookkeeping for one hub connection, as plain Rust: which state
//! the connection is in, how many attempts failed, and what the policy says
//! to do next. The browser driver asks it; the unit tests check it.

use protocol::connection::{transition, ConnectionEvent, ConnectionState, ReconnectPolicy};

/// What to do after an attempt failed or a connection dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Try again after `delay_ms`.
    Retry {
        /// Which retry this is, counting from 1 since the last success.
        attempt: u32,
        /// How long to wait first.
        delay_ms: u64,
    },
    /// The policy has no more attempts.
    GiveUp,
}

/// One connection's state and retry count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// The official client's state, moved only by legal transitions.
    state: ConnectionState,
    /// Failed attempts since the last successful open: the policy's input.
    failed_attempts: u32,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            state: ConnectionState::Disconnected,
            failed_attempts: 0,
        }
    }
}

impl Lifecycle {
    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// A (re)start by the user: counting begins anew.
    pub fn start(&mut self) {
        self.apply(ConnectionEvent::Stop);
        self.apply(ConnectionEvent::Closed);
        self.failed_attempts = 0;
        self.apply(ConnectionEvent::Start);
    }

    /// Negotiate, transport and handshake succeeded.
    pub fn opened(&mut self) {
        self.failed_attempts = 0;
        self.apply(ConnectionEvent::Opened);
    }

    /// An attempt failed or the connection dropped. Unlike the official
    /// client, a failed *first* start is retried too.
    pub fn failed(&mut self, policy: &ReconnectPolicy) -> NextStep {
        match policy.next_delay_ms(self.failed_attempts) {
            Some(delay_ms) => {
                self.failed_attempts += 1;
                let event = if self.state == ConnectionState::Reconnecting {
                    ConnectionEvent::AttemptFailed
                } else {
                    ConnectionEvent::Lost
                };
                self.apply(event);
                NextStep::Retry {
                    attempt: self.failed_attempts,
                    delay_ms,
                }
            }
            None => {
                self.apply(ConnectionEvent::GaveUp);
                NextStep::GiveUp
            }
        }
    }

    /// The connection ended for good: the server closed without allowing
    /// a reconnect, or the hub refused the key.
    pub fn ended(&mut self) {
        self.apply(ConnectionEvent::GaveUp);
    }

    /// `stop()` by the user; the transport is closed at once.
    pub fn stop(&mut self) {
        self.apply(ConnectionEvent::Stop);
        self.apply(ConnectionEvent::Closed);
    }

    /// Events that no longer apply (a late failure after a stop) are
    /// ignored: the state stays as the user left it.
    fn apply(&mut self, event: ConnectionEvent) {
        if let Ok(next) = transition(self.state, event) {
            self.state = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState as S;

    /// The first retry after a success or a (re)start: attempt 1, at once.
    const FIRST_RETRY: NextStep = NextStep::Retry {
        attempt: 1,
        delay_ms: 0,
    };

    fn retries(life: &mut Lifecycle, policy: &ReconnectPolicy, n: usize) -> Vec<NextStep> {
        (0..n).map(|_| life.failed(policy)).collect()
    }

    /// After a drop the default policy retries at 0, 2, 10, 30 s, then gives up.
    #[test]
    fn default_policy_after_a_drop() {
        let mut life = Lifecycle::default();
        life.start();
        life.opened();
        let steps = retries(&mut life, &ReconnectPolicy::default(), 5);
        let delays: Vec<_> = steps
            .iter()
            .map(|s| match s {
                NextStep::Retry { delay_ms, .. } => Some(*delay_ms),
                NextStep::GiveUp => None,
            })
            .collect();
        assert_eq!(
            delays,
            [Some(0), Some(2_000), Some(10_000), Some(30_000), None]
        );
        assert_eq!(life.state(), S::Disconnected);
    }

    /// A failed first start is retried, numbered from attempt 1.
    #[test]
    fn failed_first_start_is_retried() {
        let mut life = Lifecycle::default();
        life.start();
        assert_eq!(life.state(), S::Connecting);
        assert_eq!(life.failed(&ReconnectPolicy::default()), FIRST_RETRY);
        assert_eq!(life.state(), S::Reconnecting);
    }

    /// A success resets the count, so the next drop starts at 0 s again.
    #[test]
    fn success_resets_the_count() {
        let mut life = Lifecycle::default();
        let policy = ReconnectPolicy::default();
        life.start();
        retries(&mut life, &policy, 3);
        life.opened();
        assert_eq!(life.state(), S::Connected);
        assert_eq!(life.failed(&policy), FIRST_RETRY);
    }

    /// Retry-forever never gives up.
    #[test]
    fn forever_keeps_retrying() {
        let mut life = Lifecycle::default();
        life.start();
        let steps = retries(&mut life, &ReconnectPolicy::forever(), 50);
        assert!(steps.iter().all(|s| matches!(s, NextStep::Retry { .. })));
        assert_eq!(life.state(), S::Reconnecting);
    }

    /// Stop while reconnecting ends at Disconnected; a restart counts anew.
    #[test]
    fn stop_then_restart() {
        let mut life = Lifecycle::default();
        let policy = ReconnectPolicy::default();
        life.start();
        retries(&mut life, &policy, 2);
        life.stop();
        assert_eq!(life.state(), S::Disconnected);
        life.start();
        assert_eq!(life.state(), S::Connecting);
        assert_eq!(life.failed(&policy), FIRST_RETRY);
    }

    /// A restart while connected goes back through Connecting.
    #[test]
    fn restart_while_connected() {
        let mut life = Lifecycle::default();
        life.start();
        life.opened();
        life.start();
        assert_eq!(life.state(), S::Connecting);
    }
}
