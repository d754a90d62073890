//! `/`: the signed-in home, listing the user's projects with their role.

use crate::components::app_layout::MeResource;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_i18n::I18nContext;
use leptos_meta::Title;
use leptos_router::components::A;
use promptlab::projects::Role;

#[component]
pub fn Home() -> impl IntoView {
    let i18n = use_i18n();
    let me = expect_context::<MeResource>();
    view! {
        <Title text=t_string!(i18n, home.title).to_string()/>
        <Suspense>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten()?;
                let projects = me.projects.clone();
                Some(view! {
                    <h1 data-testid="welcome">{t!(i18n, home.welcome)} ", " {me.user.name.clone()}</h1>
                    <h2>{t!(i18n, home.title)}</h2>
                    <ul class="project-list">
                        {projects
                            .into_iter()
                            .map(|p| {
                                let role = p.role;
                                view! {
                                    <li class="card project">
                                        <strong>{if p.personal { t_string!(i18n, home.personal).to_string() } else { p.name.clone() }}</strong>
                                        <span class="chip">{move || role_label(i18n, role)}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    <p class="muted">{t!(i18n, home.next_steps)} " " <A href="/prompts">{t!(i18n, nav.prompts)} " →"</A></p>
                })
            })}
        </Suspense>
    }
}

fn role_label(i18n: I18nContext<Locale>, role: Role) -> &'static str {
    match role {
        Role::Owner => t_string!(i18n, home.role_owner),
        Role::Editor => t_string!(i18n, home.role_editor),
        Role::Viewer => t_string!(i18n, home.role_viewer),
    }
}
