//! One module per page.

pub mod diff_page;
pub mod home;
pub mod login;
pub mod not_found;
pub mod prompt_page;
pub mod prompts;
pub mod register;
pub mod run_page;
pub mod runs;
pub mod version_page;
