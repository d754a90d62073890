//! Bad input on prompts, versions and labels: a field the API does not know, at any depth
//! of a version's content, is refused (a misspelt parameter would otherwise be saved as if it
//! were absent), and so is a page out of range or a filter too long. Nothing refused is
//! saved.

use super::{content, Api};
use crate::on_both_backends;
use crate::support::{error_of, TestApp};
use reqwest::Method as M;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

/// A version's content with `value` inserted as `key` into the object at `pointer`.
fn with_extra(pointer: &str, key: &str, value: Value) -> Value {
    let mut body = content("Write about {{ topic }}, again.");
    body["base_version"] = json!(1);
    body.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .expect("an object at the pointer")
        .insert(key.to_owned(), value);
    body
}

/// A save through the editor's server function, whose errors come bare.
async fn save_through_the_editor(api: &Api<'_>, prompt: &str, save: Value) -> reqwest::Response {
    api.send(
        M::POST,
        "/api/prompts/save",
        Some(json!({ "prompt_id": prompt, "save": save })),
    )
    .await
}

const EXTRAS: [(&str, &str); 5] = [
    ("", "junk"),
    ("", "temperature"),
    ("/messages/1", "name"),
    ("/params", "temprature"),
    ("/variables/0", "requird"),
];

async fn unknown_fields_are_refused_and_nothing_is_saved(app: &TestApp) {
    let api = Api::new(app, "careful@example.com").await;
    let prompt = api.create("strict-writer").await;
    let id = prompt["id"].as_str().unwrap().to_owned();
    let versions = || async {
        api.json(M::GET, "/api/v1/prompts/strict-writer/versions", None, 200)
            .await
    };
    let before = versions().await;

    for (pointer, key) in EXTRAS {
        let body = with_extra(pointer, key, json!(0.2));
        // REST.
        let res = api
            .send(
                M::POST,
                "/api/v1/prompts/strict-writer/versions",
                Some(body.clone()),
            )
            .await;
        let err = error_of(res, 400).await;
        assert_eq!(err["code"], "validation_error", "{pointer}/{key}: {err}");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{key}`")),
            "the message names the field: {err}"
        );
        // The editor's server function: its error comes bare.
        let res = save_through_the_editor(&api, &id, body.clone()).await;
        assert_eq!(res.status(), 400, "{pointer}/{key}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["code"], "validation_error", "{pointer}/{key}: {err}");
        // A new prompt's first version, and the prompt itself.
        let mut first = body.clone();
        first.as_object_mut().unwrap().remove("base_version");
        let res = api
            .send(
                M::POST,
                "/api/v1/prompts",
                Some(json!({ "name": "never-made", "content": first })),
            )
            .await;
        assert_eq!(error_of(res, 400).await["code"], "validation_error");
    }
    let res = api
        .send(
            M::POST,
            "/api/v1/prompts",
            Some(json!({ "name": "never-made", "descripton": "typo" })),
        )
        .await;
    assert_eq!(error_of(res, 400).await["code"], "validation_error");

    let res = api
        .send(
            M::PUT,
            "/api/v1/prompts/strict-writer/labels/production",
            Some(json!({ "version": 1, "force": true })),
        )
        .await;
    assert_eq!(error_of(res, 400).await["code"], "validation_error");
    assert_eq!(
        api.json(M::GET, "/api/v1/prompts/strict-writer/labels", None, 200)
            .await,
        json!([]),
        "no label was moved"
    );

    assert_eq!(versions().await, before, "no version was saved");
    let fetched = api
        .json(M::GET, "/api/v1/prompts/strict-writer", None, 200)
        .await;
    assert_eq!(fetched["prompt"]["latest_version"], 1);
    assert_eq!(fetched["version"]["number"], 1);
    assert_eq!(
        api.json(M::GET, "/api/v1/prompts", None, 200).await["total"],
        1,
        "no prompt was made"
    );

    // The same bodies without the extra field are saved, through both.
    let mut ok = content("Write about {{ topic }}, again.");
    ok["base_version"] = json!(1);
    let saved = api
        .json(
            M::POST,
            "/api/v1/prompts/strict-writer/versions",
            Some(ok.clone()),
            201,
        )
        .await;
    assert_eq!(saved["version"]["number"], 2);
    assert_eq!(saved["version"]["params"]["temperature"], 0.5);
    ok["base_version"] = json!(2);
    ok["messages"][1]["content"] = json!("Now about {{ topic }}.");
    let res = save_through_the_editor(&api, &id, ok).await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["version"]["number"], 3);
}
on_both_backends!(
    unknown_fields,
    unknown_fields_are_refused_and_nothing_is_saved
);

/// A decoder repeats the value it refused; 60 kB of it in the message had made the server
/// function's error too large for the layer that gives it its status (an empty 500).
async fn a_huge_refused_value_is_not_echoed_back(app: &TestApp) {
    let api = Api::new(app, "echo@example.com").await;
    let prompt = api.create("echo").await;
    let id = prompt["id"].as_str().unwrap().to_owned();
    let mut body = content("Hi {{ topic }}");
    body["base_version"] = json!(1);
    body["messages"][0]["role"] = json!("a".repeat(60_000));
    let res = save_through_the_editor(&api, &id, body.clone()).await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "validation_error", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("unknown variant") && message.len() < 400,
        "{message}"
    );
    let res = api
        .send(M::POST, "/api/v1/prompts/echo/versions", Some(body))
        .await;
    let err = error_of(res, 400).await;
    assert!(err["message"].as_str().unwrap().len() < 400, "{err}");
    assert_eq!(
        api.json(M::GET, "/api/v1/prompts/echo", None, 200).await["prompt"]["latest_version"],
        1
    );
}
on_both_backends!(huge_refused_value, a_huge_refused_value_is_not_echoed_back);

async fn listing_refuses_pages_out_of_range_and_long_filters(app: &TestApp) {
    let api = Api::new(app, "lister@example.com").await;
    api.create("listed").await;
    let long_q = "q".repeat(501);
    let long_tag = "t".repeat(33);
    for (query, reason, field) in [
        ("page=0", "page_invalid", "page"),
        ("page=1000001", "page_invalid", "page"),
        ("page=4294967295", "page_invalid", "page"),
        ("per_page=0", "per_page_invalid", "per_page"),
        ("per_page=101", "per_page_invalid", "per_page"),
        (&format!("q={long_q}"), "filter_too_long", "q"),
        (&format!("tag={long_tag}"), "filter_too_long", "tag"),
    ] {
        let res = api
            .send(M::GET, &format!("/api/v1/prompts?{query}"), None)
            .await;
        let err = error_of(res, 400).await;
        assert_eq!(err["code"], "validation_error", "{query}");
        assert_eq!(err["details"]["reason"], reason, "{query}: {err}");
        assert_eq!(err["details"]["field"], field, "{query}: {err}");
    }
    // The edges themselves are pages.
    let last = api
        .json(
            M::GET,
            "/api/v1/prompts?page=1000000&per_page=100",
            None,
            200,
        )
        .await;
    assert_eq!(
        (last["page"].clone(), last["total"].clone()),
        (json!(1_000_000), json!(1))
    );
    assert_eq!(last["items"], json!([]));
    let first = api
        .json(
            M::GET,
            &format!("/api/v1/prompts?page=1&per_page=1&q={}", "l".repeat(500)),
            None,
            200,
        )
        .await;
    assert_eq!(first["total"], 0);
    let all = api
        .json(M::GET, "/api/v1/prompts?per_page=1", None, 200)
        .await;
    assert_eq!(all["items"][0]["name"], "listed");
}
on_both_backends!(
    listing_ranges,
    listing_refuses_pages_out_of_range_and_long_filters
);

/// A template is a program: one that loops for hours or prints gigabytes is stopped at
/// its budget, at a render and at a run start alike, and a render's variables are checked
/// as a run's are.
async fn templates_and_renders_have_a_budget(app: &TestApp) {
    let api = Api::new(app, "budget@example.com").await;
    let loops = "{% for i in range(100000) %}{% for j in range(100000) %}{{ topic }}{% endfor %}{% endfor %}";
    // `topic` a million times over: one expression, 9 MB of text for a 9-byte topic.
    let huge = "{{ topic * 1000000 }}";
    let prompt = api
        .json(
            M::POST,
            "/api/v1/prompts",
            Some(json!({ "name": "budget", "content": { "messages": [{ "role": "user", "content": loops }],
                "variables": [{ "name": "topic", "kind": "string" }] } })),
            201,
        )
        .await;
    let id = prompt["id"].as_str().unwrap().to_owned();
    let mut second = content(huge);
    second["base_version"] = json!(1);
    api.json(
        M::POST,
        "/api/v1/prompts/budget/versions",
        Some(second),
        201,
    )
    .await;
    let big_topic = "t".repeat(9);
    for (version, reason) in [(1, "template_too_costly"), (2, "template_output_too_large")] {
        let res = api
            .send(
                M::POST,
                "/api/v1/prompts/budget/render",
                Some(json!({ "version": version, "variables": { "topic": big_topic } })),
            )
            .await;
        let err = error_of(res, 400).await;
        assert_eq!(err["details"]["reason"], reason, "render v{version}: {err}");
        let res = api
            .send(
                M::POST,
                "/api/v1/runs",
                Some(json!({ "prompt_id": id, "version": version, "variables": { "topic": big_topic } })),
            )
            .await;
        let err = error_of(res, 400).await;
        assert_eq!(err["details"]["reason"], reason, "run v{version}: {err}");
    }
    assert_eq!(
        api.json(M::GET, "/api/v1/runs", None, 200).await["total"],
        0,
        "no run was started"
    );
    // A render's variables are held to a run's limits.
    let many: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("v{i}"), json!(i))).collect();
    for (variables, reason) in [
        (json!({ "not a name": 1 }), "variable_name"),
        (Value::Object(many), "variables_count"),
        (
            json!({ "topic": "x".repeat(300_000) }),
            "variables_too_large",
        ),
        // minijinja's own cap on one repetition (100 MB).
        (json!({ "topic": "x".repeat(5_000) }), "template_render"),
    ] {
        let res = api
            .send(
                M::POST,
                "/api/v1/prompts/budget/render",
                Some(json!({ "version": 2, "variables": variables })),
            )
            .await;
        assert_eq!(error_of(res, 400).await["details"]["reason"], reason);
    }
    // What fits renders.
    let ok = api
        .json(
            M::POST,
            "/api/v1/prompts/budget/render",
            Some(json!({ "version": 2, "variables": { "topic": "ok" } })),
            200,
        )
        .await;
    assert_eq!(
        ok["messages"][1]["content"].as_str().unwrap().len(),
        2_000_000
    );
}

mod template_budget {
    use super::*;
    use crate::support::Backend;

    // Past the tests' 64 kB body cap, so that a render's own variable limits are reached.
    const BODY: [(&str, &str); 1] = [("MAX_BODY_BYTES", "2097152")];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Backend::Sqlite, &BODY).await;
        templates_and_renders_have_a_budget(&app).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let app = TestApp::spawn_with(Backend::Postgres, &BODY).await;
        templates_and_renders_have_a_budget(&app).await;
        app.stop().await;
    }
}

/// A create refused for its first version's note left the prompt behind (the note was
/// checked after the insert); a note without content was dropped in silence; and an id
/// with another project's `project_id` beside it was answered as if it had none.
async fn refused_creates_leave_nothing_and_ids_keep_to_their_project(app: &TestApp) {
    let api = Api::new(app, "creator@example.com").await;
    let long_note = "n".repeat(501);
    for body in [
        json!({ "name": "half-made", "content": content("Hi {{ topic }}"), "note": long_note }),
        json!({ "name": "half-made", "note": "a note with nothing to describe" }),
    ] {
        let res = api.send(M::POST, "/api/v1/prompts", Some(body)).await;
        assert_eq!(error_of(res, 400).await["code"], "validation_error");
    }
    let res = api.send(M::GET, "/api/v1/prompts/half-made", None).await;
    assert_eq!(
        error_of(res, 404).await["code"],
        "not_found",
        "nothing was made"
    );
    let res = api
        .send(
            M::POST,
            "/api/v1/prompts",
            Some(json!({ "name": "half-made", "note": "" })),
        )
        .await;
    assert_eq!(res.status(), 201, "an empty note is no note");

    let prompt = api.create("kept").await;
    let (id, project) = (
        prompt["id"].as_str().unwrap(),
        prompt["project_id"].as_str().unwrap(),
    );
    let own = api
        .json(
            M::GET,
            &format!("/api/v1/prompts/{id}?project_id={project}"),
            None,
            200,
        )
        .await;
    assert_eq!(own["prompt"]["id"], id);
    let other = uuid::Uuid::new_v4();
    let res = api
        .send(
            M::GET,
            &format!("/api/v1/prompts/{id}?project_id={other}"),
            None,
        )
        .await;
    assert_eq!(error_of(res, 404).await["code"], "not_found");
}
on_both_backends!(
    refused_creates,
    refused_creates_leave_nothing_and_ids_keep_to_their_project
);

/// A prompt and its first version are written together or not at all: when the version's
/// write fails (a trigger here stands in for a full disk or a lost connection), the
/// prompt is not left behind with no versions, and the same request made again succeeds.
async fn a_failed_first_version_leaves_no_prompt(app: &TestApp) {
    let api = Api::new(app, "atomic@example.com").await;
    let db = app.engine.db();
    let statements: &[&str] = if app.backend == crate::support::Backend::Postgres {
        &[
            "CREATE FUNCTION fail_marked_version() RETURNS trigger AS $$ BEGIN \
             IF NEW.note = 'fail here' THEN RAISE EXCEPTION 'injected failure'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_marked_version BEFORE INSERT ON prompt_versions \
             FOR EACH ROW EXECUTE FUNCTION fail_marked_version()",
        ]
    } else {
        &[
            "CREATE TRIGGER fail_marked_version BEFORE INSERT ON prompt_versions \
           WHEN NEW.note = 'fail here' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ]
    };
    for sql in statements {
        db.execute_unprepared(sql).await.unwrap();
    }
    let body = |note: &str| json!({ "name": "all-or-nothing", "content": content("Hi {{ topic }}"), "note": note });
    let res = api
        .send(M::POST, "/api/v1/prompts", Some(body("fail here")))
        .await;
    assert_eq!(error_of(res, 500).await["code"], "internal_error");
    let res = api
        .send(M::GET, "/api/v1/prompts/all-or-nothing", None)
        .await;
    assert_eq!(
        error_of(res, 404).await["code"],
        "not_found",
        "no prompt without its version"
    );
    let listed = api.json(M::GET, "/api/v1/prompts", None, 200).await;
    assert_eq!(listed["total"], 0, "{listed}");

    let made = api
        .json(M::POST, "/api/v1/prompts", Some(body("first")), 201)
        .await;
    assert_eq!(made["latest_version"], 1);
    let versions = api
        .json(M::GET, "/api/v1/prompts/all-or-nothing/versions", None, 200)
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["note"], "first");
}
on_both_backends!(atomic_create, a_failed_first_version_leaves_no_prompt);

/// A negative base is not a version an edit can start from: refused as bad input (it was
/// answered as a stale base, a conflict asking the user to reload), by a save and by a
/// restore alike, and nothing is saved.
async fn a_negative_base_version_is_refused(app: &TestApp) {
    let api = Api::new(app, "negative@example.com").await;
    api.create("below-zero").await;
    let res = api.save("below-zero", -1, "Hi {{ topic }}").await;
    let e = error_of(res, 400).await;
    assert_eq!(e["details"]["field"], "base_version", "{e}");
    assert_eq!(e["details"]["reason"], "version_out_of_range", "{e}");
    let res = api
        .send(
            M::POST,
            "/api/v1/prompts/below-zero/versions/1/restore",
            Some(json!({ "base_version": -5 })),
        )
        .await;
    assert_eq!(
        error_of(res, 400).await["details"]["reason"],
        "version_out_of_range"
    );
    let versions = api
        .json(M::GET, "/api/v1/prompts/below-zero/versions", None, 200)
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
}
on_both_backends!(negative_base, a_negative_base_version_is_refused);
