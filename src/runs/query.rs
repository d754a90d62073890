//! Run history's filters and paging, and the checks on them (wasm-safe: the runs page
//! builds one from its address).

use super::RunStatus;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::paging::{PAGE_MAX, PER_PAGE_MAX};

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
        crate::paging::resolve(self.page, self.per_page)
    }

    pub fn validate(&self) -> Result<()> {
        crate::paging::check_filters(&[
            ("q", &self.q, 500),
            ("provider", &self.provider, 64),
            ("model", &self.model, 128),
        ])?;
        crate::paging::check(self.page, self.per_page)?;
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
