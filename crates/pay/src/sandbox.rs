//! Sandbox powers in the payment domain: fault plans for a merchant's notification
//! deliveries, scripted outcomes for its orders and refunds, and the robot payer that
//! plays the payer for unattended runs.
//!
//! None of this changes how money moves: a scripted success is an ordinary payment by a
//! real wallet (the robot's, or the order's payer's, topped up from the bank account by
//! exactly what is missing), a scripted failure moves nothing. The `api` crate offers
//! these only in sandbox mode.
//!
//! Scripts take part in orders, payments and refunds as a payment hook (`Sandbox`,
//! which also keeps them cached): the payment core knows the hook, not the sandbox.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::NewJob;
use plaza_kernel::record::{Expect, IndexEntry};
use serde::{Deserialize, Serialize};

use crate::error::PayError;
use crate::hooks::{FailedAttempt, FailedRefund, PaymentHook};
use crate::ids;
use crate::model::{CouponChoice, Notification, Order, TradeState};
use crate::service::{
    CONFLICT_RETRIES_MAX, NOTIFY_RETRY_DELAYS_S, PayService, check_notify_url, notification_write,
    order_write, sha256_hex,
};
use crate::store::{self, index, kind, load, time_value};

/// `sandbox.autopay`: the robot payer pays an order (payload: the order's key).
pub const JOB_AUTOPAY: &str = "sandbox.autopay";

/// The longest a delivery may be delayed on purpose.
pub const FAULT_DELAY_MS_MAX: u64 = 60_000;
/// Attempts a fault may drop or sign badly at most (the retry schedule has 16 tries).
pub const FAULT_ATTEMPTS_MAX: u32 = 16;

// Every try of the schedule: the first, and one per retry delay.
const _: () = assert!(FAULT_ATTEMPTS_MAX as usize == NOTIFY_RETRY_DELAYS_S.len() + 1);
/// How long a "reorder" fault holds a notification back, waiting for a later one.
pub const REORDER_HOLD_MS: i64 = 60_000;
/// Rules in one merchant's script at most.
pub const SCRIPT_RULES_MAX: usize = 64;
/// Queries a scripted `USERPAYING` order can answer at most before it is paid.
pub const SCRIPT_POLLS_MAX: u32 = 100;
/// The longest auto-pay delay (a day).
pub const AUTO_PAY_AFTER_S_MAX: u64 = 86_400;

/// How a merchant's notification deliveries misbehave on purpose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Only deliveries to this URL; every one of the merchant's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    /// Wait this long before sending each attempt.
    #[serde(default)]
    pub delay_ms: u64,
    /// Send each attempt twice, the same request byte for byte.
    #[serde(default)]
    pub duplicate: bool,
    /// Hold each notification back until the next one overtakes it (or a minute).
    #[serde(default)]
    pub reorder: bool,
    /// Send nothing for the first N attempts of each notification (they count as
    /// failed tries of the retry schedule).
    #[serde(default)]
    pub drop_first: u32,
    /// Sign the first N attempts of each notification wrongly.
    #[serde(default)]
    pub bad_signature_first: u32,
    /// The notification a reorder fault holds back now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

impl FaultPlan {
    fn check(&self) -> Result<(), PayError> {
        if let Some(url) = &self.notify_url {
            check_notify_url("notify_url", url)?;
        }
        if self.delay_ms > FAULT_DELAY_MS_MAX {
            return Err(PayError::invalid(
                "delay_ms",
                format!("at most {FAULT_DELAY_MS_MAX} ms"),
            ));
        }
        for (field, value) in [
            ("drop_first", self.drop_first),
            ("bad_signature_first", self.bad_signature_first),
        ] {
            if value > FAULT_ATTEMPTS_MAX {
                return Err(PayError::invalid(
                    field,
                    format!("at most {FAULT_ATTEMPTS_MAX} attempts"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the plan applies to deliveries to `notify_url`.
    pub fn applies_to(&self, notify_url: &str) -> bool {
        self.notify_url
            .as_deref()
            .is_none_or(|url| url == notify_url)
    }
}

/// What a reorder fault decides for a notification about to be tried the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReorderDecision {
    /// Hold this one back until the given time.
    Hold(Timestamp),
    /// Send this one, then the one that was held (it has been overtaken).
    SendThenRelease(String),
    /// Send it as usual.
    Send,
}

/// What a scripted order's payment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptedPayment {
    /// `USERPAYING` for `polls` queries, then paid by the robot payer.
    Userpaying,
    /// Every payment attempt fails: the order ends `PAYERROR`, nothing is paid.
    Payerror,
    /// Every payment attempt is refused for want of balance; the order stays payable.
    NotEnough,
}

/// What a refund of a scripted order does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptedRefund {
    /// The refund is accepted and ends `ABNORMAL` (`REFUND.ABNORMAL`); no money moves.
    Abnormal,
    /// The refund is refused with `NOT_ENOUGH`.
    NotEnough,
}

/// One rule of a merchant's script: which orders it matches and what they do. Every
/// condition given must hold; a rule with none matches every order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptRule {
    /// The order's total is exactly this many fen.
    #[serde(default, rename = "amount", skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    /// The order's total in fen ends with these digits: `"03"` matches ¥12.03.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_ends_with: Option<String>,
    /// The merchant's order number starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no_prefix: Option<String>,
    /// What paying does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<ScriptedPayment>,
    /// With `payment = "userpaying"`: queries answered `USERPAYING` before the order is
    /// paid (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<u32>,
    /// The robot payer pays the order this many seconds (sandbox clock) after it was
    /// created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_pay_after_s: Option<u64>,
    /// What refunds of the order do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<ScriptedRefund>,
}

impl ScriptRule {
    fn check(&self, at: usize) -> Result<(), PayError> {
        let field = |name: &str| format!("rules[{at}].{name}");
        if self.amount_minor.is_some_and(|amount| amount <= 0) {
            return Err(PayError::invalid(
                &field("amount"),
                "must be a positive number of fen",
            ));
        }
        if let Some(digits) = &self.amount_ends_with
            && (digits.is_empty()
                || digits.len() > 12
                || !digits.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(PayError::invalid(
                &field("amount_ends_with"),
                "must be 1 to 12 digits, e.g. \"03\" for amounts ending in 0.03",
            ));
        }
        if self
            .out_trade_no_prefix
            .as_ref()
            .is_some_and(|prefix| prefix.is_empty() || prefix.len() > 32)
        {
            return Err(PayError::invalid(
                &field("out_trade_no_prefix"),
                "must be 1 to 32 characters",
            ));
        }
        if let Some(polls) = self.polls {
            if self.payment != Some(ScriptedPayment::Userpaying) {
                return Err(PayError::invalid(
                    &field("polls"),
                    "only means something with payment = \"userpaying\"",
                ));
            }
            if polls > SCRIPT_POLLS_MAX {
                return Err(PayError::invalid(
                    &field("polls"),
                    format!("at most {SCRIPT_POLLS_MAX}"),
                ));
            }
        }
        if self
            .auto_pay_after_s
            .is_some_and(|after| after > AUTO_PAY_AFTER_S_MAX)
        {
            return Err(PayError::invalid(
                &field("auto_pay_after_s"),
                format!("at most {AUTO_PAY_AFTER_S_MAX} seconds"),
            ));
        }
        if self.payment.is_none() && self.auto_pay_after_s.is_none() && self.refund.is_none() {
            return Err(PayError::invalid(
                &format!("rules[{at}]"),
                "says nothing to do: give payment, auto_pay_after_s or refund",
            ));
        }
        Ok(())
    }

    /// Whether the rule matches an order of `total_minor` numbered `out_trade_no`.
    pub fn matches(&self, total_minor: i64, out_trade_no: &str) -> bool {
        self.amount_minor.is_none_or(|amount| amount == total_minor)
            && self.amount_ends_with.as_ref().is_none_or(|digits| {
                // Zero-padded, so that "03" matches ¥0.03 (3 fen) too.
                format!("{total_minor:0width$}", width = digits.len()).ends_with(digits.as_str())
            })
            && self
                .out_trade_no_prefix
                .as_ref()
                .is_none_or(|prefix| out_trade_no.starts_with(prefix.as_str()))
    }
}

/// A merchant's scripted outcomes: for each question (payment, auto-pay, refund) the
/// first rule that matches the order and answers it decides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The rules, in order.
    #[serde(default)]
    pub rules: Vec<ScriptRule>,
}

impl Script {
    /// Checks every rule.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] naming the rule and field.
    pub fn check(&self) -> Result<(), PayError> {
        if self.rules.len() > SCRIPT_RULES_MAX {
            return Err(PayError::invalid(
                "rules",
                format!("at most {SCRIPT_RULES_MAX} rules"),
            ));
        }
        self.rules
            .iter()
            .enumerate()
            .try_for_each(|(at, rule)| rule.check(at))
    }

    fn first<T>(
        &self,
        (total_minor, out_trade_no): (i64, &str),
        pick: impl Fn(&ScriptRule) -> Option<T>,
    ) -> Option<T> {
        self.rules
            .iter()
            .filter(|rule| rule.matches(total_minor, out_trade_no))
            .find_map(pick)
    }

    /// What paying `order` does, with the polls of a `userpaying` rule.
    pub fn payment(&self, order: &Order) -> Option<(ScriptedPayment, u32)> {
        self.first((order.total_minor, &order.out_trade_no), |rule| {
            rule.payment
                .map(|payment| (payment, rule.polls.unwrap_or(2)))
        })
    }

    /// When the robot payer pays `order`, in seconds after its creation.
    pub fn auto_pay_after_s(&self, order: &Order) -> Option<u64> {
        self.first((order.total_minor, &order.out_trade_no), |rule| {
            rule.auto_pay_after_s
        })
    }

    /// What refunds of `order` do.
    pub fn refund(&self, order: &Order) -> Option<ScriptedRefund> {
        self.first((order.total_minor, &order.out_trade_no), |rule| rule.refund)
    }
}

/// The robot payer's user id, kept under this key of [`kind::SANDBOX`].
const ROBOT_KEY: &str = "robot";

#[derive(Debug, Serialize, Deserialize)]
struct RobotRecord {
    user_id: String,
}

/// The sandbox in this process: its merchants' scripts, cached because every new order
/// asks (an unscripted sandbox costs one map lookup), and the payment hook through which
/// a script shapes new orders and makes payments and refunds fail. The service holds it
/// in its hook list.
#[derive(Debug, Default)]
pub(crate) struct Sandbox {
    /// Scripts by mchid (the store holds them).
    scripts: RwLock<HashMap<String, Arc<Script>>>,
}

impl Sandbox {
    /// Whether any merchant has a script (the hot paths skip everything else when not).
    fn any_script(&self) -> bool {
        self.scripts.read().is_ok_and(|scripts| !scripts.is_empty())
    }

    /// A merchant's script (empty when it has none).
    fn script(&self, mchid: &str) -> Arc<Script> {
        self.scripts
            .read()
            .ok()
            .and_then(|scripts| scripts.get(mchid).cloned())
            .unwrap_or_default()
    }

    fn cache_script(&self, mchid: &str, script: Script) {
        if let Ok(mut scripts) = self.scripts.write() {
            if script.rules.is_empty() {
                scripts.remove(mchid);
            } else {
                scripts.insert(mchid.to_owned(), Arc::new(script));
            }
        }
    }
}

impl PaymentHook for Sandbox {
    /// A scripted `USERPAYING` order starts so, and an auto-paid one gets its job.
    fn order_created(&self, order: &mut Order, jobs: &mut Vec<NewJob>) {
        if !self.any_script() {
            return;
        }
        let script = self.script(&order.mchid);
        if let Some((ScriptedPayment::Userpaying, polls)) = script.payment(order) {
            order.state = TradeState::Userpaying;
            order.scripted_polls = Some(polls);
        }
        if let Some(after_s) = script.auto_pay_after_s(order) {
            let key = order.key();
            jobs.push(NewJob {
                kind: JOB_AUTOPAY.to_owned(),
                key: key.clone(),
                payload: key,
                due_at: order
                    .created_at
                    .plus_ms(i64::try_from(after_s.saturating_mul(1_000)).unwrap_or(i64::MAX)),
            });
        }
    }

    /// A scripted `PAYERROR` or `NOT_ENOUGH`.
    fn payment_attempt(&self, order: &Order) -> Option<FailedAttempt> {
        if !self.any_script() {
            return None;
        }
        match self.script(&order.mchid).payment(order) {
            Some((ScriptedPayment::Payerror, _)) => Some(FailedAttempt::Payerror),
            Some((ScriptedPayment::NotEnough, _)) => Some(FailedAttempt::NotEnough),
            Some((ScriptedPayment::Userpaying, _)) | None => None,
        }
    }

    /// A scripted `ABNORMAL` or `NOT_ENOUGH`.
    fn refund_attempt(&self, order: &Order) -> Option<FailedRefund> {
        if !self.any_script() {
            return None;
        }
        self.script(&order.mchid)
            .refund(order)
            .map(|scripted| match scripted {
                ScriptedRefund::Abnormal => FailedRefund::Abnormal,
                ScriptedRefund::NotEnough => FailedRefund::NotEnough,
            })
    }
}

impl PayService {
    /// The sandbox hook this service was made with.
    fn sandbox(&self) -> Result<&Sandbox, PayError> {
        self.hook::<Sandbox>().ok_or_else(|| PayError::Unavailable {
            reason: "this payment service was made without the sandbox".to_owned(),
        })
    }

    // ---- fault plans -------------------------------------------------------------

    /// Sets (replaces) a merchant's fault plan; an empty plan clears it.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`], [`PayError::MerchantNotFound`].
    pub async fn set_faults(
        &self,
        mchid: &str,
        mut plan: FaultPlan,
    ) -> Result<FaultPlan, PayError> {
        plan.check()?;
        if self.merchant(mchid).await?.is_none() {
            return Err(PayError::MerchantNotFound {
                mchid: mchid.to_owned(),
            });
        }
        plan.held = None;
        let write = store::write(kind::SANDBOX_FAULTS, mchid, Expect::Any, &plan, vec![])?;
        self.try_commit_records(vec![write]).await?;
        Ok(plan)
    }

    /// A merchant's fault plan, if it has one.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn faults(&self, mchid: &str) -> Result<Option<FaultPlan>, PayError> {
        Ok(
            load::<FaultPlan>(&*self.records_port(), kind::SANDBOX_FAULTS, mchid)
                .await?
                .map(|(plan, _)| plan),
        )
    }

    /// Decides what a reorder fault does with notification `id` of `mchid` about to
    /// be tried for the first time.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`], [`PayError::Busy`].
    pub async fn reorder(&self, mchid: &str, id: &str) -> Result<ReorderDecision, PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut plan, version)) =
                load::<FaultPlan>(&*self.records_port(), kind::SANDBOX_FAULTS, mchid).await?
            else {
                return Ok(ReorderDecision::Send);
            };
            if !plan.reorder || plan.held.as_deref() == Some(id) {
                return Ok(ReorderDecision::Send);
            }
            let now = self.now();
            let (decision, held_until) = match plan.held.take() {
                Some(held) => (ReorderDecision::SendThenRelease(held), None),
                None => {
                    plan.held = Some(id.to_owned());
                    let until = now.plus_ms(REORDER_HOLD_MS);
                    (ReorderDecision::Hold(until), Some(until))
                }
            };
            let mut writes = vec![store::write(
                kind::SANDBOX_FAULTS,
                mchid,
                Expect::Version(version),
                &plan,
                vec![],
            )?];
            if let Some(until) = held_until
                && let Some((mut notification, version)) =
                    load::<Notification>(&*self.records_port(), kind::NOTIFICATION, id).await?
            {
                notification.held_until = Some(until);
                notification.next_attempt_at = Some(until);
                writes.push(notification_write(&notification, Expect::Version(version))?);
            }
            if self.try_commit_records(writes).await? {
                return Ok(decision);
            }
        }
        Err(PayError::Busy {
            what: "fault plan".to_owned(),
        })
    }

    /// Ends a reorder hold of notification `id`: it is sent now.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`], [`PayError::Busy`].
    pub async fn release_hold(&self, mchid: &str, id: &str) -> Result<(), PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut plan, version)) =
                load::<FaultPlan>(&*self.records_port(), kind::SANDBOX_FAULTS, mchid).await?
            else {
                return Ok(());
            };
            if plan.held.as_deref() != Some(id) {
                return Ok(());
            }
            plan.held = None;
            let write = store::write(
                kind::SANDBOX_FAULTS,
                mchid,
                Expect::Version(version),
                &plan,
                vec![],
            )?;
            if self.try_commit_records(vec![write]).await? {
                return Ok(());
            }
        }
        Err(PayError::Busy {
            what: "fault plan".to_owned(),
        })
    }

    // ---- scripts -----------------------------------------------------------------

    /// Sets (replaces) a merchant's script; an empty one clears it.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] naming the rule, [`PayError::MerchantNotFound`].
    pub async fn set_script(&self, mchid: &str, script: Script) -> Result<Script, PayError> {
        script.check()?;
        let sandbox = self.sandbox()?;
        if self.merchant(mchid).await?.is_none() {
            return Err(PayError::MerchantNotFound {
                mchid: mchid.to_owned(),
            });
        }
        let write = store::write(
            kind::SANDBOX_SCRIPT,
            mchid,
            Expect::Any,
            &script,
            vec![IndexEntry::new(index::CREATED, time_value(0))],
        )?;
        self.try_commit_records(vec![write]).await?;
        sandbox.cache_script(mchid, script.clone());
        Ok(script)
    }

    /// A merchant's script (empty when it has none).
    pub fn script(&self, mchid: &str) -> Arc<Script> {
        self.hook::<Sandbox>()
            .map(|sandbox| sandbox.script(mchid))
            .unwrap_or_default()
    }

    /// Reads every stored script into memory; called once at start.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn load_scripts(&self) -> Result<usize, PayError> {
        let sandbox = self.sandbox()?;
        let found = self
            .records_port()
            .find(
                kind::SANDBOX_SCRIPT,
                index::CREATED,
                &time_value(0),
                100_000,
            )
            .await?;
        let mut loaded = 0;
        for record in found {
            let script: Script = store::decode(&record)?;
            sandbox.cache_script(&record.key, script);
            loaded += 1;
        }
        Ok(loaded)
    }

    /// A merchant's query of `order` (v3 or v2): a scripted `USERPAYING` order counts
    /// the poll and, when its polls are used up, is paid by the robot payer. Other
    /// orders come back as they are.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`], [`PayError::Busy`].
    pub async fn order_polled(&self, order: Order) -> Result<Order, PayError> {
        if order.state != TradeState::Userpaying || order.scripted_polls.is_none() {
            return Ok(order);
        }
        let key = order.key();
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut current, version)) =
                load::<Order>(&*self.records_port(), kind::ORDER, &key).await?
            else {
                return Ok(order);
            };
            match current.scripted_polls {
                Some(left) if current.state == TradeState::Userpaying && left > 0 => {
                    current.scripted_polls = Some(left - 1);
                    let write = order_write(&current, Expect::Version(version))?;
                    if self.try_commit_records(vec![write]).await? {
                        return Ok(current);
                    }
                }
                Some(_) if current.state == TradeState::Userpaying => {
                    return match self.robot_pay(&key).await {
                        Ok(paid) => Ok(paid),
                        Err(PayError::Busy { .. }) => continue,
                        Err(error) => Err(error),
                    };
                }
                _ => return Ok(current),
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// The robot payer pays the order stored under `key` (the `sandbox.autopay` job, a
    /// scripted `USERPAYING` order's last poll). The payer is the order's own (a
    /// payment code's owner, or the user behind a JSAPI openid) or else the robot; its
    /// wallet is topped up from the bank by what it lacks. An order that cannot be paid
    /// any more is left as it is.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`], [`PayError::Busy`], and the scripted failures.
    pub async fn robot_pay(&self, key: &str) -> Result<Order, PayError> {
        let Some((order, version)) = load::<Order>(&*self.records_port(), kind::ORDER, key).await?
        else {
            return Err(PayError::OrderNotFound);
        };
        let now = self.now();
        let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
        if !open || now >= order.time_expire {
            return Ok(order);
        }
        let user_id = self.payer_for_robot(&order).await?;
        if let Some(failure) = self.failed_attempt(&order) {
            return Err(self.fail_attempt(order, version, failure, &user_id).await?);
        }
        let balance = self.wallet_balance(&user_id).await?;
        if balance < order.total_minor {
            // One top-up per order, whatever the retries: its request id is the order's.
            let mut request_id = sha256_hex(order.key().as_bytes());
            request_id.truncate(32);
            self.top_up(
                &user_id,
                order.total_minor - balance,
                &format!("robot-{request_id}"),
            )
            .await?;
        }
        let openids = self.payer_openids(&order, &user_id);
        self.commit_payment(
            order,
            Expect::Version(version),
            &user_id,
            openids,
            vec![],
            (now, &CouponChoice::None),
        )
        .await
    }

    async fn payer_for_robot(&self, order: &Order) -> Result<String, PayError> {
        if let Some(user_id) = &order.payer_user_id {
            return Ok(user_id.clone());
        }
        if let Some(openid) = &order.payer_openid
            && let Some(user_id) = self.user_of_openid(&order.appid, openid).await?
        {
            return Ok(user_id);
        }
        if let Some((robot, _)) =
            load::<RobotRecord>(&*self.records_port(), kind::SANDBOX, ROBOT_KEY).await?
        {
            return Ok(robot.user_id);
        }
        let password = ids::random_digits(6);
        let user = self.create_user("Sandbox robot payer", &password).await?;
        let write = store::write(
            kind::SANDBOX,
            ROBOT_KEY,
            Expect::Absent,
            &RobotRecord {
                user_id: user.user_id.clone(),
            },
            vec![],
        )?;
        if self.try_commit_records(vec![write]).await? {
            return Ok(user.user_id);
        }
        // Another request made the robot first: use that one.
        load::<RobotRecord>(&*self.records_port(), kind::SANDBOX, ROBOT_KEY)
            .await?
            .map(|(robot, _)| robot.user_id)
            .ok_or_else(|| PayError::Busy {
                what: "robot payer".to_owned(),
            })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> ScriptRule {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_rules_amount_keeps_its_stored_name() {
        let stored = serde_json::json!({"amount": 500, "payment": "payerror"});
        let read = rule(stored.clone());
        assert_eq!(read.amount_minor, Some(500));
        assert_eq!(serde_json::to_value(&read).unwrap(), stored);
    }

    #[test]
    fn rules_match_on_every_condition_given() {
        let ends = rule(serde_json::json!({"amount_ends_with": "03", "payment": "payerror"}));
        assert!(ends.matches(1_203, "A"));
        assert!(ends.matches(3, "A"));
        assert!(!ends.matches(1_230, "A"));
        let both = rule(serde_json::json!({
            "amount": 500, "out_trade_no_prefix": "T-", "refund": "abnormal"
        }));
        assert!(both.matches(500, "T-1"));
        assert!(!both.matches(500, "X-1"));
        assert!(!both.matches(501, "T-1"));
        assert!(rule(serde_json::json!({"auto_pay_after_s": 1})).matches(1, "any"));
    }

    #[test]
    fn the_first_rule_answering_a_question_decides() {
        let script = Script {
            rules: vec![
                rule(serde_json::json!({"amount_ends_with": "3", "refund": "abnormal"})),
                rule(serde_json::json!({"amount_ends_with": "03", "payment": "userpaying"})),
                rule(serde_json::json!({"payment": "payerror", "refund": "not_enough"})),
            ],
        };
        assert!(script.check().is_ok());
        let refund = |total: i64| script.first((total, "N"), |rule| rule.refund);
        let payment = |total: i64| script.first((total, "N"), |rule| rule.payment);
        assert_eq!(refund(1_203), Some(ScriptedRefund::Abnormal));
        assert_eq!(payment(1_203), Some(ScriptedPayment::Userpaying));
        assert_eq!(refund(1_200), Some(ScriptedRefund::NotEnough));
        assert_eq!(payment(1_200), Some(ScriptedPayment::Payerror));
    }

    #[test]
    fn bad_rules_and_plans_name_the_field() {
        let bad = |json: serde_json::Value| {
            Script {
                rules: vec![rule(json)],
            }
            .check()
            .unwrap_err()
            .to_string()
        };
        assert!(bad(serde_json::json!({"polls": 1})).contains("rules[0].polls"));
        assert!(
            bad(serde_json::json!({"payment": "userpaying", "polls": 1_000}))
                .contains("rules[0].polls")
        );
        assert!(bad(serde_json::json!({"amount": 0, "payment": "payerror"})).contains("amount"));
        assert!(bad(serde_json::json!({"amount": 5})).contains("says nothing to do"));
        let plan = FaultPlan {
            delay_ms: FAULT_DELAY_MS_MAX + 1,
            ..FaultPlan::default()
        };
        assert!(plan.check().unwrap_err().to_string().contains("delay_ms"));
        let scoped = FaultPlan {
            notify_url: Some("https://a.example/n".to_owned()),
            ..FaultPlan::default()
        };
        assert!(scoped.check().is_ok());
        assert!(scoped.applies_to("https://a.example/n"));
        assert!(!scoped.applies_to("https://b.example/n"));
        assert!(FaultPlan::default().applies_to("https://b.example/n"));
    }
}
