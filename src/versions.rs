//! Versions: the immutable, saved states of a prompt. A version's content is its chat
//! messages (role + template), model parameters and variable schema; the content hash
//! (SHA-256 of its canonical JSON) identifies identical content across saves.
//!
//! The types, the hash and [`schema_for`] are wasm-safe: the editor shares them. The
//! checks on content and notes live in `checks` (a content's full check parses its
//! templates, so it runs on the server only), storage in `service` (ssr).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod checks;
pub mod diff;
#[cfg(feature = "ssr")]
pub mod service;

#[cfg(feature = "ssr")]
pub use checks::check_messages;
#[cfg(feature = "ssr")]
pub(crate) use checks::check_schema_size;
pub use checks::parse_note;
pub(crate) use checks::validate_params;

/// Most messages one version may hold.
pub const MAX_MESSAGES: usize = 50;
/// Longest template of one message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 100_000;
/// Longest commit note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    System,
    User,
    Assistant,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One chat message: a role and its template text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: MessageRole,
    pub content: String,
}

/// Model parameters saved with a version (a run may override them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    pub provider: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

impl Default for ModelParams {
    fn default() -> Self {
        Self {
            provider: "mock".into(),
            model: "mock-1".into(),
            temperature: Some(0.7),
            top_p: None,
            max_tokens: Some(1024),
            stop: Vec::new(),
        }
    }
}

/// Type of a template variable's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VariableKind {
    #[default]
    String,
    Number,
    Boolean,
    Json,
}

/// What the schema says about one variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    pub name: String,
    #[serde(default)]
    pub kind: VariableKind,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

fn yes() -> bool {
    true
}

/// The schema of the variables `used` (in that order): each one's spec from `declared`
/// when there is one, else a required string. The editor's variables panel and its save
/// show and store this, and the preview renders with it.
pub fn schema_for(used: &[String], declared: &[VariableSpec]) -> Vec<VariableSpec> {
    used.iter()
        .map(|name| {
            declared
                .iter()
                .find(|s| &s.name == name)
                .cloned()
                .unwrap_or(VariableSpec {
                    name: name.clone(),
                    kind: VariableKind::String,
                    required: true,
                    default: None,
                })
        })
        .collect()
}

/// The content of a version: what is hashed, compared and run.
///
/// Every part of it refuses a field it does not know, so a misspelt parameter
/// (`"temprature"`) is an error rather than a version saved without it. Serde cannot refuse
/// unknown fields of a flattened struct, so [`Version`] and [`SaveVersion`], which carry
/// this content at their top level, are read through a struct that names every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionContent {
    pub messages: Vec<Message>,
    #[serde(default)]
    pub params: ModelParams,
    #[serde(default)]
    pub variables: Vec<VariableSpec>,
}

impl VersionContent {
    /// SHA-256 (hex) of the canonical JSON of messages, parameters and variables.
    pub fn content_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        // Field order is fixed by the struct definitions, so the JSON is canonical.
        let json = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A user as shown next to what they did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Author {
    pub id: Uuid,
    pub name: String,
}

/// A saved version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "VersionFields")]
pub struct Version {
    pub prompt_id: Uuid,
    pub number: i32,
    #[serde(flatten)]
    pub content: VersionContent,
    pub note: String,
    pub author: Author,
    pub created_at: DateTime<Utc>,
    pub content_hash: String,
    /// Labels currently pointing at this version.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A request to save a new version on top of `base_version` (0 when there is none yet).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "SaveVersionFields")]
pub struct SaveVersion {
    pub base_version: i32,
    #[serde(flatten)]
    pub content: VersionContent,
    #[serde(default)]
    pub note: String,
}

/// [`Version`] as it is read: its content's fields named, so that none unknown passes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionFields {
    prompt_id: Uuid,
    number: i32,
    messages: Vec<Message>,
    #[serde(default)]
    params: ModelParams,
    #[serde(default)]
    variables: Vec<VariableSpec>,
    note: String,
    author: Author,
    created_at: DateTime<Utc>,
    content_hash: String,
    #[serde(default)]
    labels: Vec<String>,
}

impl From<VersionFields> for Version {
    fn from(f: VersionFields) -> Self {
        Self {
            prompt_id: f.prompt_id,
            number: f.number,
            content: VersionContent {
                messages: f.messages,
                params: f.params,
                variables: f.variables,
            },
            note: f.note,
            author: f.author,
            created_at: f.created_at,
            content_hash: f.content_hash,
            labels: f.labels,
        }
    }
}

/// [`SaveVersion`] as it is read: its content's fields named, so that none unknown passes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveVersionFields {
    base_version: i32,
    messages: Vec<Message>,
    #[serde(default)]
    params: ModelParams,
    #[serde(default)]
    variables: Vec<VariableSpec>,
    #[serde(default)]
    note: String,
}

impl From<SaveVersionFields> for SaveVersion {
    fn from(f: SaveVersionFields) -> Self {
        Self {
            base_version: f.base_version,
            content: VersionContent {
                messages: f.messages,
                params: f.params,
                variables: f.variables,
            },
            note: f.note,
        }
    }
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveOutcome {
    /// False when the content equals the latest version: nothing was created.
    pub created: bool,
    pub version: Version,
}

#[cfg(test)]
mod tests;
