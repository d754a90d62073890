//! Shows an engine error in the user's language: a known validation reason first, else
//! the error code. The server's English message is never shown as-is.

use crate::i18n::*;
use leptos::prelude::*;
use leptos_i18n::I18nContext;
use promptlab::{Error, ErrorCode};

/// The translated text for an error.
pub fn error_text(i18n: I18nContext<Locale>, error: &Error) -> String {
    let text = match error.reason() {
        Some("email_invalid") => t_string!(i18n, errors.email_invalid),
        Some("email_taken") => t_string!(i18n, errors.email_taken),
        Some("name_required") => t_string!(i18n, errors.name_required),
        Some("name_invalid") => t_string!(i18n, errors.name_invalid),
        Some("password_too_short") => t_string!(i18n, errors.password_too_short),
        Some("password_too_long") => t_string!(i18n, errors.password_too_long),
        _ => match error.code {
            ErrorCode::ValidationError => t_string!(i18n, errors.validation_error),
            ErrorCode::Unauthorized => t_string!(i18n, errors.bad_credentials),
            ErrorCode::Forbidden => t_string!(i18n, errors.forbidden),
            ErrorCode::NotFound => t_string!(i18n, errors.not_found),
            ErrorCode::Conflict => t_string!(i18n, errors.conflict),
            ErrorCode::PayloadTooLarge => t_string!(i18n, errors.payload_too_large),
            ErrorCode::RateLimited | ErrorCode::QuotaExceeded => {
                t_string!(i18n, errors.rate_limited)
            }
            ErrorCode::ProviderError | ErrorCode::InternalError => {
                t_string!(i18n, errors.internal_error)
            }
        },
    };
    text.to_string()
}

/// An alert box for the error of the last submission, if it failed.
#[component]
pub fn ErrorNotice(#[prop(into)] error: Signal<Option<Error>>) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        error.get().map(|e| {
            view! {
                <p class="notice notice-error" role="alert" data-code=e.code.as_str()>
                    {error_text(i18n, &e)}
                </p>
            }
        })
    }
}
