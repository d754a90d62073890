//! Accounts on the server: registration, login, logout, and resolving a token to a user.
//! Called through [`crate::engine::Engine`]; owns the rules (one personal project per new
//! user, sessions that can be revoked, failed logins that reveal nothing).

use super::{Email, LoginRequest, Me, Registration, User};
use crate::auth::{password, tokens::TokenKeys};
use crate::error::{Error, Result};
use crate::projects::{Project, Role};
use crate::store::sqlite_writer::{FromRow, Row};
use crate::store::{db_error, is_unique_violation, memberships, projects, sessions, users};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Set,
};
use std::time::Duration;
use uuid::Uuid;

/// A signed-in session: its token and who it belongs to.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// Who is making a request, once their token checked out.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    pub session_id: Uuid,
}

const BAD_CREDENTIALS: &str = "invalid email or password";

async fn hash_password(password: String) -> Result<String> {
    password::off_thread(move || password::hash(&password))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing task failed");
            Error::internal()
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            Error::internal()
        })
}

/// Create a user, their personal project (as owner) and a first session, atomically.
pub async fn register(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    ttl: Duration,
    reg: Registration,
) -> Result<SignedIn> {
    let password_hash = hash_password(reg.password.expose().to_owned()).await?;
    let now = Utc::now();
    let user = users::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(reg.email.as_str().to_owned()),
        name: Set(reg.name.as_str().to_owned()),
        password_hash: Set(password_hash),
        created_at: Set(now),
    };
    let txn = crate::store::begin_write(db)
        .await
        .map_err(db_error("register: begin"))?;
    let user = match user.insert(&txn).await {
        Ok(u) => u,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict("an account with this email already exists")
                .with_details(serde_json::json!({ "field": "email", "reason": "email_taken" })))
        }
        Err(e) => return Err(db_error("register: insert user")(e)),
    };
    let project = projects::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Personal".to_owned()),
        personal: Set(true),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db_error("register: insert project"))?;
    memberships::ActiveModel {
        project_id: Set(project.id),
        user_id: Set(user.id),
        role: Set(Role::Owner.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db_error("register: insert membership"))?;
    let signed_in = open_session(&txn, keys, ttl, user.into()).await?;
    txn.commit().await.map_err(db_error("register: commit"))?;
    Ok(signed_in)
}

/// Check credentials and open a session. Unknown email and wrong password are the same
/// error, and take the same time.
pub async fn login(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    ttl: Duration,
    req: LoginRequest,
) -> Result<SignedIn> {
    if req.password.len() > super::PASSWORD_MAX_BYTES
        || req.email.len() > super::EMAIL_MAX_BYTES * 4
    {
        return Err(Error::unauthorized(BAD_CREDENTIALS));
    }
    let found = match Email::parse(&req.email) {
        Ok(email) => users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(db)
            .await
            .map_err(db_error("login: find user"))?,
        Err(_) => None,
    };
    let password = req.password;
    let (ok, user) = password::off_thread(move || match found {
        Some(user) => (password::verify(&password, &user.password_hash), Some(user)),
        None => {
            password::verify_against_dummy(&password);
            (false, None)
        }
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "password check task failed");
        Error::internal()
    })?;
    match (ok, user) {
        (true, Some(user)) => open_session(db, keys, ttl, user.into()).await,
        _ => Err(Error::unauthorized(BAD_CREDENTIALS)),
    }
}

async fn open_session<C: sea_orm::ConnectionTrait>(
    db: &C,
    keys: &TokenKeys,
    ttl: Duration,
    user: User,
) -> Result<SignedIn> {
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(7));
    let session_id = Uuid::new_v4();
    sessions::ActiveModel {
        id: Set(session_id),
        user_id: Set(user.id),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(db_error("open session"))?;
    let token = keys.issue(user.id, session_id, expires_at).map_err(|e| {
        tracing::error!(error = %e, "could not sign a token");
        Error::internal()
    })?;
    Ok(SignedIn {
        token,
        session_id,
        expires_at,
        user,
    })
}

/// Resolve a bearer/cookie token to the user, checking the session is live.
pub async fn authenticate(
    db: &DatabaseConnection,
    reads: &crate::store::sqlite_reads::Reads,
    keys: &TokenKeys,
    token: &str,
) -> Result<Identity> {
    let claims = keys
        .verify(token)
        .map_err(|e| Error::unauthorized(e.to_string()))?;
    // One query for both: this runs on every authenticated request.
    let reading = std::time::Instant::now();
    let SessionAndUser(session, user) = reads
        .one(db, &session_query(claims.sid))
        .await
        .map_err(db_error("authenticate"))?
        .ok_or_else(|| Error::unauthorized("session not found"))?;
    tracing::debug!(target: "promptlab::timing", read_us = reading.elapsed().as_micros() as u64, "session read");
    if session.user_id != claims.sub || session.revoked_at.is_some() {
        return Err(Error::unauthorized("session ended"));
    }
    if session.expires_at <= Utc::now() {
        return Err(Error::unauthorized("token expired"));
    }
    let user = user.ok_or_else(|| Error::unauthorized("user not found"))?;
    Ok(Identity {
        user: user.into(),
        session_id: session.id,
    })
}

/// The session `id` and its user, in one query.
pub(crate) fn session_query(id: Uuid) -> sea_orm::sea_query::SelectStatement {
    sessions::Entity::find_by_id(id)
        .find_also_related(users::Entity)
        .limit(1)
        .into_query()
}

/// A session and its user, as `find_also_related` selects them (columns under sea-orm's
/// `A_` and `B_` prefixes), read through the pool or inline.
#[derive(Debug, PartialEq)]
pub(crate) struct SessionAndUser(pub sessions::Model, pub Option<users::Model>);

impl FromQueryResult for SessionAndUser {
    fn from_query_result(res: &QueryResult, _: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self(
            sessions::Model::from_query_result(res, SESSION)?,
            users::Model::from_query_result_optional(res, USER)?,
        ))
    }
}

impl FromRow for SessionAndUser {
    fn from_row(r: &Row) -> std::result::Result<Self, DbErr> {
        Ok(Self(
            sessions::Model::from_row_prefixed(r, SESSION)?,
            users::Model::from_row_prefixed(r, USER)?,
        ))
    }
}

/// The prefixes sea-orm gives the two sides of `find_also_related` (`SelectA`, `SelectB`).
const SESSION: &str = "A_";
const USER: &str = "B_";

/// End a session; its token stops working at once.
pub async fn logout(db: &DatabaseConnection, session_id: Uuid) -> Result<()> {
    sessions::Entity::update_many()
        .col_expr(
            sessions::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(sessions::Column::Id.eq(session_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(db_error("logout"))?;
    Ok(())
}

/// The user with the projects they are a member of, personal project first.
pub async fn me(db: &DatabaseConnection, user: User) -> Result<Me> {
    let rows = memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user.id))
        .find_also_related(projects::Entity)
        .order_by_desc(projects::Column::Personal)
        .order_by_asc(projects::Column::CreatedAt)
        .all(db)
        .await
        .map_err(db_error("me: projects"))?;
    let projects = rows
        .into_iter()
        .filter_map(|(m, p)| {
            let p = p?;
            Some(Project {
                id: p.id,
                name: p.name,
                personal: p.personal,
                role: Role::parse(&m.role)?,
                created_at: p.created_at,
            })
        })
        .collect();
    Ok(Me { user, projects })
}
