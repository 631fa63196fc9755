//! Orders before payment: prepay (idempotent by the request's content), the reads a
//! merchant and a payer make, close, and expiry.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::NewJob;
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_ledger::WriteSet;
use serde::Serialize;

use super::checks::{check_merchant_no, check_notify_url};
use super::{CONFLICT_RETRIES_MAX, PayService, check_text, records_only, request_digest};
use crate::error::PayError;
use crate::ids;
use crate::model::{Order, TradeState, TradeType, order_key};
use crate::money::check_amount;
use crate::store::{self, decode, find_one, index, kind, load, time_value};
use crate::time::Day;

/// Job kind: close an order whose `time_expire` passed (payload: the order's key).
pub const JOB_EXPIRE: &str = "pay.expire";

/// How long an unpaid order stays payable when the merchant sets no `time_expire`.
pub const ORDER_EXPIRE_MS_DEFAULT: i64 = 2 * 3_600_000;

/// A merchant's prepay request, validated for shape by the surface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrepayRequest {
    /// The merchant (from the request, checked against the signer).
    pub mchid: String,
    /// The app.
    pub appid: String,
    /// How the payer pays.
    pub trade_type: TradeType,
    /// Goods description.
    pub description: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// When the order closes itself if unpaid.
    pub time_expire: Option<Timestamp>,
    /// Echoed back.
    pub attach: Option<String>,
    /// Where notifications go.
    pub notify_url: String,
    /// Coupon tag.
    pub goods_tag: Option<String>,
    /// Amount in fen.
    pub total_minor: i64,
    /// `CNY`.
    pub currency: String,
    /// JSAPI: who must pay.
    pub payer_openid: Option<String>,
    /// `scene_info.payer_client_ip`.
    pub payer_client_ip: Option<String>,
    /// `scene_info.device_id`.
    pub device_id: Option<String>,
    /// `settle_info.profit_sharing`.
    pub profit_sharing: bool,
    /// Partner orders: the service provider placing it; [`PrepayRequest::mchid`] is
    /// then the sub-merchant and [`PrepayRequest::appid`] the provider's `sp_appid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// Partner orders: the sub-merchant's app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// Partner JSAPI: the payer's openid under `sub_appid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_sub_openid: Option<String>,
}

/// How a payer names the order to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// A JSAPI/App/H5 prepay id.
    PrepayId(String),
    /// The token of a Native `code_url`.
    CodeToken(String),
}

impl PayService {
    /// Creates an order, or returns the same one for a retry with the same content.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`], [`PayError::MerchantNotFound`],
    /// [`PayError::AppidMchidNotMatch`], [`PayError::OutTradeNoUsed`],
    /// [`PayError::OrderPaid`], [`PayError::OrderClosed`].
    pub async fn prepay(&self, request: PrepayRequest) -> Result<Order, PayError> {
        let now = self.now();
        check_prepay(&request, now)?;
        if !request.notify_url.is_empty() {
            self.outbound
                .check_url("/notify_url", &request.notify_url)?;
        }
        let merchant = self.existing_merchant(&request.mchid).await?;
        let partner = (request.sp_mchid.as_deref(), request.sub_appid.as_deref());
        self.check_order_parties(&merchant, &request.appid, partner)
            .await?;
        self.insert_order(&request, now).await
    }

    /// Writes a new unpaid order for a checked request, or answers for the order its
    /// number already names (the same order again, or the refusal).
    pub(crate) async fn insert_order(
        &self,
        request: &PrepayRequest,
        now: Timestamp,
    ) -> Result<Order, PayError> {
        let digest = request_digest(request)?;
        let key = order_key(&request.mchid, &request.out_trade_no);
        for attempt in 0..CONFLICT_RETRIES_MAX {
            // Nearly every order number is new: try to create first, and read what is
            // there only when the number turns out to be taken.
            if attempt > 0
                && let Some((existing, _)) =
                    load::<Order>(&*self.records, kind::ORDER, &key).await?
            {
                return existing_order(existing, &digest);
            }
            let mut order = new_order(request, digest.clone(), now);
            let jobs = self.new_order_jobs(&mut order);
            let write = WriteSet {
                records: vec![order_write(&order, Expect::Absent)?],
                jobs,
                ..WriteSet::default()
            };
            if self.try_commit_write(write).await? {
                return Ok(order);
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// A new order's jobs: its expiry, and what the hooks add (which may also shape the
    /// order: a sandbox script starts it `USERPAYING`).
    pub(crate) fn new_order_jobs(&self, order: &mut Order) -> Vec<NewJob> {
        let key = order.key();
        let mut jobs = vec![NewJob {
            kind: JOB_EXPIRE.to_owned(),
            key: key.clone(),
            payload: key,
            due_at: order.time_expire,
        }];
        for hook in self.hooks() {
            hook.order_created(order, &mut jobs);
        }
        jobs
    }

    /// A merchant's order by its number.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn order(&self, mchid: &str, out_trade_no: &str) -> Result<Option<Order>, PayError> {
        Ok(
            load::<Order>(&*self.records, kind::ORDER, &order_key(mchid, out_trade_no))
                .await?
                .map(|(order, _)| order),
        )
    }

    /// A merchant's order by transaction id (paid orders only have one).
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn order_by_transaction_id(
        &self,
        mchid: &str,
        transaction_id: &str,
    ) -> Result<Option<Order>, PayError> {
        let found = self
            .records
            .find(kind::ORDER, index::TRANSACTION_ID, transaction_id, 4)
            .await?;
        for record in &found {
            let order: Order = decode(record)?;
            if order.mchid == mchid {
                return Ok(Some(order));
            }
        }
        Ok(None)
    }

    /// The order behind a prepay id or a Native code, as a payer sees it.
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`].
    pub async fn order_by_ref(&self, reference: &OrderRef) -> Result<(Order, u64), PayError> {
        let (name, value) = match reference {
            OrderRef::PrepayId(prepay_id) => (index::PREPAY_ID, prepay_id.as_str()),
            OrderRef::CodeToken(token) => (index::CODE, token.as_str()),
        };
        find_one::<Order>(&*self.records, kind::ORDER, name, value)
            .await?
            .ok_or(PayError::OrderNotFound)
    }

    /// The order a payer's reference names, as payer `user_id` may see it: an order
    /// whose payer is known to be someone else answers as one that does not exist
    /// ([`crate::model::Order::visible_to`]).
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`], [`PayError::Unavailable`].
    pub async fn order_for_payer(
        &self,
        user_id: &str,
        reference: &OrderRef,
    ) -> Result<(Order, u64), PayError> {
        let (order, version) = self.order_by_ref(reference).await?;
        if order.visible_to(user_id) {
            Ok((order, version))
        } else {
            Err(PayError::OrderNotFound)
        }
    }

    /// A merchant's orders, newest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn orders_of(&self, mchid: &str, rows_max: usize) -> Result<Vec<Order>, PayError> {
        let orders: Vec<Order> = self
            .listed(
                kind::ORDER,
                index::MERCHANT_CREATED,
                format!("{mchid}|"),
                format!("{mchid}}}"),
                rows_max,
                true,
            )
            .await?;
        Ok(orders)
    }

    /// Closes an unpaid order. Closing a closed order again succeeds.
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`], [`PayError::OrderPaid`].
    pub async fn close(&self, mchid: &str, out_trade_no: &str) -> Result<Order, PayError> {
        let key = order_key(mchid, out_trade_no);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut order, version)) =
                load::<Order>(&*self.records, kind::ORDER, &key).await?
            else {
                return Err(PayError::OrderNotFound);
            };
            match order.state {
                TradeState::Closed => return Ok(order),
                TradeState::Success | TradeState::Refund => {
                    return Err(PayError::OrderPaid {
                        out_trade_no: order.out_trade_no,
                    });
                }
                TradeState::Revoked => {
                    return Err(PayError::OrderReversed {
                        out_trade_no: order.out_trade_no,
                    });
                }
                TradeState::Notpay | TradeState::Userpaying | TradeState::Payerror => {}
            }
            order.state = TradeState::Closed;
            order.closed_at = Some(self.now());
            let write = records_only(vec![order_write(&order, Expect::Version(version))?]);
            if self.try_commit_write(write).await? {
                return Ok(order);
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// The `pay.expire` job: closes the order if it is still unpaid past its deadline.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails (the job is retried).
    pub async fn expire(&self, key: &str) -> Result<(), PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut order, version)) =
                load::<Order>(&*self.records, kind::ORDER, key).await?
            else {
                return Ok(());
            };
            let now = self.now();
            let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
            if !open || now < order.time_expire {
                return Ok(());
            }
            order.state = TradeState::Closed;
            order.closed_at = Some(now);
            let write = records_only(vec![order_write(&order, Expect::Version(version))?]);
            if self.try_commit_write(write).await? {
                return Ok(());
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }
}

/// The answer to a prepay whose number names an existing order: the same order for a
/// retry of an unpaid one with the same content, else the refusal its state gives.
fn existing_order(existing: Order, digest: &str) -> Result<Order, PayError> {
    match existing.state {
        TradeState::Success | TradeState::Refund => Err(PayError::OrderPaid {
            out_trade_no: existing.out_trade_no,
        }),
        TradeState::Closed => Err(PayError::OrderClosed {
            out_trade_no: existing.out_trade_no,
        }),
        TradeState::Notpay if existing.request_digest == digest => Ok(existing),
        TradeState::Userpaying
            if existing.scripted_polls.is_some() && existing.request_digest == digest =>
        {
            Ok(existing)
        }
        TradeState::Payerror => Err(PayError::PaymentFailed {
            out_trade_no: existing.out_trade_no,
        }),
        TradeState::Notpay | TradeState::Userpaying => Err(PayError::OutTradeNoUsed {
            out_trade_no: existing.out_trade_no,
        }),
        TradeState::Revoked => Err(PayError::OrderReversed {
            out_trade_no: existing.out_trade_no,
        }),
    }
}

/// The unpaid order a checked request makes.
fn new_order(request: &PrepayRequest, request_digest: String, now: Timestamp) -> Order {
    Order {
        mchid: request.mchid.clone(),
        appid: request.appid.clone(),
        out_trade_no: request.out_trade_no.clone(),
        trade_type: request.trade_type,
        description: request.description.clone(),
        attach: request.attach.clone(),
        notify_url: request.notify_url.clone(),
        total_minor: request.total_minor,
        currency: request.currency.clone(),
        goods_tag: request.goods_tag.clone(),
        payer_openid: request.payer_openid.clone(),
        payer_client_ip: request.payer_client_ip.clone(),
        device_id: request.device_id.clone(),
        profit_sharing: request.profit_sharing,
        request_digest,
        prepay_id: ids::new_prepay_id(now),
        code_token: ids::new_code_token(now),
        time_expire: request
            .time_expire
            .unwrap_or_else(|| now.plus_ms(ORDER_EXPIRE_MS_DEFAULT)),
        state: TradeState::Notpay,
        transaction_id: None,
        success_time: None,
        payer_user_id: None,
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
        payer_sub_openid: request.payer_sub_openid.clone(),
        paid_sub_openid: None,
        shared_minor: 0,
        sharing_finished: false,
        coupon: None,
        scripted_polls: None,
    }
}

/// An order's record, with the indexes its state calls for.
pub(crate) fn order_write(order: &Order, expect: Expect) -> Result<RecordWrite, PayError> {
    let mut entries = vec![
        IndexEntry::new(index::PREPAY_ID, order.prepay_id.clone()),
        IndexEntry::new(index::CODE, order.code_token.clone()),
        IndexEntry::new(
            index::MERCHANT_CREATED,
            format!("{}|{}", order.mchid, time_value(order.created_at.unix_ms())),
        ),
    ];
    if let Some(transaction_id) = &order.transaction_id {
        entries.push(IndexEntry::new(
            index::TRANSACTION_ID,
            transaction_id.clone(),
        ));
    }
    if let Some(success_time) = order.success_time {
        let day = Day::of(success_time).iso();
        entries.push(IndexEntry::new(
            index::MERCHANT_DAY,
            format!("{}|{day}", order.mchid),
        ));
        entries.push(IndexEntry::new(index::PAID_DAY, day));
    }
    if order.state == TradeState::Userpaying
        && let Some(user_id) = &order.payer_user_id
    {
        entries.push(IndexEntry::new(
            index::AWAITING_PAYER,
            format!("{user_id}|{}", time_value(order.created_at.unix_ms())),
        ));
    }
    store::write(kind::ORDER, &order.key(), expect, order, entries)
}

/// Checks a prepay request's fields.
pub(crate) fn check_prepay(request: &PrepayRequest, now: Timestamp) -> Result<(), PayError> {
    check_text("/description", &request.description, 1, 127)?;
    check_prepay_beyond_description(request, now)
}

/// [`check_prepay`] less the description, for orders Plaza makes itself from text it
/// checked its own way (a collection-code payer's note).
pub(crate) fn check_prepay_beyond_description(
    request: &PrepayRequest,
    now: Timestamp,
) -> Result<(), PayError> {
    check_merchant_no("/out_trade_no", &request.out_trade_no, 6, 32)?;
    if !request.notify_url.is_empty() {
        check_notify_url("/notify_url", &request.notify_url)?;
    }
    if let Some(attach) = &request.attach {
        check_text("/attach", attach, 0, 128)?;
    }
    if let Some(goods_tag) = &request.goods_tag {
        check_text("/goods_tag", goods_tag, 0, 32)?;
    }
    check_amount("/amount/total", request.total_minor)?;
    if request.currency != "CNY" {
        return Err(PayError::invalid(
            "/amount/currency",
            "only CNY is supported",
        ));
    }
    if let Some(time_expire) = request.time_expire
        && time_expire <= now
    {
        return Err(PayError::invalid("/time_expire", "is not in the future"));
    }
    check_payer_fields(request)
}

/// The payer's openids a prepay names, and that a JSAPI order names one.
fn check_payer_fields(request: &PrepayRequest) -> Result<(), PayError> {
    let openid_field = if request.sp_mchid.is_some() {
        "/payer/sp_openid"
    } else {
        "/payer/openid"
    };
    if let Some(openid) = &request.payer_openid {
        check_text(openid_field, openid, 1, 128)?;
    }
    if let Some(openid) = &request.payer_sub_openid {
        check_text("/payer/sub_openid", openid, 1, 128)?;
    }
    if request.trade_type == TradeType::Jsapi
        && request.payer_openid.is_none()
        && request.payer_sub_openid.is_none()
    {
        return Err(PayError::invalid(openid_field, "is required for JSAPI"));
    }
    Ok(())
}
