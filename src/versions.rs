//! Versions: the immutable, saved states of a prompt. A version's content is its chat
//! messages (role + template), model parameters and variable schema; the content hash
//! (SHA-256 of its canonical JSON) identifies identical content across saves.
//!
//! Everything here is wasm-safe: the editor validates and hashes in the browser with the
//! same code the server uses. Storage lives in `service` (ssr).

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod diff;
#[cfg(feature = "ssr")]
pub mod service;

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
    /// Check limits, parameters, templates and the schema; return the canonical form
    /// (variable specs sorted by name) that is stored and hashed.
    pub fn validate(mut self) -> Result<Self> {
        if self.messages.is_empty() || self.messages.len() > MAX_MESSAGES {
            return Err(Error::invalid_field(
                "messages",
                "messages_count",
                format!("a version has 1 to {MAX_MESSAGES} messages"),
            ));
        }
        if let Some(i) = self
            .messages
            .iter()
            .position(|m| m.content.len() > MAX_MESSAGE_BYTES)
        {
            return Err(Error::invalid_field(
                &format!("messages[{i}].content"),
                "message_too_long",
                format!("a message has at most {MAX_MESSAGE_BYTES} bytes"),
            ));
        }
        validate_params(&self.params)?;
        if self.variables.len() > crate::runs::MAX_VARIABLES {
            return Err(Error::invalid_field(
                "variables",
                "variables_count",
                format!(
                    "a version declares at most {} variables",
                    crate::runs::MAX_VARIABLES
                ),
            ));
        }
        let defaults: Vec<_> = self
            .variables
            .iter()
            .filter_map(|v| v.default.as_ref())
            .collect();
        if serde_json::to_vec(&defaults).map_or(usize::MAX, |j| j.len())
            > crate::runs::MAX_VARIABLES_BYTES
        {
            return Err(Error::invalid_field(
                "variables",
                "variables_too_large",
                format!(
                    "default values are at most {} bytes of JSON",
                    crate::runs::MAX_VARIABLES_BYTES
                ),
            ));
        }
        // Every template must parse.
        crate::template::detect_variables(&self.messages)?;
        self.variables.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, spec) in self.variables.iter().enumerate() {
            if !crate::template::is_identifier(&spec.name) {
                return Err(Error::invalid_field(
                    &format!("variables[{i}].name"),
                    "variable_name",
                    "not a variable name",
                ));
            }
            if i > 0 && self.variables[i - 1].name == spec.name {
                return Err(Error::invalid_field(
                    "variables",
                    "variable_duplicate",
                    format!("{} is declared twice", spec.name),
                ));
            }
            if let Some(default) = &spec.default {
                crate::template::check_kind(&spec.name, spec.kind, default)?;
            }
        }
        Ok(self)
    }

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

pub(crate) fn validate_params(p: &ModelParams) -> Result<()> {
    let bad = |field: &str, msg: &str| {
        Err(Error::invalid_field(
            &format!("params.{field}"),
            "param_invalid",
            msg.to_owned(),
        ))
    };
    if p.provider.trim().is_empty() || p.provider.len() > 64 {
        return bad("provider", "provider is 1 to 64 characters");
    }
    if p.model.trim().is_empty() || p.model.len() > 128 {
        return bad("model", "model is 1 to 128 characters");
    }
    if let Some(t) = p.temperature {
        if !(0.0..=2.0).contains(&t) {
            return bad("temperature", "temperature is between 0 and 2");
        }
    }
    if let Some(t) = p.top_p {
        if !(0.0..=1.0).contains(&t) {
            return bad("top_p", "top_p is between 0 and 1");
        }
    }
    if let Some(m) = p.max_tokens {
        if m == 0 || m > 1_000_000 {
            return bad("max_tokens", "max_tokens is between 1 and 1000000");
        }
    }
    if p.stop.len() > 4 || p.stop.iter().any(|s| s.is_empty() || s.len() > 100) {
        return bad("stop", "at most 4 stop sequences of 1 to 100 bytes");
    }
    Ok(())
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

/// Validate a commit note.
pub fn parse_note(raw: &str) -> Result<String> {
    let note = raw.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::invalid_field(
            "note",
            "note_too_long",
            format!("a note has at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(note.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(text: &str) -> VersionContent {
        VersionContent {
            messages: vec![Message {
                role: MessageRole::User,
                content: text.into(),
            }],
            params: ModelParams::default(),
            variables: vec![],
        }
    }

    #[test]
    fn hash_is_stable_and_content_sensitive() {
        let a = content("Hello {{ name }}");
        assert_eq!(a.content_hash(), content("Hello {{ name }}").content_hash());
        assert_ne!(
            a.content_hash(),
            content("Hello {{ name }}!").content_hash()
        );
        assert_eq!(a.content_hash().len(), 64);
        let mut b = a.clone();
        b.params.temperature = Some(0.2);
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn variable_order_does_not_change_the_hash() {
        let spec = |n: &str| VariableSpec {
            name: n.into(),
            kind: VariableKind::String,
            required: true,
            default: None,
        };
        let mut a = content("{{ a }}{{ b }}");
        a.variables = vec![spec("b"), spec("a")];
        let mut b = content("{{ a }}{{ b }}");
        b.variables = vec![spec("a"), spec("b")];
        assert_eq!(
            a.validate().unwrap().content_hash(),
            b.validate().unwrap().content_hash()
        );
    }

    #[test]
    fn validation() {
        assert!(content("fine").validate().is_ok());
        let mut empty = content("x");
        empty.messages.clear();
        assert_eq!(empty.validate().unwrap_err().field(), Some("messages"));
        let mut hot = content("x");
        hot.params.temperature = Some(3.0);
        assert_eq!(
            hot.validate().unwrap_err().field(),
            Some("params.temperature")
        );
        let mut neg = content("x");
        neg.params.top_p = Some(-0.1);
        assert!(neg.validate().is_err());
        let mut zero = content("x");
        zero.params.max_tokens = Some(0);
        assert!(zero.validate().is_err());
        assert!(content("{% if %}").validate().is_err(), "template syntax");
        let mut bad_default = content("{{ n }}");
        bad_default.variables = vec![VariableSpec {
            name: "n".into(),
            kind: VariableKind::Number,
            required: false,
            default: Some(serde_json::json!("ten")),
        }];
        assert!(bad_default.validate().is_err());
        let spec = |i: usize, default: Option<serde_json::Value>| VariableSpec {
            name: format!("v{i}"),
            kind: VariableKind::Json,
            required: false,
            default,
        };
        let mut many = content("x");
        many.variables = (0..=crate::runs::MAX_VARIABLES)
            .map(|i| spec(i, None))
            .collect();
        assert_eq!(
            many.validate().unwrap_err().details["reason"],
            "variables_count"
        );
        let mut heavy = content("x");
        heavy.variables = (0..3)
            .map(|i| spec(i, Some(serde_json::json!("d".repeat(100_000)))))
            .collect();
        assert_eq!(
            heavy.clone().validate().unwrap_err().details["reason"],
            "variables_too_large"
        );
        heavy.variables.pop();
        assert!(heavy.validate().is_ok());
        assert!(parse_note(&"x".repeat(501)).is_err());
        assert_eq!(parse_note("  first  ").unwrap(), "first");
    }

    #[test]
    fn versions_read_back_as_written() {
        let mut c = content("Hello {{ name }}");
        c.params.stop = vec!["END".into()];
        c.variables = vec![VariableSpec {
            name: "name".into(),
            kind: VariableKind::String,
            required: false,
            default: Some(serde_json::json!("you")),
        }];
        let v = Version {
            prompt_id: Uuid::nil(),
            number: 3,
            content_hash: c.content_hash(),
            content: c.clone(),
            note: "n".into(),
            author: Author {
                id: Uuid::nil(),
                name: "A".into(),
            },
            created_at: Utc::now(),
            labels: vec!["production".into()],
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["messages"][0]["content"], "Hello {{ name }}");
        assert_eq!(serde_json::from_value::<Version>(json).unwrap(), v);
        let save = SaveVersion {
            base_version: 3,
            content: c,
            note: "again".into(),
        };
        let back: SaveVersion =
            serde_json::from_value(serde_json::to_value(&save).unwrap()).unwrap();
        assert_eq!(
            (back.base_version, back.content, back.note),
            (3, save.content, save.note)
        );
    }

    #[test]
    fn unknown_fields_in_content_are_refused_at_every_level() {
        let ok = serde_json::json!({
            "base_version": 0,
            "messages": [{"role": "user", "content": "Hi {{ x }}"}],
            "params": {"provider": "mock", "model": "m", "temperature": 0.5},
            "variables": [{"name": "x", "kind": "number", "required": false, "default": 1}],
            "note": "first",
        });
        let save: SaveVersion = serde_json::from_value(ok.clone()).unwrap();
        assert_eq!(save.content.params.temperature, Some(0.5));
        for (pointer, key) in [
            ("", "junk"),
            ("/messages/0", "name"),
            ("/params", "temprature"),
            ("/variables/0", "requird"),
        ] {
            let mut bad = ok.clone();
            bad.pointer_mut(pointer)
                .and_then(|v| v.as_object_mut())
                .unwrap()
                .insert(key.into(), serde_json::json!(1));
            let e = serde_json::from_value::<SaveVersion>(bad.clone()).unwrap_err();
            assert!(
                e.to_string().contains(&format!("unknown field `{key}`")),
                "{e}"
            );
            // The same content as a prompt's first version.
            let mut content = bad.as_object().unwrap().clone();
            content.remove("base_version");
            content.remove("note");
            assert!(serde_json::from_value::<VersionContent>(content.into()).is_err());
        }
    }
}
