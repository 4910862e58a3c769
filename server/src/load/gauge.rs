//! The load generator watching itself, so a run it bottlenecked is marked
//! invalid instead of being reported as the servers' latency: its CPU,
//! its memory, how late its timers fire (event-loop lag), its open-file
//! limit and the ephemeral ports per target.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::summary::histogram;
use crate::locks::lock;

/// How often the lag probe asks for a wake-up.
const LAG_TICK: Duration = Duration::from_millis(10);

/// Raises the open-file soft limit to the hard limit; returns (soft, hard)
/// as they are afterwards.
pub fn raise_nofile() -> (u64, u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (0, 0);
    };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return (hard, hard);
    }
    (soft, hard)
}

/// Local ports the kernel hands out per (source address, target).
pub fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u64>().ok());
            let (lo, hi) = (it.next()??, it.next()??);
            Some(hi.saturating_sub(lo) + 1)
        })
        .unwrap_or(28_232)
}

/// CPU seconds this process has used (user + system).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are
    // the 14th and 15th fields of the whole line.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    let hz = clock_ticks();
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / hz,
        _ => 0.0,
    }
}

/// `sysconf(_SC_CLK_TCK)`: the unit of `/proc/self/stat`'s times.
fn clock_ticks() -> f64 {
    use nix::unistd::{sysconf, SysconfVar};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => hz as f64,
        _ => 100.0,
    }
}

/// Resident memory of this process, KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Measures event-loop lag until dropped: a task asks to wake every
/// 10 ms and records how late it woke, µs.
#[derive(Debug)]
pub struct LagProbe {
    /// This interval's lateness.
    lag: Arc<Mutex<Histogram<u64>>>,
    /// Stops the probe task.
    task: tokio::task::JoinHandle<()>,
}

impl LagProbe {
    /// Starts probing on the current runtime.
    pub fn start() -> Self {
        let lag = Arc::new(Mutex::new(histogram()));
        let record = lag.clone();
        let task = tokio::spawn(async move {
            loop {
                let asked = Instant::now() + LAG_TICK;
                tokio::time::sleep_until(asked.into()).await;
                let late = Instant::now().saturating_duration_since(asked);
                let mut h = lock(&record);
                h.saturating_record((late.as_micros() as u64).max(1));
            }
        });
        Self { lag, task }
    }

    /// The lag recorded since the last call.
    pub fn take(&self) -> Histogram<u64> {
        let mut h = lock(&self.lag);
        let out = h.clone();
        h.reset();
        out
    }
}

impl Drop for LagProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// CPU use between two readings, as percent of one core.
#[derive(Debug)]
pub struct CpuMeter {
    /// The previous reading: wall time and CPU seconds.
    last: (Instant, f64),
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self {
            last: (Instant::now(), cpu_seconds()),
        }
    }
}

impl CpuMeter {
    /// Percent of one core since the last call, and CPU seconds so far.
    pub fn sample(&mut self) -> (f64, f64) {
        let now = (Instant::now(), cpu_seconds());
        let wall = now.0.duration_since(self.last.0).as_secs_f64();
        let pct = if wall > 0.0 {
            (now.1 - self.last.1) / wall * 100.0
        } else {
            0.0
        };
        self.last = now;
        (pct.max(0.0), now.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Burning CPU shows up in the reading: 0.1 s of it within a deadline
    /// long enough for a busy machine, where a wall-clock burn gets less.
    #[test]
    fn cpu_is_counted() {
        let before = cpu_seconds();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut x = 0u64;
        while cpu_seconds() - before < 0.1 && Instant::now() < deadline {
            for _ in 0..100_000 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
        }
        std::hint::black_box(x);
        assert!(cpu_seconds() - before >= 0.1, "{}", cpu_seconds() - before);
    }

    /// The limit after raising is what the kernel reports.
    #[test]
    fn nofile_is_raised_to_hard() {
        let (soft, hard) = raise_nofile();
        assert_eq!(soft, hard);
        assert!(soft > 0);
        assert!(rss_kib() > 0);
        assert!(ephemeral_ports() > 1000);
    }
}
