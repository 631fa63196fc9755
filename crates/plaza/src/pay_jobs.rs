//! The payment domain's jobs: closing expired orders, settling merchant days, and
//! delivering notifications to merchants' `notify_url`s on WeChat's retry schedule.

use std::sync::Arc;
use std::time::{Duration, Instant};

use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Clock;
use plaza_kernel::queue::Job;
use plaza_pay::model::{AttemptTrigger, DeliveryAttempt, DeliveryState, Notification};
use plaza_pay::outbound::OutboundPolicy;
use plaza_pay::sandbox::{FaultPlan, REORDER_HOLD_MS, ReorderDecision};
use plaza_pay::service::next_retry_at;
use plaza_pay::{NotifyOutcome, PayError, PayService};
use plaza_pay_http::NotificationActions;
use plaza_pay_http::pay_v3::Platform;
use plaza_pay_http::pay_v3::wire::sign_notification;

use crate::outbound::{check_target, refusal_in};
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

/// `sandbox.autopay`: the robot payer pays an order a sandbox script says it pays.
pub(crate) struct RobotPay(pub(crate) Arc<PayService>);

impl JobHandler for RobotPay {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            match self.0.robot_pay(&job.payload).await {
                // A scripted failure is the outcome the script asked for.
                Ok(_) | Err(PayError::PaymentFailed { .. } | PayError::OrderNotFound) => Ok(()),
                Err(PayError::WalletBalanceNotEnough { .. }) => Ok(()),
                Err(error) => Err(JobFailure::Retry(error.to_string())),
            }
        })
    }
}

/// `pay.notify`: one delivery attempt of a notification; also the sandbox's "resend",
/// "replay" and "send edited" actions, and the faults a sandbox injects.
pub(crate) struct DeliverNotification {
    pub(crate) pay: Arc<PayService>,
    pub(crate) platform: Arc<Platform>,
    pub(crate) wall_clock: Arc<dyn Clock>,
    pub(crate) client: reqwest::Client,
    /// Which hosts may be called; the client's resolver checks the same policy.
    pub(crate) outbound: Arc<OutboundPolicy>,
}

/// One request as it goes on the wire.
struct Outgoing {
    body: String,
    headers: Vec<(String, String)>,
}

/// What came of sending one request.
struct Answer {
    status: Option<u16>,
    response_body: Option<String>,
    error: Option<String>,
    latency_ms: u64,
    /// Whether the request went out (a refused target sends nothing).
    sent: bool,
}

impl Answer {
    fn delivered(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

impl DeliverNotification {
    /// The HTTP client of deliveries: HTTPS through rustls (aws-lc-rs) trusting the
    /// system's certificate store, a 5 s timeout, no redirects, no proxy, and names
    /// resolved through [`CheckedResolver`] under `outbound`.
    pub(crate) fn client(outbound: Arc<OutboundPolicy>) -> anyhow::Result<reqwest::Client> {
        crate::outbound::checked_client(
            outbound,
            NOTIFY_TIMEOUT,
            concat!("Plaza-Notify/", env!("CARGO_PKG_VERSION")),
        )
    }

    /// Encrypts and signs `notification` for sending now (`edited` replaces its
    /// resource), with a broken signature when `bad_signature`.
    async fn sign(
        &self,
        notification: &Notification,
        edited: Option<&str>,
        bad_signature: bool,
    ) -> Result<Outgoing, PayError> {
        let Some(merchant) = self.pay.merchant(&notification.mchid).await? else {
            return Err(PayError::MerchantNotFound {
                mchid: notification.mchid.clone(),
            });
        };
        let now_s = self.wall_clock.now().unix_ms().div_euclid(1_000);
        let signed = sign_notification(
            notification,
            &merchant.apiv3_key,
            merchant.sign_mode,
            &self.platform,
            now_s,
            edited,
        )
        .map_err(|reason| PayError::Unavailable { reason })?;
        let mut headers: Vec<(String, String)> = signed
            .headers
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        if bad_signature {
            for (name, value) in &mut headers {
                if name.eq_ignore_ascii_case("Wechatpay-Signature") {
                    *value = spoil_signature(value);
                }
            }
        }
        Ok(Outgoing {
            body: signed.body,
            headers,
        })
    }

    async fn post(&self, url: &str, outgoing: &Outgoing) -> Answer {
        if let Err(refused) = check_target(&self.outbound, url) {
            return Answer {
                status: None,
                response_body: None,
                error: Some(refused.to_string()),
                latency_ms: 0,
                sent: false,
            };
        }
        let started = Instant::now();
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(outgoing.body.clone());
        for (name, value) in &outgoing.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let (status, response_body, error, sent) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = match response.text().await {
                    Ok(text) => text.chars().take(RESPONSE_BODY_KEPT_BYTES).collect(),
                    Err(error) => format!("(unreadable answer: {error})"),
                };
                (Some(status), Some(body), None, true)
            }
            Err(error) => match refusal_in(&error) {
                Some(refused) => (None, None, Some(refused), false),
                None => (None, None, Some(describe(&error)), true),
            },
        };
        Answer {
            status,
            response_body,
            error,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            sent,
        }
    }

    fn record(
        &self,
        sent_at: plaza_kernel::clock::Timestamp,
        outgoing: &Outgoing,
        answer: &Answer,
        trigger: AttemptTrigger,
        fault: Option<String>,
    ) -> DeliveryAttempt {
        DeliveryAttempt {
            sent_at,
            request_body: outgoing.body.clone(),
            status: answer.status,
            response_body: answer.response_body.clone(),
            error: answer.error.clone(),
            latency_ms: answer.latency_ms,
            request_headers: outgoing.headers.clone(),
            trigger,
            fault,
            sent: answer.sent,
        }
    }

    /// What the retry schedule does after a try that did (not) reach the merchant.
    fn next(&self, notification: &Notification, delivered: bool) -> NotifyOutcome {
        if delivered {
            return NotifyOutcome::Delivered;
        }
        match next_retry_at(notification.scheduled_attempts() + 1, self.pay.now()) {
            Some(at) => NotifyOutcome::RetryAt(at),
            None => NotifyOutcome::GaveUp,
        }
    }

    /// The merchant's fault plan, when it applies to this notification.
    async fn faults_for(&self, notification: &Notification) -> Result<Option<FaultPlan>, PayError> {
        Ok(self
            .pay
            .faults(&notification.mchid)
            .await?
            .filter(|plan| plan.applies_to(&notification.notify_url)))
    }

    /// One try of the retry schedule (a job, or a sandbox "resend now"), with the
    /// merchant's faults; returns the notification after it and the outcome.
    #[expect(
        clippy::too_many_lines,
        reason = "one delivery try with each fault of the merchant's plan applied in the order WeChat's would meet them"
    )]
    async fn scheduled_try(
        &self,
        id: &str,
        trigger: AttemptTrigger,
        note: Option<String>,
    ) -> Result<(Notification, Option<NotifyOutcome>), PayError> {
        let Some(notification) = self.pay.notification(id).await? else {
            return Err(PayError::rule(format!("notification {id} does not exist")));
        };
        if notification.state != DeliveryState::Pending {
            return Ok((notification, None));
        }
        let plan = self.faults_for(&notification).await?;
        let tries = notification.scheduled_attempts();
        let mut faults: Vec<String> = note.into_iter().collect();
        let mut release = None;
        if let Some(plan) = &plan
            && plan.reorder
            && tries == 0
            && trigger == AttemptTrigger::Scheduled
            && faults.is_empty()
        {
            if notification.held_until.is_some() {
                self.pay.release_hold(&notification.mchid, id).await?;
                faults.push(format!(
                    "held back for reorder; nothing overtook it within {} s",
                    REORDER_HOLD_MS / 1_000
                ));
            } else {
                match self.pay.reorder(&notification.mchid, id).await? {
                    ReorderDecision::Hold(until) => {
                        let held = self.pay.notification(id).await?.unwrap_or(notification);
                        return Ok((held, Some(NotifyOutcome::RetryAt(until))));
                    }
                    ReorderDecision::SendThenRelease(held) => release = Some(held),
                    ReorderDecision::Send => {}
                }
            }
        }
        let sent_at = self.pay.now();
        if let Some(plan) = &plan
            && u32::try_from(tries).unwrap_or(u32::MAX) < plan.drop_first
        {
            let outcome = self.next(&notification, false);
            faults.push(format!(
                "dropped: nothing sent (fault: drop the first {} attempts)",
                plan.drop_first
            ));
            let attempt = DeliveryAttempt {
                sent_at,
                request_body: String::new(),
                status: None,
                response_body: None,
                error: Some("dropped by fault injection".to_owned()),
                latency_ms: 0,
                request_headers: Vec::new(),
                trigger,
                fault: Some(faults.join("; ")),
                sent: false,
            };
            let after = self.pay.record_attempt(id, attempt, Some(outcome)).await?;
            self.release(release, id).await;
            return Ok((after, Some(outcome)));
        }
        let bad_signature = plan.as_ref().is_some_and(|plan| {
            u32::try_from(tries).unwrap_or(u32::MAX) < plan.bad_signature_first
        });
        if bad_signature {
            faults.push("sent with a bad Wechatpay-Signature".to_owned());
        }
        if let Some(plan) = &plan
            && plan.delay_ms > 0
        {
            tokio::time::sleep(Duration::from_millis(plan.delay_ms)).await;
            faults.push(format!("delayed {} ms", plan.delay_ms));
        }
        let outgoing = self.sign(&notification, None, bad_signature).await?;
        let answer = self.post(&notification.notify_url, &outgoing).await;
        let duplicate = plan.as_ref().is_some_and(|plan| plan.duplicate);
        let mut delivered = answer.delivered();
        let fault = (!faults.is_empty()).then(|| faults.join("; "));
        let mut after = if duplicate {
            // The same bytes twice; the copy is recorded as a duplicate, which does
            // not count as a try of the retry schedule.
            let attempt = self.record(sent_at, &outgoing, &answer, trigger, fault.clone());
            let copy = self.post(&notification.notify_url, &outgoing).await;
            delivered |= copy.delivered();
            let outcome = self.next(&notification, delivered);
            self.pay.record_attempt(id, attempt, Some(outcome)).await?;
            let copy_attempt = self.record(
                self.pay.now(),
                &outgoing,
                &copy,
                AttemptTrigger::Duplicate,
                Some("duplicate: the same request sent again".to_owned()),
            );
            self.pay.record_attempt(id, copy_attempt, None).await?
        } else {
            let outcome = self.next(&notification, delivered);
            let attempt = self.record(sent_at, &outgoing, &answer, trigger, fault);
            self.pay.record_attempt(id, attempt, Some(outcome)).await?
        };
        self.release(release, id).await;
        if let Some(latest) = self.pay.notification(id).await? {
            after = latest;
        }
        let outcome = match after.state {
            DeliveryState::Delivered => NotifyOutcome::Delivered,
            DeliveryState::Failed => NotifyOutcome::GaveUp,
            DeliveryState::Pending => match after.next_attempt_at {
                Some(at) => NotifyOutcome::RetryAt(at),
                None => NotifyOutcome::GaveUp,
            },
        };
        Ok((after, Some(outcome)))
    }

    /// A reorder fault's held notification, overtaken by `by`: sent right after it.
    async fn release(&self, held: Option<String>, by: &str) {
        let Some(held) = held else { return };
        let note = format!("reordered: held back, then sent after {by}");
        let result =
            Box::pin(self.scheduled_try(&held, AttemptTrigger::Scheduled, Some(note))).await;
        if let Err(error) = result {
            tracing::warn!(notification = %held, %error, "releasing a held notification failed");
        }
    }

    async fn attempt(&self, id: &str) -> Result<(), JobFailure> {
        let (notification, outcome) =
            self.scheduled_try(id, AttemptTrigger::Scheduled, None)
                .await
                .map_err(|error| match error {
                    PayError::InvalidRequest { reason }
                    | PayError::Invalid { issue: reason, .. } => JobFailure::GiveUp(reason),
                    PayError::MerchantNotFound { mchid } => {
                        JobFailure::GiveUp(format!("merchant {mchid} is gone"))
                    }
                    other => JobFailure::Retry(other.to_string()),
                })?;
        let why = notification
            .attempts
            .last()
            .and_then(|attempt| {
                attempt.error.clone().or(attempt
                    .status
                    .map(|status| format!("merchant answered {status}")))
            })
            .unwrap_or_else(|| "held back".to_owned());
        match outcome {
            None | Some(NotifyOutcome::Delivered) => Ok(()),
            Some(NotifyOutcome::RetryAt(due_at)) => Err(JobFailure::RetryAt { due_at, error: why }),
            Some(NotifyOutcome::GaveUp) => Err(JobFailure::GiveUp(format!(
                "no 2xx after {} attempts: {why}",
                notification.scheduled_attempts()
            ))),
        }
    }

    /// Sandbox "replay" (the notification as it is, signed anew) or "send edited"
    /// (`edited` replaces the resource): one request outside the retry schedule. A
    /// replay that reaches the merchant marks a pending or failed notification
    /// delivered; an edited send changes nothing but the list of attempts.
    async fn send_outside_schedule(
        &self,
        id: &str,
        edited: Option<String>,
    ) -> Result<Notification, PayError> {
        let Some(notification) = self.pay.notification(id).await? else {
            return Err(PayError::rule(format!("notification {id} does not exist")));
        };
        let outgoing = self.sign(&notification, edited.as_deref(), false).await?;
        let sent_at = self.pay.now();
        let answer = self.post(&notification.notify_url, &outgoing).await;
        let (trigger, outcome) = match edited {
            Some(_) => (AttemptTrigger::Edited, None),
            None => (
                AttemptTrigger::Replay,
                (answer.delivered() && notification.state != DeliveryState::Delivered)
                    .then_some(NotifyOutcome::Delivered),
            ),
        };
        let attempt = self.record(sent_at, &outgoing, &answer, trigger, None);
        self.pay.record_attempt(id, attempt, outcome).await
    }
}

/// Breaks a base64 signature while keeping it well-formed: its first characters are
/// changed, so verification fails but parsing does not.
fn spoil_signature(signature: &str) -> String {
    let mut spoiled: Vec<char> = signature.chars().collect();
    for character in spoiled.iter_mut().take(8) {
        *character = if *character == 'A' { 'B' } else { 'A' };
    }
    spoiled.into_iter().collect()
}

impl NotificationActions for DeliverNotification {
    fn resend(&self, id: String) -> BoxFuture<'_, Result<Notification, PayError>> {
        Box::pin(async move {
            let Some(notification) = self.pay.notification(&id).await? else {
                return Err(PayError::rule(format!("notification {id} does not exist")));
            };
            if notification.state != DeliveryState::Pending {
                return Err(PayError::rule(format!(
                    "notification {id} is {}; resend is for pending ones — use replay",
                    notification.state.as_str()
                )));
            }
            let (after, _) = self
                .scheduled_try(
                    &id,
                    AttemptTrigger::Resend,
                    Some("sent now from the console".to_owned()),
                )
                .await?;
            Ok(after)
        })
    }

    fn replay(&self, id: String) -> BoxFuture<'_, Result<Notification, PayError>> {
        Box::pin(async move { self.send_outside_schedule(&id, None).await })
    }

    fn send_edited(
        &self,
        id: String,
        plaintext: String,
    ) -> BoxFuture<'_, Result<Notification, PayError>> {
        Box::pin(async move { self.send_outside_schedule(&id, Some(plaintext)).await })
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
