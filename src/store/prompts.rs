//! The `prompts` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub description: String,
    /// JSON array of tags.
    pub tags: String,
    pub latest_version: i32,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::prompts::Prompt {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            project_id: m.project_id,
            name: m.name,
            description: m.description,
            tags: serde_json::from_str(&m.tags).unwrap_or_default(),
            latest_version: m.latest_version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        }
    }
}

impl crate::store::sqlite_writer::FromRow for Model {
    /// A prompt read by the inline reads.
    fn from_row(r: &crate::store::sqlite_writer::Row) -> Result<Self, DbErr> {
        Ok(Self {
            id: r.get("id")?,
            project_id: r.get("project_id")?,
            name: r.get("name")?,
            description: r.get("description")?,
            tags: r.get("tags")?,
            latest_version: r.get("latest_version")?,
            created_by: r.get("created_by")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
            deleted_at: r.get("deleted_at")?,
        })
    }
}
