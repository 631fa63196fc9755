//! Pay's part in signing in ([`PayWeb`] as the shell's `SignIn` port): payers (the
//! app's users, by session token in `plaza_session`), merchants and service providers
//! (by their mchid, signed, in `plaza_merchant`). In the sandbox any of them signs in
//! with one press; otherwise a payer signs in with a session token.

use std::sync::Arc;

use axum::http::HeaderMap;
use plaza_http::web::{
    DemoAccount, ErrorPage, MERCHANT_COOKIE, Role, SESSION_COOKIE, SessionCookie, SignIn,
    SignInRole, SignedIn, check_signed, cookie_in, signed_value, yuan,
};
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Clock;
use plaza_ledger::LedgerStore;
use plaza_pay::PayService;
use plaza_pay::model::{Merchant, MerchantKind};

use crate::error::ApiError;

/// What the `plaza_merchant` cookie's signature names it as.
pub(crate) const MERCHANT_COOKIE_KIND: &str = "merchant-session";

/// Merchants looked through for the demo lists (direct merchants and providers are
/// listed from them).
const MERCHANTS_READ: usize = 200;

/// Pay's ports into the page shell: signing in (`SignIn`) and its parts of the user app
/// (`UserApp`: the wallet's cards, the "WeChat Pay" service conversation). Built by the
/// binary before the shell's state, from what Pay is built of.
pub struct PayWeb {
    pub(super) pay: Arc<PayService>,
    pub(super) ledger: Arc<dyn LedgerStore>,
    token_secret: Arc<[u8]>,
    wall_clock: Arc<dyn Clock>,
}

impl PayWeb {
    /// The ports over the payment domain `pay` and its `ledger`; `token_secret` signs
    /// merchant cookies (the same secret as `PaySurface::token_secret`), read on the
    /// wall clock.
    pub fn new(
        pay: Arc<PayService>,
        ledger: Arc<dyn LedgerStore>,
        token_secret: Arc<[u8]>,
        wall_clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            pay,
            ledger,
            token_secret,
            wall_clock,
        }
    }

    fn wall_now_s(&self) -> i64 {
        self.wall_clock.now().unix_ms() / 1_000
    }

    async fn merchants_of(&self, kind: MerchantKind, rows_max: usize) -> Vec<Merchant> {
        self.pay
            .merchants(MERCHANTS_READ)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|merchant| merchant.kind == kind)
            .take(rows_max)
            .collect()
    }

    async fn users(&self, rows_max: usize) -> Vec<DemoAccount> {
        let mut accounts = Vec::new();
        for user in self.pay.users(rows_max).await.unwrap_or_default() {
            let balance = self.pay.wallet_balance(&user.user_id).await.unwrap_or(0);
            accounts.push(DemoAccount {
                account: user.user_id,
                name: user.name,
                detail: format!("¥{}", yuan(balance)),
            });
        }
        accounts
    }

    fn merchant_cookie(&self, mchid: &str) -> SessionCookie {
        SessionCookie {
            name: MERCHANT_COOKIE,
            value: signed_value(
                &self.token_secret,
                MERCHANT_COOKIE_KIND,
                mchid,
                self.wall_now_s(),
            ),
        }
    }
}

/// The roles Pay signs people in as.
const ROLES: &[SignInRole] = &[
    SignInRole {
        role: Role::USER,
        title: "Payers",
        about: "The app: chats, the wallet and its 账单, checkout, payment and collection codes, coupons.",
        landing: "/app",
        attribute: "user",
        create_hint: "plaza admin user create",
        token_label: Some("Session token (from plaza admin user create)"),
    },
    SignInRole {
        role: Role::MERCHANT,
        title: "Merchants",
        about: "The merchant console: orders, their QR codes and what became of them.",
        landing: "/merchant",
        attribute: "merchant",
        create_hint: "plaza admin merchant create",
        token_label: None,
    },
    SignInRole {
        role: Role::PROVIDER,
        title: "Service providers",
        about: "The provider console: sub-merchants, their volume and the commission.",
        landing: "/provider",
        attribute: "provider",
        create_hint: "plaza admin provider create",
        token_label: None,
    },
];

fn refused(error: plaza_pay::PayError) -> ErrorPage {
    ErrorPage::from_api(ApiError::from(error).shared())
}

impl SignIn for PayWeb {
    fn roles(&self) -> &'static [SignInRole] {
        ROLES
    }

    fn signed_in<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Vec<SignedIn>> {
        Box::pin(async move {
            let mut signed_in = Vec::new();
            if let Some(token) = cookie_in(headers, SESSION_COOKIE)
                && let Ok(user) = self.pay.session_user(token).await
            {
                signed_in.push(SignedIn {
                    role: Role::USER,
                    account: user.user_id,
                    name: user.name,
                });
            }
            let mchid = cookie_in(headers, MERCHANT_COOKIE).and_then(|value| {
                check_signed(
                    &self.token_secret,
                    MERCHANT_COOKIE_KIND,
                    value,
                    self.wall_now_s(),
                )
            });
            if let Some(mchid) = mchid
                && let Ok(Some(merchant)) = self.pay.merchant(&mchid).await
            {
                let role = if merchant.kind == MerchantKind::Provider {
                    Role::PROVIDER
                } else {
                    Role::MERCHANT
                };
                signed_in.push(SignedIn {
                    role,
                    account: merchant.mchid,
                    name: merchant.name,
                });
            }
            signed_in
        })
    }

    fn demo_accounts(&self, role: Role, rows_max: usize) -> BoxFuture<'_, Vec<DemoAccount>> {
        Box::pin(async move {
            let kind = match role {
                Role::USER => return self.users(rows_max).await,
                Role::MERCHANT => MerchantKind::Direct,
                Role::PROVIDER => MerchantKind::Provider,
                _ => return Vec::new(),
            };
            self.merchants_of(kind, rows_max)
                .await
                .into_iter()
                .map(|merchant| DemoAccount {
                    detail: merchant.mchid.clone(),
                    account: merchant.mchid,
                    name: merchant.name,
                })
                .collect()
        })
    }

    fn demo_sign_in<'a>(
        &'a self,
        role: Role,
        account: &'a str,
    ) -> BoxFuture<'a, Result<SessionCookie, ErrorPage>> {
        Box::pin(async move {
            if role == Role::USER {
                let token = self.pay.create_session(account).await.map_err(refused)?;
                return Ok(SessionCookie {
                    name: SESSION_COOKIE,
                    value: token,
                });
            }
            match self.pay.merchant(account).await.map_err(refused)? {
                Some(merchant)
                    if role == Role::MERCHANT || merchant.kind == MerchantKind::Provider =>
                {
                    Ok(self.merchant_cookie(&merchant.mchid))
                }
                Some(_) => Err(ErrorPage::not_found(
                    "That merchant is not a service provider.",
                )),
                None => Err(ErrorPage::not_found("There is no such merchant.")),
            }
        })
    }

    fn token_sign_in<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<(Role, SessionCookie)>> {
        Box::pin(async move {
            self.pay.session_user(token).await.ok().map(|_| {
                (
                    Role::USER,
                    SessionCookie {
                        name: SESSION_COOKIE,
                        value: token.to_owned(),
                    },
                )
            })
        })
    }

    fn sign_out<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Result<(), ErrorPage>> {
        Box::pin(async move {
            match cookie_in(headers, SESSION_COOKIE) {
                Some(token) => self.pay.revoke_session(token).await.map_err(refused),
                None => Ok(()),
            }
        })
    }

    fn cookies(&self) -> &'static [&'static str] {
        &[SESSION_COOKIE, MERCHANT_COOKIE]
    }
}
