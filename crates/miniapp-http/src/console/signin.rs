//! Mini Programs' sign-in port: a developer is a user with a developer account, signed
//! in with the same session cookie as the user app (so becoming a developer needs no
//! second sign-in); the sandbox lists developers to sign in as.

use std::sync::Arc;

use axum::http::HeaderMap;
use plaza_http::web::{
    DemoAccount, ErrorPage, Role, SESSION_COOKIE, SessionCookie, SignIn, SignInRole, SignedIn,
    cookie_in,
};
use plaza_kernel::BoxFuture;
use plaza_miniapp::MiniApps;

const ROLES: &[SignInRole] = &[SignInRole {
    role: Role::DEVELOPER,
    title: "Developers",
    about: "Build mini programs: settings, secrets, code versions, reviews, analytics and ad income.",
    landing: "/developer",
    attribute: "developer",
    create_hint: "plaza admin miniapp create --developer USER_ID --name NAME",
    token_label: None,
}];

/// Mini Programs' [`SignIn`] port.
pub struct MiniAppSignIn {
    miniapps: Arc<MiniApps>,
}

impl MiniAppSignIn {
    /// Over the domain.
    pub fn new(miniapps: Arc<MiniApps>) -> Self {
        Self { miniapps }
    }
}

impl SignIn for MiniAppSignIn {
    fn roles(&self) -> &'static [SignInRole] {
        ROLES
    }

    fn signed_in<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Vec<SignedIn>> {
        Box::pin(async move {
            let Some(token) = cookie_in(headers, SESSION_COOKIE) else {
                return Vec::new();
            };
            let identity = self.miniapps.identity();
            let Ok(user) = identity.session_user(token).await else {
                return Vec::new();
            };
            match identity.developer_of(&user.user_id).await {
                Ok(Some(_)) => vec![SignedIn {
                    role: Role::DEVELOPER,
                    account: user.user_id,
                    name: user.name,
                }],
                _ => Vec::new(),
            }
        })
    }

    fn demo_accounts(&self, role: Role, rows_max: usize) -> BoxFuture<'_, Vec<DemoAccount>> {
        Box::pin(async move {
            if role != Role::DEVELOPER {
                return Vec::new();
            }
            let apps = self.miniapps.apps(1_000).await.unwrap_or_default();
            let mut accounts: Vec<DemoAccount> = Vec::new();
            for app in apps {
                let Ok(Some(developer)) =
                    self.miniapps.identity().developer(&app.developer_id).await
                else {
                    continue;
                };
                if let Some(account) = accounts
                    .iter_mut()
                    .find(|a| a.account == developer.owner_user_id)
                {
                    account.detail.push_str(&format!(", {}", app.name));
                    continue;
                }
                if accounts.len() >= rows_max {
                    break;
                }
                let name = self
                    .miniapps
                    .identity()
                    .user(&developer.owner_user_id)
                    .await
                    .ok()
                    .flatten()
                    .map_or_else(|| developer.owner_user_id.clone(), |user| user.name);
                accounts.push(DemoAccount {
                    account: developer.owner_user_id,
                    name,
                    detail: app.name,
                });
            }
            accounts
        })
    }

    fn demo_sign_in<'a>(
        &'a self,
        role: Role,
        account: &'a str,
    ) -> BoxFuture<'a, Result<SessionCookie, ErrorPage>> {
        Box::pin(async move {
            let identity = self.miniapps.identity();
            if role != Role::DEVELOPER
                || !matches!(identity.developer_of(account).await, Ok(Some(_)))
            {
                return Err(ErrorPage::not_found("There is no such developer."));
            }
            let token = identity
                .create_session(account)
                .await
                .map_err(|_| ErrorPage::not_found("There is no such user."))?;
            Ok(SessionCookie {
                name: SESSION_COOKIE,
                value: token,
            })
        })
    }

    fn token_sign_in<'a>(
        &'a self,
        _token: &'a str,
    ) -> BoxFuture<'a, Option<(Role, SessionCookie)>> {
        // A user's session token signs the user in (Pay's port); the developer console
        // then recognises the same session.
        Box::pin(async { None })
    }

    fn sign_out<'a>(&'a self, _headers: &'a HeaderMap) -> BoxFuture<'a, Result<(), ErrorPage>> {
        // The session cookie is the user's: signing it out is the user app's port's.
        Box::pin(async { Ok(()) })
    }

    fn cookies(&self) -> &'static [&'static str] {
        &[]
    }
}
