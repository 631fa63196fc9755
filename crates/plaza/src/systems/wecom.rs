//! WeCom as a system: corps, their directory and apps, the WeCom server API's tokens,
//! app messages and appchat, and their surfaces.

use std::path::Path;
use std::sync::Arc;

use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_kernel::BoxFuture;
use plaza_pay::PayService;
use plaza_wecom::WeCom;
use plaza_wecom_http::{WeComState, WeComStateParts};

use super::{Foundation, System};
use crate::scheduler::JobHandler;

/// The data-directory file of the secret that keys WeCom's access tokens.
const WECOM_SECRET_FILE: &str = "wecom.secret";

/// WeCom, built.
pub(crate) struct WeComSystem {
    wecom: Arc<WeCom>,
}

impl WeComSystem {
    /// Builds the domain over the store, sharing Pay's identity (one instance for every
    /// system keeps its caches exact).
    pub(crate) fn build(foundation: &Foundation<'_>, pay: &PayService) -> anyhow::Result<Self> {
        let secret = foundation.data_dir.secret(WECOM_SECRET_FILE)?;
        let wecom = WeCom::new(
            foundation.store.clone(),
            foundation.store.clone(),
            foundation.clock.clone(),
            pay.identity().clone(),
            secret.as_bytes(),
        );
        Ok(Self {
            wecom: Arc::new(wecom),
        })
    }
}

impl System for WeComSystem {
    fn name(&self) -> &'static str {
        "wecom"
    }

    fn jobs(&self) -> Vec<(&'static str, Arc<dyn JobHandler>)> {
        Vec::new()
    }

    fn start<'a>(&'a self, _data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn nav(&self) -> &'static [NavEntry] {
        &[]
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        plaza_wecom_http::WECOM_ERROR_CODES
    }

    fn routes(&self, http: &HttpState) -> SystemRoutes {
        plaza_wecom_http::routes(WeComState::new(WeComStateParts {
            http: http.clone(),
            wecom: self.wecom.clone(),
        }))
    }
}
