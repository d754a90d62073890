//! Three islands like the sign-in page's interactive parts, and the islands entry point.
//! The rest of a page would be server-only components, absent from the wasm.

use leptos::prelude::*;

/// The sign-in server function: on the client, only its HTTP stub is compiled.
#[server]
pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
    let _ = (email, password);
    Ok(())
}

/// Light/dark toggle: a signal, a click handler and the document's class list.
#[cfg_attr(feature = "islands", island)]
#[cfg_attr(not(feature = "islands"), component)]
pub fn ThemeToggle(dark: bool) -> impl IntoView {
    let dark = RwSignal::new(dark);
    view! {
        <a
            class="icon-button theme-toggle"
            href=move || format!("/prefs/theme/{}", if dark.get() { "light" } else { "dark" })
            aria-label=move || if dark.get() { "Switch to light" } else { "Switch to dark" }
            on:click=move |ev| {
                ev.prevent_default();
                dark.update(|d| *d = !*d);
                #[cfg(feature = "hydrate")]
                if let Some(root) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.document_element())
                {
                    let _ = root.class_list().toggle("dark");
                }
            }
        >
            "☀"
        </a>
    }
}

/// The language switch: a select that reloads the page in the chosen language.
#[cfg_attr(feature = "islands", island)]
#[cfg_attr(not(feature = "islands"), component)]
pub fn LocaleSwitch(current: String) -> impl IntoView {
    view! {
        <select
            aria-label="Language"
            on:change=move |ev| {
                let chosen = event_target_value(&ev);
                #[cfg(feature = "hydrate")]
                if let Some(w) = web_sys::window() {
                    let _ = w.location().set_href(&format!("/prefs/locale/{chosen}"));
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = chosen;
            }
        >
            <option value="en" selected=current == "en">"English"</option>
            <option value="de" selected=current == "de">"Deutsch"</option>
        </select>
    }
}

/// The sign-in form: a server action, its pending state and its error in place.
#[cfg_attr(feature = "islands", island)]
#[cfg_attr(not(feature = "islands"), component)]
pub fn SignInForm() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <ActionForm action>
            <label><span>"Email"</span><input type="email" name="email" required/></label>
            <label><span>"Password"</span><input type="password" name="password" required/></label>
            <Show when=move || error().is_some()>
                <p class="error" role="alert">{error}</p>
            </Show>
            <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
        </ActionForm>
    }
}

/// The page as a whole, for the full-hydration comparison.
#[component]
pub fn Page() -> impl IntoView {
    view! {
        <header><LocaleSwitch current="en".to_owned()/><ThemeToggle dark=false/></header>
        <main><h1>"Sign in"</h1><SignInForm/></main>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    #[cfg(feature = "islands")]
    leptos::mount::hydrate_islands();
    #[cfg(not(feature = "islands"))]
    leptos::mount::hydrate_body(Page);
}
