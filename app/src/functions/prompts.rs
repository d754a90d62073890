//! Prompts, versions and labels from the browser. Form-shaped functions (create,
//! restore, label) take URL-encoded fields so they work as plain HTML form posts; saving
//! from the editor sends JSON.

use super::strict::StrictJson;
use leptos::prelude::*;
use promptlab::labels::{Label, LabelEvent};
use promptlab::prompts::{Page, Prompt};
use promptlab::template::Preview;
use promptlab::versions::diff::VersionDiff;
use promptlab::versions::{Message, SaveOutcome, SaveVersion, VariableSpec, Version};
use promptlab::Error;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Everything the prompt page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub prompt: Prompt,
    /// Newest first.
    pub versions: Vec<Version>,
    pub labels: Vec<Label>,
    pub history: Vec<LabelEvent>,
    /// Providers and models this server can run (never a key).
    pub providers: Vec<promptlab::runs::ProviderInfo>,
    /// The prompt's latest runs, newest first.
    pub recent_runs: Vec<promptlab::runs::RunSummary>,
    /// The editor's first preview, of the latest version (or a blank one) with no values;
    /// only when asked for.
    pub preview: Option<Preview>,
}

/// How many runs the prompt page lists.
pub const RECENT_RUNS: u32 = 10;

#[server(prefix = "/api", endpoint = "prompts/list")]
pub async fn list_prompts(
    q: Option<String>,
    tag: Option<String>,
    deleted: Option<bool>,
) -> Result<Page<Prompt>, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let query = promptlab::prompts::PromptQuery {
        q,
        tag,
        deleted: deleted.unwrap_or(false),
        per_page: Some(100),
        ..Default::default()
    };
    promptlab::prompts::service::list(engine.db(), &who, query)
        .await
        .map_err(fail)
}

#[server(prefix = "/api", endpoint = "prompts/create")]
pub async fn create_prompt(
    name: String,
    description: String,
    tags: String,
) -> Result<Prompt, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let tags = tags
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let req = promptlab::prompts::NewPrompt {
        project_id: None,
        name,
        description,
        tags,
        content: None,
        note: String::new(),
    };
    let prompt = promptlab::prompts::service::create(engine.db(), &who, req)
        .await
        .map_err(fail)?;
    leptos_axum::redirect(&format!("/prompts/{}", prompt.id));
    Ok(prompt)
}

/// Everything the prompt page shows; with `preview`, also the editor's first preview.
#[server(prefix = "/api", endpoint = "prompts/workspace")]
pub async fn prompt_workspace(id: Uuid, preview: bool) -> Result<Workspace, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let db = engine.db();
    let prompt = promptlab::prompts::service::get(db, &who, id)
        .await
        .map_err(fail)?;
    let versions = promptlab::versions::service::list(db, &who, id)
        .await
        .map_err(fail)?;
    let labels = promptlab::labels::service::list(db, &who, id)
        .await
        .map_err(fail)?;
    let history = promptlab::labels::service::history(db, &who, id, None)
        .await
        .map_err(fail)?;
    let recent_runs = promptlab::runs::service::recent_for_prompt(&engine, &who, id, RECENT_RUNS)
        .await
        .map_err(fail)?;
    let preview = if preview {
        let content = versions
            .first()
            .map(|v| v.content.clone())
            .unwrap_or_else(crate::components::prompt_editor::blank_content);
        Some(
            engine
                .templates()
                .page_preview(who.user.id, &content.messages, &content.variables)
                .await,
        )
    } else {
        None
    };
    Ok(Workspace {
        prompt,
        versions,
        labels,
        history,
        providers: engine.providers().catalog(),
        recent_runs,
        preview,
    })
}

/// The editor's live preview of `messages` being edited, with the variable specs declared
/// so far and the values typed for the preview: which variables the templates use, and
/// the messages as a run would render them. Templates run on the server only, in its
/// sandbox (`promptlab::template::sandbox`), never in the browser.
#[server(prefix = "/api", endpoint = "prompts/preview", input = StrictJson)]
pub async fn preview_prompt(
    messages: Vec<Message>,
    schema: Vec<VariableSpec>,
    values: serde_json::Map<String, serde_json::Value>,
) -> Result<Preview, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    engine
        .templates()
        .preview(who.user.id, &messages, &schema, &values)
        .await
        .map_err(fail)
}

/// Save the editor's content as a new version. Its variable schema is made here from the
/// variables the templates use ([`promptlab::versions::schema_for`]), keeping the specs the
/// editor sends: a save made before the preview answered stores the same schema as one
/// made after.
#[server(prefix = "/api", endpoint = "prompts/save", input = StrictJson)]
pub async fn save_prompt_version(prompt_id: Uuid, save: SaveVersion) -> Result<SaveOutcome, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let mut save = save;
    // A template that does not parse is refused by the save itself, with its place.
    let messages = &save.content.messages;
    let within_limits = promptlab::versions::check_messages(messages).is_ok();
    if let Some(Ok(used)) = within_limits.then(|| promptlab::template::detect_variables(messages)) {
        let used: Vec<String> = used.into_iter().collect();
        save.content.variables = promptlab::versions::schema_for(&used, &save.content.variables);
    }
    promptlab::versions::service::save(engine.db(), &who, prompt_id, save)
        .await
        .map_err(fail)
}

#[server(prefix = "/api", endpoint = "prompts/restore")]
pub async fn restore_version(prompt_id: Uuid, number: i32) -> Result<SaveOutcome, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let outcome = promptlab::versions::service::restore(engine.db(), &who, prompt_id, number, None)
        .await
        .map_err(fail)?;
    leptos_axum::redirect(&format!(
        "/prompts/{prompt_id}/versions/{}",
        outcome.version.number
    ));
    Ok(outcome)
}

#[server(prefix = "/api", endpoint = "prompts/label")]
pub async fn set_label(prompt_id: Uuid, number: i32, label: String) -> Result<Label, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let label =
        promptlab::labels::service::move_label(engine.db(), &who, prompt_id, &label, number)
            .await
            .map_err(fail)?;
    leptos_axum::redirect(&format!("/prompts/{prompt_id}/versions/{number}"));
    Ok(label)
}

#[server(prefix = "/api", endpoint = "prompts/version")]
pub async fn get_version(prompt_id: Uuid, number: i32) -> Result<(Prompt, Version), Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let prompt = promptlab::prompts::service::get(engine.db(), &who, prompt_id)
        .await
        .map_err(fail)?;
    let version = promptlab::versions::service::get(engine.db(), &who, prompt_id, number)
        .await
        .map_err(fail)?;
    Ok((prompt, version))
}

#[server(prefix = "/api", endpoint = "prompts/diff")]
pub async fn diff_versions(prompt_id: Uuid, from: i32, to: i32) -> Result<VersionDiff, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    promptlab::versions::service::diff(engine.db(), &who, prompt_id, from, to)
        .await
        .map_err(fail)
}

#[server(prefix = "/api", endpoint = "prompts/trash")]
pub async fn trash_prompt(prompt_id: Uuid, trash: bool) -> Result<Prompt, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let prompt = promptlab::prompts::service::set_trashed(engine.db(), &who, prompt_id, trash)
        .await
        .map_err(fail)?;
    leptos_axum::redirect(if trash {
        "/prompts"
    } else {
        "/prompts?deleted=true"
    });
    Ok(prompt)
}
