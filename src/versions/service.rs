//! Versions on the server: save (append-only, optimistic on a named base), list, get,
//! restore and diff. The database refuses UPDATE and DELETE on versions; this code never
//! tries.

use super::diff::{diff_versions, VersionDiff};
use super::{parse_note, Author, SaveOutcome, SaveVersion, Version, VersionContent};
use crate::accounts::service::Identity;
use crate::error::{Error, Result};
use crate::projects::Action;
use crate::prompts::service::{load, load_live};
use crate::store::{db_error, is_unique_violation, labels, prompt_versions as pv, prompts, users};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use std::collections::HashMap;
use uuid::Uuid;

fn stale(latest: i32) -> Error {
    Error::conflict(format!(
        "the prompt has moved on to version {latest}; reload and save again"
    ))
    .with_details(serde_json::json!({ "reason": "stale_base", "latest_version": latest }))
}

/// Save a new version on top of `req.base_version`.
///
/// A stale base is `conflict` with the latest number; content identical to the latest
/// version creates nothing (`created: false`). Concurrent saves on one base: exactly one
/// wins, because moving `latest_version` from the base is a conditional update.
pub async fn save(
    db: &DatabaseConnection,
    who: &Identity,
    prompt_id: Uuid,
    req: SaveVersion,
) -> Result<SaveOutcome> {
    if req.base_version < 0 {
        return Err(Error::invalid_field(
            "base_version",
            "version_out_of_range",
            "base_version is the version the edit started from: 0 for a prompt's first",
        ));
    }
    let content = req.content.validate()?;
    let note = parse_note(&req.note)?;
    let prompt = load_live(db, who, prompt_id, Action::Write).await?;
    if req.base_version != prompt.latest_version {
        return Err(stale(prompt.latest_version));
    }
    let hash = content.content_hash();
    if prompt.latest_version > 0 {
        let latest = get_model(db, prompt_id, prompt.latest_version).await?;
        if latest.content_hash == hash {
            let version = to_versions(db, prompt_id, vec![latest]).await?.remove(0);
            return Ok(SaveOutcome {
                created: false,
                version,
            });
        }
    }
    let number = req.base_version + 1;
    let now = Utc::now();
    let txn = crate::store::begin_write(db)
        .await
        .map_err(db_error("save version: begin"))?;
    // Take the row first: the write lock serialises savers and the condition picks one.
    let moved = prompts::Entity::update_many()
        .col_expr(prompts::Column::LatestVersion, Expr::value(number))
        .col_expr(prompts::Column::UpdatedAt, Expr::value(now))
        .filter(prompts::Column::Id.eq(prompt_id))
        .filter(prompts::Column::LatestVersion.eq(req.base_version))
        .filter(prompts::Column::DeletedAt.is_null())
        .exec(&txn)
        .await
        .map_err(db_error("save version: move latest"))?;
    if moved.rows_affected != 1 {
        drop(txn);
        let latest = load(db, who, prompt_id, Action::Read).await?.latest_version;
        return Err(stale(latest));
    }
    let model = match insert(&txn, who, prompt_id, number, &content, note, now).await {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) => return Err(stale(number)),
        Err(e) => return Err(db_error("save version: insert")(e)),
    };
    txn.commit()
        .await
        .map_err(db_error("save version: commit"))?;
    let version = to_versions(db, prompt_id, vec![model]).await?.remove(0);
    Ok(SaveOutcome {
        created: true,
        version,
    })
}

/// Write version `number` of a prompt, inside the caller's transaction (which has
/// already moved the prompt's `latest_version` to it, or created the prompt with it).
pub(crate) async fn insert(
    txn: &DatabaseTransaction,
    who: &Identity,
    prompt_id: Uuid,
    number: i32,
    content: &VersionContent,
    note: String,
    now: DateTime<Utc>,
) -> std::result::Result<pv::Model, DbErr> {
    let json = serde_json::to_string(content).map_err(|e| DbErr::Custom(e.to_string()))?;
    pv::ActiveModel {
        prompt_id: Set(prompt_id),
        number: Set(number),
        content: Set(json),
        content_hash: Set(content.content_hash()),
        note: Set(note),
        author_id: Set(who.user.id),
        created_at: Set(now),
    }
    .insert(txn)
    .await
}

async fn get_model(db: &DatabaseConnection, prompt_id: Uuid, number: i32) -> Result<pv::Model> {
    pv::Entity::find_by_id((prompt_id, number))
        .one(db)
        .await
        .map_err(db_error("get version"))?
        .ok_or_else(|| Error::not_found(format!("version {number} not found")))
}

/// Attach authors and current labels to stored versions.
async fn to_versions(
    db: &DatabaseConnection,
    prompt_id: Uuid,
    models: Vec<pv::Model>,
) -> Result<Vec<Version>> {
    let author_ids: Vec<Uuid> = models.iter().map(|m| m.author_id).collect();
    let authors: HashMap<Uuid, String> = users::Entity::find()
        .filter(users::Column::Id.is_in(author_ids))
        .all(db)
        .await
        .map_err(db_error("version authors"))?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let mut by_version: HashMap<i32, Vec<String>> = HashMap::new();
    for l in labels::Entity::find()
        .filter(labels::Column::PromptId.eq(prompt_id))
        .order_by_asc(labels::Column::Name)
        .all(db)
        .await
        .map_err(db_error("version labels"))?
    {
        by_version.entry(l.version_number).or_default().push(l.name);
    }
    models
        .into_iter()
        .map(|m| {
            let content: VersionContent = serde_json::from_str(&m.content).map_err(|e| {
                tracing::error!(prompt = %m.prompt_id, version = m.number, error = %e, "stored version does not parse");
                Error::internal()
            })?;
            Ok(Version {
                prompt_id: m.prompt_id,
                number: m.number,
                content,
                note: m.note,
                author: Author { id: m.author_id, name: authors.get(&m.author_id).cloned().unwrap_or_default() },
                created_at: m.created_at,
                content_hash: m.content_hash,
                labels: by_version.remove(&m.number).unwrap_or_default(),
            })
        })
        .collect()
}

/// All versions of a prompt, newest first.
pub async fn list(
    db: &DatabaseConnection,
    who: &Identity,
    prompt_id: Uuid,
) -> Result<Vec<Version>> {
    load(db, who, prompt_id, Action::Read).await?;
    let models = pv::Entity::find()
        .filter(pv::Column::PromptId.eq(prompt_id))
        .order_by_desc(pv::Column::Number)
        .all(db)
        .await
        .map_err(db_error("list versions"))?;
    to_versions(db, prompt_id, models).await
}

pub async fn get(
    db: &DatabaseConnection,
    who: &Identity,
    prompt_id: Uuid,
    number: i32,
) -> Result<Version> {
    load(db, who, prompt_id, Action::Read).await?;
    let model = get_model(db, prompt_id, number).await?;
    Ok(to_versions(db, prompt_id, vec![model]).await?.remove(0))
}

/// A new version equal to version `number`, noted "restored from vN".
pub async fn restore(
    db: &DatabaseConnection,
    who: &Identity,
    prompt_id: Uuid,
    number: i32,
    base: Option<i32>,
) -> Result<SaveOutcome> {
    let old = get(db, who, prompt_id, number).await?;
    let base = match base {
        Some(b) => b,
        None => {
            load_live(db, who, prompt_id, Action::Write)
                .await?
                .latest_version
        }
    };
    save(
        db,
        who,
        prompt_id,
        SaveVersion {
            base_version: base,
            content: old.content,
            note: format!("restored from v{number}"),
        },
    )
    .await
}

pub async fn diff(
    db: &DatabaseConnection,
    who: &Identity,
    prompt_id: Uuid,
    from: i32,
    to: i32,
) -> Result<VersionDiff> {
    let a = get(db, who, prompt_id, from).await?;
    let b = get(db, who, prompt_id, to).await?;
    Ok(diff_versions(&a, &b))
}
