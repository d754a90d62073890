//! The one authorization check: may this user do this to this project?
//! Every project-scoped operation goes through [`authorize`]; the rule itself is
//! [`crate::projects::Role::allows`].

use crate::error::{Error, Result};
use crate::projects::{Action, Role};
use crate::store::{db_error, memberships};
use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, Query, SelectStatement};
use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

/// The column name [`role_subquery`] is read under.
pub const MEMBER_ROLE: &str = "member_role";

/// `user`'s role in the project that `project` (a column of the outer query) names, as a
/// subquery: NULL when not a member. Selected as [`MEMBER_ROLE`] beside the row it guards,
/// the row and the role are one read, checked with [`role_allows`].
pub fn role_subquery(user: Uuid, project: impl IntoColumnRef) -> SelectStatement {
    Query::select()
        .column((memberships::Entity, memberships::Column::Role))
        .from(memberships::Entity)
        .and_where(Expr::col((memberships::Entity, memberships::Column::ProjectId)).equals(project))
        .and_where(Expr::col((memberships::Entity, memberships::Column::UserId)).eq(user))
        .to_owned()
}

/// The user's role in the project if it allows `action`.
///
/// A project the user is not a member of is `not_found`, so its existence is not revealed;
/// a member whose role is too weak gets `forbidden`.
pub async fn authorize(
    db: &DatabaseConnection,
    user: Uuid,
    project: Uuid,
    action: Action,
) -> Result<Role> {
    let membership = memberships::Entity::find_by_id((project, user))
        .one(db)
        .await
        .map_err(db_error("authorize"))?;
    role_allows(membership.as_ref().map(|m| m.role.as_str()), action)
}

/// The same rule for a role already read (with the row it guards, in one query):
/// `None` is no membership.
pub fn role_allows(role: Option<&str>, action: Action) -> Result<Role> {
    let role = role.ok_or_else(|| Error::not_found("project not found"))?;
    let role = Role::parse(role).ok_or_else(|| {
        tracing::error!(role = %role, "unknown role in memberships");
        Error::internal()
    })?;
    if role.allows(action) {
        Ok(role)
    } else {
        Err(Error::forbidden(format!(
            "a {} cannot do this",
            role.as_str()
        )))
    }
}
