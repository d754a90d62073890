//! The template language: Jinja through minijinja, the same code in the browser (live
//! preview, variable detection) and on the server (rendering a run), so what you preview
//! is what runs.
//!
//! Templates render as plain text (no HTML escaping: they become model input). Undefined
//! variables are errors that name the variable; syntax errors carry line and column.

use crate::error::{Error, ErrorCode};
use crate::versions::{Message, VariableKind, VariableSpec};
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What went wrong in which message, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateError {
    /// Index of the message whose template failed.
    pub message_index: usize,
    /// 1-based line in that template, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    /// `syntax`, `undefined_variable`, `invalid_value` or `render`.
    pub kind: String,
    /// The variable concerned, for `undefined_variable` and `invalid_value`.
    pub variable: Option<String>,
    pub message: String,
}

impl From<TemplateError> for Error {
    fn from(e: TemplateError) -> Self {
        let details = serde_json::to_value(&e).unwrap_or_default();
        let mut err = Error::new(ErrorCode::ValidationError, e.message).with_details(details);
        if let Some(obj) = err.details.as_object_mut() {
            obj.insert(
                "field".into(),
                format!("messages[{}].content", e.message_index).into(),
            );
            obj.insert("reason".into(), format!("template_{}", e.kind).into());
        }
        err
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Keep a template's final newline: the model sees exactly what was written.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

fn locate(source: &str, err: &minijinja::Error, message_index: usize, kind: &str) -> TemplateError {
    let column = err.range().map(|r| {
        let start = r.start.min(source.len());
        let line_start = source[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
        source[line_start..start].chars().count() + 1
    });
    TemplateError {
        message_index,
        line: err.line(),
        column,
        kind: kind.to_owned(),
        variable: None,
        message: err
            .detail()
            .map(str::to_owned)
            .unwrap_or_else(|| err.kind().to_string()),
    }
}

/// True for names usable as template variables.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// The variables one template uses (loop variables and `set` targets excluded).
pub fn template_variables(
    source: &str,
    message_index: usize,
) -> Result<BTreeSet<String>, TemplateError> {
    let env = environment();
    let tmpl = env
        .template_from_str(source)
        .map_err(|e| locate(source, &e, message_index, "syntax"))?;
    Ok(tmpl.undeclared_variables(false).into_iter().collect())
}

/// The variables all messages use, in name order.
pub fn detect_variables(messages: &[Message]) -> Result<BTreeSet<String>, TemplateError> {
    let mut all = BTreeSet::new();
    for (i, m) in messages.iter().enumerate() {
        all.extend(template_variables(&m.content, i)?);
    }
    Ok(all)
}

/// Check that a value fits a variable's declared kind.
pub fn check_kind(name: &str, kind: VariableKind, value: &serde_json::Value) -> Result<(), Error> {
    use serde_json::Value as J;
    let ok = match kind {
        VariableKind::String => value.is_string(),
        VariableKind::Number => value.is_number(),
        VariableKind::Boolean => value.is_boolean(),
        VariableKind::Json => !matches!(value, J::Null),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_field(
            &format!("variables.{name}"),
            "variable_type",
            format!("{name} must be a {kind:?}").to_lowercase(),
        ))
    }
}

/// Render every message with `values`, filling gaps from the schema's defaults.
///
/// A variable the templates use that has neither a value nor a default is an error naming
/// it (unless the schema marks it optional, which renders as empty text).
pub fn render_messages(
    messages: &[Message],
    schema: &[VariableSpec],
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<Message>, Error> {
    let specs: BTreeMap<&str, &VariableSpec> =
        schema.iter().map(|s| (s.name.as_str(), s)).collect();
    let env = environment();
    let mut rendered = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let used = template_variables(&message.content, i)?;
        let mut context = BTreeMap::new();
        for name in used {
            let spec = specs.get(name.as_str());
            let value = match (values.get(&name), spec) {
                (Some(v), Some(spec)) => {
                    check_kind(&name, spec.kind, v)?;
                    v.clone()
                }
                (Some(v), None) => v.clone(),
                (
                    None,
                    Some(VariableSpec {
                        default: Some(d), ..
                    }),
                ) => d.clone(),
                (None, Some(spec)) if !spec.required => serde_json::Value::String(String::new()),
                (None, _) => {
                    return Err(TemplateError {
                        message_index: i,
                        line: None,
                        column: None,
                        kind: "undefined_variable".into(),
                        variable: Some(name.clone()),
                        message: format!("undefined variable: {name}"),
                    }
                    .into())
                }
            };
            context.insert(name, minijinja::Value::from(minijinja::value::Serde(value)));
        }
        let tmpl = env
            .template_from_str(&message.content)
            .map_err(|e| locate(&message.content, &e, i, "syntax"))?;
        let text = tmpl
            .render(&context)
            .map_err(|e| locate(&message.content, &e, i, "render"))?;
        rendered.push(Message {
            role: message.role,
            content: text,
        });
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests;
