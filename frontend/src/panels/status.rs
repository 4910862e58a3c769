//! A connection's status in words and colour, as plain Rust: how a panel
//! shows the [`ConnectionStatus`] its client reports.

use crate::clock::span;
use crate::signalr::ConnectionStatus;

// The page's words for a status live with the page, not the client.
impl ConnectionStatus {
    /// The `data-status` value (and CSS class).
    pub fn key(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected { .. } => "connected",
            Self::Reconnecting { .. } => "reconnecting",
            Self::Disconnected { .. } => "disconnected",
            Self::Failed { .. } => "failed",
            Self::NeedsKey { .. } => "needs-key",
        }
    }

    /// The status in words at `now_ms`, with the countdown while waiting.
    pub fn words(&self, now_ms: f64) -> String {
        match self {
            Self::Connecting => "Connecting…".into(),
            Self::Connected { .. } => "Connected".into(),
            Self::Reconnecting {
                attempt,
                retry_at_ms,
                reason,
            } => {
                let left = retry_at_ms - now_ms;
                if left > 0.0 {
                    format!(
                        "Reconnecting: attempt {attempt} in {} ({reason})",
                        span(left)
                    )
                } else {
                    format!("Reconnecting: attempt {attempt} ({reason})")
                }
            }
            Self::Disconnected { reason: None } => "Disconnected".into(),
            Self::Disconnected { reason: Some(r) } => format!("Disconnected: {r}"),
            Self::Failed { reason } => format!("Failed: {reason}"),
            Self::NeedsKey { reason } => format!("Waiting for a key: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The countdown shows while waiting, and only the attempt once it runs.
    #[test]
    fn reconnecting_counts_down() {
        let s = ConnectionStatus::Reconnecting {
            attempt: 2,
            retry_at_ms: 3_000.0,
            reason: "connection closed".into(),
        };
        assert_eq!(s.key(), "reconnecting");
        assert_eq!(
            s.words(1_000.0),
            "Reconnecting: attempt 2 in 2.0 s (connection closed)"
        );
        assert_eq!(
            s.words(3_500.0),
            "Reconnecting: attempt 2 (connection closed)"
        );
    }

    /// Failure keeps its reason.
    #[test]
    fn failed_says_why() {
        let s = ConnectionStatus::Failed {
            reason: "negotiate answered HTTP 404".into(),
        };
        assert_eq!(
            (s.key(), s.words(0.0).as_str()),
            ("failed", "Failed: negotiate answered HTTP 404")
        );
    }

    /// A refused key has its own key and says the panel waits for a key,
    /// keeping the refusal's words.
    #[test]
    fn refused_key_waits_for_a_key() {
        let s = ConnectionStatus::NeedsKey {
            reason: format!("{}; more", crate::signalr::KEY_REFUSED),
        };
        assert_eq!(s.key(), "needs-key");
        assert_eq!(
            s.words(0.0),
            "Waiting for a key: 401 Unauthorized: key refused; more"
        );
    }
}
