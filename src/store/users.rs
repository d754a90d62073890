//! The `users` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::accounts::User {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            email: m.email,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

impl Model {
    /// A user read by the inline reads, its columns under prefix `pre`; `None` when its
    /// id is NULL (a left join that found no user).
    pub fn from_row_prefixed(
        r: &crate::store::sqlite_writer::Row,
        pre: &str,
    ) -> Result<Option<Self>, DbErr> {
        let Some(id) = r.get_prefixed(pre, "id")? else {
            return Ok(None);
        };
        Ok(Some(Self {
            id,
            email: r.get_prefixed(pre, "email")?,
            name: r.get_prefixed(pre, "name")?,
            password_hash: r.get_prefixed(pre, "password_hash")?,
            created_at: r.get_prefixed(pre, "created_at")?,
        }))
    }
}
