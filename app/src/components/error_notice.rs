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
        Some("prompt_name_invalid") => t_string!(i18n, errors.prompt_name_invalid),
        Some("prompt_name_taken") => t_string!(i18n, errors.prompt_name_taken),
        Some("stale_base") => t_string!(i18n, errors.stale_base),
        Some("template_syntax") => t_string!(i18n, errors.template_syntax),
        Some("template_undefined_variable") => t_string!(i18n, errors.template_undefined_variable),
        Some("template_render") => t_string!(i18n, errors.template_render),
        Some("template_too_costly") => t_string!(i18n, errors.template_too_costly),
        Some("template_output_too_large") => t_string!(i18n, errors.template_output_too_large),
        Some("template_too_much_memory") => t_string!(i18n, errors.template_too_much_memory),
        Some("template_too_slow") => t_string!(i18n, errors.template_too_slow),
        Some("template_tag_too_long") => t_string!(i18n, errors.template_tag_too_long),
        Some("template_too_many_branches") => t_string!(i18n, errors.template_too_many_branches),
        Some("label_invalid") => t_string!(i18n, errors.label_invalid),
        Some("param_invalid") => t_string!(i18n, errors.param_invalid),
        Some("messages_count") => t_string!(i18n, errors.messages_count),
        Some("variable_type") => t_string!(i18n, errors.variable_type),
        Some("nul_character") => t_string!(i18n, errors.nul_character),
        Some("filter_too_long") => t_string!(i18n, errors.filter_too_long),
        Some("filter_unreadable") => t_string!(i18n, errors.filter_unreadable),
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
    // Template errors say where: the variable, or the message, line and column.
    let mut text = text.to_string();
    // A filter that does not read says which, by its name in the address.
    let named = match error.reason() {
        Some("filter_unreadable") => error.details.get("field"),
        _ => error.details.get("variable"),
    };
    if let Some(var) = named.and_then(|v| v.as_str()) {
        text.push_str(&format!(" ({var})"));
    } else if let (Some(msg), Some(line)) = (
        error.details.get("message_index"),
        error.details.get("line").and_then(|l| l.as_u64()),
    ) {
        let col = error
            .details
            .get("column")
            .and_then(|c| c.as_u64())
            .unwrap_or(0);
        text.push_str(&format!(
            " (#{} {line}:{col})",
            msg.as_u64().unwrap_or(0) + 1
        ));
    }
    text
}

/// An alert box for the error of the last submission, if it failed.
#[component]
pub fn ErrorNotice(#[prop(into)] error: Signal<Option<Error>>) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        error.get().map(|e| {
            view! {
                <p class="notice notice-error" role="alert" data-code=e.code.as_str() data-reason=e.reason().map(str::to_owned)>
                    {error_text(i18n, &e)}
                </p>
            }
        })
    }
}
