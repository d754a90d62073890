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

impl ActiveModelBehavior for ActiveModel {}
