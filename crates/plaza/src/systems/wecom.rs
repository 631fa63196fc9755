//! WeCom as a system: corps, their directory and apps, the WeCom server API's tokens,
//! app messages and appchat, customer contact and groups, hand-overs and callbacks to
//! corps' servers, and their surfaces.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use plaza_http::web::UserApp;
use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_kernel::BoxFuture;
use plaza_kernel::queue::Job;
use plaza_pay::PayService;
use plaza_pay::outbound::OutboundPolicy;
use plaza_wecom::WeCom;
use plaza_wecom::events::DeliveryFailure;
use plaza_wecom::ports::{CallbackAnswer, CallbackRequest, CallbackSender};
use plaza_wecom_http::{WeComState, WeComStateParts};

use super::{Foundation, OBJECTS_DIR, System, WECOM_SECRET_FILE};
use crate::scheduler::{JobFailure, JobHandler};

/// How long a corp's server may take to answer a callback (WeCom waits 5 s for events;
/// a URL verification must answer within 1 s there — Plaza is kinder to local servers).
const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Callbacks sent through the outbound policy Pay's notifications follow (in the sandbox
/// any host; otherwise no internal address unless allowed).
struct HttpCallbacks {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl CallbackSender for HttpCallbacks {
    fn send(&self, request: CallbackRequest) -> BoxFuture<'_, Result<CallbackAnswer, String>> {
        Box::pin(async move {
            crate::outbound::check_target(&self.policy, &request.url)
                .map_err(|refused| refused.0)?;
            let builder = if request.method == "GET" {
                self.client.get(&request.url)
            } else {
                self.client
                    .post(&request.url)
                    .header("content-type", "text/xml; charset=utf-8")
                    .body(request.body)
            };
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
            let body = response
                .text()
                .await
                .map_err(|_| "network error".to_owned())?;
            Ok(CallbackAnswer { status, body })
        })
    }
}

/// `wecom.callback`: delivers one event to the corp's server.
struct DeliverCallback(Arc<WeCom>);

impl JobHandler for DeliverCallback {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            match self.0.deliver(&job.payload).await {
                Ok(()) => Ok(()),
                Err(DeliveryFailure::Retry(error)) => Err(JobFailure::Retry(error)),
                Err(DeliveryFailure::Nothing(reason)) => {
                    tracing::debug!(event = %job.payload, %reason, "wecom callback not sent");
                    Ok(())
                }
            }
        })
    }

    fn concurrent(&self) -> bool {
        true
    }
}

/// `wecom.transfer`: a customer's hand-over completes.
struct CompleteTransfer(Arc<WeCom>);

impl JobHandler for CompleteTransfer {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            self.0
                .complete_transfer(&job.payload)
                .await
                .map_err(|error| JobFailure::Retry(error.to_string()))
        })
    }
}

/// WeCom, built.
pub(crate) struct WeComSystem {
    wecom: Arc<WeCom>,
}

impl WeComSystem {
    /// Builds the domain over the store, sharing Pay's identity (one instance for every
    /// system keeps its caches exact).
    /// The domain, for systems that read it (Search's catalog).
    pub(crate) fn wecom(&self) -> Arc<WeCom> {
        self.wecom.clone()
    }

    pub(crate) fn build(
        foundation: &Foundation<'_>,
        pay: &PayService,
        fanout: plaza_fanout::SharedFanOut,
    ) -> anyhow::Result<Self> {
        let secret = foundation.data_dir.secret(WECOM_SECRET_FILE)?;
        let policy = Arc::new(super::pay::outbound_policy(foundation.config));
        let client = crate::outbound::checked_client(
            policy.clone(),
            CALLBACK_TIMEOUT,
            concat!("Plaza-WeCom/", env!("CARGO_PKG_VERSION")),
        )?;
        let wecom = WeCom::new(
            foundation.store.clone(),
            foundation.store.clone(),
            foundation.store.clone(),
            foundation.clock.clone(),
            pay.identity().clone(),
            secret.as_bytes(),
        )
        .with_callbacks(Arc::new(HttpCallbacks { client, policy }))
        .with_fanout(fanout)
        .with_objects(Arc::new(
            plaza_store::objects::LocalObjects::open(foundation.config.data_dir.join(OBJECTS_DIR))
                .with_context(|| format!("the object store under {OBJECTS_DIR}/"))?,
        ));
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
        vec![
            (
                plaza_wecom::events::JOB_CALLBACK,
                Arc::new(DeliverCallback(self.wecom.clone())),
            ),
            (
                plaza_wecom::transfer::JOB_TRANSFER,
                Arc::new(CompleteTransfer(self.wecom.clone())),
            ),
        ]
    }

    fn start<'a>(&'a self, _data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(self.wecom.upgrade_stored().await?) })
    }

    fn nav(&self) -> &'static [NavEntry] {
        plaza_wecom_http::NAV
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        plaza_wecom_http::WECOM_ERROR_CODES
    }

    fn user_app(&self) -> Option<Arc<dyn UserApp>> {
        Some(Arc::new(plaza_wecom_http::WeComWeb::new(
            self.wecom.clone(),
        )))
    }

    fn routes(&self, http: &HttpState) -> SystemRoutes {
        plaza_wecom_http::routes(WeComState::new(WeComStateParts {
            http: http.clone(),
            wecom: self.wecom.clone(),
        }))
    }
}
