//! Labels: named pointers at one version of a prompt (`production`, `staging`, or custom).
//! Moving a label (promote, roll back) is recorded with who and when, so its history can
//! be read back. Applications fetch a prompt "by label" to get what is deployed.

use crate::error::{Error, Result};
use crate::versions::Author;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod service;

/// A label name: 1–40 of `a-z 0-9 - _`.
pub fn parse_label(raw: &str) -> Result<String> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid_field(
            "label",
            "label_invalid",
            "a label is 1 to 40 lowercase letters, digits, '-' or '_'",
        ))
    }
}

/// Where a label points now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Author,
}

/// One move of a label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelEvent {
    pub name: String,
    /// `None` when the label was created by this move.
    pub from_version: Option<i32>,
    pub to_version: i32,
    pub at: DateTime<Utc>,
    pub by: Author,
}

/// Point a label at a version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveLabel {
    pub version: i32,
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::parse_label(" production ").unwrap(), "production");
        assert!(super::parse_label("Prod").is_err());
        assert!(super::parse_label("").is_err());
    }
}
