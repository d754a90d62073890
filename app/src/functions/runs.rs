//! Runs from the browser: start (JSON, from the editor's run panel; the provider catalog
//! comes with the prompt page's data),
//! one run, history, a prompt's recent runs, and cancel (a plain form post, so it works
//! without JavaScript). Live output comes from the SSE endpoint, not from here.

use super::strict::StrictJson;
use leptos::prelude::*;
use promptlab::prompts::Page;
use promptlab::runs::{Run, RunQuery, RunSummary, StartRun, Started};
use promptlab::Error;
use uuid::Uuid;

#[server(prefix = "/api", endpoint = "runs/start", input = StrictJson)]
pub async fn begin_run(req: StartRun) -> Result<Started, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    promptlab::runs::service::start(&engine, &who, req, None)
        .await
        .map_err(fail)
}

#[server(prefix = "/api", endpoint = "runs/get")]
pub async fn get_run(id: Uuid) -> Result<Run, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    promptlab::runs::service::get(&engine, &who, id)
        .await
        .map_err(fail)
}

#[server(prefix = "/api", endpoint = "runs/list", input = StrictJson)]
pub async fn list_runs(query: RunQuery) -> Result<Page<RunSummary>, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    promptlab::runs::service::list(&engine, &who, query)
        .await
        .map_err(fail)
}

#[server(prefix = "/api", endpoint = "runs/recent")]
pub async fn recent_runs(prompt_id: Uuid) -> Result<Vec<RunSummary>, Error> {
    use super::context::{engine, fail, require_caller};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    promptlab::runs::service::recent_for_prompt(
        &engine,
        &who,
        prompt_id,
        super::prompts::RECENT_RUNS,
    )
    .await
    .map_err(fail)
}

#[server(prefix = "/api", endpoint = "runs/cancel")]
pub async fn cancel_run(id: Uuid) -> Result<Run, Error> {
    use super::context::{engine, fail, require_caller, wants_html};
    let engine = engine()?;
    let who = require_caller(&engine).await?;
    let run = promptlab::runs::service::cancel(&engine, &who, id)
        .await
        .map_err(fail)?;
    // Without JavaScript, show the run page again; the hydrated page updates in place.
    if wants_html() {
        leptos_axum::redirect(&format!("/runs/{id}"));
    }
    Ok(run)
}
