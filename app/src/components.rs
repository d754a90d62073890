//! Pieces pages share: the signed-in layout with its header, the language switch, the
//! theme toggle and the error notice.

pub mod app_layout;
pub mod error_notice;
pub mod locale_switch;
pub mod params_form;
pub mod prompt_editor;
pub mod recent_runs;
pub mod role_label;
pub mod run_panel;
pub mod run_view;
pub mod site_header;
pub mod template_input;
pub mod theme_toggle;
pub mod variable_row;
pub mod version_history;
