//! Translated names of message roles and diff statuses.

use crate::i18n::*;
use leptos_i18n::I18nContext;
use promptlab::versions::MessageRole;

pub fn role_label(i18n: I18nContext<Locale>, role: MessageRole) -> &'static str {
    match role {
        MessageRole::System => t_string!(i18n, editor.role_system),
        MessageRole::User => t_string!(i18n, editor.role_user),
        MessageRole::Assistant => t_string!(i18n, editor.role_assistant),
    }
}

/// The diff status words (`added`, `removed`, `changed`, `unchanged`) in the user's language.
pub fn status_label(i18n: I18nContext<Locale>, status: &str) -> &'static str {
    match status {
        "added" => t_string!(i18n, diff.status_added),
        "removed" => t_string!(i18n, diff.status_removed),
        "changed" => t_string!(i18n, diff.status_changed),
        _ => t_string!(i18n, diff.status_unchanged),
    }
}
