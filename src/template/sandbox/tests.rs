//! The worker pool against worker programs written as shell scripts: answers, ends of
//! every kind, time limits; and which templates go to a worker at all.

use super::*;
use crate::versions::MessageRole;
use std::os::unix::fs::PermissionsExt;

/// A worker program written as a shell script (builtins and absolute paths only: a
/// worker's environment is cleared), in a directory removed on drop.
struct Script(PathBuf);

impl Script {
    fn new(name: &str, body: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("promptlab-sandbox-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self(path)
    }

    fn sandbox(&self) -> Sandbox {
        Sandbox {
            time: Duration::from_millis(500),
            ..Sandbox::new(Some(self.0.clone()))
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

const ALICE: Uuid = Uuid::from_u128(1);
const BOB: Uuid = Uuid::from_u128(2);
const STATEMENT: &str = "{% if topic %}{{ topic }}{% endif %}";
const ANSWER: &str = r#"{"Ok":[{"role":"user","content":"answered"}]}"#;

async fn render(sandbox: &Sandbox) -> Result<Vec<Message>> {
    sandbox
        .render(ALICE, &user(STATEMENT), &[], &serde_json::Map::new())
        .await
}

fn reason(e: &Error) -> Option<&str> {
    e.details.get("reason").and_then(|r| r.as_str())
}

/// A worker that ended while idle is replaced and the request answered; one that
/// aborts is a template that took too much memory; one that exits otherwise is an
/// internal error.
#[tokio::test]
async fn workers_that_end_are_told_apart_and_replaced() {
    let answers = Script::new(
        "answers",
        &format!("while read line; do echo '{ANSWER}'; done"),
    );
    let sandbox = answers.sandbox();
    assert_eq!(render(&sandbox).await.unwrap()[0].content, "answered");
    let mut idle = sandbox.idle.lock().unwrap().pop().expect("an idle worker");
    idle.child.start_kill().unwrap();
    idle.child.wait().await.unwrap();
    sandbox.idle.lock().unwrap().push(idle);
    assert_eq!(render(&sandbox).await.unwrap()[0].content, "answered");

    let aborts = Script::new("aborts", "ulimit -c 0; read line; kill -ABRT $$");
    let err = render(&aborts.sandbox()).await.unwrap_err();
    assert_eq!(reason(&err), Some("template_too_much_memory"), "{err:?}");

    let exits = Script::new("exits", "read line; exit 3");
    let err = render(&exits.sandbox()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError, "{err:?}");
}

/// A worker that does not answer in time is stopped; while every worker is busy, a
/// request waits at most as long, then is told to retry.
#[tokio::test]
async fn slow_workers_are_stopped_and_waiting_is_bounded() {
    let hangs = Script::new("hangs", "read line; exec /bin/sleep 30");
    let sandbox = hangs.sandbox();
    let err = render(&sandbox).await.unwrap_err();
    assert_eq!(reason(&err), Some("template_too_slow"), "{err:?}");
    let busy = sandbox.slots.acquire_many(WORKERS as u32).await.unwrap();
    let err = render(&sandbox).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RateLimited, "{err:?}");
    assert_eq!(reason(&err), Some("template_workers_busy"));
    drop(busy);
    assert!(
        sandbox.idle.lock().unwrap().is_empty(),
        "stopped workers are not reused"
    );
}

/// One user's renderings take turns for one worker: while two of Alice's templates grind
/// one after the other, Bob's is answered by the other worker at once, and her third is
/// told to retry once it has waited the time allowed.
#[tokio::test]
async fn one_user_holds_one_worker_at_most() {
    // A worker that hangs on a template saying `slow`, and answers any other.
    let picky = Script::new(
        "picky",
        &format!(
            "while read line; do case \"$line\" in *slow*) exec /bin/sleep 30;; esac; echo '{ANSWER}'; done"
        ),
    );
    // A second to render, and requests 300 ms apart: far from each other's deadlines.
    let sandbox = Sandbox {
        time: Duration::from_secs(1),
        ..picky.sandbox()
    };
    let none = serde_json::Map::new();
    let slow = user("{% if slow %}{% endif %}");
    let done = Mutex::new(Vec::new());
    let after = |ms: u64, who: Uuid, messages: Vec<Message>, name: &'static str| {
        let (sandbox, none, done) = (&sandbox, &none, &done);
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let out = sandbox.render(who, &messages, &[], none).await;
            done.lock().unwrap().push(name);
            out
        }
    };
    let (first, second, third, bob) = tokio::join!(
        after(0, ALICE, slow.clone(), "alice 1"),
        after(300, ALICE, slow.clone(), "alice 2"),
        after(600, ALICE, user(STATEMENT), "alice 3"),
        after(900, BOB, user(STATEMENT), "bob"),
    );
    assert_eq!(bob.unwrap()[0].content, "answered");
    assert_eq!(done.lock().unwrap()[0], "bob", "Bob did not wait for Alice");
    for grind in [first, second] {
        assert_eq!(reason(&grind.unwrap_err()), Some("template_too_slow"));
    }
    let third = third.unwrap_err();
    assert_eq!(third.code, ErrorCode::RateLimited, "{third:?}");
    assert_eq!(reason(&third), Some("template_workers_busy"));
    // Then her next is answered, and no one's slot is kept past its use: Bob's went
    // when hers was made.
    assert_eq!(render(&sandbox).await.unwrap()[0].content, "answered");
    assert_eq!(sandbox.users.lock().unwrap().len(), 1);
}

fn user(text: &str) -> Vec<Message> {
    vec![Message {
        role: MessageRole::User,
        content: text.into(),
    }]
}

/// Only what is not plain goes to a worker: with a program that does not exist, a
/// plain template still renders (in-process) and any other is an internal error,
/// never a rendering in the server's process.
#[tokio::test]
async fn only_templates_that_are_not_plain_go_to_a_worker() {
    let sandbox = Sandbox::new(Some("/nonexistent/promptlab-server".into()));
    let values: serde_json::Map<String, serde_json::Value> =
        [("topic".to_owned(), serde_json::json!("tides"))]
            .into_iter()
            .collect();
    let out = sandbox
        .render(ALICE, &user("About {{ topic }}."), &[], &values)
        .await
        .unwrap();
    assert_eq!(out[0].content, "About tides.");
    let err = sandbox
        .render(
            ALICE,
            &user("{% if topic %}About {{ topic }}.{% endif %}"),
            &[],
            &values,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    // Without a program (the library's own tests), everything renders in-process.
    let out = Sandbox::new(None)
        .render(
            ALICE,
            &user("{% if topic %}About {{ topic }}.{% endif %}"),
            &[],
            &values,
        )
        .await
        .unwrap();
    assert_eq!(out[0].content, "About tides.");
}
