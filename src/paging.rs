//! Pages of a listing, counted from 1, and the checks on a page asked for (wasm-safe: the
//! list pages build their queries from their address).

use crate::error::{Error, Result};

/// Most items in one page of a listing.
pub const PER_PAGE_MAX: u32 = 100;
/// Items in a page when the request does not say.
pub const PER_PAGE_DEFAULT: u32 = 20;
/// The last page a listing can ask for.
pub const PAGE_MAX: u32 = 1_000_000;

/// Refuse a page or a page size out of range: a mistake to report, not a value to guess at.
pub fn check(page: Option<u32>, per_page: Option<u32>) -> Result<()> {
    if page.is_some_and(|p| p == 0 || p > PAGE_MAX) {
        return Err(Error::invalid_field(
            "page",
            "page_invalid",
            format!("page is between 1 and {PAGE_MAX}"),
        ));
    }
    if per_page.is_some_and(|n| n == 0 || n > PER_PAGE_MAX) {
        return Err(Error::invalid_field(
            "per_page",
            "per_page_invalid",
            format!("per_page is between 1 and {PER_PAGE_MAX}"),
        ));
    }
    Ok(())
}

/// The page and page size to use, defaults filled in. Clamped too, as a guard for a caller
/// that did not [`check`] first.
pub fn resolve(page: Option<u32>, per_page: Option<u32>) -> (u32, u32) {
    (
        page.unwrap_or(1).clamp(1, PAGE_MAX),
        per_page.unwrap_or(PER_PAGE_DEFAULT).clamp(1, PER_PAGE_MAX),
    )
}

/// Refuse a text filter longer than its limit in characters (as a form's `maxlength`
/// counts them), naming the filter.
pub fn check_filters(filters: &[(&str, &Option<String>, usize)]) -> Result<()> {
    for &(field, value, max) in filters {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            return Err(Error::invalid_field(
                field,
                "filter_too_long",
                format!("{field} is at most {max} characters"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_in_range_pass_and_the_rest_are_named() {
        for (page, per_page) in [
            (None, None),
            (Some(1), Some(1)),
            (Some(PAGE_MAX), Some(PER_PAGE_MAX)),
        ] {
            assert!(check(page, per_page).is_ok(), "{page:?} {per_page:?}");
        }
        for (page, per_page, want) in [
            (Some(0), None, "page_invalid"),
            (Some(PAGE_MAX + 1), None, "page_invalid"),
            (Some(u32::MAX), Some(0), "page_invalid"),
            (None, Some(0), "per_page_invalid"),
            (Some(1), Some(PER_PAGE_MAX + 1), "per_page_invalid"),
        ] {
            let err = check(page, per_page).expect_err("out of range");
            assert_eq!(err.details["reason"], want, "{page:?} {per_page:?}");
        }
    }

    #[test]
    fn resolve_fills_defaults_and_clamps() {
        assert_eq!(resolve(None, None), (1, PER_PAGE_DEFAULT));
        assert_eq!(resolve(Some(0), Some(1000)), (1, PER_PAGE_MAX));
        assert_eq!(resolve(Some(u32::MAX), Some(0)), (PAGE_MAX, 1));
    }

    #[test]
    fn long_filters_name_their_field() {
        let short = Some("abc".to_owned());
        let long = Some("x".repeat(11));
        assert!(check_filters(&[("q", &short, 10), ("tag", &None, 1)]).is_ok());
        // Characters, not bytes: ten of three bytes each fit a limit of ten.
        assert!(check_filters(&[("q", &Some("語".repeat(10)), 10)]).is_ok());
        assert!(check_filters(&[("q", &Some("語".repeat(11)), 10)]).is_err());
        let err = check_filters(&[("q", &short, 10), ("tag", &long, 10)]).expect_err("long");
        assert_eq!(err.details["reason"], "filter_too_long");
        assert_eq!(err.details["field"], "tag");
    }
}
