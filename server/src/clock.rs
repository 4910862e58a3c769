//! Wall-clock time as Unix numbers: what goes on the wire (broadcast
//! timestamps, feed lines) and what separate processes on one machine
//! compare.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds (0 if the clock is before 1970).
pub fn unix_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Unix time in microseconds (0 if the clock is before 1970).
pub fn unix_us() -> u64 {
    since_epoch().as_micros() as u64
}

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
