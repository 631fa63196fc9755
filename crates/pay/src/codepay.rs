//! Payments at the counter with the payer's payment code (付款码): the user shows a
//! dynamic 18-digit code, the cashier scans it, the merchant charges it (`codepay`, or
//! v2 `micropay`). Small amounts are paid at once; above the user's password-free limit
//! the order waits (`USERPAYING`) until the user confirms with the password. A merchant
//! may reverse (撤销) a code payment within a week: unpaid, it is cancelled; paid, it is
//! refunded in full.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::{Expect, IndexRange, RecordWrite};
use plaza_ledger::WriteSet;

use crate::error::PayError;
use crate::hooks::FailedAttempt;
use crate::ids;
use crate::model::{CouponChoice, Order, PaymentCode, TradeState, TradeType, User, order_key};
use crate::service::{
    CONFLICT_RETRIES_MAX, PayService, PrepayRequest, RefundRequest, check_prepay, order_write,
    payer_record, request_digest,
};
use crate::store::{self, decode, index, kind, load};

/// How long a payment code can be used after it is shown.
pub const PAYMENT_CODE_TTL_MS: i64 = 60_000;
/// How long a `USERPAYING` order waits for the payer's password before it closes.
pub const USERPAYING_WAIT_MS: i64 = 5 * 60_000;
/// How long after its creation a code payment can still be reversed: seven days.
pub const REVERSE_WINDOW_MS: i64 = 7 * 86_400_000;

/// A merchant charging a payment code: the order, as a prepay request with
/// [`TradeType::Micropay`] and no `notify_url`, and the scanned code.
#[derive(Debug, Clone)]
pub struct CodepayRequest {
    /// The order.
    pub order: PrepayRequest,
    /// The 18 digits the cashier scanned (`auth_code`).
    pub auth_code: String,
}

/// What charging a payment code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodepayOutcome {
    /// Paid now.
    Paid(Order),
    /// Waiting for the payer's password: the merchant polls, then pays or reverses.
    UserPaying(Order),
}

/// Checks the shape of a payment code: 18 digits starting 10–15.
///
/// # Errors
///
/// [`PayError::AuthCodeMalformed`].
pub fn check_auth_code(code: &str) -> Result<(), PayError> {
    let digits = code.len() == 18 && code.bytes().all(|byte| byte.is_ascii_digit());
    if !digits {
        return Err(PayError::AuthCodeMalformed {
            issue: "must be 18 digits".to_owned(),
        });
    }
    if !matches!(&code[..2], "10" | "11" | "12" | "13" | "14" | "15") {
        return Err(PayError::AuthCodeMalformed {
            issue: "must start with 10–15".to_owned(),
        });
    }
    Ok(())
}

fn new_payment_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut code = format!("1{}", rng.random_range(0..=5_u8));
    for _ in 0..16 {
        code.push(char::from(b'0' + rng.random_range(0..10_u8)));
    }
    code
}

impl PayService {
    /// Shows the user a fresh payment code, valid for [`PAYMENT_CODE_TTL_MS`].
    ///
    /// # Errors
    ///
    /// [`PayError::UserNotFound`].
    pub async fn issue_payment_code(&self, user_id: &str) -> Result<PaymentCode, PayError> {
        if self.user(user_id).await?.is_none() {
            return Err(PayError::UserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        let now = self.now();
        for _ in 0..CONFLICT_RETRIES_MAX {
            let code = PaymentCode {
                code: new_payment_code(),
                user_id: user_id.to_owned(),
                created_at: now,
                expires_at: now.plus_ms(PAYMENT_CODE_TTL_MS),
                used_by: None,
            };
            let write = store::write(
                kind::PAYMENT_CODE,
                &code.code,
                Expect::Absent,
                &code,
                vec![],
            )?;
            if self.try_commit_records(vec![write]).await? {
                return Ok(code);
            }
        }
        Err(PayError::Busy {
            what: "payment code".to_owned(),
        })
    }

    /// Sets how much a payment code may charge without the password.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for a negative limit, [`PayError::UserNotFound`].
    pub async fn set_password_free_limit(
        &self,
        user_id: &str,
        limit_minor: i64,
    ) -> Result<User, PayError> {
        if limit_minor < 0 {
            return Err(PayError::invalid(
                "password_free_limit",
                "must be 0 or more fen",
            ));
        }
        crate::money::check_amount_at_most_max("password_free_limit", limit_minor)?;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut user, version) = self.user_versioned(user_id).await?;
            user.password_free_limit_minor = limit_minor;
            if self
                .try_commit_records(vec![payer_record(&user, version)?])
                .await?
            {
                return Ok(user);
            }
        }
        Err(PayError::Busy {
            what: "user".to_owned(),
        })
    }

    /// Charges a payment code: pays at once up to the payer's password-free limit,
    /// otherwise leaves the order `USERPAYING`. Idempotent: the same order again
    /// answers where it stands.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`], the payment-code errors, [`PayError::NoAuth`],
    /// [`PayError::AppidMchidNotMatch`], [`PayError::OutTradeNoUsed`],
    /// [`PayError::WalletBalanceNotEnough`] (nothing is written, the code stays usable).
    pub async fn codepay(&self, request: CodepayRequest) -> Result<CodepayOutcome, PayError> {
        let now = self.now();
        let order_request = &request.order;
        check_prepay(order_request, now)?;
        check_auth_code(&request.auth_code)?;
        let merchant = self.existing_merchant(&order_request.mchid).await?;
        let partner = (
            order_request.sp_mchid.as_deref(),
            order_request.sub_appid.as_deref(),
        );
        self.check_order_parties(&merchant, &order_request.appid, partner)
            .await?;
        let digest = request_digest(order_request)?;
        let key = order_key(&order_request.mchid, &order_request.out_trade_no);
        for _ in 0..CONFLICT_RETRIES_MAX {
            if let Some((existing, _)) =
                load::<Order>(&*self.records_port(), kind::ORDER, &key).await?
            {
                return existing_outcome(existing, &digest);
            }
            let (user, code, code_write) =
                self.code_to_spend(&request.auth_code, &key, now).await?;
            let order = new_code_order(order_request, &digest, &code, now);
            if let Some(outcome) = self
                .charge_code_order(order, &user, code_write, now)
                .await?
            {
                return Ok(outcome);
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// The payment code `auth_code`, usable at `now`, marked used by the order under
    /// `key`: its owner, the code and its write (over the version read).
    async fn code_to_spend(
        &self,
        auth_code: &str,
        key: &str,
        now: Timestamp,
    ) -> Result<(User, PaymentCode, RecordWrite), PayError> {
        let Some((mut code, code_version)) =
            load::<PaymentCode>(&*self.records_port(), kind::PAYMENT_CODE, auth_code).await?
        else {
            return Err(PayError::AuthCodeInvalid);
        };
        if code.used_by.is_some() {
            return Err(PayError::AuthCodeInvalid);
        }
        if now >= code.expires_at {
            return Err(PayError::AuthCodeExpired);
        }
        let user = self
            .user(&code.user_id)
            .await?
            .ok_or(PayError::AuthCodeInvalid)?;
        code.used_by = Some(key.to_owned());
        let code_write = store::write(
            kind::PAYMENT_CODE,
            &code.code,
            Expect::Version(code_version),
            &code,
            vec![],
        )?;
        Ok((user, code, code_write))
    }

    /// Charges `user` for a new code order, the spent code written with it: paid at once
    /// up to the password-free limit, else left `USERPAYING` with its jobs; a hook's
    /// failed attempt answers instead. `Ok(None)` when a record changed meanwhile.
    async fn charge_code_order(
        &self,
        mut order: Order,
        user: &User,
        code_write: RecordWrite,
        now: Timestamp,
    ) -> Result<Option<CodepayOutcome>, PayError> {
        let jobs = self.new_order_jobs(&mut order);
        match self.failed_attempt(&order) {
            Some(FailedAttempt::NotEnough) => {
                return Err(PayError::WalletBalanceNotEnough {
                    balance_minor: self.wallet_balance(&user.user_id).await?,
                    needed_minor: order.total_minor,
                });
            }
            Some(FailedAttempt::Payerror) => {
                order.state = TradeState::Payerror;
                let write = WriteSet {
                    records: vec![order_write(&order, Expect::Absent)?, code_write],
                    ..WriteSet::default()
                };
                if self.try_commit_write(write).await? {
                    return Err(PayError::PaymentFailed {
                        out_trade_no: order.out_trade_no,
                    });
                }
                return Ok(None);
            }
            None => {}
        }
        if order.state != TradeState::Userpaying
            && order.total_minor <= user.password_free_limit_minor
        {
            let openids = self.payer_openids(&order, &user.user_id);
            let choice = (now, &CouponChoice::Best);
            let extra = vec![code_write];
            return match self
                .commit_payment(order, Expect::Absent, &user.user_id, openids, extra, choice)
                .await
            {
                Ok(paid) => Ok(Some(CodepayOutcome::Paid(paid))),
                Err(PayError::Busy { .. }) => Ok(None),
                Err(error) => Err(error),
            };
        }
        order.state = TradeState::Userpaying;
        let write = WriteSet {
            records: vec![order_write(&order, Expect::Absent)?, code_write],
            jobs,
            ..WriteSet::default()
        };
        Ok(self
            .try_commit_write(write)
            .await?
            .then_some(CodepayOutcome::UserPaying(order)))
    }

    /// Reverses (撤销) a payment-code order of `mchid` within a week: an unpaid one is
    /// cancelled, a paid one refunded in full; either way it ends `REVOKED`. Reversing
    /// again answers the same.
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`], [`PayError::InvalidRequest`] (not a code payment,
    /// partly refunded, or too old), [`PayError::MerchantBalanceNotEnough`].
    pub async fn reverse(
        &self,
        mchid: &str,
        out_trade_no: &str,
        sp_mchid: Option<&str>,
    ) -> Result<Order, PayError> {
        let key = order_key(mchid, out_trade_no);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut order, version)) =
                load::<Order>(&*self.records_port(), kind::ORDER, &key).await?
            else {
                return Err(PayError::OrderNotFound);
            };
            if order.sp_mchid.as_deref() != sp_mchid {
                return Err(PayError::OrderNotFound);
            }
            if order.trade_type != TradeType::Micropay {
                return Err(PayError::rule(
                    "only payment-code (MICROPAY) orders can be reversed; close or refund others",
                ));
            }
            let now = self.now();
            if order.state == TradeState::Revoked {
                return Ok(order);
            }
            if now.unix_ms() - order.created_at.unix_ms() > REVERSE_WINDOW_MS {
                return Err(PayError::rule(
                    "orders older than 7 days cannot be reversed; refund them instead",
                ));
            }
            match order.state {
                TradeState::Notpay
                | TradeState::Userpaying
                | TradeState::Closed
                | TradeState::Payerror => {
                    order.state = TradeState::Revoked;
                    order.closed_at = Some(now);
                    if self
                        .try_commit_records(vec![order_write(&order, Expect::Version(version))?])
                        .await?
                    {
                        return Ok(order);
                    }
                }
                TradeState::Success => {
                    if let Some(reversed) = self
                        .reverse_paid(order, version, (mchid, out_trade_no), sp_mchid)
                        .await?
                    {
                        return Ok(reversed);
                    }
                }
                TradeState::Refund => {
                    return Err(PayError::rule(
                        "a partly refunded order cannot be reversed; refund the rest",
                    ));
                }
                TradeState::Revoked => return Ok(order),
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// Reverses `mchid`'s paid code order `out_trade_no` (read at `version`): refunded in
    /// full through the refund path, ending `REVOKED`. `Ok(None)` when a record changed
    /// meanwhile.
    async fn reverse_paid(
        &self,
        order: Order,
        version: u64,
        (mchid, out_trade_no): (&str, &str),
        sp_mchid: Option<&str>,
    ) -> Result<Option<Order>, PayError> {
        let key = order_key(mchid, out_trade_no);
        let refund = RefundRequest {
            mchid: mchid.to_owned(),
            out_trade_no: Some(out_trade_no.to_owned()),
            transaction_id: None,
            out_refund_no: format!("reverse-{out_trade_no}"),
            reason: Some("撤销 reversed by the merchant".to_owned()),
            notify_url: None,
            refund_minor: order.total_minor,
            total_minor: order.total_minor,
            currency: order.currency.clone(),
            sp_mchid: sp_mchid.map(str::to_owned),
        };
        let digest = request_digest(&refund)?;
        match self
            .commit_refund(&refund, &digest, order, version, true)
            .await
        {
            Ok(_) => load::<Order>(&*self.records_port(), kind::ORDER, &key)
                .await?
                .map(|(order, _)| Some(order))
                .ok_or(PayError::OrderNotFound),
            Err(PayError::Busy { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A user's payment-code orders waiting for the password, oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn awaiting_confirmation(&self, user_id: &str) -> Result<Vec<Order>, PayError> {
        let found = self
            .records_port()
            .range(IndexRange {
                kind: kind::ORDER.to_owned(),
                name: index::AWAITING_PAYER.to_owned(),
                from: format!("{user_id}|"),
                to: format!("{user_id}|~"),
                after: None,
                rows_max: 50,
                newest_first: false,
            })
            .await?;
        found.iter().map(|found| decode(&found.record)).collect()
    }
}

/// The answer to a codepay retry for an order that exists.
fn existing_outcome(existing: Order, digest: &str) -> Result<CodepayOutcome, PayError> {
    let same = existing.trade_type == TradeType::Micropay && existing.request_digest == digest;
    if !same {
        return Err(match existing.state {
            TradeState::Success | TradeState::Refund => PayError::OrderPaid {
                out_trade_no: existing.out_trade_no,
            },
            _ => PayError::OutTradeNoUsed {
                out_trade_no: existing.out_trade_no,
            },
        });
    }
    match existing.state {
        TradeState::Success | TradeState::Refund => Ok(CodepayOutcome::Paid(existing)),
        TradeState::Userpaying => Ok(CodepayOutcome::UserPaying(existing)),
        TradeState::Revoked => Err(PayError::OrderReversed {
            out_trade_no: existing.out_trade_no,
        }),
        TradeState::Closed | TradeState::Notpay => Err(PayError::OrderClosed {
            out_trade_no: existing.out_trade_no,
        }),
        TradeState::Payerror => Err(PayError::PaymentFailed {
            out_trade_no: existing.out_trade_no,
        }),
    }
}

fn new_code_order(
    request: &PrepayRequest,
    digest: &str,
    code: &PaymentCode,
    now: Timestamp,
) -> Order {
    Order {
        mchid: request.mchid.clone(),
        appid: request.appid.clone(),
        out_trade_no: request.out_trade_no.clone(),
        trade_type: TradeType::Micropay,
        description: request.description.clone(),
        attach: request.attach.clone(),
        notify_url: String::new(),
        total_minor: request.total_minor,
        currency: request.currency.clone(),
        goods_tag: request.goods_tag.clone(),
        payer_openid: None,
        payer_client_ip: request.payer_client_ip.clone(),
        device_id: request.device_id.clone(),
        profit_sharing: request.profit_sharing,
        request_digest: digest.to_owned(),
        prepay_id: ids::new_prepay_id(now),
        code_token: ids::new_code_token(now),
        time_expire: now.plus_ms(USERPAYING_WAIT_MS),
        state: TradeState::Notpay,
        transaction_id: None,
        success_time: None,
        payer_user_id: Some(code.user_id.clone()),
        paid_openid: None,
        payer_total_minor: 0,
        fee_minor: 0,
        refunded_minor: 0,
        fee_refunded_minor: 0,
        refund_count: 0,
        created_at: now,
        closed_at: None,
        sp_mchid: request.sp_mchid.clone(),
        sub_appid: request.sub_appid.clone(),
        payer_sub_openid: None,
        paid_sub_openid: None,
        shared_minor: 0,
        sharing_finished: false,
        coupon: None,
        scripted_polls: None,
    }
}
