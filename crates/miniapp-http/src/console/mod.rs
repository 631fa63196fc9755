//! Mini Programs' consoles in the shell: the developer's (apps, settings, the secret,
//! code versions and reviews, analytics, ad slots and income) and the operator's (every
//! mini program, the review queue with approve/reject, the content word list, the ad
//! revenue share). Forms post back here and return with a flash message; uploads go to
//! the JSON API from `web/developer.js`.

mod developer;
mod operator;
mod signin;

use axum::Router;
use axum::routing::{get, post};

pub use signin::MiniAppSignIn;

use crate::MiniAppState;

/// The developer console's section.
pub(crate) const SECTION_APPS: &str = "miniapps";
/// The operator console's sections.
pub(crate) const SECTION_OPERATOR_APPS: &str = "miniapps";
pub(crate) const SECTION_REVIEWS: &str = "miniapp-reviews";

pub(crate) fn router() -> Router<MiniAppState> {
    Router::new()
        .route("/developer", get(developer::home))
        .route("/developer/become", post(developer::become_developer))
        .route("/developer/apps", post(developer::create))
        .route(
            "/developer/apps/{appid}",
            get(developer::app_page).post(developer::save_settings),
        )
        .route(
            "/developer/apps/{appid}/secret",
            post(developer::reset_secret),
        )
        .route(
            "/developer/apps/{appid}/versions/{version}/{action}",
            post(developer::version_action),
        )
        .route("/developer/apps/{appid}/release", post(developer::release))
        .route(
            "/developer/apps/{appid}/rollback",
            post(developer::rollback),
        )
        .route(
            "/developer/apps/{appid}/ad-slots",
            post(developer::add_slot),
        )
        .route("/static/developer.js", get(developer::script))
        .route("/console/miniapps", get(operator::apps))
        .route("/console/miniapps/reviews", get(operator::reviews))
        .route("/console/miniapps/{appid}/review", post(operator::decide))
        .route("/console/miniapps/words", post(operator::save_words))
}
