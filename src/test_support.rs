//! Scratch databases for tests: a directory or a PostgreSQL database of a test's own,
//! removed when its guard is dropped, however the test ends (a failed assertion unwinds
//! through the guard). The library's unit tests use it, and the server's integration
//! tests through the `test-support` feature.

use sea_orm::{ConnectionTrait, Database};
use std::path::{Path, PathBuf};

/// A new directory under the system's temp directory, removed with what is in it when
/// the guard is dropped. Declare it before whatever opens files in it, so that it is
/// dropped after them.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<temp>/promptlab-<prefix>-<uuid>`.
    pub fn new(prefix: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("promptlab-{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("create a temp directory");
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The URL of the SQLite database `file` in the directory, made on first open.
    pub fn sqlite_url(&self, file: &str) -> String {
        format!("sqlite://{}?mode=rwc", self.path.join(file).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Where the PostgreSQL server for tests is: `PROMPTLAB_TEST_PG_URL`, or the local one
/// (trust auth on the development machines and in CI).
pub fn pg_admin_url() -> String {
    std::env::var("PROMPTLAB_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A new, empty PostgreSQL database with a unique name, dropped (connections and all)
/// when the guard is dropped.
#[derive(Debug)]
pub struct TempPg {
    admin: String,
    name: String,
    url: String,
}

impl TempPg {
    /// Creates `promptlab_<prefix>_<uuid>` on the server at [`pg_admin_url`].
    pub async fn create(prefix: &str) -> Self {
        let admin = pg_admin_url();
        let name = format!("promptlab_{prefix}_{}", uuid::Uuid::new_v4().simple());
        let server = Database::connect(&admin)
            .await
            .expect("PostgreSQL at PROMPTLAB_TEST_PG_URL");
        server
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a test database");
        server.close().await.expect("close the admin connection");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Self { admin, name, url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TempPg {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside a test's runtime, which cannot be blocked on: a thread with
        // a runtime of its own drops the database.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                if let Ok(db) = Database::connect(&admin).await {
                    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = db.execute_unprepared(&drop).await;
                    let _ = db.close().await;
                }
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}
