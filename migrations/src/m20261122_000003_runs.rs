//! Runs: one row per execution of a version against a model. The table is the run queue
//! too: workers claim `queued` rows with a lease, and expired leases are recovered.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    ProjectId,
    PromptId,
    VersionNumber,
    CreatedBy,
    Status,
    Provider,
    Model,
    Params,
    Variables,
    Messages,
    RunKey,
    Cached,
    IdempotencyKey,
    Output,
    ErrorCode,
    ErrorMessage,
    Attempts,
    InputTokens,
    OutputTokens,
    CostUsd,
    ProviderModel,
    LatencyMs,
    TtftMs,
    QueuedAt,
    StartedAt,
    FinishedAt,
    LeaseOwner,
    LeaseExpiresAt,
    CancelRequested,
}

#[derive(DeriveIden)]
enum Prompts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ts = |c: Runs| ColumnDef::new(c).timestamp_with_time_zone().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Runs::Table)
                    .col(ColumnDef::new(Runs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Runs::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Runs::PromptId).uuid().not_null())
                    .col(ColumnDef::new(Runs::VersionNumber).integer().not_null())
                    .col(ColumnDef::new(Runs::CreatedBy).uuid().not_null())
                    .col(ColumnDef::new(Runs::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Runs::Provider).string_len(64).not_null())
                    .col(ColumnDef::new(Runs::Model).string_len(128).not_null())
                    // JSON texts: effective parameters, variable values, rendered messages.
                    .col(ColumnDef::new(Runs::Params).text().not_null())
                    .col(ColumnDef::new(Runs::Variables).text().not_null())
                    .col(ColumnDef::new(Runs::Messages).text().not_null())
                    .col(ColumnDef::new(Runs::RunKey).string_len(64).not_null())
                    .col(
                        ColumnDef::new(Runs::Cached)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Runs::IdempotencyKey).string_len(200).null())
                    .col(ColumnDef::new(Runs::Output).text().not_null())
                    .col(ColumnDef::new(Runs::ErrorCode).string_len(40).null())
                    .col(ColumnDef::new(Runs::ErrorMessage).text().null())
                    .col(
                        ColumnDef::new(Runs::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Runs::InputTokens).integer().null())
                    .col(ColumnDef::new(Runs::OutputTokens).integer().null())
                    .col(ColumnDef::new(Runs::CostUsd).double().null())
                    .col(ColumnDef::new(Runs::ProviderModel).string_len(200).null())
                    .col(ColumnDef::new(Runs::LatencyMs).big_integer().null())
                    .col(ColumnDef::new(Runs::TtftMs).big_integer().null())
                    .col(ts(Runs::QueuedAt).not_null())
                    .col(ts(Runs::StartedAt).null())
                    .col(ts(Runs::FinishedAt).null())
                    .col(ColumnDef::new(Runs::LeaseOwner).string_len(64).null())
                    .col(ts(Runs::LeaseExpiresAt).null())
                    .col(
                        ColumnDef::new(Runs::CancelRequested)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Runs::Table, Runs::PromptId)
                            .to(Prompts::Table, Prompts::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Runs::Table, Runs::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes: [(&str, Vec<Runs>); 5] = [
            // The queue: oldest queued run per provider; expired leases.
            (
                "idx_runs_queue",
                vec![Runs::Status, Runs::Provider, Runs::QueuedAt],
            ),
            ("idx_runs_lease", vec![Runs::Status, Runs::LeaseExpiresAt]),
            // Cache lookups.
            (
                "idx_runs_key",
                vec![Runs::RunKey, Runs::Status, Runs::FinishedAt],
            ),
            // History lists.
            ("idx_runs_project", vec![Runs::ProjectId, Runs::QueuedAt]),
            ("idx_runs_prompt", vec![Runs::PromptId, Runs::QueuedAt]),
        ];
        for (name, cols) in indexes {
            let mut index = Index::create().name(name).table(Runs::Table).to_owned();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_runs_idempotency")
                    .table(Runs::Table)
                    .col(Runs::CreatedBy)
                    .col(Runs::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // At most one queued or running run per key and project: concurrent identical
        // starts collapse into one (the partial index syntax is the same on both).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_runs_in_flight ON runs (project_id, run_key) \
                 WHERE status IN ('queued', 'running')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Runs::Table).to_owned())
            .await
    }
}
