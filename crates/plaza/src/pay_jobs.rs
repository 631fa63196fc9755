//! The payment domain's jobs: closing expired orders, settling merchant days, and
//! delivering notifications to merchants' `notify_url`s on WeChat's retry schedule.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plaza_api::pay_v3::Platform;
use plaza_api::pay_v3::wire::sign_notification;
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Clock;
use plaza_kernel::queue::Job;
use plaza_pay::model::{DeliveryAttempt, DeliveryState};
use plaza_pay::service::next_retry_at;
use plaza_pay::{NotifyOutcome, PayService};

use crate::scheduler::{JobFailure, JobHandler};

/// How long a merchant has to answer a notification, as WeChat allows.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// The part of a merchant's answer kept with the attempt.
const RESPONSE_BODY_KEPT_BYTES: usize = 1_024;

/// `pay.expire`: closes an order still unpaid at its `time_expire`.
pub(crate) struct ExpireOrder(pub(crate) Arc<PayService>);

impl JobHandler for ExpireOrder {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            self.0
                .expire(&job.payload)
                .await
                .map_err(|error| JobFailure::Retry(error.to_string()))
        })
    }
}

/// `pay.settle`: moves a merchant's day to its available balance, books the fees.
pub(crate) struct SettleDay(pub(crate) Arc<PayService>);

impl JobHandler for SettleDay {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            self.0
                .settle_job(&job.payload)
                .await
                .map_err(|error| JobFailure::Retry(error.to_string()))
        })
    }
}

/// `pay.stock_end`: a coupon stock's window ended — expire unused coupons, return the
/// rest of the budget.
pub(crate) struct EndStock(pub(crate) Arc<PayService>);

impl JobHandler for EndStock {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            self.0
                .end_stock(&job.payload)
                .await
                .map_err(|error| JobFailure::Retry(error.to_string()))
        })
    }
}

/// `pay.notify`: one delivery attempt of a notification.
pub(crate) struct DeliverNotification {
    pub(crate) pay: Arc<PayService>,
    pub(crate) platform: Arc<Platform>,
    pub(crate) wall_clock: Arc<dyn Clock>,
    pub(crate) client: reqwest::Client,
}

impl DeliverNotification {
    /// The HTTP client of deliveries: HTTPS through rustls (aws-lc-rs) trusting the
    /// system's certificate store, a 5 s timeout, no redirects, no proxy.
    pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "reading the system's certificate store");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "trusted certificates for https notify_urls");
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(NOTIFY_TIMEOUT)
            .connect_timeout(NOTIFY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Plaza-Notify/", env!("CARGO_PKG_VERSION")))
            .build()?)
    }

    async fn attempt(&self, id: &str) -> Result<(), JobFailure> {
        let failure = |error: plaza_pay::PayError| JobFailure::Retry(error.to_string());
        let Some(notification) = self.pay.notification(id).await.map_err(failure)? else {
            return Err(JobFailure::GiveUp(format!(
                "notification {id} does not exist"
            )));
        };
        if notification.state != DeliveryState::Pending {
            return Ok(());
        }
        let Some(merchant) = self
            .pay
            .merchant(&notification.mchid)
            .await
            .map_err(failure)?
        else {
            return Err(JobFailure::GiveUp(format!(
                "merchant {} is gone",
                notification.mchid
            )));
        };
        let now_s = self.wall_clock.now().unix_ms().div_euclid(1_000);
        let signed = sign_notification(
            &notification,
            &merchant.apiv3_key,
            merchant.sign_mode,
            &self.platform,
            now_s,
        )
        .map_err(JobFailure::Retry)?;
        let sent_at = self.pay.now();
        let started = Instant::now();
        let mut request = self
            .client
            .post(&notification.notify_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(signed.body.clone());
        for (name, value) in &signed.headers {
            request = request.header(*name, value);
        }
        let (status, response_body, error) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = match response.text().await {
                    Ok(text) => text.chars().take(RESPONSE_BODY_KEPT_BYTES).collect(),
                    Err(error) => format!("(unreadable answer: {error})"),
                };
                (Some(status), Some(body), None)
            }
            Err(error) => (None, None, Some(describe(&error))),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let delivered = status.is_some_and(|status| (200..300).contains(&status));
        let attempts_after = notification.attempts.len() + 1;
        let outcome = if delivered {
            NotifyOutcome::Delivered
        } else {
            match next_retry_at(attempts_after, self.pay.now()) {
                Some(at) => NotifyOutcome::RetryAt(at),
                None => NotifyOutcome::GaveUp,
            }
        };
        let attempt = DeliveryAttempt {
            sent_at,
            request_body: signed.body,
            status,
            response_body,
            error: error.clone(),
            latency_ms,
        };
        self.pay
            .record_attempt(id, attempt, outcome)
            .await
            .map_err(failure)?;
        let why = error.unwrap_or_else(|| format!("merchant answered {}", status.unwrap_or(0)));
        match outcome {
            NotifyOutcome::Delivered => Ok(()),
            NotifyOutcome::RetryAt(due_at) => Err(JobFailure::RetryAt { due_at, error: why }),
            NotifyOutcome::GaveUp => Err(JobFailure::GiveUp(format!(
                "no 2xx after {attempts_after} attempts: {why}"
            ))),
        }
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", NOTIFY_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "connection refused or unreachable".to_owned()
    } else {
        format!("request failed: {error}")
    }
}

impl JobHandler for DeliverNotification {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(self.attempt(&job.payload))
    }

    fn concurrent(&self) -> bool {
        true
    }
}
