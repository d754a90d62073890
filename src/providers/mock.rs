//! The built-in offline model: a deterministic answer derived from the rendered prompt,
//! streamed word by word at a configurable rate, with plausible usage. It is what runs
//! when no provider key is configured, and the UI labels it as a mock.

use super::{ChatRequest, Delta, DeltaStream, Provider, ProviderError, Usage};
use futures::future::BoxFuture;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::time::Duration;

const WORDS: &[&str] = &[
    "the",
    "prompt",
    "asks",
    "for",
    "a",
    "clear",
    "answer",
    "about",
    "this",
    "topic",
    "and",
    "here",
    "is",
    "one",
    "that",
    "keeps",
    "to",
    "the",
    "point",
    "with",
    "useful",
    "detail",
    "for",
    "readers",
    "who",
    "want",
    "to",
    "learn",
    "more",
    "quickly",
    "while",
    "staying",
    "practical",
];

pub struct Mock {
    /// Words per second; 0 streams as fast as possible.
    pub tokens_per_second: u32,
    /// Words in an answer when the request sets no `max_tokens`.
    pub default_words: u32,
}

impl Default for Mock {
    fn default() -> Self {
        Self {
            tokens_per_second: 40,
            default_words: 60,
        }
    }
}

/// About four characters a token, at least one.
pub fn estimate_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4).max(1)
}

/// The answer the mock gives to a request: same request, same words.
pub fn answer(request: &ChatRequest, default_words: u32) -> Vec<String> {
    let mut hasher = Sha256::new();
    for m in &request.messages {
        hasher.update(m.role.as_str());
        hasher.update(&m.content);
    }
    let seed = hasher.finalize();
    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == crate::versions::MessageRole::User);
    let echo: String = last_user
        .map(|m| {
            m.content
                .split_whitespace()
                .take(8)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let count = request
        .max_tokens
        .unwrap_or(default_words)
        .min(default_words.max(1));
    let mut words = vec!["(mock)".to_owned()];
    words.extend(echo.split_whitespace().map(str::to_owned));
    words.push("—".to_owned());
    let mut i = 0usize;
    while (words.len() as u32) < count {
        let byte = seed[i % seed.len()] as usize;
        words.push(WORDS[(byte + i * 7) % WORDS.len()].to_owned());
        i += 1;
    }
    words.truncate(count.max(1) as usize);
    words
}

impl Provider for Mock {
    fn name(&self) -> &str {
        "mock"
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<DeltaStream, ProviderError>> {
        let words = answer(&request, self.default_words);
        let input: u32 = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content) + 4)
            .sum();
        let output = words.len() as u32;
        let delay = (self.tokens_per_second > 0)
            .then(|| Duration::from_secs_f64(1.0 / f64::from(self.tokens_per_second)));
        let model = request.model.clone();
        Box::pin(async move {
            let texts = words
                .into_iter()
                .enumerate()
                .map(|(i, w)| if i == 0 { w } else { format!(" {w}") });
            let body = futures::stream::iter(texts).then(move |w| async move {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                Ok(Delta::Text(w))
            });
            let stream = futures::stream::iter([Ok(Delta::Model(model))])
                .chain(body)
                .chain(futures::stream::iter([Ok(Delta::Usage(Usage {
                    input_tokens: input,
                    output_tokens: output,
                }))]));
            Ok(stream.boxed())
        })
    }
}
