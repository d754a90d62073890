//! Prompts on the server: create (optionally with v1), list and search, get, update
//! metadata, trash and restore. Every operation checks the caller's role in the prompt's
//! project through [`crate::auth::authorize`].

use super::{
    parse_description, parse_tags, NewPrompt, Page, Prompt, PromptName, PromptPatch, PromptQuery,
    PromptSort,
};
use crate::accounts::service::Identity;
use crate::auth::authorize;
use crate::auth::authorize::MEMBER_ROLE;
use crate::error::{Error, Result};
use crate::projects::Action;
use crate::store::sqlite_reads::Reads;
use crate::store::sqlite_writer::{FromRow, Row};
use crate::store::{db_error, is_unique_violation, memberships, prompts};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait,
    Set,
};
use uuid::Uuid;

/// Load a prompt the caller may act on (trashed ones included).
pub async fn load(
    db: &DatabaseConnection,
    who: &Identity,
    id: Uuid,
    action: Action,
) -> Result<prompts::Model> {
    load_through(&Reads::default(), db, who, id, action).await
}

/// [`load`], read through `reads` (inline on SQLite: a run's start).
///
/// One query: the prompt with the caller's role in its project as a scalar subquery, so
/// the check costs no second round trip (this is on the path of every run start).
pub async fn load_through(
    reads: &Reads,
    db: &DatabaseConnection,
    who: &Identity,
    id: Uuid,
    action: Action,
) -> Result<prompts::Model> {
    let role = authorize::role_subquery(who.user.id, (prompts::Entity, prompts::Column::ProjectId));
    let query = prompts::Entity::find_by_id(id)
        .column_as(Expr::from(role), MEMBER_ROLE)
        .limit(1)
        .into_query();
    let found: PromptAndRole = reads
        .one(db, &query)
        .await
        .map_err(db_error("load prompt"))?
        .ok_or_else(|| Error::not_found("prompt not found"))?;
    authorize::role_allows(found.role.as_deref(), action)?;
    Ok(found.prompt)
}

/// A prompt row and the caller's role in its project (`None`: not a member).
struct PromptAndRole {
    prompt: prompts::Model,
    role: Option<String>,
}

impl FromQueryResult for PromptAndRole {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            prompt: prompts::Model::from_query_result(res, pre)?,
            role: res.try_get(pre, MEMBER_ROLE)?,
        })
    }
}

impl FromRow for PromptAndRole {
    fn from_row(r: &Row) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            prompt: prompts::Model::from_row(r)?,
            role: r.get(MEMBER_ROLE)?,
        })
    }
}

/// Load a live (not trashed) prompt for writing.
pub async fn load_live(
    db: &DatabaseConnection,
    who: &Identity,
    id: Uuid,
    action: Action,
) -> Result<prompts::Model> {
    load_live_through(&Reads::default(), db, who, id, action).await
}

/// [`load_live`], read through `reads` (inline on SQLite: a run's start).
pub async fn load_live_through(
    reads: &Reads,
    db: &DatabaseConnection,
    who: &Identity,
    id: Uuid,
    action: Action,
) -> Result<prompts::Model> {
    let prompt = load_through(reads, db, who, id, action).await?;
    if prompt.deleted_at.is_some() {
        return Err(Error::conflict(
            "the prompt is in the trash; restore it first",
        ));
    }
    Ok(prompt)
}

/// The caller's personal project.
pub async fn personal_project(db: &DatabaseConnection, who: &Identity) -> Result<Uuid> {
    memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(who.user.id))
        .find_also_related(crate::store::projects::Entity)
        .all(db)
        .await
        .map_err(db_error("personal project"))?
        .into_iter()
        .find_map(|(m, p)| p.filter(|p| p.personal).map(|_| m.project_id))
        .ok_or_else(|| Error::not_found("no personal project"))
}

pub async fn create(db: &DatabaseConnection, who: &Identity, req: NewPrompt) -> Result<Prompt> {
    let name = PromptName::parse(&req.name)?;
    let description = parse_description(&req.description)?;
    let tags = parse_tags(&req.tags)?;
    // Validate the first version, its note included, before anything is written: a save
    // refused after the insert would leave a prompt behind a request answered with an
    // error.
    let first = req.content.map(|c| c.validate()).transpose()?;
    let note = crate::versions::parse_note(&req.note)?;
    if first.is_none() && !note.is_empty() {
        return Err(Error::invalid_field(
            "note",
            "note_without_content",
            "a note describes the first version: send its content with it",
        ));
    }
    let project = match req.project_id {
        Some(p) => p,
        None => personal_project(db, who).await?,
    };
    authorize(db, who.user.id, project, Action::Write).await?;
    let now = Utc::now();
    // The prompt and its first version are one transaction: a failure writing the version
    // leaves no prompt behind (a retry of the same request would otherwise find the name
    // taken by a prompt with no versions).
    let txn = crate::store::begin_write(db)
        .await
        .map_err(db_error("create prompt: begin"))?;
    let model = prompts::ActiveModel {
        id: Set(Uuid::new_v4()),
        project_id: Set(project),
        name: Set(name.as_str().to_owned()),
        description: Set(description),
        tags: Set(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into())),
        latest_version: Set(if first.is_some() { 1 } else { 0 }),
        created_by: Set(who.user.id),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    let prompt = match model.insert(&txn).await {
        Ok(p) => p,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(format!(
                "a prompt named {} already exists in this project",
                name.as_str()
            ))
            .with_details(serde_json::json!({ "field": "name", "reason": "prompt_name_taken" })))
        }
        Err(e) => return Err(db_error("create prompt")(e)),
    };
    if let Some(content) = &first {
        crate::versions::service::insert(&txn, who, prompt.id, 1, content, note, now)
            .await
            .map_err(db_error("create prompt: first version"))?;
    }
    txn.commit()
        .await
        .map_err(db_error("create prompt: commit"))?;
    Ok(prompt.into())
}

pub async fn get(db: &DatabaseConnection, who: &Identity, id: Uuid) -> Result<Prompt> {
    Ok(load(db, who, id, Action::Read).await?.into())
}

/// Find a prompt by name in the caller's projects (or the given one): a live one, or with
/// `trashed`, one in the trash (a name is unique in its project, trash included).
pub async fn find_by_name(
    db: &DatabaseConnection,
    who: &Identity,
    name: &str,
    project: Option<Uuid>,
    trashed: bool,
) -> Result<prompts::Model> {
    let name = PromptName::parse(name).map_err(|_| Error::not_found("prompt not found"))?;
    let projects = member_projects(db, who, project).await?;
    let deleted = if trashed {
        prompts::Column::DeletedAt.is_not_null()
    } else {
        prompts::Column::DeletedAt.is_null()
    };
    let mut found = prompts::Entity::find()
        .filter(prompts::Column::Name.eq(name.as_str()))
        .filter(prompts::Column::ProjectId.is_in(projects))
        .filter(deleted)
        .all(db)
        .await
        .map_err(db_error("find prompt by name"))?;
    match found.len() {
        0 => Err(Error::not_found("prompt not found")),
        1 => Ok(found.remove(0)),
        _ => Err(Error::conflict(
            "several of your projects have a prompt with this name; pass project_id",
        )),
    }
}

async fn member_projects(
    db: &DatabaseConnection,
    who: &Identity,
    only: Option<Uuid>,
) -> Result<Vec<Uuid>> {
    if let Some(p) = only {
        authorize(db, who.user.id, p, Action::Read).await?;
        return Ok(vec![p]);
    }
    Ok(memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(who.user.id))
        .all(db)
        .await
        .map_err(db_error("member projects"))?
        .into_iter()
        .map(|m| m.project_id)
        .collect())
}

/// Search, filter, sort and page the caller's prompts (or their trash).
pub async fn list(
    db: &DatabaseConnection,
    who: &Identity,
    query: PromptQuery,
) -> Result<Page<Prompt>> {
    query.validate()?;
    let (page, per_page) = query.paging();
    let projects = member_projects(db, who, query.project_id).await?;
    let mut select = prompts::Entity::find().filter(prompts::Column::ProjectId.is_in(projects));
    select = if query.deleted {
        select.filter(prompts::Column::DeletedAt.is_not_null())
    } else {
        select.filter(prompts::Column::DeletedAt.is_null())
    };
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = LikeExpr::new(format!("%{}%", escape_like(&q.to_lowercase()))).escape('\\');
        let lower = |c: prompts::Column| Expr::expr(Func::lower(Expr::col(c)));
        select = select.filter(
            Condition::any()
                .add(lower(prompts::Column::Name).like(pattern.clone()))
                .add(lower(prompts::Column::Description).like(pattern.clone()))
                .add(lower(prompts::Column::Tags).like(pattern)),
        );
    }
    if let Some(tag) = query
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let quoted = serde_json::to_string(&tag.to_lowercase()).unwrap_or_default();
        select = select.filter(
            prompts::Column::Tags
                .like(LikeExpr::new(format!("%{}%", escape_like(&quoted))).escape('\\')),
        );
    }
    select = match query.sort {
        PromptSort::Updated => select.order_by_desc(prompts::Column::UpdatedAt),
        PromptSort::Created => select.order_by_desc(prompts::Column::CreatedAt),
        PromptSort::Name => select.order_by_asc(prompts::Column::Name),
    }
    .order_by_asc(prompts::Column::Id);
    let total = select
        .clone()
        .count(db)
        .await
        .map_err(db_error("count prompts"))?;
    let items = select
        .offset(u64::from(page - 1) * u64::from(per_page))
        .limit(u64::from(per_page))
        .all(db)
        .await
        .map_err(db_error("list prompts"))?
        .into_iter()
        .map(Prompt::from)
        .collect();
    Ok(Page {
        items,
        total,
        page,
        per_page,
    })
}

/// `%` and `_` match literally in user searches.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Change name, description or tags. Content never changes here.
pub async fn update(
    db: &DatabaseConnection,
    who: &Identity,
    id: Uuid,
    patch: PromptPatch,
) -> Result<Prompt> {
    let prompt = load_live(db, who, id, Action::Write).await?;
    let mut model: prompts::ActiveModel = prompt.into();
    if let Some(name) = patch.name {
        model.name = Set(PromptName::parse(&name)?.as_str().to_owned());
    }
    if let Some(d) = patch.description {
        model.description = Set(parse_description(&d)?);
    }
    if let Some(tags) = patch.tags {
        model.tags =
            Set(serde_json::to_string(&parse_tags(&tags)?).unwrap_or_else(|_| "[]".into()));
    }
    model.updated_at = Set(Utc::now());
    match model.update(db).await {
        Ok(p) => Ok(p.into()),
        Err(e) if is_unique_violation(&e) => Err(Error::conflict(
            "a prompt with this name already exists in this project",
        )
        .with_details(serde_json::json!({ "field": "name", "reason": "prompt_name_taken" }))),
        Err(e) => Err(db_error("update prompt")(e)),
    }
}

/// Move to the trash (`trash = true`) or restore from it.
pub async fn set_trashed(
    db: &DatabaseConnection,
    who: &Identity,
    id: Uuid,
    trash: bool,
) -> Result<Prompt> {
    let prompt = load(db, who, id, Action::Write).await?;
    // Already where it was asked to go: nothing changes, not even its dates.
    if prompt.deleted_at.is_some() == trash {
        return Ok(prompt.into());
    }
    let mut model: prompts::ActiveModel = prompt.into();
    model.deleted_at = Set(trash.then(Utc::now));
    model.updated_at = Set(Utc::now());
    Ok(model
        .update(db)
        .await
        .map_err(db_error("trash prompt"))?
        .into())
}
