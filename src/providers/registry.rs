//! Which providers this server can use, built from the configuration: the mock always,
//! hosted providers when their key is set, an OpenAI-compatible server when its URL is
//! set. Requests name a provider and a model; the model must be on that provider's
//! allowlist. Keys stay inside the clients: [`Registry::catalog`] shows names and models only.

use super::anthropic::Anthropic;
use super::http::Http;
use super::mock::Mock;
use super::openai::OpenAi;
use super::Provider;
use crate::config::ProviderSettings;
use crate::error::{Error, ErrorCode, Result};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::runs::ProviderInfo;

struct Entry {
    client: Arc<dyn Provider>,
    models: Vec<String>,
}

pub struct Registry {
    entries: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

impl Registry {
    pub fn from_settings(s: &ProviderSettings) -> Self {
        let http = Http::new(Duration::from_secs(10), s.proxies.clone());
        let mut entries = BTreeMap::new();
        let mock = Mock {
            tokens_per_second: s.mock_tokens_per_second,
            ..Mock::default()
        };
        entries.insert(
            "mock".to_owned(),
            Entry {
                client: Arc::new(mock),
                models: vec!["mock-1".to_owned()],
            },
        );
        if let Some(key) = &s.openai.api_key {
            let client = OpenAi::new(
                "openai",
                &s.openai.base_url,
                Some(key.clone()),
                http.clone(),
            );
            entries.insert(
                "openai".into(),
                Entry {
                    client: Arc::new(client),
                    models: s.openai.models.clone(),
                },
            );
        }
        if let Some(key) = &s.anthropic.api_key {
            let client = Anthropic::new(&s.anthropic.base_url, key.clone(), http.clone());
            entries.insert(
                "anthropic".into(),
                Entry {
                    client: Arc::new(client),
                    models: s.anthropic.models.clone(),
                },
            );
        }
        if let Some(key) = &s.groq.api_key {
            let client = OpenAi::new("groq", &s.groq.base_url, Some(key.clone()), http.clone());
            entries.insert(
                "groq".into(),
                Entry {
                    client: Arc::new(client),
                    models: s.groq.models.clone(),
                },
            );
        }
        if let Some(compat) = &s.compat {
            let client = OpenAi::new(
                "openai_compat",
                &compat.base_url,
                compat.api_key.clone(),
                http,
            );
            entries.insert(
                "openai_compat".into(),
                Entry {
                    client: Arc::new(client),
                    models: compat.models.clone(),
                },
            );
        }
        Self { entries }
    }

    /// The client for `provider`, if it is configured and allows `model`.
    pub fn get(&self, provider: &str, model: &str) -> Result<Arc<dyn Provider>> {
        let entry = self.entries.get(provider).ok_or_else(|| {
            Error::new(
                ErrorCode::ValidationError,
                format!("provider {provider} is not configured on this server"),
            )
            .with_details(
                serde_json::json!({ "field": "provider", "reason": "provider_unavailable" }),
            )
        })?;
        if !entry.models.is_empty() && !entry.models.iter().any(|m| m == model) {
            return Err(Error::new(ErrorCode::ValidationError, format!("model {model} is not allowed for {provider}"))
                .with_details(serde_json::json!({ "field": "model", "reason": "model_not_allowed", "allowed": entry.models })));
        }
        Ok(entry.client.clone())
    }

    /// Providers and models, without any secret.
    pub fn catalog(&self) -> Vec<ProviderInfo> {
        self.entries
            .iter()
            .map(|(name, e)| ProviderInfo {
                name: name.clone(),
                models: e.models.clone(),
                mock: name == "mock",
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> ProviderSettings {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(&vars).unwrap().providers
    }

    #[test]
    fn only_the_mock_without_keys() {
        let r = Registry::from_settings(&settings(&[]));
        assert_eq!(
            r.catalog(),
            vec![ProviderInfo {
                name: "mock".into(),
                models: vec!["mock-1".into()],
                mock: true
            }]
        );
        assert!(r.get("mock", "mock-1").is_ok());
        assert_eq!(
            r.get("openai", "gpt-4o").unwrap_err().reason(),
            Some("provider_unavailable")
        );
    }

    #[test]
    fn keys_enable_providers_and_never_show() {
        let r = Registry::from_settings(&settings(&[
            ("OPENAI_API_KEY", "sk-secret-openai"),
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("OPENAI_COMPAT_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("GROQ_MODELS", "only-this"),
            ("GROQ_API_KEY", "gsk-secret"),
        ]));
        let names: Vec<_> = r.catalog().into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            vec!["anthropic", "groq", "mock", "openai", "openai_compat"]
        );
        assert!(r.get("openai", "gpt-4o-mini").is_ok());
        assert_eq!(
            r.get("openai", "gpt-9").unwrap_err().reason(),
            Some("model_not_allowed")
        );
        assert!(
            r.get("openai_compat", "llama3:8b").is_ok(),
            "any model on a compatible server"
        );
        assert!(r.get("groq", "only-this").is_ok());
        let shown = format!("{:?} {}", r, serde_json::to_string(&r.catalog()).unwrap());
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn bad_price_overrides_refuse_to_start() {
        let vars: HashMap<String, String> =
            [("PRICES_JSON".to_string(), "{bad".to_string())].into();
        assert!(Config::from_vars(&vars).is_err());
    }
}
