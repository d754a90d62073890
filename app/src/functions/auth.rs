//! Accounts from the browser: sign up, sign in, sign out, and who is signed in.
//! On success the session cookie is set and the browser is sent on (with JavaScript the
//! form's island follows the redirect; without it the form post gets a 302).

use leptos::prelude::*;
use promptlab::accounts::Me;
use promptlab::Error;

#[server(prefix = "/api", endpoint = "auth/register")]
pub async fn sign_up(email: String, name: String, password: String) -> Result<(), Error> {
    use super::context::{engine, fail, set_session_cookie};
    let engine = engine()?;
    let request = promptlab::accounts::RegisterRequest {
        email,
        name,
        password,
    };
    let signed_in = engine.register(request).await.map_err(fail)?;
    set_session_cookie(&engine, &signed_in.token, signed_in.expires_at);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "auth/login")]
pub async fn sign_in(email: String, password: String) -> Result<(), Error> {
    use super::context::{engine, fail, set_session_cookie};
    let engine = engine()?;
    let request = promptlab::accounts::LoginRequest { email, password };
    let signed_in = engine.login(request).await.map_err(fail)?;
    set_session_cookie(&engine, &signed_in.token, signed_in.expires_at);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "auth/logout")]
pub async fn sign_out() -> Result<(), Error> {
    use super::context::{caller, clear_session_cookie, engine, fail};
    let engine = engine()?;
    if let Some(who) = caller(&engine).await.map_err(fail)? {
        engine.logout(&who).await.map_err(fail)?;
    }
    clear_session_cookie(&engine);
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user and their projects; `None` when signed out.
#[server(prefix = "/api", endpoint = "auth/me")]
pub async fn current_user() -> Result<Option<Me>, Error> {
    use super::context::{caller, engine, fail};
    let engine = engine()?;
    match caller(&engine).await.map_err(fail)? {
        Some(who) => Ok(Some(engine.me(&who).await.map_err(fail)?)),
        None => Ok(None),
    }
}
