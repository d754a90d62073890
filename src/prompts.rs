//! Prompts: named, described, tagged containers of versions, owned by a project.
//! Metadata can change; content changes only by saving a new version
//! (see [`crate::versions`]). Deleting moves a prompt to the trash, from which it can be
//! restored; nothing is ever erased.

use crate::error::{Error, Result};
use crate::versions::VersionContent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
pub mod service;

pub const NAME_MAX: usize = 64;
pub const DESCRIPTION_MAX_CHARS: usize = 2000;
pub const TAG_MAX: usize = 32;
pub const TAGS_MAX: usize = 20;
pub use crate::paging::PER_PAGE_MAX;
/// Longest search text of a prompt listing, in characters.
pub const QUERY_MAX: usize = 500;

/// A prompt name: 1–64 of `a-z 0-9 - _ .`, starting with a letter or digit. Unique within
/// a project and used in URLs (`/api/v1/prompts/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PromptName(String);

impl PromptName {
    pub fn parse(raw: &str) -> Result<Self> {
        let name = raw.trim();
        let ok = !name.is_empty()
            && name.len() <= NAME_MAX
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(Error::invalid_field(
                "name",
                "prompt_name_invalid",
                format!(
                    "a prompt name is 1 to {NAME_MAX} lowercase letters, digits, '-', '_' or '.'"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PromptName {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<PromptName> for String {
    fn from(value: PromptName) -> Self {
        value.0
    }
}

/// Normalise and check tags: lower-cased, trimmed, deduplicated, each 1–32 of
/// `a-z 0-9 - _`, at most 20.
pub fn parse_tags(raw: &[String]) -> Result<Vec<String>> {
    let mut tags: Vec<String> = raw
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    if tags.len() > TAGS_MAX {
        return Err(Error::invalid_field(
            "tags",
            "tags_too_many",
            format!("at most {TAGS_MAX} tags"),
        ));
    }
    if let Some(bad) = tags.iter().find(|t| {
        t.len() > TAG_MAX
            || !t
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    }) {
        return Err(Error::invalid_field(
            "tags",
            "tag_invalid",
            format!("invalid tag {bad:?}"),
        ));
    }
    Ok(tags)
}

/// Check a description.
pub fn parse_description(raw: &str) -> Result<String> {
    let d = raw.trim();
    if d.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(Error::invalid_field(
            "description",
            "description_too_long",
            format!("a description has at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    Ok(d.to_owned())
}

/// A prompt as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    /// Number of the newest version; 0 before the first save.
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Create a prompt, optionally with its first version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPrompt {
    /// Defaults to the caller's personal project.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub content: Option<VersionContent>,
    #[serde(default)]
    pub note: String,
}

/// Change metadata; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Order of a prompt list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PromptSort {
    /// Most recently updated first.
    #[default]
    Updated,
    Name,
    Created,
}

/// Filters of a prompt list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PromptQuery {
    /// Search in name, description and tags.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub project_id: Option<Uuid>,
    #[serde(default)]
    pub sort: PromptSort,
    /// List the trash instead.
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub per_page: Option<u32>,
}

impl PromptQuery {
    /// 1-based page and page size, defaults filled in.
    pub fn paging(&self) -> (u32, u32) {
        crate::paging::resolve(self.page, self.per_page)
    }

    /// Refuse a page out of range or a filter longer than its limit.
    pub fn validate(&self) -> Result<()> {
        crate::paging::check_filters(&[("q", &self.q, QUERY_MAX), ("tag", &self.tag, TAG_MAX)])?;
        crate::paging::check(self.page, self.per_page)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(PromptName::parse("blog-post.v2_x").is_ok());
        assert!(PromptName::parse("9lives").is_ok());
        for bad in ["", "Blog", "-x", "a b", "a/b", &"x".repeat(65), "é"] {
            assert!(PromptName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(
            parse_tags(&[
                "Writing".into(),
                " writing ".into(),
                "seo".into(),
                "".into()
            ])
            .unwrap(),
            vec!["seo", "writing"]
        );
        assert!(parse_tags(&["no spaces".into()]).is_err());
        assert!(parse_tags(&(0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()).is_err());
    }

    #[test]
    fn paging_out_of_range_is_refused() {
        let q = PromptQuery {
            page: Some(0),
            per_page: Some(1000),
            ..Default::default()
        };
        assert_eq!(q.validate().unwrap_err().details["reason"], "page_invalid");
        assert_eq!(q.paging(), (1, PER_PAGE_MAX));
        let q = PromptQuery {
            page: Some(3),
            per_page: Some(5),
            ..Default::default()
        };
        assert!(q.validate().is_ok());
        assert_eq!(q.paging(), (3, 5));
        let q = PromptQuery {
            tag: Some("t".repeat(TAG_MAX + 1)),
            ..Default::default()
        };
        assert_eq!(q.validate().unwrap_err().details["field"], "tag");
    }
}
