//! Authentication and authorization primitives: password hashing, session tokens, and the
//! one function that decides whether a user may act on a project.
//!
//! Nothing here knows about HTTP; the server reads tokens from cookies or headers and hands
//! them to [`crate::engine::Engine::authenticate`].

pub mod authorize;
pub mod password;
pub mod session_cookie;
pub mod tokens;

pub use authorize::authorize;
