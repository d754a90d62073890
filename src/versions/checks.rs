//! The checks on what a save brings: a version's content (message count and size,
//! model parameters, the variable schema, templates that parse) and its commit note. Run
//! on the server before anything is stored.

#[cfg(feature = "ssr")]
use super::{Message, VariableSpec, VersionContent, MAX_MESSAGES, MAX_MESSAGE_BYTES};
use super::{ModelParams, MAX_NOTE_CHARS};
use crate::error::{Error, Result};

#[cfg(feature = "ssr")]
impl VersionContent {
    /// Check limits, parameters, templates and the schema; return the canonical form
    /// (variable specs sorted by name) that is stored and hashed. Server only: the
    /// templates are parsed.
    pub fn validate(mut self) -> Result<Self> {
        check_messages(&self.messages)?;
        validate_params(&self.params)?;
        check_schema_size(&self.variables)?;
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
}

/// How many messages there are (1 to [`MAX_MESSAGES`]) and how long each is.
#[cfg(feature = "ssr")]
pub fn check_messages(messages: &[Message]) -> Result<()> {
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return Err(Error::invalid_field(
            "messages",
            "messages_count",
            format!("a version has 1 to {MAX_MESSAGES} messages"),
        ));
    }
    if let Some(i) = messages
        .iter()
        .position(|m| m.content.len() > MAX_MESSAGE_BYTES)
    {
        return Err(Error::invalid_field(
            &format!("messages[{i}].content"),
            "message_too_long",
            format!("a message has at most {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// How many variables a schema declares, and how large its default values are.
#[cfg(feature = "ssr")]
pub(crate) fn check_schema_size(variables: &[VariableSpec]) -> Result<()> {
    if variables.len() > crate::runs::MAX_VARIABLES {
        return Err(Error::invalid_field(
            "variables",
            "variables_count",
            format!(
                "a version declares at most {} variables",
                crate::runs::MAX_VARIABLES
            ),
        ));
    }
    let defaults: Vec<_> = variables
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
    Ok(())
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
