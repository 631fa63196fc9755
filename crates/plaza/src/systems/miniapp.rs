//! Mini Programs as a system: developers' apps, the server API's tokens and logins, and
//! their surfaces. Pay's merchants reach it through the `Merchants` port, filled here.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use plaza_http::web::UserApp;
use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_identity::Identity;
use plaza_kernel::BoxFuture;
use plaza_miniapp::{MerchantRefusal, Merchants, MiniAppLimits, MiniApps};
use plaza_miniapp_http::{MiniAppState, MiniAppStateParts, MiniAppWeb};
use plaza_pay::{PayError, PayService};

use super::{Foundation, IDENTITY_SECRET_FILE, System};
use crate::scheduler::JobHandler;

/// The data-directory file of the secret that keys access tokens and seals login codes.
const MINIAPP_SECRET_FILE: &str = "miniapp.secret";

/// The data-directory folder of the object store (packages by content address).
const OBJECTS_DIR: &str = "objects";

/// Mini Programs, built.
pub(crate) struct MiniProgram {
    miniapps: Arc<MiniApps>,
}

impl MiniProgram {
    /// Builds the domain over the store, with Pay's merchants behind its port.
    pub(crate) fn build(foundation: &Foundation<'_>, pay: Arc<PayService>) -> anyhow::Result<Self> {
        let data_dir = foundation.data_dir;
        let store = foundation.store.clone();
        let identity = Arc::new(Identity::new(
            store.clone(),
            store.clone(),
            foundation.clock.clone(),
            data_dir.secret(IDENTITY_SECRET_FILE)?.into_bytes(),
        ));
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
        .with_merchants(Arc::new(PayMerchants(pay)));
        Ok(Self {
            miniapps: Arc::new(miniapps),
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
}

impl System for MiniProgram {
    fn name(&self) -> &'static str {
        "miniapp"
    }

    fn jobs(&self) -> Vec<(&'static str, Arc<dyn JobHandler>)> {
        Vec::new()
    }

    fn start<'a>(&'a self, _data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn nav(&self) -> &'static [NavEntry] {
        plaza_miniapp_http::NAV
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
        }))
    }
}
