//! Mini Programs as a system: developers' apps, the server API's tokens and logins, and
//! their surfaces. Pay's merchants reach it through the `Merchants` port, filled here.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use plaza_http::web::{SignIn, UserApp};
use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_kernel::BoxFuture;
use plaza_miniapp::{
    MerchantRefusal, Merchants, MiniAppLimits, MiniApps, PaymentRefusal, PaymentRequest,
    PaymentSummary, Payments,
};
use plaza_miniapp_http::{
    Fetch, FetchRequest, Fetched, MiniAppSignIn, MiniAppState, MiniAppStateParts, MiniAppWeb,
};
use plaza_pay::model::TradeType;
use plaza_pay::outbound::OutboundPolicy;
use plaza_pay::{OrderRef, PayError, PayService};

use super::{Foundation, OBJECTS_DIR, System};
use crate::scheduler::{JobFailure, JobHandler};
use plaza_kernel::queue::Job;

/// The data-directory file of the secret that keys access tokens and seals login codes.
const MINIAPP_SECRET_FILE: &str = "miniapp.secret";

/// How long a `wx.request` may take (WeChat's default timeout is 60 s; a container
/// waiting longer helps nobody).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Mini Programs, built.
pub(crate) struct MiniProgram {
    miniapps: Arc<MiniApps>,
    fetch: Arc<ServerFetch>,
}

/// `wx.request` sent from the server, through the outbound policy Pay's notifications
/// follow (in the sandbox any host; otherwise no internal address unless allowed).
struct ServerFetch {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl Fetch for ServerFetch {
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'_, Result<Fetched, String>> {
        Box::pin(async move {
            crate::outbound::check_target(&self.policy, &request.url)
                .map_err(|refused| refused.0)?;
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(|_| "invalid method".to_owned())?;
            let mut builder = self
                .client
                .request(method, &request.url)
                .header("referer", &request.referer);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = request.body {
                builder = builder.body(body);
            }
            let response = builder.send().await.map_err(|error| {
                crate::outbound::refusal_in(&error).unwrap_or_else(|| {
                    if error.is_timeout() {
                        "timeout".to_owned()
                    } else {
                        "network error".to_owned()
                    }
                })
            })?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect();
            let body = response
                .bytes()
                .await
                .map_err(|_| "network error".to_owned())?
                .to_vec();
            Ok(Fetched {
                status,
                headers,
                body,
            })
        })
    }
}

impl MiniProgram {
    /// Builds the domain over the store, with Pay's merchants behind its port.
    /// The domain, for systems that read it (Search's catalog).
    pub(crate) fn miniapps(&self) -> Arc<MiniApps> {
        self.miniapps.clone()
    }

    pub(crate) fn build(foundation: &Foundation<'_>, pay: Arc<PayService>) -> anyhow::Result<Self> {
        let data_dir = foundation.data_dir;
        let store = foundation.store.clone();
        // One identity for every system: its session and user caches stay exact only
        // when every write of a session goes through the same instance.
        let identity = pay.identity().clone();
        let secret = data_dir.secret(MINIAPP_SECRET_FILE)?;
        let objects = Arc::new(
            plaza_store::objects::LocalObjects::open(foundation.config.data_dir.join(OBJECTS_DIR))
                .with_context(|| format!("the object store under {OBJECTS_DIR}/"))?,
        );
        let limits = MiniAppLimits {
            token_daily_max: foundation.config.miniapp_token_daily_max,
        };
        let miniapps = MiniApps::new(
            store.clone(),
            store,
            foundation.clock.clone(),
            identity,
            objects,
            secret.as_bytes(),
            limits,
        )
        .with_merchants(Arc::new(PayMerchants(pay.clone())))
        .with_payments(Arc::new(PayMerchants(pay)));
        let policy = Arc::new(super::pay::outbound_policy(foundation.config));
        let client = crate::outbound::checked_client(
            policy.clone(),
            REQUEST_TIMEOUT,
            concat!("Plaza-MiniProgram/", env!("CARGO_PKG_VERSION")),
        )?;
        Ok(Self {
            miniapps: Arc::new(miniapps),
            fetch: Arc::new(ServerFetch { client, policy }),
        })
    }
}

/// Pay's merchants as Mini Programs' port.
struct PayMerchants(Arc<PayService>);

impl Merchants for PayMerchants {
    fn bind(&self, mchid: String, appid: String) -> BoxFuture<'_, Result<(), MerchantRefusal>> {
        Box::pin(async move {
            match self.0.bind_app(&mchid, &appid).await {
                Ok(_) => Ok(()),
                Err(PayError::MerchantNotFound { .. }) => Err(MerchantRefusal::NotFound { mchid }),
                Err(other) => Err(MerchantRefusal::Unavailable {
                    reason: other.to_string(),
                }),
            }
        })
    }

    fn available_account(&self, mchid: String) -> BoxFuture<'_, Result<String, MerchantRefusal>> {
        Box::pin(self.available(mchid))
    }
}

/// `miniapp.ad_share`: a month is over — pay each app's ad earnings out.
struct ShareAdRevenue(Arc<MiniApps>);

impl JobHandler for ShareAdRevenue {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            self.0
                .share_ad_revenue(&job.payload)
                .await
                .map(|payouts| tracing::info!(month = %job.payload, apps = payouts.len(), "ad revenue shared"))
                .map_err(|error| JobFailure::Retry(error.to_string()))
        })
    }
}

impl PayMerchants {
    async fn available(&self, mchid: String) -> Result<String, MerchantRefusal> {
        match self.0.merchant(&mchid).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(MerchantRefusal::NotFound { mchid }),
            Err(other) => {
                return Err(MerchantRefusal::Unavailable {
                    reason: other.to_string(),
                });
            }
        }
        plaza_pay::accounts::available(&mchid)
            .map(|(id, _)| id.to_string())
            .map_err(|error| MerchantRefusal::Unavailable {
                reason: error.to_string(),
            })
    }
}

impl Payments for PayMerchants {
    fn check(
        &self,
        request: PaymentRequest,
    ) -> BoxFuture<'_, Result<PaymentSummary, PaymentRefusal>> {
        Box::pin(check_payment(&self.0, request))
    }
}

/// `wx.requestPayment` as WeChat checks it: the package names a JSAPI order of this
/// app and of the app's merchant, made out to this user's openid in the app, and the
/// signature over `appId\ntimeStamp\nnonceStr\npackage\n` verifies with one of the
/// merchant's keys.
async fn check_payment(
    pay: &PayService,
    request: PaymentRequest,
) -> Result<PaymentSummary, PaymentRefusal> {
    let invalid = |problem: &str| PaymentRefusal::Invalid(problem.to_owned());
    let unavailable = |error: PayError| PaymentRefusal::Unavailable(error.to_string());
    if request.sign_type != "RSA" {
        return Err(invalid("signType must be RSA (WeChat Pay APIv3)"));
    }
    let prepay_id = request
        .package
        .strip_prefix("prepay_id=")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("package must be prepay_id=<the order's prepay_id>"))?;
    let order = match pay
        .order_by_ref(&OrderRef::PrepayId(prepay_id.to_owned()))
        .await
    {
        Ok((order, _)) => order,
        Err(PayError::OrderNotFound) => return Err(invalid("no order has this prepay_id")),
        Err(other) => return Err(unavailable(other)),
    };
    if order.appid != request.appid
        || order.mchid != request.mchid
        || order.trade_type != TradeType::Jsapi
    {
        return Err(invalid("the prepay_id belongs to another app or merchant"));
    }
    let openid = pay.identity().openid(&request.appid, &request.user_id);
    if order.payer_openid.as_deref() != Some(openid.as_str()) {
        return Err(invalid("the order is made out to another payer"));
    }
    let merchant = pay
        .merchant(&order.mchid)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| invalid("the order's merchant is gone"))?;
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        request.appid, request.time_stamp, request.nonce_str, request.package
    );
    let verified = merchant.keys.iter().any(|key| {
        plaza_wx::rsa::PublicKey::from_pem(&key.public_key_pem)
            .is_ok_and(|public| public.verify_sha256_base64(message.as_bytes(), &request.pay_sign))
    });
    if !verified {
        return Err(invalid("paySign does not verify with the merchant's key"));
    }
    Ok(PaymentSummary {
        prepay_id: order.prepay_id.clone(),
        merchant_name: merchant.name,
        description: order.description.clone(),
        total_minor: order.total_minor,
        trade_state: order.state.wire().to_owned(),
    })
}

impl System for MiniProgram {
    fn name(&self) -> &'static str {
        "miniapp"
    }

    fn jobs(&self) -> Vec<(&'static str, Arc<dyn JobHandler>)> {
        vec![(
            plaza_miniapp::ads::JOB_AD_SHARE,
            Arc::new(ShareAdRevenue(self.miniapps.clone())),
        )]
    }

    fn start<'a>(&'a self, _data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn nav(&self) -> &'static [NavEntry] {
        plaza_miniapp_http::NAV
    }

    fn sign_in(&self) -> Option<Arc<dyn SignIn>> {
        Some(Arc::new(MiniAppSignIn::new(self.miniapps.clone())))
    }

    fn user_app(&self) -> Option<Arc<dyn UserApp>> {
        Some(Arc::new(MiniAppWeb::new(self.miniapps.clone())))
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        plaza_miniapp_http::MINIAPP_ERROR_CODES
    }

    fn routes(&self, http: &HttpState) -> SystemRoutes {
        plaza_miniapp_http::routes(MiniAppState::new(MiniAppStateParts {
            http: http.clone(),
            miniapps: self.miniapps.clone(),
            fetch: self.fetch.clone(),
        }))
    }
}
