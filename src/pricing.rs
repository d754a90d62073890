//! What a run costs: a price table in USD per million input and output tokens for known
//! models, $0 for local providers, overridable (and extendable with custom models) from
//! JSON. Wasm-safe, so the UI can show prices with the same numbers.

use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// USD per one million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// Providers that run on the user's own hardware: always free.
pub const LOCAL_PROVIDERS: &[&str] = &["mock", "ollama", "llamacpp", "vllm", "lmstudio"];

/// Prices by provider, then model. A model id with a date suffix (`gpt-4o-2024-08-06`)
/// uses the longest listed prefix (`gpt-4o`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTable(pub BTreeMap<String, BTreeMap<String, Price>>);

impl PriceTable {
    /// List prices of well-known models (USD per 1M tokens, input / output). They change:
    /// override them with `PRICES_JSON`.
    pub fn builtin() -> Self {
        let p = |i: f64, o: f64| Price {
            input_per_mtok: i,
            output_per_mtok: o,
        };
        let mut t: BTreeMap<String, BTreeMap<String, Price>> = BTreeMap::new();
        let mut add = |provider: &str, model: &str, price: Price| {
            t.entry(provider.into())
                .or_default()
                .insert(model.into(), price);
        };
        add("openai", "gpt-4o", p(2.5, 10.0));
        add("openai", "gpt-4o-mini", p(0.15, 0.6));
        add("openai", "gpt-4.1", p(2.0, 8.0));
        add("openai", "gpt-4.1-mini", p(0.4, 1.6));
        add("openai", "gpt-4.1-nano", p(0.1, 0.4));
        add("openai", "o3-mini", p(1.1, 4.4));
        add("anthropic", "claude-opus-4", p(15.0, 75.0));
        add("anthropic", "claude-sonnet-4", p(3.0, 15.0));
        add("anthropic", "claude-3-5-sonnet", p(3.0, 15.0));
        add("anthropic", "claude-3-5-haiku", p(0.8, 4.0));
        add("groq", "llama-3.3-70b-versatile", p(0.59, 0.79));
        add("groq", "llama-3.1-8b-instant", p(0.05, 0.08));
        Self(t)
    }

    /// Merge `{"provider": {"model": {"input_per_mtok": …, "output_per_mtok": …}}}` over
    /// the table: listed models are replaced, new ones added.
    pub fn with_overrides(mut self, json: &str) -> Result<Self> {
        let extra: BTreeMap<String, BTreeMap<String, Price>> =
            serde_json::from_str(json).map_err(|e| {
                Error::new(
                    ErrorCode::ValidationError,
                    format!("PRICES_JSON is not a price table: {e}"),
                )
            })?;
        for (provider, models) in extra {
            for (model, price) in models {
                let ok = price.input_per_mtok.is_finite()
                    && price.output_per_mtok.is_finite()
                    && price.input_per_mtok >= 0.0
                    && price.output_per_mtok >= 0.0;
                if !ok {
                    return Err(Error::new(
                        ErrorCode::ValidationError,
                        format!("price of {provider}/{model} must be finite and not negative"),
                    ));
                }
                self.0
                    .entry(provider.clone())
                    .or_default()
                    .insert(model, price);
            }
        }
        Ok(self)
    }

    /// The price of a model: local providers are free; unknown models have none.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        if LOCAL_PROVIDERS.contains(&provider) {
            return Some(Price {
                input_per_mtok: 0.0,
                output_per_mtok: 0.0,
            });
        }
        let models = self.0.get(provider)?;
        if let Some(p) = models.get(model) {
            return Some(*p);
        }
        models
            .iter()
            .filter(|(name, _)| {
                model.starts_with(name.as_str()) && model[name.len()..].starts_with('-')
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }

    /// Cost in USD of a run's tokens, when the model has a price.
    pub fn cost(
        &self,
        provider: &str,
        model: &str,
        input_tokens: u32,
        output_tokens: u32,
    ) -> Option<f64> {
        self.price(provider, model).map(|p| {
            (f64::from(input_tokens) * p.input_per_mtok
                + f64::from(output_tokens) * p.output_per_mtok)
                / 1_000_000.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs() {
        let t = PriceTable::builtin();
        let c = t.cost("openai", "gpt-4o-mini", 1_000_000, 500_000).unwrap();
        assert!((c - 0.45).abs() < 1e-9, "{c}");
        assert_eq!(t.cost("mock", "anything", 1000, 1000), Some(0.0));
        assert_eq!(t.cost("ollama", "llama3", 1000, 1000), Some(0.0));
        assert_eq!(t.cost("openai", "unknown-model", 1, 1), None);
    }

    #[test]
    fn dated_models_use_the_longest_prefix() {
        let t = PriceTable::builtin();
        assert_eq!(
            t.price("openai", "gpt-4o-mini-2024-07-18"),
            t.price("openai", "gpt-4o-mini")
        );
        assert_eq!(
            t.price("openai", "gpt-4o-2024-08-06"),
            t.price("openai", "gpt-4o")
        );
        assert_eq!(
            t.price("anthropic", "claude-3-5-haiku-latest"),
            t.price("anthropic", "claude-3-5-haiku")
        );
        assert_eq!(
            t.price("openai", "gpt-4omni"),
            None,
            "a prefix must end at a dash"
        );
    }

    #[test]
    fn overrides_and_custom_models() {
        let t = PriceTable::builtin()
            .with_overrides(r#"{"openai": {"gpt-4o": {"input_per_mtok": 1, "output_per_mtok": 2}}, "acme": {"m1": {"input_per_mtok": 0.5, "output_per_mtok": 0.5}}}"#)
            .unwrap();
        assert_eq!(
            t.price("openai", "gpt-4o"),
            Some(Price {
                input_per_mtok: 1.0,
                output_per_mtok: 2.0
            })
        );
        assert_eq!(t.cost("acme", "m1", 2_000_000, 0), Some(1.0));
        assert!(PriceTable::builtin().with_overrides("{nope").is_err());
        assert!(PriceTable::builtin()
            .with_overrides(r#"{"x": {"y": {"input_per_mtok": -1, "output_per_mtok": 0}}}"#)
            .is_err());
    }
}
