//! What /proc says: the machine, and a process's memory, CPU time and context switches.

/// A numeric field of a `/proc/<pid>/status` text (`VmRSS:`, `voluntary_ctxt_switches:`;
/// units such as `kB` are dropped), 0 when missing.
fn status_field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A process's (current RSS, peak RSS) in kB.
pub fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (
        status_field(&status, "VmRSS:"),
        status_field(&status, "VmHWM:"),
    )
}

/// The machine, for the report.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} RAM, Linux {}", kernel.trim())
}

/// CPU time a process has used so far, all its threads: (user, system) in seconds.
pub fn cpu_seconds(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15, in clock ticks.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let hz = clock_ticks_per_second();
    (ticks(11) / hz, ticks(12) / hz)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), asked once.
fn clock_ticks_per_second() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Context switches of all a process's threads so far: (voluntary, involuntary). A thread
/// switched out voluntarily went to sleep waiting (for a socket, a lock, a channel); each
/// such sleep is a wake-up later, a hand-off the run path pays for in latency.
pub fn context_switches(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    let mut total = (0, 0);
    for task in tasks.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        total.0 += status_field(&status, "voluntary_ctxt_switches:");
        total.1 += status_field(&status, "nonvoluntary_ctxt_switches:");
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_without_their_unit() {
        let status = "Name:\tx\nVmHWM:\t  4500 kB\nVmRSS:\t  4000 kB\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(status_field(status, "VmRSS:"), 4000);
        assert_eq!(status_field(status, "VmHWM:"), 4500);
        assert_eq!(status_field(status, "voluntary_ctxt_switches:"), 12);
        assert_eq!(status_field(status, "nonvoluntary_ctxt_switches:"), 3);
        assert_eq!(status_field(status, "VmSwap:"), 0);
    }
}
