//! The template language: Jinja through minijinja, run on the server only: a run's
//! messages, the render endpoint and the editor's live preview (the `prompts/preview`
//! server function, [`Preview`]) all go through the same code, so what you preview is what
//! runs, and the browser never runs a template someone else wrote.
//!
//! Templates render as plain text (no HTML escaping: they become model input). Undefined
//! variables are errors that name the variable; syntax errors carry line and column.
//!
//! A template is a program its author wrote, run on the server at every run start, render
//! and preview. So one rendering of a version's messages has a budget: [`RENDER_FUEL`]
//! instructions of minijinja's machine (a loop of loops stops there instead of holding a
//! core for hours) and [`RENDERED_MAX_BYTES`] of output (a loop that prints a large value
//! stops there instead of building gigabytes of text). Either is a `validation_error`
//! naming the message.
//!
//! That budget does not bound the values a template builds without printing them
//! (minijinja caps one repetition, `'x' * n`, at 100 MB, but not a concatenation, `~`), nor
//! the work of one step on a large value. [`sandbox`] bounds both: a template that does
//! more than print its variables ([`is_plain`]) renders in a worker process with a memory
//! ceiling and a time limit.
//!
//! The browser's build keeps the types and the checks that need no engine
//! ([`TemplateError`], [`Preview`], [`is_identifier`], [`check_kind`]); minijinja is not in
//! its wasm.

use crate::error::{Error, ErrorCode};
#[cfg(feature = "ssr")]
use crate::versions::VariableSpec;
use crate::versions::{Message, VariableKind};
#[cfg(feature = "ssr")]
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use std::collections::{BTreeMap, BTreeSet};

#[cfg(feature = "ssr")]
pub mod sandbox;
mod shape;

pub use shape::is_plain;
#[cfg(feature = "ssr")]
pub use shape::{MAX_ELIFS, MAX_TAG_TOKENS};

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

/// What the editor's live preview shows for the content being edited, worked out on the
/// server (`prompts/preview`, and the editor's first render).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    /// The variables the templates use, in name order, or why a template does not parse.
    pub variables: Result<Vec<String>, Error>,
    /// The messages rendered with the values given and the schema's defaults, or why not
    /// (the same error as `variables` when a template does not parse). `None` on a page
    /// the server sent before rendering: a page view runs no template that does more than
    /// print its variables, and the editor asks for it once hydrated.
    pub rendered: Option<Result<Vec<Message>, Error>>,
}

impl Preview {
    /// The preview of templates that could not be read: `error` for both parts.
    pub fn failed(error: Error) -> Self {
        Self {
            variables: Err(error.clone()),
            rendered: Some(Err(error)),
        }
    }
}

/// Instructions one rendering of a version's messages may run, all messages together.
/// A template that prints its text and variables takes a few per variable; a loop over a
/// thousand items with a few fields, some tens of thousands.
pub const RENDER_FUEL: u64 = 1_000_000;

/// Longest text one rendering of a version's messages may produce, all messages
/// together: room for the largest version (50 messages of 100 kB) with every variable's
/// values (256 kB) used a dozen times.
pub const RENDERED_MAX_BYTES: usize = 8 * 1024 * 1024;

#[cfg(feature = "ssr")]
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_syntax(syntax());
    env
}

#[cfg(feature = "ssr")]
/// The template syntax: Jinja's, keeping a template's final newline (the model sees
/// exactly what was written).
fn syntax() -> minijinja::syntax::SyntaxConfig {
    minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
/// Parse `source` in `env`, after [`shape::check_tags`].
fn parse<'env, 'source>(
    env: &'env Environment<'source>,
    source: &'source str,
    message_index: usize,
) -> Result<minijinja::Template<'env, 'source>, TemplateError> {
    shape::check_tags(source, message_index)?;
    env.template_from_str(source)
        .map_err(|e| locate(source, &e, message_index, "syntax"))
}

#[cfg(feature = "ssr")]
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

#[cfg(feature = "ssr")]
/// The variables one template uses: loop variables and `set` targets excluded, and so are
/// the language's own functions (`range`, `dict`, `namespace`, `debug`) where the template
/// calls them. A name of one that is only read (`{% if debug %}`) is a variable, as it
/// was before these were told apart.
pub fn template_variables(
    source: &str,
    message_index: usize,
) -> Result<BTreeSet<String>, TemplateError> {
    let env = environment();
    let tmpl = parse(&env, source, message_index)?;
    Ok(used_variables(&env, &tmpl, source))
}

#[cfg(feature = "ssr")]
/// [`template_variables`] of a template already parsed in `env`.
fn used_variables(env: &Environment, tmpl: &minijinja::Template, source: &str) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = tmpl.undeclared_variables(false).into_iter().collect();
    for (global, _) in env.globals() {
        if calls(source, global) {
            names.remove(global);
        }
    }
    names
}

#[cfg(feature = "ssr")]
/// True when `source` has `name` followed by an opening parenthesis (spaces between
/// allowed), as a whole word.
fn calls(source: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    source.match_indices(name).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + name.len()..].trim_start().chars().next();
        !before.is_some_and(word) && after == Some('(')
    })
}

#[cfg(feature = "ssr")]
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

#[cfg(feature = "ssr")]
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
    let mut env = environment();
    // minijinja stops when what is left reaches zero: one more, so that RENDER_FUEL steps run.
    let mut fuel = RENDER_FUEL + 1;
    let mut room = RENDERED_MAX_BYTES;
    let mut rendered = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        env.set_fuel(Some(fuel));
        let tmpl = parse(&env, &message.content, i)?;
        let mut context = BTreeMap::new();
        for name in used_variables(&env, &tmpl, &message.content) {
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
        let mut out = Bounded {
            text: Vec::new(),
            room,
            full: false,
        };
        let captured = tmpl.render_captured_to(&context, &mut out).map_err(|e| {
            let mut err = locate(&message.content, &e, i, "render");
            if out.full {
                err.kind = "output_too_large".into();
                err.message =
                    format!("the messages render to more than {RENDERED_MAX_BYTES} bytes");
            } else if e.kind() == minijinja::ErrorKind::OutOfFuel {
                err.kind = "too_costly".into();
                err.message = format!("the templates take more than {RENDER_FUEL} steps to render");
            }
            Error::from(err)
        })?;
        let used = captured.state().fuel_levels().map_or(0, |(used, _)| used);
        fuel = fuel.saturating_sub(used);
        room -= out.text.len();
        rendered.push(Message {
            role: message.role,
            content: String::from_utf8(out.text)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        });
    }
    Ok(rendered)
}

#[cfg(feature = "ssr")]
/// Rendered text that refuses to grow past its room.
struct Bounded {
    text: Vec<u8>,
    room: usize,
    full: bool,
}

#[cfg(feature = "ssr")]
impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > self.room {
            self.full = true;
            return Err(std::io::Error::other("rendered text too large"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests;
