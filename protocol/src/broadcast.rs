//! The test broadcast: the one payload every part of signalscope agrees
//! on, so a broadcast can be matched, timed and counted wherever it lands.
//!
//! It rides inside the event Conduit's own clients already handle:
//! `NavigationStateUpdate` with one argument `{"type": "TestBroadcast",
//! "data": {"id", "seq", "sentAt", "origin"}}`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The hub event Conduit pushes to group `navigation-updates`.
pub const NAVIGATION_EVENT: &str = "NavigationStateUpdate";
/// The `type` inside the argument that marks a signalscope test broadcast.
pub const TEST_BROADCAST_TYPE: &str = "TestBroadcast";
/// The origin of the companion's test broadcasts.
pub const COMPANION_ORIGIN: &str = "companion";
/// Every canary's origin starts with this (then `-` and the canary's id),
/// so pages and feeds can tell the companion's always-on canary apart
/// from the broadcasts a person asked for.
pub const CANARY_ORIGIN_PREFIX: &str = "canary";

/// The identity of one test broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestBroadcast {
    /// Unique per broadcast, so duplicates can be told from repeats.
    pub id: String,
    /// Counts up per sender, so gaps show lost messages.
    pub seq: u64,
    /// Send time, ISO-8601 UTC with milliseconds.
    pub sent_at: String,
    /// Who sent it: an instance name, `companion`, or a load sender.
    pub origin: String,
    /// Send time in Unix microseconds, for `load`'s sub-millisecond
    /// latencies (absent from the companion's broadcasts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_us: Option<u64>,
    /// When a paced sender *meant* to send it (Unix µs): latency measured
    /// from here is corrected for coordinated omission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at_us: Option<u64>,
}

impl TestBroadcast {
    /// A broadcast sent at `sent_at_ms` (Unix milliseconds).
    pub fn new(
        id: impl Into<String>,
        seq: u64,
        sent_at_ms: u64,
        origin: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            seq,
            sent_at: iso8601_utc(sent_at_ms),
            origin: origin.into(),
            sent_at_us: None,
            scheduled_at_us: None,
        }
    }

    /// The hub argument: `{"type": "TestBroadcast", "data": {...}}`.
    pub fn to_argument(&self) -> Value {
        json!({ "type": TEST_BROADCAST_TYPE, "data": self })
    }

    /// Whether the companion's canary sent it.
    pub fn is_canary(&self) -> bool {
        is_canary_origin(&self.origin)
    }

    /// Recognises a test broadcast among a message's arguments.
    pub fn from_arguments(arguments: &[Value]) -> Option<Self> {
        let arg = arguments.first()?;
        if arg.get("type")?.as_str()? != TEST_BROADCAST_TYPE {
            return None;
        }
        crate::from_json::FromJson::from_json(arg.get("data")?)
    }
}

/// Whether `origin` names a canary (`canary-<id>`).
pub fn is_canary_origin(origin: &str) -> bool {
    origin
        .strip_prefix(CANARY_ORIGIN_PREFIX)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`, as System.Text.Json
/// writes a UTC `DateTime` (to the millisecond).
pub fn iso8601_utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates land on the right calendar day, leap years included.
    #[test]
    fn iso_dates() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601_utc(1_795_756_157_203), "2026-11-27T05:09:17.203Z");
    }

    /// Canary origins are told apart from every other sender's.
    #[test]
    fn canary_origins() {
        assert!(is_canary_origin("canary-1f2e"));
        assert!(!is_canary_origin("canaryman"));
        assert!(!is_canary_origin("companion"));
        assert!(TestBroadcast::new("i", 1, 0, "canary-a").is_canary());
    }

    /// A broadcast is recognised from its own argument, and nothing else is.
    #[test]
    fn recognises_its_own_argument() {
        let b = TestBroadcast::new("abc", 7, 0, "api-1");
        assert_eq!(TestBroadcast::from_arguments(&[b.to_argument()]), Some(b));
        let other = json!({"type": "ModelMappingChanged", "data": {}});
        assert_eq!(TestBroadcast::from_arguments(&[other]), None);
        assert_eq!(TestBroadcast::from_arguments(&[]), None);
    }
}
