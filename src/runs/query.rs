//! Run history's filters and paging, and the checks on them (wasm-safe: the runs page
//! builds one from its address).

use super::RunStatus;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most runs in one page of history.
pub const PER_PAGE_MAX: u32 = 100;
/// The last page a run listing can ask for.
pub const PAGE_MAX: u32 = 1_000_000;

/// Filters for run history. Dates are RFC 3339.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunQuery {
    #[serde(default)]
    pub prompt_id: Option<Uuid>,
    #[serde(default)]
    pub version: Option<i32>,
    #[serde(default)]
    pub status: Option<RunStatus>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Search in the output.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub per_page: Option<u32>,
}

impl RunQuery {
    pub fn paging(&self) -> (u32, u32) {
        (
            self.page.unwrap_or(1).clamp(1, PAGE_MAX),
            self.per_page.unwrap_or(20).clamp(1, PER_PAGE_MAX),
        )
    }

    pub fn validate(&self) -> Result<()> {
        let long = |s: &Option<String>, max: usize| s.as_ref().is_some_and(|s| s.len() > max);
        for (field, value, max) in [
            ("q", &self.q, 500),
            ("provider", &self.provider, 64),
            ("model", &self.model, 128),
        ] {
            if long(value, max) {
                return Err(Error::invalid_field(
                    field,
                    "filter_too_long",
                    format!("{field} is at most {max} bytes"),
                ));
            }
        }
        // Pages are counted from 1; a page or a size out of range is a mistake to report,
        // not a value to guess at.
        if self.page.is_some_and(|p| p == 0 || p > PAGE_MAX) {
            return Err(Error::invalid_field(
                "page",
                "page_invalid",
                format!("page is between 1 and {PAGE_MAX}"),
            ));
        }
        if self.per_page.is_some_and(|n| n == 0 || n > PER_PAGE_MAX) {
            return Err(Error::invalid_field(
                "per_page",
                "per_page_invalid",
                format!("per_page is between 1 and {PER_PAGE_MAX}"),
            ));
        }
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f > t {
                return Err(Error::invalid_field(
                    "from",
                    "range_inverted",
                    "from is after to",
                ));
            }
        }
        Ok(())
    }
}
