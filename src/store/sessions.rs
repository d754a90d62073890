//! The `sessions` table: one row per login, so logout can revoke a token before it expires.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// A session read by the inline reads, its columns under prefix `pre`.
    pub fn from_row_prefixed(
        r: &crate::store::sqlite_writer::Row,
        pre: &str,
    ) -> Result<Self, DbErr> {
        Ok(Self {
            id: r.get_prefixed(pre, "id")?,
            user_id: r.get_prefixed(pre, "user_id")?,
            created_at: r.get_prefixed(pre, "created_at")?,
            expires_at: r.get_prefixed(pre, "expires_at")?,
            revoked_at: r.get_prefixed(pre, "revoked_at")?,
        })
    }
}
