//! The run engine's settings (`RUN_*`): concurrency, retries and backoff, time limits,
//! leases, cache window, flush interval, shutdown grace and the queue poll.

use super::{number, ConfigError};
use std::collections::HashMap;
use std::time::Duration;

/// How runs are executed.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Runs executing at once in this process (`RUN_CONCURRENCY`).
    pub concurrency: usize,
    /// Per-provider limits (`RUN_CONCURRENCY_<PROVIDER>`, e.g. `RUN_CONCURRENCY_OPENAI`);
    /// a provider without one is limited by `concurrency` only.
    pub provider_concurrency: std::collections::BTreeMap<String, usize>,
    /// Attempts per run, the first included (`RUN_MAX_ATTEMPTS`).
    pub max_attempts: i32,
    /// Waits before the 2nd, 3rd, … attempt (`RUN_BACKOFF_MS`, comma-separated); the
    /// last repeats. A provider's `Retry-After` takes precedence.
    pub backoff: Vec<Duration>,
    /// Longest wait for the first delta of an attempt (`RUN_FIRST_BYTE_TIMEOUT_MS`).
    pub first_byte_timeout: Duration,
    /// Longest attempt, start to end (`RUN_TOTAL_TIMEOUT_MS`).
    pub total_timeout: Duration,
    /// How long a claimed run stays leased without a heartbeat (`RUN_LEASE_MS`).
    pub lease: Duration,
    /// How long a succeeded run answers identical requests (`RUN_CACHE_TTL_SECS`, 0 = off).
    pub cache_ttl: Duration,
    /// How often partial output is written while streaming (`RUN_FLUSH_MS`).
    pub flush_interval: Duration,
    /// How long in-flight runs may finish at shutdown (`RUN_SHUTDOWN_GRACE_MS`).
    pub shutdown_grace: Duration,
    /// How often the dispatcher looks at the queue when nothing told it of queued runs
    /// (`RUN_QUEUE_POLL_MS`): runs another process left there, on a shared database.
    pub queue_poll: Duration,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            concurrency: 256,
            provider_concurrency: Default::default(),
            max_attempts: 3,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(3),
                Duration::from_secs(10),
            ],
            first_byte_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(600),
            lease: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            queue_poll: Duration::from_secs(1),
        }
    }
}

impl RunSettings {
    /// The wait before attempt `next` (2 or more).
    pub fn backoff_before(&self, next: i32) -> Duration {
        let i = (next.max(2) - 2) as usize;
        self.backoff
            .get(i)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }

    /// The concurrency limit of one provider.
    pub fn limit_for(&self, provider: &str) -> usize {
        self.provider_concurrency
            .get(provider)
            .copied()
            .unwrap_or(self.concurrency)
            .min(self.concurrency)
    }
}

pub(super) fn run_settings<'a>(
    vars: &HashMap<String, String>,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<RunSettings, ConfigError> {
    let d = RunSettings::default();
    let ms = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(number(
            get(name),
            name,
            default.as_millis() as u64,
        )?))
    };
    let backoff = match get("RUN_BACKOFF_MS") {
        None => d.backoff.clone(),
        Some(v) => v
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| {
                        ConfigError(format!(
                            "RUN_BACKOFF_MS must be milliseconds, comma-separated, not {v:?}"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let cache_ttl = match get("RUN_CACHE_TTL_SECS") {
        None => d.cache_ttl,
        Some(v) => Duration::from_secs(v.parse::<u64>().map_err(|_| {
            ConfigError(format!(
                "RUN_CACHE_TTL_SECS must be a whole number, not {v:?}"
            ))
        })?),
    };
    let mut provider_concurrency = std::collections::BTreeMap::new();
    for (k, v) in vars {
        if let Some(p) = k.strip_prefix("RUN_CONCURRENCY_") {
            let n = number(Some(v.trim()), k, 1)? as usize;
            provider_concurrency.insert(p.to_ascii_lowercase(), n);
        }
    }
    let max_attempts = number(get("RUN_MAX_ATTEMPTS"), "RUN_MAX_ATTEMPTS", 3)?;
    if max_attempts > 10 {
        return Err(ConfigError("RUN_MAX_ATTEMPTS is at most 10".into()));
    }
    Ok(RunSettings {
        concurrency: number(
            get("RUN_CONCURRENCY"),
            "RUN_CONCURRENCY",
            d.concurrency as u64,
        )? as usize,
        provider_concurrency,
        max_attempts: max_attempts as i32,
        backoff,
        first_byte_timeout: ms("RUN_FIRST_BYTE_TIMEOUT_MS", d.first_byte_timeout)?,
        total_timeout: ms("RUN_TOTAL_TIMEOUT_MS", d.total_timeout)?,
        lease: ms("RUN_LEASE_MS", d.lease)?,
        cache_ttl,
        flush_interval: ms("RUN_FLUSH_MS", d.flush_interval)?,
        shutdown_grace: ms("RUN_SHUTDOWN_GRACE_MS", d.shutdown_grace)?,
        queue_poll: ms("RUN_QUEUE_POLL_MS", d.queue_poll)?,
    })
}
