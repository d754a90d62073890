//! Demo data: an account and example prompts with a few versions each, so a new user
//! lands in a real workspace. Idempotent: nothing happens when the demo account exists.

use crate::accounts::service::Identity;
use crate::accounts::{LoginRequest, RegisterRequest};
use crate::engine::Engine;
use crate::error::Result;
use crate::prompts::NewPrompt;
use crate::versions::{
    Message, MessageRole, ModelParams, SaveVersion, VariableKind, VariableSpec, VersionContent,
};

pub const DEMO_EMAIL: &str = "demo@promptlab.local";
pub const DEMO_PASSWORD: &str = "promptlab-demo";

/// What seeding did.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    Created { prompts: usize },
    AlreadyThere,
}

fn var(name: &str, kind: VariableKind, default: Option<serde_json::Value>) -> VariableSpec {
    VariableSpec {
        name: name.into(),
        kind,
        required: default.is_none(),
        default,
    }
}

fn content(
    system: &str,
    user: &str,
    model: &str,
    temperature: f64,
    variables: Vec<VariableSpec>,
) -> VersionContent {
    VersionContent {
        messages: vec![
            Message {
                role: MessageRole::System,
                content: system.into(),
            },
            Message {
                role: MessageRole::User,
                content: user.into(),
            },
        ],
        params: ModelParams {
            provider: "mock".into(),
            model: model.into(),
            temperature: Some(temperature),
            ..Default::default()
        },
        variables,
    }
}

/// One example prompt and its versions (content, note), oldest first.
struct Example {
    name: &'static str,
    description: &'static str,
    tags: Vec<&'static str>,
    versions: Vec<(VersionContent, &'static str)>,
}

fn examples() -> Vec<Example> {
    use serde_json::json;
    use VariableKind::*;
    vec![
        Example {
            name: "blog-post-writer",
            description: "Drafts a blog post on a topic for a given audience.",
            tags: vec!["writing", "marketing"],
            versions: vec![
                (content("You are a blog writer.", "Write a blog post about {{ topic }}.", "mock-1", 0.8, vec![var("topic", String, None)]), "first draft"),
                (
                    content(
                        "You are a blog writer for {{ audience }}.",
                        "Write a blog post about {{ topic }}.\nKeep it under {{ words }} words.",
                        "mock-1",
                        0.8,
                        vec![var("audience", String, Some(json!("developers"))), var("topic", String, None), var("words", Number, Some(json!(600)))],
                    ),
                    "audience and length",
                ),
                (
                    content(
                        "You are a blog writer for {{ audience }}. Use a friendly, concrete tone.",
                        "Write a blog post about {{ topic }}.\nKeep it under {{ words }} words.\n{% if outline %}Start with an outline.{% endif %}",
                        "mock-1",
                        0.7,
                        vec![
                            var("audience", String, Some(json!("developers"))),
                            var("outline", Boolean, Some(json!(false))),
                            var("topic", String, None),
                            var("words", Number, Some(json!(600))),
                        ],
                    ),
                    "tone and optional outline",
                ),
            ],
        },
        Example {
            name: "code-reviewer",
            description: "Reviews a diff and lists problems by severity.",
            tags: vec!["engineering"],
            versions: vec![
                (content("You are a careful code reviewer.", "Review this {{ language }} change:\n\n{{ diff }}", "mock-1", 0.2, vec![var("diff", String, None), var("language", String, Some(json!("Rust")))]), "first version"),
                (
                    content(
                        "You are a careful code reviewer. Report bugs first, then style.",
                        "Review this {{ language }} change:\n\n{{ diff }}\n\nList findings as: severity, line, problem, fix.",
                        "mock-1",
                        0.2,
                        vec![var("diff", String, None), var("language", String, Some(json!("Rust")))],
                    ),
                    "structured findings",
                ),
            ],
        },
        Example {
            name: "translator",
            description: "Translates text, keeping formatting and placeholders.",
            tags: vec!["i18n"],
            versions: vec![
                (content("You translate text.", "Translate into {{ target }}:\n\n{{ text }}", "mock-1", 0.0, vec![var("target", String, Some(json!("Brazilian Portuguese"))), var("text", String, None)]), "first version"),
                (
                    content(
                        "You translate text. Keep Markdown, code and {placeholders} unchanged.",
                        "Translate into {{ target }}:\n\n{{ text }}",
                        "mock-1",
                        0.0,
                        vec![var("target", String, Some(json!("Brazilian Portuguese"))), var("text", String, None)],
                    ),
                    "keep formatting",
                ),
            ],
        },
        Example {
            name: "summarizer",
            description: "Summarizes a document in bullet points.",
            tags: vec!["writing"],
            versions: vec![
                (content("You summarize documents.", "Summarize:\n\n{{ document }}", "mock-1", 0.3, vec![var("document", String, None)]), "first version"),
                (content("You summarize documents.", "Summarize in {{ bullets }} bullet points:\n\n{{ document }}", "mock-1", 0.3, vec![var("bullets", Number, Some(json!(5))), var("document", String, None)]), "bullet points"),
                (
                    content(
                        "You summarize documents for busy readers.",
                        "Summarize in {{ bullets }} bullet points, most important first:\n\n{{ document }}",
                        "mock-1",
                        0.3,
                        vec![var("bullets", Number, Some(json!(5))), var("document", String, None)],
                    ),
                    "priority order",
                ),
            ],
        },
    ]
}

/// Create the demo account and its example prompts, unless the account exists.
pub async fn seed(engine: &Engine) -> Result<Seeded> {
    let login = engine
        .login(LoginRequest {
            email: DEMO_EMAIL.into(),
            password: DEMO_PASSWORD.into(),
        })
        .await;
    if login.is_ok() {
        return Ok(Seeded::AlreadyThere);
    }
    let signed_in = match engine
        .register(RegisterRequest {
            email: DEMO_EMAIL.into(),
            name: "Demo User".into(),
            password: DEMO_PASSWORD.into(),
        })
        .await
    {
        Ok(s) => s,
        // The address exists with another password: leave that account alone.
        Err(e) if e.code == crate::ErrorCode::Conflict => return Ok(Seeded::AlreadyThere),
        Err(e) => return Err(e),
    };
    let who = Identity {
        user: signed_in.user,
        session_id: signed_in.session_id,
    };
    let db = engine.db();
    let list = examples();
    let count = list.len();
    for Example {
        name,
        description,
        tags,
        versions,
    } in list
    {
        let prompt = crate::prompts::service::create(
            db,
            &who,
            NewPrompt {
                project_id: None,
                name: name.into(),
                description: description.into(),
                tags: tags.into_iter().map(str::to_owned).collect(),
                content: None,
                note: String::new(),
            },
        )
        .await?;
        let total = versions.len() as i32;
        for (base, (content, note)) in versions.into_iter().enumerate() {
            let save = SaveVersion {
                base_version: base as i32,
                content,
                note: note.into(),
            };
            crate::versions::service::save(db, &who, prompt.id, save).await?;
        }
        crate::labels::service::move_label(db, &who, prompt.id, "production", total.max(2) - 1)
            .await?;
        crate::labels::service::move_label(db, &who, prompt.id, "staging", total).await?;
    }
    engine.logout(&who).await?;
    Ok(Seeded::Created { prompts: count })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seeds_once_with_valid_examples() {
        let dir = crate::test_support::TempDir::new("seed");
        let mut vars = std::collections::HashMap::new();
        vars.insert("DATABASE_URL".to_owned(), dir.sqlite_url("s.db"));
        let engine = Engine::start(crate::config::Config::from_vars(&vars).unwrap())
            .await
            .unwrap();
        assert_eq!(seed(&engine).await.unwrap(), Seeded::Created { prompts: 4 });
        assert_eq!(seed(&engine).await.unwrap(), Seeded::AlreadyThere);
        let s = engine
            .login(LoginRequest {
                email: DEMO_EMAIL.into(),
                password: DEMO_PASSWORD.into(),
            })
            .await
            .unwrap();
        let who = Identity {
            user: s.user,
            session_id: s.session_id,
        };
        let page = crate::prompts::service::list(engine.db(), &who, Default::default())
            .await
            .unwrap();
        assert_eq!(page.total, 4);
        assert!(page.items.iter().all(|p| p.latest_version >= 2));
        engine.close().await;
    }
}
