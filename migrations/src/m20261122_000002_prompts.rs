//! Prompts, their immutable versions, labels and the labels' history.
//!
//! Versions are append-only: triggers make the database itself refuse UPDATE and DELETE
//! on `prompt_versions` (and on `label_events`), on SQLite and PostgreSQL alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Prompts {
    Table,
    Id,
    ProjectId,
    Name,
    Description,
    Tags,
    LatestVersion,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum PromptVersions {
    Table,
    PromptId,
    Number,
    Content,
    ContentHash,
    Note,
    AuthorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Labels {
    Table,
    PromptId,
    Name,
    VersionNumber,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LabelEvents {
    Table,
    Id,
    PromptId,
    Name,
    FromVersion,
    ToVersion,
    ActorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

const APPEND_ONLY: [&str; 2] = ["prompt_versions", "label_events"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Prompts::Table)
                    .col(ColumnDef::new(Prompts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Prompts::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Prompts::Name).string_len(64).not_null())
                    .col(ColumnDef::new(Prompts::Description).text().not_null())
                    // Tags as one JSON array text, searched with LIKE on the quoted tag.
                    .col(ColumnDef::new(Prompts::Tags).text().not_null())
                    .col(
                        ColumnDef::new(Prompts::LatestVersion)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Prompts::CreatedBy).uuid().not_null())
                    .col(
                        ColumnDef::new(Prompts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Prompts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Prompts::DeletedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Prompts::Table, Prompts::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Prompts::Table, Prompts::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_prompts_project_name")
                    .table(Prompts::Table)
                    .col(Prompts::ProjectId)
                    .col(Prompts::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PromptVersions::Table)
                    .col(ColumnDef::new(PromptVersions::PromptId).uuid().not_null())
                    .col(ColumnDef::new(PromptVersions::Number).integer().not_null())
                    .col(ColumnDef::new(PromptVersions::Content).text().not_null())
                    .col(
                        ColumnDef::new(PromptVersions::ContentHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(PromptVersions::Note).text().not_null())
                    .col(ColumnDef::new(PromptVersions::AuthorId).uuid().not_null())
                    .col(
                        ColumnDef::new(PromptVersions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // The primary key is what makes concurrent saves on one base collide.
                    .primary_key(
                        Index::create()
                            .col(PromptVersions::PromptId)
                            .col(PromptVersions::Number),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PromptVersions::Table, PromptVersions::PromptId)
                            .to(Prompts::Table, Prompts::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PromptVersions::Table, PromptVersions::AuthorId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Labels::Table)
                    .col(ColumnDef::new(Labels::PromptId).uuid().not_null())
                    .col(ColumnDef::new(Labels::Name).string_len(40).not_null())
                    .col(ColumnDef::new(Labels::VersionNumber).integer().not_null())
                    .col(ColumnDef::new(Labels::UpdatedBy).uuid().not_null())
                    .col(
                        ColumnDef::new(Labels::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col(Labels::PromptId).col(Labels::Name))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Labels::Table, (Labels::PromptId, Labels::VersionNumber))
                            .to(
                                PromptVersions::Table,
                                (PromptVersions::PromptId, PromptVersions::Number),
                            ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LabelEvents::Table)
                    .col(
                        ColumnDef::new(LabelEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LabelEvents::PromptId).uuid().not_null())
                    .col(ColumnDef::new(LabelEvents::Name).string_len(40).not_null())
                    .col(ColumnDef::new(LabelEvents::FromVersion).integer().null())
                    .col(ColumnDef::new(LabelEvents::ToVersion).integer().not_null())
                    .col(ColumnDef::new(LabelEvents::ActorId).uuid().not_null())
                    .col(
                        ColumnDef::new(LabelEvents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LabelEvents::Table, LabelEvents::PromptId)
                            .to(Prompts::Table, Prompts::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_label_events_prompt")
                    .table(LabelEvents::Table)
                    .col(LabelEvents::PromptId)
                    .col(LabelEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for table in APPEND_ONLY {
            for sql in append_only_sql(manager.get_database_backend(), table) {
                db.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS promptlab_append_only() CASCADE")
                .await?;
        }
        for table in [
            LabelEvents::Table.into_iden(),
            Labels::Table.into_iden(),
            PromptVersions::Table.into_iden(),
            Prompts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Triggers that abort any UPDATE or DELETE on an append-only table.
fn append_only_sql(backend: DbBackend, table: &str) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION promptlab_append_only() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'append-only table %: % is not allowed', TG_TABLE_NAME, TG_OP; END; \
             $$ LANGUAGE plpgsql"
                .to_owned(),
            format!(
                "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION promptlab_append_only()"
            ),
            format!("CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} EXECUTE FUNCTION promptlab_append_only()"),
        ],
        _ => ["UPDATE", "DELETE"]
            .iter()
            .map(|op| {
                format!(
                    "CREATE TRIGGER {table}_no_{lower} BEFORE {op} ON {table} \
                     BEGIN SELECT RAISE(ABORT, 'append-only table {table}: {op} is not allowed'); END",
                    lower = op.to_lowercase()
                )
            })
            .collect(),
    }
}
