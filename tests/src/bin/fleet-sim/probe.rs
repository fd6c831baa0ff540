//! A process's resident memory and CPU time, from `/proc` (Linux).

use std::time::{Duration, Instant};

/// Resident set size of `pid` in bytes (0 if it is gone).
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// User + system CPU time of `pid` so far.
pub fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 1000 / clock_ticks())
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture the project builds for.
fn clock_ticks() -> u64 {
    100
}

/// A process's CPU time from a starting point, read as cores used since.
pub struct CpuSince {
    pid: u32,
    start: Instant,
    cpu0: Duration,
}

impl CpuSince {
    pub fn start(pid: u32) -> Self {
        CpuSince {
            pid,
            start: Instant::now(),
            cpu0: cpu(pid),
        }
    }

    /// Cores used since the start.
    pub fn cores(&self) -> f64 {
        let used = cpu(self.pid).saturating_sub(self.cpu0);
        used.as_secs_f64() / self.start.elapsed().as_secs_f64()
    }
}

/// CPU (in cores) and peak RSS of `pid` over `window`, sampled every 100 ms.
pub fn measure(pid: u32, window: Duration) -> (f64, u64) {
    let since = CpuSince::start(pid);
    let mut peak = rss(pid);
    while since.start.elapsed() < window {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss(pid));
    }
    (since.cores(), peak)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The machine's 1-minute load average (`/proc/loadavg`; NaN if unreadable): recorded beside
/// every run, since the figures move with what else the shared machine is doing.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
