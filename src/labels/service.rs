//! Labels on the server: move (promote or roll back, recorded in `label_events`), list,
//! history, and resolving "what is deployed" for applications.

use super::{parse_label, Label, LabelEvent};
use crate::accounts::service::Identity;
use crate::error::{Error, Result};
use crate::projects::Action;
use crate::prompts::service::{load, load_live};
use crate::store::{db_error, label_events, labels, prompt_versions, users};
use crate::versions::Author;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use std::collections::HashMap;
use uuid::Uuid;

async fn authors(db: &DatabaseConnection, ids: Vec<Uuid>) -> Result<HashMap<Uuid, String>> {
    Ok(users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(db)
        .await
        .map_err(db_error("label authors"))?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

/// Point `name` at `version`; returns the label. Moving to where it already points is a no-op.
pub async fn move_label(
    db: &DatabaseConnection,
    who: &Identity,
    prompt_id: Uuid,
    name: &str,
    version: i32,
) -> Result<Label> {
    let name = parse_label(name)?;
    load_live(db, who, prompt_id, Action::Write).await?;
    prompt_versions::Entity::find_by_id((prompt_id, version))
        .one(db)
        .await
        .map_err(db_error("move label: version"))?
        .ok_or_else(|| Error::not_found(format!("version {version} not found")))?;
    let now = Utc::now();
    let txn = crate::store::begin_write(db)
        .await
        .map_err(db_error("move label: begin"))?;
    let current = labels::Entity::find_by_id((prompt_id, name.clone()))
        .one(&txn)
        .await
        .map_err(db_error("move label: current"))?;
    let from = current.as_ref().map(|l| l.version_number);
    if from != Some(version) {
        let model = labels::ActiveModel {
            prompt_id: Set(prompt_id),
            name: Set(name.clone()),
            version_number: Set(version),
            updated_by: Set(who.user.id),
            updated_at: Set(now),
        };
        if current.is_some() {
            model
                .update(&txn)
                .await
                .map_err(db_error("move label: update"))?;
        } else {
            model
                .insert(&txn)
                .await
                .map_err(db_error("move label: insert"))?;
        }
        label_events::ActiveModel {
            id: Set(Uuid::new_v4()),
            prompt_id: Set(prompt_id),
            name: Set(name.clone()),
            from_version: Set(from),
            to_version: Set(version),
            actor_id: Set(who.user.id),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(db_error("move label: event"))?;
    }
    txn.commit().await.map_err(db_error("move label: commit"))?;
    list(db, who, prompt_id)
        .await?
        .into_iter()
        .find(|l| l.name == name)
        .ok_or_else(Error::internal)
}

/// The labels of a prompt, by name.
pub async fn list(db: &DatabaseConnection, who: &Identity, prompt_id: Uuid) -> Result<Vec<Label>> {
    load(db, who, prompt_id, Action::Read).await?;
    let rows = labels::Entity::find()
        .filter(labels::Column::PromptId.eq(prompt_id))
        .order_by_asc(labels::Column::Name)
        .all(db)
        .await
        .map_err(db_error("list labels"))?;
    let names = authors(db, rows.iter().map(|l| l.updated_by).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|l| Label {
            updated_by: Author {
                id: l.updated_by,
                name: names.get(&l.updated_by).cloned().unwrap_or_default(),
            },
            name: l.name,
            version: l.version_number,
            updated_at: l.updated_at,
        })
        .collect())
}

/// Every move of the prompt's labels (or of one label), newest first.
pub async fn history(
    db: &DatabaseConnection,
    who: &Identity,
    prompt_id: Uuid,
    name: Option<&str>,
) -> Result<Vec<LabelEvent>> {
    load(db, who, prompt_id, Action::Read).await?;
    let mut q = label_events::Entity::find().filter(label_events::Column::PromptId.eq(prompt_id));
    if let Some(n) = name {
        q = q.filter(label_events::Column::Name.eq(parse_label(n)?));
    }
    let rows = q
        .order_by_desc(label_events::Column::CreatedAt)
        .order_by_desc(label_events::Column::Id)
        .all(db)
        .await
        .map_err(db_error("label history"))?;
    let names = authors(db, rows.iter().map(|e| e.actor_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|e| LabelEvent {
            by: Author {
                id: e.actor_id,
                name: names.get(&e.actor_id).cloned().unwrap_or_default(),
            },
            name: e.name,
            from_version: e.from_version,
            to_version: e.to_version,
            at: e.created_at,
        })
        .collect())
}

/// The version number a label points at, or `not_found`.
pub async fn resolve(db: &DatabaseConnection, prompt_id: Uuid, name: &str) -> Result<i32> {
    let name = parse_label(name)?;
    labels::Entity::find_by_id((prompt_id, name.clone()))
        .one(db)
        .await
        .map_err(db_error("resolve label"))?
        .map(|l| l.version_number)
        .ok_or_else(|| Error::not_found(format!("no label {name} on this prompt")))
}
