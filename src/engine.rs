//! The engine handle the server and server functions share: database, configuration and
//! token keys, with the operations they expose. Cheap to clone.

use crate::accounts::service::{self, Identity, SignedIn};
use crate::accounts::{LoginRequest, Me, RegisterRequest};
use crate::config::Config;
use crate::error::Result;
use crate::projects::{Action, Role};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use uuid::Uuid;

/// What `/health/ready` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The database answers a query through the pool.
    pub database: bool,
    /// The run path's writer (SQLite) answers with a connection it can use.
    pub writer: bool,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database && self.writer
    }
}

#[derive(Clone)]
pub struct Engine {
    db: DatabaseConnection,
    config: Arc<Config>,
    keys: Arc<crate::auth::tokens::TokenKeys>,
    providers: Arc<crate::providers::registry::Registry>,
    prices: Arc<crate::pricing::PriceTable>,
    runtime: Arc<crate::runs::pool::Runtime>,
    /// The run path's point lookups (inline on SQLite: `store::sqlite_reads`).
    reads: Arc<crate::store::sqlite_reads::Reads>,
    /// Where templates that do more than print their variables render.
    templates: Arc<crate::template::sandbox::Sandbox>,
    /// SQLite's WAL checkpoints, for as long as any clone of the engine lives.
    _checkpoints: Option<Arc<crate::store::Checkpoints>>,
}

impl Engine {
    /// Connect to the configured database, migrate it, and get ready to serve.
    pub async fn start(config: Config) -> Result<Self> {
        let db = crate::store::connect(&config.database_url).await?;
        let checkpoints = crate::store::checkpoints(&db, &config.database_url).map(Arc::new);
        let commits = crate::store::group_commit::GroupCommit::open(&db, &config.database_url)
            .await
            .map_err(crate::store::db_error("open the run writer"))?;
        let reads = crate::store::sqlite_reads::Reads::open(&db, &config.database_url)
            .map_err(crate::store::db_error("open the run reads"))?;
        Ok(Self {
            _checkpoints: checkpoints,
            ..Self::with_db(db, config, commits, reads)
        })
    }

    /// The engine over a connection from `store::connect` (the caller adds the checkpoint
    /// task: that connection has SQLite's automatic checkpoints off).
    fn with_db(
        db: DatabaseConnection,
        config: Config,
        commits: crate::store::group_commit::GroupCommit,
        reads: crate::store::sqlite_reads::Reads,
    ) -> Self {
        let keys = Arc::new(crate::auth::tokens::TokenKeys::new(&config.jwt_secret));
        let providers = Arc::new(crate::providers::registry::Registry::from_settings(
            &config.providers,
        ));
        let prices = Arc::new(config.providers.prices.clone());
        let templates = Arc::new(crate::template::sandbox::Sandbox::new(
            config.template_worker.clone(),
        ));
        Self {
            templates,
            db,
            config: Arc::new(config),
            keys,
            providers,
            prices,
            runtime: Arc::new(crate::runs::pool::Runtime::with_commits(commits)),
            reads: Arc::new(reads),
            _checkpoints: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The run path's point lookups: inline on a SQLite file (`store::sqlite_reads`).
    pub fn reads(&self) -> &crate::store::sqlite_reads::Reads {
        &self.reads
    }

    /// The configured model providers.
    pub fn providers(&self) -> &crate::providers::registry::Registry {
        &self.providers
    }

    /// Rendering a version's messages on the server: see [`crate::template::sandbox`].
    pub fn templates(&self) -> &crate::template::sandbox::Sandbox {
        &self.templates
    }

    /// The price table in force (built-in prices with `PRICES_JSON` applied).
    pub fn prices(&self) -> &crate::pricing::PriceTable {
        &self.prices
    }

    /// The run engine's shared parts: event bus, worker wake-up, lease name.
    pub fn runtime(&self) -> &crate::runs::pool::Runtime {
        &self.runtime
    }

    pub fn runtime_arc(&self) -> Arc<crate::runs::pool::Runtime> {
        self.runtime.clone()
    }

    /// Start the worker pool that executes queued runs.
    pub fn start_workers(&self) -> crate::runs::pool::Workers {
        crate::runs::pool::Workers::start(self.clone())
    }

    /// Whether the database answers and the run path can write (`/health/ready`).
    pub async fn readiness(&self) -> Readiness {
        let (database, writer) =
            tokio::join!(crate::store::ping(&self.db), self.runtime.commits.alive());
        Readiness { database, writer }
    }

    pub async fn register(&self, req: RegisterRequest) -> Result<SignedIn> {
        let reg = req.validate()?;
        service::register(&self.db, &self.keys, self.config.session_ttl, reg).await
    }

    pub async fn login(&self, req: LoginRequest) -> Result<SignedIn> {
        service::login(&self.db, &self.keys, self.config.session_ttl, req).await
    }

    pub async fn authenticate(&self, token: &str) -> Result<Identity> {
        service::authenticate(&self.db, &self.reads, &self.keys, token).await
    }

    pub async fn logout(&self, who: &Identity) -> Result<()> {
        service::logout(&self.db, who.session_id).await
    }

    pub async fn me(&self, who: &Identity) -> Result<Me> {
        service::me(&self.db, who.user.clone()).await
    }

    /// The caller's role in a project, if it allows the action.
    pub async fn authorize(&self, who: &Identity, project: Uuid, action: Action) -> Result<Role> {
        crate::auth::authorize(&self.db, who.user.id, project, action).await
    }

    /// Close the run writer (after what was handed to it is written) and the inline read
    /// connections, then release the database pool.
    pub async fn close(self) {
        self.runtime.commits.close().await;
        self.reads.close();
        if let Err(e) = self.db.close().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
    }
}
