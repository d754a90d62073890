//! Database migrations for PromptLab, one file per step, run at start-up by the engine.
//!
//! Every migration must work on SQLite and PostgreSQL; use the schema builder, and raw SQL
//! only where the two differ (triggers), branching on the backend.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_accounts;
mod m20261122_000002_prompts;
mod m20261122_000003_runs;
mod m20261127_000004_runs_partial_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_accounts::Migration),
            Box::new(m20261122_000002_prompts::Migration),
            Box::new(m20261122_000003_runs::Migration),
            Box::new(m20261127_000004_runs_partial_indexes::Migration),
        ]
    }
}
