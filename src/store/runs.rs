//! The `runs` table: every run and, for `queued` rows, the run queue itself.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub prompt_id: Uuid,
    pub version_number: i32,
    pub created_by: Uuid,
    /// `queued`, `running`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    pub provider: String,
    pub model: String,
    /// JSON of [`crate::runs::RunParams`].
    pub params: String,
    /// JSON object of variable values.
    pub variables: String,
    /// JSON of the rendered messages sent to the provider.
    pub messages: String,
    pub run_key: String,
    pub cached: bool,
    pub idempotency_key: Option<String>,
    pub output: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub cost_usd: Option<f64>,
    pub provider_model: Option<String>,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub queued_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub cancel_requested: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// `status = '<status>'`, the status written into the SQL rather than bound. The queue's,
/// the leases' and the cache's indexes are partial (`WHERE status = 'queued'`, `'running'`,
/// `'succeeded'`: migration `m20261127_000004`), and neither SQLite nor a generic
/// PostgreSQL plan uses a partial index for `status = ?`: the planner must see the
/// literal. Statuses are fixed ASCII words, so nothing a user sends is written into SQL.
pub fn status_is(status: crate::runs::RunStatus) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::ExprTrait;
    Expr::col(Column::Status).eq(Expr::cust(format!("'{}'", status.as_str())))
}

impl ActiveModelBehavior for ActiveModel {}

impl crate::store::sqlite_writer::FromRow for Model {
    /// The row the run path's writes return (`RETURNING *`), written by the SQLite writer.
    fn from_row(r: &crate::store::sqlite_writer::Row) -> Result<Self, DbErr> {
        Ok(Self {
            id: r.get("id")?,
            project_id: r.get("project_id")?,
            prompt_id: r.get("prompt_id")?,
            version_number: r.get("version_number")?,
            created_by: r.get("created_by")?,
            status: r.get("status")?,
            provider: r.get("provider")?,
            model: r.get("model")?,
            params: r.get("params")?,
            variables: r.get("variables")?,
            messages: r.get("messages")?,
            run_key: r.get("run_key")?,
            cached: r.get("cached")?,
            idempotency_key: r.get("idempotency_key")?,
            output: r.get("output")?,
            error_code: r.get("error_code")?,
            error_message: r.get("error_message")?,
            attempts: r.get("attempts")?,
            input_tokens: r.get("input_tokens")?,
            output_tokens: r.get("output_tokens")?,
            cost_usd: r.get("cost_usd")?,
            provider_model: r.get("provider_model")?,
            latency_ms: r.get("latency_ms")?,
            ttft_ms: r.get("ttft_ms")?,
            queued_at: r.get("queued_at")?,
            started_at: r.get("started_at")?,
            finished_at: r.get("finished_at")?,
            lease_owner: r.get("lease_owner")?,
            lease_expires_at: r.get("lease_expires_at")?,
            cancel_requested: r.get("cancel_requested")?,
        })
    }
}
