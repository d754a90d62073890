//! Differences between two versions: messages line by line (the `similar` crate),
//! parameters and variables field by field. Pure and wasm-safe.

use super::{Message, Version, VersionContent};
use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

/// How one line compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineTag {
    Equal,
    Insert,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub tag: LineTag,
    pub text: String,
}

/// How one message compares (messages are matched by position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDiff {
    pub index: usize,
    /// `unchanged`, `changed`, `added` or `removed`.
    pub status: String,
    pub role_from: Option<String>,
    pub role_to: Option<String>,
    pub lines: Vec<DiffLine>,
}

/// One field that differs: its path and both values as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionDiff {
    pub from: i32,
    pub to: i32,
    pub identical: bool,
    pub messages: Vec<MessageDiff>,
    pub params: Vec<FieldChange>,
    pub variables: Vec<FieldChange>,
}

/// Compare two versions.
pub fn diff_versions(from: &Version, to: &Version) -> VersionDiff {
    let mut d = diff_contents(&from.content, &to.content);
    d.from = from.number;
    d.to = to.number;
    d
}

/// Compare two contents (the version numbers are left 0).
pub fn diff_contents(a: &VersionContent, b: &VersionContent) -> VersionDiff {
    let n = a.messages.len().max(b.messages.len());
    let messages = (0..n)
        .map(|i| diff_message(i, a.messages.get(i), b.messages.get(i)))
        .collect::<Vec<_>>();
    let params = fields(&to_json(&a.params), &to_json(&b.params), "");
    let variables = fields(&variables_json(a), &variables_json(b), "");
    let identical = messages.iter().all(|m| m.status == "unchanged")
        && params.is_empty()
        && variables.is_empty();
    VersionDiff {
        from: 0,
        to: 0,
        identical,
        messages,
        params,
        variables,
    }
}

fn diff_message(index: usize, a: Option<&Message>, b: Option<&Message>) -> MessageDiff {
    let (old, new) = (
        a.map(|m| m.content.as_str()).unwrap_or(""),
        b.map(|m| m.content.as_str()).unwrap_or(""),
    );
    let lines = TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            tag: match c.tag() {
                ChangeTag::Equal => LineTag::Equal,
                ChangeTag::Insert => LineTag::Insert,
                ChangeTag::Delete => LineTag::Delete,
            },
            text: c.value().trim_end_matches('\n').to_owned(),
        })
        .collect::<Vec<_>>();
    let status = match (a, b) {
        (None, Some(_)) => "added",
        (Some(_), None) => "removed",
        (Some(x), Some(y)) if x == y => "unchanged",
        _ => "changed",
    };
    MessageDiff {
        index,
        status: status.into(),
        role_from: a.map(|m| m.role.as_str().to_owned()),
        role_to: b.map(|m| m.role.as_str().to_owned()),
        lines,
    }
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

fn variables_json(c: &VersionContent) -> serde_json::Value {
    serde_json::Value::Object(
        c.variables
            .iter()
            .map(|v| (v.name.clone(), to_json(v)))
            .collect(),
    )
}

/// Field-by-field changes between two JSON objects (one level deep).
fn fields(a: &serde_json::Value, b: &serde_json::Value, prefix: &str) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (
                a.get(k).cloned().unwrap_or_default(),
                b.get(k).cloned().unwrap_or_default(),
            );
            (x != y).then(|| FieldChange {
                field: format!("{prefix}{k}"),
                from: x,
                to: y,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::{MessageRole, ModelParams};

    fn content(texts: &[&str]) -> VersionContent {
        VersionContent {
            messages: texts
                .iter()
                .map(|t| Message {
                    role: MessageRole::User,
                    content: (*t).into(),
                })
                .collect(),
            params: ModelParams::default(),
            variables: vec![],
        }
    }

    #[test]
    fn identical_contents() {
        let d = diff_contents(&content(&["a\nb"]), &content(&["a\nb"]));
        assert!(d.identical);
        assert_eq!(d.messages[0].status, "unchanged");
    }

    #[test]
    fn line_changes_added_and_removed_messages() {
        let d = diff_contents(
            &content(&["keep\nold line", "gone"]),
            &content(&["keep\nnew line"]),
        );
        assert!(!d.identical);
        let tags: Vec<_> = d.messages[0]
            .lines
            .iter()
            .map(|l| (l.tag, l.text.as_str()))
            .collect();
        assert_eq!(
            tags,
            vec![
                (LineTag::Equal, "keep"),
                (LineTag::Delete, "old line"),
                (LineTag::Insert, "new line")
            ]
        );
        assert_eq!(d.messages[1].status, "removed");
        let d = diff_contents(&content(&["a"]), &content(&["a", "b"]));
        assert_eq!(d.messages[1].status, "added");
    }

    #[test]
    fn parameters_field_by_field() {
        let a = content(&["x"]);
        let mut b = a.clone();
        b.params.temperature = Some(0.1);
        b.params.model = "other".into();
        let d = diff_contents(&a, &b);
        let fields: Vec<_> = d.params.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["model", "temperature"]);
        assert_eq!(d.params[1].to, serde_json::json!(0.1));
    }
}
