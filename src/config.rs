//! Server configuration: one [`Config`] read from the environment, with defaults that run
//! offline on a laptop. Production mode (`APP_ENV=production`) refuses unsafe defaults
//! instead of guessing; development fills gaps and says so in the log.

use std::collections::HashMap;
use std::time::Duration;

mod runs;
use runs::run_settings;
pub use runs::RunSettings;

/// Where the server runs; decides cookie security and how strict start-up is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Everything the server needs to know at start-up.
#[derive(Clone)]
pub struct Config {
    pub env: AppEnv,
    pub database_url: String,
    /// HMAC key for session tokens (HS256).
    pub jwt_secret: Vec<u8>,
    /// True when the secret was generated because none was configured (development only).
    pub jwt_secret_generated: bool,
    pub session_ttl: Duration,
    pub log_format: LogFormat,
    /// Requests a client may burst on the auth routes before being throttled.
    pub auth_rate_burst: u32,
    /// One auth request is replenished per this period.
    pub auth_rate_period: Duration,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Extra origins (scheme://host[:port]) allowed to make state-changing requests, for
    /// deployments behind a proxy that rewrites `Host`.
    pub allowed_origins: Vec<String>,
    /// Model providers: keys, endpoints, model allowlists (never logged).
    pub providers: ProviderSettings,
    /// The run engine: concurrency, retries, time limits, leases, cache.
    pub runs: RunSettings,
    /// The program whose `render-worker` renders templates that do more than print their
    /// variables (`template::sandbox`): the server's own binary, set by its `main`. Not
    /// read from the environment; `None` renders every template in-process.
    pub template_worker: Option<std::path::PathBuf>,
}

/// One hosted provider's settings.
#[derive(Clone, Default)]
pub struct ProviderAccess {
    pub api_key: Option<String>,
    pub base_url: String,
    /// Allowed models; empty means "any" (OpenAI-compatible servers).
    pub models: Vec<String>,
}

/// Everything about model providers, from the environment.
#[derive(Clone)]
pub struct ProviderSettings {
    pub openai: ProviderAccess,
    pub anthropic: ProviderAccess,
    pub groq: ProviderAccess,
    /// Configured only when `OPENAI_COMPAT_BASE_URL` is set.
    pub compat: Option<ProviderAccess>,
    /// Words per second of the offline mock (0 = as fast as possible).
    pub mock_tokens_per_second: u32,
    /// Built-in prices with `PRICES_JSON` (overrides and custom models) applied.
    pub prices: crate::pricing::PriceTable,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`.
    pub proxies: crate::providers::http::Proxies,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("env", &self.env)
            .field("database_url", &redact_url(&self.database_url))
            .field("jwt_secret", &"<redacted>")
            .field("session_ttl", &self.session_ttl)
            .field("log_format", &self.log_format)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// A configuration that cannot be used; the server refuses to start with it.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Minimum length of `JWT_SECRET` in production, in bytes.
pub const JWT_SECRET_MIN_BYTES: usize = 32;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/promptlab.db?mode=rwc";

impl Config {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Read the configuration from a map of variables (the environment, or a test's).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let env = match get("APP_ENV").map(str::to_ascii_lowercase).as_deref() {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(ConfigError(format!(
                    "APP_ENV must be development or production, not {other:?}"
                )))
            }
        };
        let (jwt_secret, jwt_secret_generated) = match get("JWT_SECRET") {
            Some(s) if s.len() >= JWT_SECRET_MIN_BYTES => (s.as_bytes().to_vec(), false),
            Some(_) if env == AppEnv::Production => {
                return Err(ConfigError(format!(
                    "JWT_SECRET must be at least {JWT_SECRET_MIN_BYTES} bytes in production"
                )))
            }
            None if env == AppEnv::Production => {
                return Err(ConfigError("JWT_SECRET is required in production".into()))
            }
            Some(s) => (s.as_bytes().to_vec(), false),
            None => {
                use rand::RngCore;
                let mut key = vec![0u8; 64];
                rand::rngs::OsRng.fill_bytes(&mut key);
                (key, true)
            }
        };
        let log_format = match get("LOG_FORMAT") {
            Some("json") => LogFormat::Json,
            None | Some("human") | Some("text") => LogFormat::Human,
            Some(other) => {
                return Err(ConfigError(format!(
                    "LOG_FORMAT must be json or human, not {other:?}"
                )))
            }
        };
        Ok(Self {
            env,
            database_url: get("DATABASE_URL")
                .unwrap_or(DEFAULT_DATABASE_URL)
                .to_owned(),
            jwt_secret,
            jwt_secret_generated,
            session_ttl: Duration::from_secs(number(
                get("SESSION_TTL_SECS"),
                "SESSION_TTL_SECS",
                7 * 24 * 3600,
            )?),
            log_format,
            auth_rate_burst: number(get("AUTH_RATE_BURST"), "AUTH_RATE_BURST", 10)? as u32,
            auth_rate_period: Duration::from_millis(number(
                get("AUTH_RATE_PERIOD_MS"),
                "AUTH_RATE_PERIOD_MS",
                3000,
            )?),
            max_body_bytes: number(get("MAX_BODY_BYTES"), "MAX_BODY_BYTES", 1024 * 1024)? as usize,
            request_timeout: Duration::from_secs(number(
                get("REQUEST_TIMEOUT_SECS"),
                "REQUEST_TIMEOUT_SECS",
                30,
            )?),
            allowed_origins: get("ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            providers: provider_settings(&get)?,
            runs: run_settings(vars, &get)?,
            template_worker: None,
        })
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.env == AppEnv::Production
    }
}

fn provider_settings<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<ProviderSettings, ConfigError> {
    let list = |k: &str, default: &[&str]| -> Vec<String> {
        match get(k) {
            Some(v) => v
                .split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect(),
            None => default.iter().map(|m| (*m).to_owned()).collect(),
        }
    };
    let access =
        |key: &str, url_var: &str, url: &str, models_var: &str, models: &[&str]| ProviderAccess {
            api_key: get(key).map(str::to_owned),
            base_url: get(url_var).unwrap_or(url).trim_end_matches('/').to_owned(),
            models: list(models_var, models),
        };
    let mock_rate = match get("MOCK_TOKENS_PER_SECOND") {
        None => 40,
        Some(v) => v.parse::<u32>().map_err(|_| {
            ConfigError(format!(
                "MOCK_TOKENS_PER_SECOND must be a whole number, not {v:?}"
            ))
        })?,
    };
    let builtin = crate::pricing::PriceTable::builtin();
    let prices = match get("PRICES_JSON") {
        Some(json) => builtin
            .with_overrides(json)
            .map_err(|e| ConfigError(e.message))?,
        None => builtin,
    };
    Ok(ProviderSettings {
        openai: access(
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "https://api.openai.com/v1",
            "OPENAI_MODELS",
            &[
                "gpt-4o",
                "gpt-4o-mini",
                "gpt-4.1",
                "gpt-4.1-mini",
                "gpt-4.1-nano",
                "o3-mini",
            ],
        ),
        anthropic: access(
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "https://api.anthropic.com",
            "ANTHROPIC_MODELS",
            &[
                "claude-sonnet-4-0",
                "claude-opus-4-0",
                "claude-3-5-haiku-latest",
            ],
        ),
        groq: access(
            "GROQ_API_KEY",
            "GROQ_BASE_URL",
            "https://api.groq.com/openai/v1",
            "GROQ_MODELS",
            &["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
        ),
        compat: get("OPENAI_COMPAT_BASE_URL").map(|url| ProviderAccess {
            api_key: get("OPENAI_COMPAT_API_KEY").map(str::to_owned),
            base_url: url.trim_end_matches('/').to_owned(),
            models: list("OPENAI_COMPAT_MODELS", &[]),
        }),
        mock_tokens_per_second: mock_rate,
        prices,
        proxies: crate::providers::http::Proxies::from_vars(get).map_err(ConfigError)?,
    })
}

pub(crate) fn number(raw: Option<&str>, name: &str, default: u64) -> Result<u64, ConfigError> {
    match raw {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError(format!(
                "{name} must be a positive whole number, not {v:?}"
            ))),
        },
    }
}

/// The URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn development_defaults_run_offline() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.env, AppEnv::Development);
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert!(c.jwt_secret_generated);
        assert_eq!(c.jwt_secret.len(), 64);
        assert!(!c.secure_cookies());
    }

    #[test]
    fn production_requires_a_long_secret() {
        assert!(Config::from_vars(&vars(&[("APP_ENV", "production")])).is_err());
        assert!(
            Config::from_vars(&vars(&[("APP_ENV", "production"), ("JWT_SECRET", "short")]))
                .is_err()
        );
        let c = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", &"k".repeat(32)),
        ]))
        .unwrap();
        assert!(!c.jwt_secret_generated);
        assert!(c.secure_cookies());
    }

    #[test]
    fn bad_values_are_errors_not_defaults() {
        assert!(Config::from_vars(&vars(&[("APP_ENV", "staging")])).is_err());
        assert!(Config::from_vars(&vars(&[("MAX_BODY_BYTES", "lots")])).is_err());
        assert!(Config::from_vars(&vars(&[("LOG_FORMAT", "xml")])).is_err());
        let c = Config::from_vars(&vars(&[("ALLOWED_ORIGINS", "https://a.io/, https://b.io")]))
            .unwrap();
        assert_eq!(c.allowed_origins, vec!["https://a.io", "https://b.io"]);
    }

    #[test]
    fn run_settings() {
        let d = Config::from_vars(&vars(&[])).unwrap().runs;
        assert_eq!(d.max_attempts, 3);
        assert_eq!(d.backoff_before(2), Duration::from_secs(1));
        assert_eq!(d.backoff_before(3), Duration::from_secs(3));
        assert_eq!(d.backoff_before(9), Duration::from_secs(10));
        let c = Config::from_vars(&vars(&[
            ("RUN_BACKOFF_MS", "10, 20"),
            ("RUN_CONCURRENCY", "8"),
            ("RUN_CONCURRENCY_OPENAI", "2"),
            ("RUN_CACHE_TTL_SECS", "0"),
        ]))
        .unwrap()
        .runs;
        assert_eq!(c.backoff_before(3), Duration::from_millis(20));
        assert_eq!(c.limit_for("openai"), 2);
        assert_eq!(c.limit_for("mock"), 8);
        assert!(c.cache_ttl.is_zero());
        assert!(Config::from_vars(&vars(&[("RUN_BACKOFF_MS", "soon")])).is_err());
        assert!(Config::from_vars(&vars(&[("RUN_CONCURRENCY_MOCK", "0")])).is_err());
        assert!(Config::from_vars(&vars(&[("RUN_MAX_ATTEMPTS", "50")])).is_err());
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
        assert!(!format!("{:?}", Config::from_vars(&vars(&[])).unwrap()).contains("jwt_secret: ["));
    }
}
