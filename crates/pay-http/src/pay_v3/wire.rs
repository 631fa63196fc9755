//! APIv3 JSON shapes: requests as SDKs send them and the Transaction, Refund and
//! notification bodies as SDKs expect them (`shared/specs/wechatpay-v3.md` §2–§4).

use plaza_pay::model::{DeliveryState, Notification, NotificationSubject, Order, Refund, SignMode};
use plaza_pay::time::rfc3339;
use serde::{Deserialize, Serialize};

use super::platform::Platform;

/// `amount` of a prepay request.
#[derive(Debug, Deserialize)]
pub(crate) struct PrepayAmount {
    pub(crate) total: i64,
    #[serde(default)]
    pub(crate) currency: Option<String>,
}

/// `payer` of a JSAPI prepay request: `openid` for direct merchants, `sp_openid` or
/// `sub_openid` for partners.
#[derive(Debug, Deserialize)]
pub(crate) struct PrepayPayer {
    #[serde(default)]
    pub(crate) openid: Option<String>,
    #[serde(default)]
    pub(crate) sp_openid: Option<String>,
    #[serde(default)]
    pub(crate) sub_openid: Option<String>,
}

/// `scene_info.h5_info`.
#[derive(Debug, Deserialize)]
pub(crate) struct H5Info {
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

/// `scene_info`.
#[derive(Debug, Deserialize)]
pub(crate) struct SceneInfo {
    pub(crate) payer_client_ip: String,
    #[serde(default)]
    pub(crate) device_id: Option<String>,
    #[serde(default)]
    pub(crate) h5_info: Option<H5Info>,
}

/// `settle_info`.
#[derive(Debug, Deserialize)]
pub(crate) struct SettleInfo {
    #[serde(default)]
    pub(crate) profit_sharing: Option<bool>,
}

/// A prepay request (JSAPI, Native, App, H5): `appid`/`mchid` for direct merchants,
/// `sp_appid`/`sp_mchid`/`sub_mchid` (and optionally `sub_appid`) for partners.
#[derive(Debug, Deserialize)]
pub(crate) struct PrepayBody {
    #[serde(default)]
    pub(crate) appid: Option<String>,
    #[serde(default)]
    pub(crate) mchid: Option<String>,
    #[serde(default)]
    pub(crate) sp_appid: Option<String>,
    #[serde(default)]
    pub(crate) sp_mchid: Option<String>,
    #[serde(default)]
    pub(crate) sub_appid: Option<String>,
    #[serde(default)]
    pub(crate) sub_mchid: Option<String>,
    pub(crate) description: String,
    pub(crate) out_trade_no: String,
    #[serde(default)]
    pub(crate) time_expire: Option<String>,
    #[serde(default)]
    pub(crate) attach: Option<String>,
    pub(crate) notify_url: String,
    #[serde(default)]
    pub(crate) goods_tag: Option<String>,
    #[serde(default)]
    pub(crate) support_fapiao: Option<bool>,
    pub(crate) amount: PrepayAmount,
    #[serde(default)]
    pub(crate) payer: Option<PrepayPayer>,
    #[serde(default)]
    pub(crate) scene_info: Option<SceneInfo>,
    #[serde(default)]
    pub(crate) settle_info: Option<SettleInfo>,
    #[serde(default)]
    pub(crate) detail: Option<serde_json::Value>,
}

/// The body of a close request: `mchid`, or `sp_mchid` and `sub_mchid` for partners.
#[derive(Debug, Deserialize)]
pub(crate) struct CloseBody {
    #[serde(default)]
    pub(crate) mchid: Option<String>,
    #[serde(default)]
    pub(crate) sp_mchid: Option<String>,
    #[serde(default)]
    pub(crate) sub_mchid: Option<String>,
}

/// `amount` of a refund request.
#[derive(Debug, Deserialize)]
pub(crate) struct RefundAmount {
    pub(crate) refund: i64,
    pub(crate) total: i64,
    pub(crate) currency: String,
}

/// A refund request.
#[derive(Debug, Deserialize)]
pub(crate) struct RefundBody {
    #[serde(default)]
    pub(crate) sub_mchid: Option<String>,
    #[serde(default)]
    pub(crate) transaction_id: Option<String>,
    #[serde(default)]
    pub(crate) out_trade_no: Option<String>,
    pub(crate) out_refund_no: String,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    #[serde(default)]
    pub(crate) notify_url: Option<String>,
    #[serde(default)]
    pub(crate) funds_account: Option<String>,
    pub(crate) amount: RefundAmount,
}

#[derive(Serialize)]
struct Payer<'a> {
    openid: &'a str,
}

#[derive(Serialize)]
struct Amount<'a> {
    total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    payer_total: Option<i64>,
    currency: &'a str,
    payer_currency: &'a str,
}

#[derive(Serialize)]
struct Scene<'a> {
    device_id: &'a str,
}

/// The Transaction object.
#[derive(Serialize)]
struct Transaction<'a> {
    appid: &'a str,
    mchid: &'a str,
    out_trade_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
    trade_type: &'a str,
    trade_state: &'a str,
    trade_state_desc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bank_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payer: Option<Payer<'a>>,
    amount: Amount<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scene_info: Option<Scene<'a>>,
    promotion_detail: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct PartnerPayer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sp_openid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_openid: Option<&'a str>,
}

/// The Transaction object of a partner order: the provider's and the sub-merchant's
/// ids instead of `appid`/`mchid`, and both openids of the payer.
#[derive(Serialize)]
struct PartnerTransaction<'a> {
    sp_appid: &'a str,
    sp_mchid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_appid: Option<&'a str>,
    sub_mchid: &'a str,
    out_trade_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
    trade_type: &'a str,
    trade_state: &'a str,
    trade_state_desc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bank_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payer: Option<PartnerPayer<'a>>,
    amount: Amount<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scene_info: Option<Scene<'a>>,
    promotion_detail: Vec<serde_json::Value>,
}

fn partner_transaction_json(order: &Order, sp_mchid: &str) -> String {
    let paid = order.success_time.is_some();
    let sp_openid = order
        .paid_openid
        .as_deref()
        .or(order.payer_openid.as_deref());
    let sub_openid = order
        .paid_sub_openid
        .as_deref()
        .or(order.payer_sub_openid.as_deref());
    let transaction = PartnerTransaction {
        sp_appid: &order.appid,
        sp_mchid,
        sub_appid: order.sub_appid.as_deref(),
        sub_mchid: &order.mchid,
        out_trade_no: &order.out_trade_no,
        transaction_id: order.transaction_id.as_deref(),
        trade_type: order.trade_type.wire(),
        trade_state: order.state.wire(),
        trade_state_desc: order.state.description(),
        bank_type: paid.then_some("OTHERS"),
        attach: order.attach.as_deref(),
        success_time: order.success_time.map(rfc3339),
        payer: (sp_openid.is_some() || sub_openid.is_some()).then_some(PartnerPayer {
            sp_openid,
            sub_openid,
        }),
        amount: amount(order),
        scene_info: order
            .device_id
            .as_deref()
            .map(|device_id| Scene { device_id }),
        promotion_detail: promotion_detail(order),
    };
    serde_json::to_string(&transaction).unwrap_or_default()
}

fn amount(order: &Order) -> Amount<'_> {
    Amount {
        total: order.total_minor,
        payer_total: order
            .success_time
            .is_some()
            .then_some(order.payer_total_minor),
        currency: &order.currency,
        payer_currency: &order.currency,
    }
}

/// `promotion_detail` of a paid order: the coupon it used, if any.
fn promotion_detail(order: &Order) -> Vec<serde_json::Value> {
    let Some(coupon) = &order.coupon else {
        return Vec::new();
    };
    let (kind, merchant, other) = if coupon.no_cash {
        ("NOCASH", coupon.amount_minor, 0)
    } else {
        ("CASH", 0, coupon.amount_minor)
    };
    vec![serde_json::json!({
        "coupon_id": coupon.coupon_id,
        "name": coupon.name,
        "scope": "GLOBAL",
        "type": kind,
        "amount": coupon.amount_minor,
        "stock_id": coupon.stock_id,
        "wechatpay_contribute": 0,
        "merchant_contribute": merchant,
        "other_contribute": other,
        "currency": "CNY",
    })]
}

/// The Transaction object of an order, as queries answer and `TRANSACTION.SUCCESS`
/// carries it (in the partner shape for partner orders).
pub(crate) fn transaction_json(order: &Order) -> String {
    if let Some(sp_mchid) = &order.sp_mchid {
        return partner_transaction_json(order, sp_mchid);
    }
    let paid = order.success_time.is_some();
    let transaction = Transaction {
        appid: &order.appid,
        mchid: &order.mchid,
        out_trade_no: &order.out_trade_no,
        transaction_id: order.transaction_id.as_deref(),
        trade_type: order.trade_type.wire(),
        trade_state: order.state.wire(),
        trade_state_desc: order.state.description(),
        bank_type: paid.then_some("OTHERS"),
        attach: order.attach.as_deref(),
        success_time: order.success_time.map(rfc3339),
        payer: order
            .paid_openid
            .as_deref()
            .or(order.payer_openid.as_deref())
            .map(|openid| Payer { openid }),
        amount: amount(order),
        scene_info: order
            .device_id
            .as_deref()
            .map(|device_id| Scene { device_id }),
        promotion_detail: promotion_detail(order),
    };
    serde_json::to_string(&transaction).unwrap_or_default()
}

#[derive(Serialize)]
struct RefundAmountOut {
    total: i64,
    refund: i64,
    from: Vec<serde_json::Value>,
    payer_total: i64,
    payer_refund: i64,
    settlement_refund: i64,
    settlement_total: i64,
    discount_refund: i64,
    currency: &'static str,
    refund_fee: i64,
}

#[derive(Serialize)]
struct RefundOut<'a> {
    refund_id: &'a str,
    out_refund_no: &'a str,
    transaction_id: &'a str,
    out_trade_no: &'a str,
    channel: &'static str,
    user_received_account: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_time: Option<String>,
    create_time: String,
    status: &'static str,
    funds_account: &'static str,
    amount: RefundAmountOut,
    promotion_detail: Vec<serde_json::Value>,
}

/// Where refunds to a wallet arrive, as WeChat words it.
const USER_RECEIVED_ACCOUNT: &str = "支付用户零钱";

/// The Refund object.
pub(crate) fn refund_json(refund: &Refund) -> String {
    let out = RefundOut {
        refund_id: &refund.refund_id,
        out_refund_no: &refund.out_refund_no,
        transaction_id: &refund.transaction_id,
        out_trade_no: &refund.out_trade_no,
        channel: "ORIGINAL",
        user_received_account: USER_RECEIVED_ACCOUNT,
        success_time: refund.success_time.map(rfc3339),
        create_time: rfc3339(refund.created_at),
        status: refund.status.wire(),
        funds_account: refund.funds_account.wire(),
        amount: RefundAmountOut {
            total: refund.total_minor,
            refund: refund.refund_minor,
            from: Vec::new(),
            payer_total: refund.payer_total(),
            payer_refund: refund.payer_refund(),
            settlement_refund: refund.refund_minor,
            settlement_total: refund.total_minor,
            discount_refund: refund.discount_refund_minor,
            currency: "CNY",
            refund_fee: refund.fee_refund_minor,
        },
        promotion_detail: Vec::new(),
    };
    serde_json::to_string(&out).unwrap_or_default()
}

#[derive(Serialize)]
struct RefundResourceAmount {
    total: i64,
    refund: i64,
    payer_total: i64,
    payer_refund: i64,
}

#[derive(Serialize)]
struct RefundResource<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    mchid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sp_mchid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_mchid: Option<&'a str>,
    transaction_id: &'a str,
    out_trade_no: &'a str,
    refund_id: &'a str,
    out_refund_no: &'a str,
    refund_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_time: Option<String>,
    user_received_account: &'static str,
    amount: RefundResourceAmount,
}

#[derive(Serialize)]
struct Resource {
    original_type: &'static str,
    algorithm: &'static str,
    ciphertext: String,
    associated_data: &'static str,
    nonce: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    create_time: String,
    resource_type: &'static str,
    event_type: &'static str,
    summary: &'static str,
    resource: Resource,
}

/// The decrypted resource of a notification, its `original_type`/`associated_data`
/// and `summary`.
pub fn notification_resource(
    subject: &NotificationSubject,
) -> (String, &'static str, &'static str) {
    match subject {
        NotificationSubject::TransactionSuccess { order } => {
            (transaction_json(order), "transaction", "支付成功")
        }
        NotificationSubject::CouponUse { coupon } => {
            let mut resource = super::coupons::coupon_json(coupon);
            if let Some(consumed) = &coupon.consumed {
                resource["consume_information"] = serde_json::json!({
                    "consume_time": rfc3339(consumed.consume_time),
                    "consume_mchid": consumed.consume_mchid,
                    "transaction_id": consumed.transaction_id,
                    "consume_amount": consumed.consume_amount_minor,
                    "goods_detail": [],
                });
            }
            (resource.to_string(), "coupon", "代金券核销通知")
        }
        NotificationSubject::RefundSuccess { refund, order }
        | NotificationSubject::RefundAbnormal { refund, order } => {
            let partner = refund.sp_mchid.is_some();
            let resource = RefundResource {
                mchid: (!partner).then_some(refund.mchid.as_str()),
                sp_mchid: refund.sp_mchid.as_deref(),
                sub_mchid: partner.then_some(refund.mchid.as_str()),
                transaction_id: &refund.transaction_id,
                out_trade_no: &refund.out_trade_no,
                refund_id: &refund.refund_id,
                out_refund_no: &refund.out_refund_no,
                refund_status: refund.status.wire(),
                success_time: refund.success_time.map(rfc3339),
                user_received_account: USER_RECEIVED_ACCOUNT,
                amount: RefundResourceAmount {
                    total: refund.total_minor,
                    refund: refund.refund_minor,
                    payer_total: order.payer_total_minor,
                    payer_refund: refund.payer_refund(),
                },
            };
            let summary = if matches!(subject, NotificationSubject::RefundAbnormal { .. }) {
                "退款异常"
            } else {
                "退款成功"
            };
            (
                serde_json::to_string(&resource).unwrap_or_default(),
                "refund",
                summary,
            )
        }
    }
}

/// A notification as it goes on the wire: its body and the signed headers.
#[derive(Debug, Clone)]
pub struct SignedNotification {
    /// The exact body to POST.
    pub body: String,
    /// `Wechatpay-*` headers, in order.
    pub headers: Vec<(&'static str, String)>,
}

/// Encrypts and signs a notification for delivery now; `edited` replaces the
/// resource's plaintext (a sandbox send of a hand-edited notification).
///
/// # Errors
///
/// A message when encryption or signing fails.
pub fn sign_notification(
    notification: &Notification,
    apiv3_key: &str,
    mode: SignMode,
    platform: &Platform,
    now_s: i64,
    edited: Option<&str>,
) -> Result<SignedNotification, String> {
    let (mut plaintext, original_type, summary) = notification_resource(&notification.subject);
    if let Some(edited) = edited {
        edited.clone_into(&mut plaintext);
    }
    let nonce = plaza_pay::ids::random_alnum(12);
    let ciphertext =
        plaza_wx::aead::encrypt_resource(apiv3_key, &nonce, original_type, plaintext.as_bytes())
            .map_err(|error| error.to_string())?;
    let envelope = Envelope {
        id: &notification.id,
        create_time: rfc3339(notification.created_at),
        resource_type: "encrypt-resource",
        event_type: notification.subject.event_type(),
        summary,
        resource: Resource {
            original_type,
            algorithm: plaza_wx::aead::ALGORITHM,
            ciphertext,
            associated_data: original_type,
            nonce,
        },
    };
    let body = serde_json::to_string(&envelope).map_err(|error| error.to_string())?;
    let signed = platform
        .sign(mode, now_s, body.as_bytes())
        .map_err(|error| error.to_string())?;
    let mut headers: Vec<(&'static str, String)> = signed.to_pairs().into_iter().collect();
    headers.push((
        "Request-ID",
        plaza_pay::ids::random_hex(40).to_ascii_uppercase(),
    ));
    Ok(SignedNotification { body, headers })
}

/// A notification with its attempts, as `/api/v1` lists it.
#[derive(Serialize)]
pub(crate) struct NotificationView<'a> {
    id: &'a str,
    mchid: &'a str,
    event_type: &'static str,
    notify_url: &'a str,
    state: &'static str,
    created_at: String,
    next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    held_until: Option<String>,
    resource: serde_json::Value,
    attempts: Vec<AttemptView<'a>>,
}

#[derive(Serialize)]
struct AttemptView<'a> {
    sent_at: String,
    request_body: &'a str,
    status: Option<u16>,
    response_body: Option<&'a str>,
    error: Option<&'a str>,
    latency_ms: u64,
    request_headers: serde_json::Map<String, serde_json::Value>,
    trigger: &'static str,
    fault: Option<&'a str>,
    sent: bool,
}

/// The `/api/v1` view of a notification.
pub(crate) fn notification_view(notification: &Notification) -> NotificationView<'_> {
    let (resource, _, _) = notification_resource(&notification.subject);
    NotificationView {
        id: &notification.id,
        mchid: &notification.mchid,
        event_type: notification.subject.event_type(),
        notify_url: &notification.notify_url,
        state: match notification.state {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        },
        created_at: rfc3339(notification.created_at),
        next_attempt_at: notification.next_attempt_at.map(rfc3339),
        held_until: notification.held_until.map(rfc3339),
        resource: serde_json::from_str(&resource).unwrap_or(serde_json::Value::Null),
        attempts: notification
            .attempts
            .iter()
            .map(|attempt| AttemptView {
                sent_at: rfc3339(attempt.sent_at),
                request_body: &attempt.request_body,
                status: attempt.status,
                response_body: attempt.response_body.as_deref(),
                error: attempt.error.as_deref(),
                latency_ms: attempt.latency_ms,
                request_headers: attempt
                    .request_headers
                    .iter()
                    .map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str())))
                    .collect(),
                trigger: attempt.trigger.as_str(),
                fault: attempt.fault.as_deref(),
                sent: attempt.sent,
            })
            .collect(),
    }
}
