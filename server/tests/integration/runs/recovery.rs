//! The store is the source of truth: runs whose worker died are recovered from their
//! expired lease, and shutdown hands unfinished runs back to the queue.

use super::{app, Runs};
use crate::support::Backend;
use promptlab::store::runs;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// Make a queued run look like another worker claimed it and then died.
async fn orphan(app: &crate::support::TestApp, id: &str, attempts: i32, cancel: bool) {
    let id = uuid::Uuid::parse_str(id).unwrap();
    let past = chrono::Utc::now() - chrono::Duration::seconds(5);
    runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value("running"))
        .col_expr(runs::Column::LeaseOwner, Expr::value("w-dead"))
        .col_expr(runs::Column::LeaseExpiresAt, Expr::value(past))
        .col_expr(runs::Column::Attempts, Expr::value(attempts))
        .col_expr(runs::Column::Output, Expr::value("half an ans"))
        .col_expr(runs::Column::CancelRequested, Expr::value(cancel))
        .filter(runs::Column::Id.eq(id))
        .exec(app.engine.db())
        .await
        .unwrap();
}

async fn recovery_on(backend: Backend) {
    let mut app = app(backend, &[("TEST_IDLE", "1")]).await;
    let r = Runs::new(&app, "recover@example.com").await;
    let pid = r.prompt("orphans", "openai_compat", "ok:tokens=4").await;
    let mut ids = Vec::new();
    for (topic, attempts, cancel) in [("again", 1, false), ("lost", 3, false), ("stop", 1, true)] {
        let id = r.run(&pid, topic).await;
        orphan(&app, &id, attempts, cancel).await;
        ids.push(id);
    }
    let token = r.api.token.clone();
    drop(r);
    app.start_workers();
    let r = Runs {
        api: crate::prompts::Api::with_token(&app, token),
        app: &app,
    };

    let again = r.wait(&ids[0]).await;
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(again["attempts"], 2, "re-queued with attempt + 1");
    assert!(
        !again["output"].as_str().unwrap().contains("half an ans"),
        "output recorded once, from the new attempt"
    );
    assert_eq!(again["output"], "alpha beta gamma delta");

    let lost = r.wait(&ids[1]).await;
    assert_eq!(lost["status"], "failed");
    assert_eq!(lost["error"]["code"], "worker_lost");
    assert_eq!(lost["attempts"], 3);

    let stop = r.wait(&ids[2]).await;
    assert_eq!(stop["status"], "canceled");
    drop(r);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_leases_recover_sqlite() {
    recovery_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_leases_recover_postgres() {
    recovery_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_short_runs_and_requeues_long_ones() {
    let mut app = app(Backend::Sqlite, &[("RUN_SHUTDOWN_GRACE_MS", "700")]).await;
    let r = Runs::new(&app, "shutdown@example.com").await;
    let short = r
        .prompt("short", "openai_compat", "ok:tokens=4,delay=50")
        .await;
    let long = r
        .prompt("long", "openai_compat", "ok:tokens=100,delay=50")
        .await;
    let (sid, lid) = (r.run(&short, "s").await, r.run(&long, "l").await);
    // Both running.
    for _ in 0..100 {
        if r.get(&lid).await["status"] == "running" && r.get(&sid).await["status"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let token = r.api.token.clone();
    drop(r);
    app.workers.take().unwrap().shutdown().await;
    let r = Runs {
        api: crate::prompts::Api::with_token(&app, token.clone()),
        app: &app,
    };
    let s = r.get(&sid).await;
    assert_eq!(s["status"], "succeeded", "finished within the grace period");
    let l = r.get(&lid).await;
    assert_eq!(l["status"], "queued", "handed back: {l}");
    assert_eq!(l["attempts"], 0, "the interrupted attempt does not count");
    assert_eq!(l["output"], "");
    drop(r);
    // The next start picks it up.
    app.start_workers();
    let r = Runs {
        api: crate::prompts::Api::with_token(&app, token),
        app: &app,
    };
    let l = r.wait(&lid).await;
    assert_eq!(l["status"], "succeeded");
    assert_eq!(l["attempts"], 1);
    assert_eq!(l["output"].as_str().unwrap().split(' ').count(), 100);
    drop(r);
    app.stop().await;
}
