//! Pay as a system: the payment domain with its platform identity, its jobs
//! (expiry, settlement, notifications, coupon stocks' ends, the sandbox's robot payer)
//! and its surfaces.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use plaza_http::web::{SignIn, UserApp};
use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Clock;
use plaza_pay::outbound::OutboundPolicy;
use plaza_pay::{JOB_EXPIRE, JOB_NOTIFY, JOB_SETTLE, PayService};
use plaza_pay_http::pay_v3::Platform;
use plaza_pay_http::{NotificationActions, PayState, PayStateParts, PaySurface, PayWeb};

use super::{Foundation, IDENTITY_SECRET_FILE as PAY_SECRET_FILE, System};
use crate::config::Config;
use crate::pay_jobs::{DeliverNotification, EndStock, ExpireOrder, RobotPay, SettleDay};
use crate::scheduler::JobHandler;

/// The data-directory file of the key that seals merchants' keys in the database.
pub(crate) const SEALING_KEY_FILE: &str = "secrets.key";

/// Pay, built.
pub(crate) struct Pay {
    pay: Arc<PayService>,
    platform: Arc<Platform>,
    wall_clock: Arc<dyn Clock>,
    deliverer: Arc<DeliverNotification>,
    /// Signs bill download tokens and merchant cookies.
    token_secret: Arc<[u8]>,
    web: Arc<PayWeb>,
    sandbox: bool,
}

impl Pay {
    /// Builds the payment domain and its notification deliverer.
    pub(crate) fn build(foundation: &Foundation<'_>) -> anyhow::Result<Self> {
        let config = foundation.config;
        let data_dir = foundation.data_dir;
        let wall_clock = foundation.wall_clock.clone();
        let platform = Arc::new(data_dir.platform(wall_clock.now().unix_ms().div_euclid(1_000))?);
        let pay_secret = data_dir.secret(PAY_SECRET_FILE)?;
        let sealer =
            plaza_pay::sealing::KeySealer::from_hex(&data_dir.secret(SEALING_KEY_FILE)?)
                .with_context(|| format!("{SEALING_KEY_FILE} in {}", config.data_dir.display()))?;
        let outbound = Arc::new(outbound_policy(config));
        let store = foundation.store.clone();
        let pay = Arc::new(
            PayService::new(
                store.clone(),
                store,
                foundation.clock.clone(),
                pay_secret.as_bytes().to_vec(),
                sealer,
            )
            .with_outbound_policy(OutboundPolicy::clone(&outbound)),
        );
        let deliverer = Arc::new(DeliverNotification {
            pay: pay.clone(),
            platform: platform.clone(),
            wall_clock: wall_clock.clone(),
            client: DeliverNotification::client(outbound.clone())?,
            outbound,
        });
        let token_secret: Arc<[u8]> = format!("bill-token\n{pay_secret}").into_bytes().into();
        let web = Arc::new(PayWeb::new(
            pay.clone(),
            foundation.store.clone(),
            token_secret.clone(),
            wall_clock.clone(),
        ));
        Ok(Self {
            pay,
            platform,
            wall_clock,
            deliverer,
            token_secret,
            web,
            sandbox: config.sandbox,
        })
    }
}

impl Pay {
    /// The payment domain, for the ports other systems reach it through.
    pub(crate) fn service(&self) -> Arc<PayService> {
        self.pay.clone()
    }
}

/// Which hosts merchants may have Plaza call: any in the sandbox; otherwise public ones
/// and the configured internal names, never Plaza's own listen address or public host.
pub(crate) fn outbound_policy(config: &Config) -> OutboundPolicy {
    if config.sandbox {
        return OutboundPolicy::sandbox();
    }
    let mut own_hosts = Vec::new();
    if !config.listen.ip().is_unspecified() {
        own_hosts.push(config.listen.ip().to_string());
    }
    if let Some(host) = config
        .public_base_url
        .as_deref()
        .and_then(|base| reqwest::Url::parse(base).ok())
        .and_then(|base| base.host_str().map(str::to_owned))
    {
        own_hosts.push(host);
    }
    OutboundPolicy::production(&config.notify_allowed_internal_hosts, &own_hosts)
}

impl System for Pay {
    fn name(&self) -> &'static str {
        "pay"
    }

    fn jobs(&self) -> Vec<(&'static str, Arc<dyn JobHandler>)> {
        vec![
            (JOB_EXPIRE, Arc::new(ExpireOrder(self.pay.clone()))),
            (JOB_SETTLE, Arc::new(SettleDay(self.pay.clone()))),
            (
                plaza_pay::coupons::JOB_STOCK_END,
                Arc::new(EndStock(self.pay.clone())),
            ),
            (JOB_NOTIFY, self.deliverer.clone()),
            (
                plaza_pay::sandbox::JOB_AUTOPAY,
                Arc::new(RobotPay(self.pay.clone())),
            ),
        ]
    }

    fn start<'a>(&'a self, data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let sealed = self.pay.seal_stored_keys().await?;
            if sealed > 0 {
                tracing::warn!(
                    merchants = sealed,
                    "sealed the keys of merchants written before keys were sealed; their plain text can stay in the database's free pages: stop Plaza and run `sqlite3 plaza.sqlite3 VACUUM` (PostgreSQL: VACUUM FULL records) once"
                );
            }
            self.pay.load_scripts().await?;
            if self.sandbox {
                crate::sandbox_file::apply(&self.pay, data_dir).await?;
            }
            Ok(())
        })
    }

    fn nav(&self) -> &'static [NavEntry] {
        plaza_pay_http::NAV
    }

    fn sign_in(&self) -> Option<Arc<dyn SignIn>> {
        Some(self.web.clone())
    }

    fn user_app(&self) -> Option<Arc<dyn UserApp>> {
        Some(self.web.clone())
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        plaza_pay_http::PAY_ERROR_CODES
    }

    fn routes(&self, http: &HttpState) -> SystemRoutes {
        let surface = PaySurface {
            pay: self.pay.clone(),
            platform: self.platform.clone(),
            wall_clock: self.wall_clock.clone(),
            public_base_url: http.public_base_url.clone(),
            token_secret: self.token_secret.to_vec(),
            parsed_keys: std::sync::RwLock::default(),
        };
        let notification_actions = self
            .sandbox
            .then(|| self.deliverer.clone() as Arc<dyn NotificationActions>);
        plaza_pay_http::routes(PayState::new(PayStateParts {
            http: http.clone(),
            pay: Arc::new(surface),
            notification_actions,
        }))
    }
}
