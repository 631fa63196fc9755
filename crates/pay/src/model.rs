//! The payment domain's entities, as stored (each is one record, whose kind, key and
//! indexes the `store` module names).
//!
//! Field names here are Plaza's, not WeChat's: the `api` crate maps them to the wire.

use plaza_kernel::clock::Timestamp;
use serde::{Deserialize, Serialize};

pub use plaza_identity::model::{App, Session};

/// Which platform identity signs a merchant's responses and notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignMode {
    /// The platform certificate's serial (`GET /v3/certificates`).
    Certificate,
    /// The platform public key's id (`PUB_KEY_ID_…`).
    PublicKey,
}

impl SignMode {
    /// The spelling in config and APIs: `certificate` or `public_key`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::PublicKey => "public_key",
        }
    }

    /// Parses [`SignMode::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "certificate" => Some(Self::Certificate),
            "public_key" => Some(Self::PublicKey),
            _ => None,
        }
    }
}

/// A merchant API key the merchant signs requests with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantKey {
    /// Upper-case hex serial of the merchant API certificate.
    pub serial_no: String,
    /// The public key, SPKI PEM.
    pub public_key_pem: String,
    /// When it was registered.
    pub added_at: Timestamp,
}

/// What a merchant account is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MerchantKind {
    /// A direct merchant (直连商户): signs its own requests, is paid itself.
    #[default]
    Direct,
    /// A service provider (服务商): signs requests for its sub-merchants, receives their
    /// notifications, and earns a share of the platform fee on their payments.
    Provider,
    /// A sub-merchant (子商户/特约商户): paid and settled itself, but reached only through
    /// its provider's partner API.
    SubMerchant,
    /// A micro-merchant (小微商户): a user collecting with a static collection code
    /// (收款码); it signs nothing and is paid only through its code.
    Micro,
}

impl MerchantKind {
    /// The spelling in `/api/v1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Provider => "provider",
            Self::SubMerchant => "sub_merchant",
            Self::Micro => "micro",
        }
    }
}

/// A merchant account: a direct merchant, a service provider or a sub-merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    /// 10 digits.
    pub mchid: String,
    /// Its name, shown to payers.
    pub name: String,
    /// Apps bound to it; an order's appid must be one of these.
    pub appids: Vec<String>,
    /// Keys whose signatures it accepts, by serial.
    pub keys: Vec<MerchantKey>,
    /// The 32-character APIv3 key that encrypts notifications and certificates.
    pub apiv3_key: String,
    /// The fee in basis points of each payment (60 = 0.60%).
    pub fee_rate_bps: u32,
    /// Which identity signs notifications (requests say for themselves).
    pub sign_mode: SignMode,
    /// When it was created.
    pub created_at: Timestamp,
    /// Direct merchant, provider or sub-merchant (records written before providers
    /// existed are direct merchants).
    #[serde(default)]
    pub kind: MerchantKind,
    /// A sub-merchant's service provider (its `sp_mchid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// A provider's commission: its share of the platform fee on its sub-merchants'
    /// payments, in basis points of the fee (2000 = 20%), paid at settlement.
    #[serde(default)]
    pub commission_bps: u32,
    /// The 32-character APIv2 key that signs XML requests (`sign`); empty for accounts
    /// created before APIv2 was served.
    #[serde(default)]
    pub apiv2_key: String,
    /// A micro-merchant's owner: the user who collects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<String>,
    /// A micro-merchant's collection code token (in its static QR's URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_token: Option<String>,
}

impl Merchant {
    /// The key registered under `serial_no` (compared as hex, case-insensitive).
    pub fn key(&self, serial_no: &str) -> Option<&MerchantKey> {
        self.keys
            .iter()
            .find(|key| key.serial_no.eq_ignore_ascii_case(serial_no))
    }

    /// `0.60%`.
    pub fn fee_rate_text(&self) -> String {
        format!(
            "{}.{:02}%",
            self.fee_rate_bps / 100,
            self.fee_rate_bps % 100
        )
    }
}

/// A payer: a person (`plaza_identity`'s user) read together with what Pay keeps about
/// them ([`Payer`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Plaza's internal id, `u` + 16 hex digits. Apps never see it: they see openids.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// PBKDF2 of the 6-digit payment password, hex, with its salt.
    pub password_hash: String,
    /// Hex salt of [`User::password_hash`].
    pub password_salt: String,
    /// PBKDF2 rounds of [`User::password_hash`]; 0 in records written before the count
    /// was kept, which used [`crate::password::LEGACY_PASSWORD_ROUNDS`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub password_rounds: u32,
    /// Wrong passwords in a row.
    pub failed_password_count: u32,
    /// Paying is refused until then after too many wrong passwords.
    pub locked_until: Option<Timestamp>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// Payment-code payments up to this many fen go through without the password;
    /// larger ones wait for the user to confirm (`USERPAYING`).
    #[serde(default = "password_free_limit_default")]
    pub password_free_limit_minor: i64,
}

/// What Pay keeps about a person (a `pay.payer` record keyed by the user id): the
/// payment password, its lock and the password-free limit. The person — id, name — is
/// `plaza_identity`'s; [`User`] is the two read together.
///
/// Data directories from before this record kept these fields in the user's own record
/// (`pay.user`); Pay still reads them there until it first writes the payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    /// PBKDF2 of the 6-digit payment password, hex, with its salt.
    pub password_hash: String,
    /// Hex salt of [`Payer::password_hash`].
    pub password_salt: String,
    /// PBKDF2 rounds; 0 in records written before the count was kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub password_rounds: u32,
    /// Wrong passwords in a row.
    pub failed_password_count: u32,
    /// Paying is refused until then after too many wrong passwords.
    pub locked_until: Option<Timestamp>,
    /// When the payer was created.
    pub created_at: Timestamp,
    /// Payment-code payments up to this many fen go through without the password.
    #[serde(default = "password_free_limit_default")]
    pub password_free_limit_minor: i64,
}

impl User {
    /// A person (`user_id`, `name`) with what Pay keeps about them.
    pub fn joined(user_id: String, name: String, payer: Payer) -> Self {
        Self {
            user_id,
            name,
            password_hash: payer.password_hash,
            password_salt: payer.password_salt,
            password_rounds: payer.password_rounds,
            failed_password_count: payer.failed_password_count,
            locked_until: payer.locked_until,
            created_at: payer.created_at,
            password_free_limit_minor: payer.password_free_limit_minor,
        }
    }

    /// What Pay stores of it.
    pub fn payer(&self) -> Payer {
        Payer {
            password_hash: self.password_hash.clone(),
            password_salt: self.password_salt.clone(),
            password_rounds: self.password_rounds,
            failed_password_count: self.failed_password_count,
            locked_until: self.locked_until,
            created_at: self.created_at,
            password_free_limit_minor: self.password_free_limit_minor,
        }
    }
}

impl User {
    /// The PBKDF2 rounds its password hash was made with.
    pub fn password_rounds(&self) -> u32 {
        if self.password_rounds == 0 {
            crate::password::LEGACY_PASSWORD_ROUNDS
        } else {
            self.password_rounds
        }
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// The password-free limit of payment codes when the user sets none: 500 yuan.
pub const PASSWORD_FREE_LIMIT_MINOR_DEFAULT: i64 = 50_000;

// A limit a user could have set (`set_password_free_limit` takes 0 to the largest amount).
const _: () = assert!(
    0 <= PASSWORD_FREE_LIMIT_MINOR_DEFAULT
        && PASSWORD_FREE_LIMIT_MINOR_DEFAULT <= plaza_kernel::limits::AMOUNT_MINOR_MAX
);

fn password_free_limit_default() -> i64 {
    PASSWORD_FREE_LIMIT_MINOR_DEFAULT
}

/// A user's dynamic payment code (付款码): 18 digits, valid for a minute, used once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCode {
    /// The 18 digits, starting 10–15.
    pub code: String,
    /// Whose wallet pays.
    pub user_id: String,
    /// When it was shown.
    pub created_at: Timestamp,
    /// It is refused from then on.
    pub expires_at: Timestamp,
    /// Set when a merchant used it: which order (`mchid/out_trade_no`).
    pub used_by: Option<String>,
}

/// How the payer reaches an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeType {
    /// In an official account or a mini program.
    Jsapi,
    /// By scanning a QR code.
    Native,
    /// In a mobile browser (the wire calls it `MWEB`).
    H5,
    /// In a mobile app.
    App,
    /// At a counter, by the payer's payment code (付款码).
    Micropay,
}

impl TradeType {
    /// The wire spelling of `trade_type`.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Jsapi => "JSAPI",
            Self::Native => "NATIVE",
            Self::H5 => "MWEB",
            Self::App => "APP",
            Self::Micropay => "MICROPAY",
        }
    }
}

/// Where an order stands (`trade_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeState {
    /// Waiting for the payer.
    Notpay,
    /// Paid.
    Success,
    /// Paid, and a refund was made.
    Refund,
    /// Closed unpaid (by the merchant or by expiry).
    Closed,
    /// A payment-code order waiting for the payer to confirm with the password.
    Userpaying,
    /// A payment-code order the merchant reversed (撤销), refunded if it was paid.
    Revoked,
    /// The payment failed (a sandbox script made it so); nothing was paid.
    Payerror,
}

impl TradeState {
    /// The wire spelling.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Notpay => "NOTPAY",
            Self::Success => "SUCCESS",
            Self::Refund => "REFUND",
            Self::Closed => "CLOSED",
            Self::Userpaying => "USERPAYING",
            Self::Revoked => "REVOKED",
            Self::Payerror => "PAYERROR",
        }
    }

    /// `trade_state_desc` as WeChat words it.
    pub fn description(self) -> &'static str {
        match self {
            Self::Notpay => "订单未支付",
            Self::Success => "支付成功",
            Self::Refund => "订单发生过退款",
            Self::Closed => "订单已关闭",
            Self::Userpaying => "用户支付中，需要输入密码",
            Self::Revoked => "订单已撤销",
            Self::Payerror => "支付失败(其他原因，如银行返回失败)",
        }
    }
}

/// A payment order, created by a merchant's prepay request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The merchant.
    pub mchid: String,
    /// The app the payer pays in.
    pub appid: String,
    /// The merchant's order number, unique per merchant.
    pub out_trade_no: String,
    /// How the payer pays.
    pub trade_type: TradeType,
    /// Goods description, shown to the payer.
    pub description: String,
    /// Echoed back to the merchant.
    pub attach: Option<String>,
    /// Where `TRANSACTION.SUCCESS` goes.
    pub notify_url: String,
    /// Amount in fen.
    pub total_minor: i64,
    /// `CNY`.
    pub currency: String,
    /// Coupon tag, echoed.
    pub goods_tag: Option<String>,
    /// JSAPI: who must pay it.
    pub payer_openid: Option<String>,
    /// The payer's client IP and device, as sent.
    pub payer_client_ip: Option<String>,
    /// Device id from `scene_info`, echoed.
    pub device_id: Option<String>,
    /// Funds are frozen for profit sharing.
    pub profit_sharing: bool,
    /// Digest of the prepay request's content, to tell a retry from a reuse.
    pub request_digest: String,
    /// `wx…` for JSAPI, App and H5.
    pub prepay_id: String,
    /// Native: the token in `weixin://wxpay/bizpayurl?pr=<token>`.
    pub code_token: String,
    /// When the order closes itself if unpaid.
    pub time_expire: Timestamp,
    /// Where it stands.
    pub state: TradeState,
    /// Set when paid: 28 digits.
    pub transaction_id: Option<String>,
    /// Set when paid.
    pub success_time: Option<Timestamp>,
    /// Set when paid: the paying user.
    pub payer_user_id: Option<String>,
    /// Set when paid: the payer's openid under the order's app.
    pub paid_openid: Option<String>,
    /// Set when paid: what the payer paid, fen.
    pub payer_total_minor: i64,
    /// The platform's fee on this order, fen, fixed when paid.
    pub fee_minor: i64,
    /// Refunded so far, fen.
    pub refunded_minor: i64,
    /// Fee returned to the merchant with refunds so far, fen.
    pub fee_refunded_minor: i64,
    /// Refunds made.
    pub refund_count: u32,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it closed (unpaid).
    pub closed_at: Option<Timestamp>,
    /// Partner orders: the service provider that placed it for the sub-merchant
    /// [`Order::mchid`]; [`Order::appid`] is then the provider's `sp_appid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// Partner orders: the sub-merchant's own app, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// Partner JSAPI: who must pay, as an openid under [`Order::sub_appid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_sub_openid: Option<String>,
    /// Set when a partner order with a `sub_appid` is paid: the payer's openid there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_sub_openid: Option<String>,
    /// Profit sharing: split to receivers so far, fen (less what came back).
    #[serde(default)]
    pub shared_minor: i64,
    /// Profit sharing: the rest was unfrozen to the merchant; nothing more is split.
    #[serde(default)]
    pub sharing_finished: bool,
    /// The coupon used when it was paid: the payer paid `total − amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<AppliedCoupon>,
    /// Sandbox scripts: a scripted `USERPAYING` order answers that many more queries
    /// before it is paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scripted_polls: Option<u32>,
}

/// A coupon applied to an order at payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCoupon {
    /// The coupon.
    pub coupon_id: String,
    /// Its stock.
    pub stock_id: String,
    /// The stock's name.
    pub name: String,
    /// The discount, fen.
    #[serde(rename = "amount")]
    pub amount_minor: i64,
    /// 免充值: the merchant gave the discount; otherwise the stock's budget paid it.
    pub no_cash: bool,
    /// Who created (and funded) the stock.
    pub creator_mchid: String,
}

/// Where a coupon stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CouponStatus {
    /// Issued, usable (WeChat spells it `SENDED`).
    Sended,
    /// Used in a payment.
    Used,
    /// Past its window unused.
    Expired,
}

impl CouponStatus {
    /// The wire spelling.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Sended => "SENDED",
            Self::Used => "USED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// A cash coupon held by a user (issued from a stock, see the `coupons` module). An
/// entity here because a `COUPON.USE` notification carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// 8–12 digits.
    pub coupon_id: String,
    /// Its stock.
    pub stock_id: String,
    /// The stock's creator.
    pub creator_mchid: String,
    /// The stock's name.
    pub name: String,
    /// The holder.
    pub user_id: String,
    /// The app and openid it was issued to.
    pub appid: String,
    /// The openid under `appid`.
    pub openid: String,
    /// Its value, fen.
    #[serde(rename = "amount")]
    pub amount_minor: i64,
    /// The least order total it applies to, fen.
    #[serde(rename = "transaction_minimum")]
    pub transaction_minimum_minor: i64,
    /// Where it stands.
    pub status: CouponStatus,
    /// Usable from …
    pub available_begin: Timestamp,
    /// … until.
    pub available_end: Timestamp,
    /// Whether the stock is 免充值.
    pub no_cash: bool,
    /// When it was issued.
    pub created_at: Timestamp,
    /// The issuer's request number.
    pub out_request_no: String,
    /// Set when used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed: Option<Consumption>,
}

/// How a coupon was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumption {
    /// When.
    pub consume_time: Timestamp,
    /// At which merchant.
    pub consume_mchid: String,
    /// In which payment.
    pub transaction_id: String,
    /// The order's total, fen.
    #[serde(rename = "consume_amount")]
    pub consume_amount_minor: i64,
}

/// Which coupon a payment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CouponChoice {
    /// The best usable one, if any (the largest discount; the soonest to expire first).
    Best,
    /// None.
    None,
    /// This one, which must be usable on the order.
    This(String),
}

impl Order {
    /// The record key: orders are unique per merchant and out_trade_no.
    pub fn key(&self) -> String {
        order_key(&self.mchid, &self.out_trade_no)
    }

    /// Who receives its notifications: the provider for a partner order, else the
    /// merchant.
    pub fn notified_mchid(&self) -> &str {
        self.sp_mchid.as_deref().unwrap_or(&self.mchid)
    }

    /// Whether payer `user_id` may see this order by its reference. A payment-code
    /// order is its payer's alone (the payer whose code made it); any other order is
    /// seen by whoever holds its reference, as a QR code is meant to be scanned.
    pub fn visible_to(&self, user_id: &str) -> bool {
        self.trade_type != TradeType::Micropay || self.payer_user_id.as_deref() == Some(user_id)
    }

    /// Refundable amount left, fen.
    pub fn refundable_minor(&self) -> i64 {
        self.total_minor - self.refunded_minor
    }

    /// The applied coupon's discount, fen (0 without one): the bill's 代金券金额, for
    /// prepaid and 免充值 coupons alike.
    pub fn discount_minor(&self) -> i64 {
        self.coupon.as_ref().map_or(0, |coupon| coupon.amount_minor)
    }

    /// What the merchant is paid for the order before its fee, fen (the bill's
    /// 应结订单金额): the total, less a 免充值 discount, which the merchant gave. A prepaid
    /// coupon's budget pays its part to the merchant, so it stays in. `None` only if the
    /// record's amounts do not fit in fen.
    pub fn settlement_total_minor(&self) -> Option<i64> {
        match &self.coupon {
            Some(coupon) if coupon.no_cash => self.total_minor.checked_sub(coupon.amount_minor),
            _ => Some(self.total_minor),
        }
    }

    /// A refund of this order as the trade bill shows it, fen: the merchant's part (退款金额,
    /// 应结退款金额 — the refund less what it undid of a 免充值 discount, which the merchant
    /// never received) and the part that went back to a prepaid coupon's funder
    /// (充值券退款金额). `None` only if the amounts do not fit in fen.
    pub fn refund_bill_parts(&self, refund: &Refund) -> Option<RefundBillParts> {
        let no_cash = self.coupon.as_ref().is_some_and(|coupon| coupon.no_cash);
        Some(if no_cash {
            RefundBillParts {
                settlement_refund_minor: refund
                    .refund_minor
                    .checked_sub(refund.discount_refund_minor)?,
                prepaid_coupon_refund_minor: 0,
            }
        } else {
            RefundBillParts {
                settlement_refund_minor: refund.refund_minor,
                prepaid_coupon_refund_minor: refund.discount_refund_minor,
            }
        })
    }

    /// How much of the coupon's discount refunds have undone, fen: refunds return the
    /// cash part first, so only what goes beyond the payer's part is the coupon's.
    pub fn discount_refunded_minor(&self) -> i64 {
        self.refunded_minor
            .saturating_sub(self.payer_total_minor)
            .clamp(0, self.discount_minor())
    }
}

/// A refund's amounts in the trade bill's terms ([`Order::refund_bill_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundBillParts {
    /// 退款金额 (应结退款金额), fen.
    pub settlement_refund_minor: i64,
    /// 充值券退款金额, fen.
    pub prepaid_coupon_refund_minor: i64,
}

/// The record key of an order.
pub fn order_key(mchid: &str, out_trade_no: &str) -> String {
    format!("{mchid}/{out_trade_no}")
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    /// Money returned.
    Success,
    /// Being processed.
    Processing,
    /// Failed at the payer's bank (a sandbox script made it so); no money moved.
    Abnormal,
}

impl RefundStatus {
    /// The wire spelling.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Processing => "PROCESSING",
            Self::Abnormal => "ABNORMAL",
        }
    }
}

/// Which merchant account a refund was paid from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FundsAccount {
    /// Not yet settled: from the day's pending account.
    Unsettled,
    /// Settled: from the available balance.
    Available,
}

impl FundsAccount {
    /// The wire spelling.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Unsettled => "UNSETTLED",
            Self::Available => "AVAILABLE",
        }
    }
}

/// A refund of (part of) a paid order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The merchant.
    pub mchid: String,
    /// The merchant's refund number, unique per merchant.
    pub out_refund_no: String,
    /// 29 digits.
    pub refund_id: String,
    /// The order's merchant number.
    pub out_trade_no: String,
    /// The order's transaction id.
    pub transaction_id: String,
    /// Why, shown to the payer.
    pub reason: Option<String>,
    /// Where `REFUND.SUCCESS` goes.
    pub notify_url: Option<String>,
    /// Refunded, fen.
    pub refund_minor: i64,
    /// The order's total, fen.
    pub total_minor: i64,
    /// Fee returned to the merchant with this refund, fen.
    pub fee_refund_minor: i64,
    /// Where the money came from.
    pub funds_account: FundsAccount,
    /// Where it stands.
    pub status: RefundStatus,
    /// Digest of the request's content, to tell a retry from a reuse.
    pub request_digest: String,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When the money was back.
    pub success_time: Option<Timestamp>,
    /// Partner refunds: the service provider that asked for it for the sub-merchant
    /// [`Refund::mchid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// What went back to the payer, fen (the cash part).
    #[serde(default)]
    pub payer_refund_minor: i64,
    /// The coupon's part of the refund, fen: back to the coupon's funder.
    #[serde(default)]
    pub discount_refund_minor: i64,
    /// What the payer paid for the order, fen.
    #[serde(default)]
    pub payer_total_minor: i64,
}

impl Refund {
    /// The cash part, for refunds written before parts were kept (all cash then).
    pub fn payer_refund(&self) -> i64 {
        if self.payer_refund_minor == 0 && self.discount_refund_minor == 0 {
            self.refund_minor
        } else {
            self.payer_refund_minor
        }
    }

    /// What the payer paid, for refunds written before it was kept (the total then).
    pub fn payer_total(&self) -> i64 {
        if self.payer_total_minor == 0 {
            self.total_minor
        } else {
            self.payer_total_minor
        }
    }
}

/// The record key of a refund.
pub fn refund_key(mchid: &str, out_refund_no: &str) -> String {
    format!("{mchid}/{out_refund_no}")
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NotificationSubject {
    /// `TRANSACTION.SUCCESS`, with the order as it was when paid.
    TransactionSuccess {
        /// The order at payment.
        order: Box<Order>,
    },
    /// `REFUND.SUCCESS`, with the refund and its order.
    RefundSuccess {
        /// The refund.
        refund: Box<Refund>,
        /// The order after the refund.
        order: Box<Order>,
    },
    /// `REFUND.ABNORMAL`, with the refund that failed and its order.
    RefundAbnormal {
        /// The refund, `ABNORMAL`.
        refund: Box<Refund>,
        /// The order, unchanged by it.
        order: Box<Order>,
    },
    /// `COUPON.USE`, to the stock's creator: the coupon as used.
    CouponUse {
        /// The coupon, `USED`, with how it was consumed.
        coupon: Box<Coupon>,
    },
}

impl NotificationSubject {
    /// The wire `event_type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::TransactionSuccess { .. } => "TRANSACTION.SUCCESS",
            Self::RefundSuccess { .. } => "REFUND.SUCCESS",
            Self::RefundAbnormal { .. } => "REFUND.ABNORMAL",
            Self::CouponUse { .. } => "COUPON.USE",
        }
    }
}

/// One try at delivering a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// When it was sent.
    pub sent_at: Timestamp,
    /// The exact body sent.
    pub request_body: String,
    /// The merchant's HTTP status, if it answered.
    pub status: Option<u16>,
    /// The start of the merchant's answer.
    pub response_body: Option<String>,
    /// Why it failed without an answer (timeout, refused, reset).
    pub error: Option<String>,
    /// How long the merchant took.
    pub latency_ms: u64,
    /// The request's headers as sent (signature, timestamp, nonce, serial…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<(String, String)>,
    /// What made it: the retry schedule, or a sandbox action.
    #[serde(default)]
    pub trigger: AttemptTrigger,
    /// A fault the sandbox injected into it, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Whether anything went over the wire (a dropped attempt sends nothing).
    #[serde(default = "sent_default")]
    pub sent: bool,
}

fn sent_default() -> bool {
    true
}

/// What made a delivery attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptTrigger {
    /// The retry schedule (the first try is right after the commit).
    #[default]
    Scheduled,
    /// A sandbox "resend now": counts as the next scheduled try.
    Resend,
    /// A sandbox replay of the notification as it was: the schedule is untouched.
    Replay,
    /// A sandbox send of a hand-edited resource: the schedule is untouched.
    Edited,
    /// The second copy of a try, sent by a "duplicate" fault.
    Duplicate,
}

impl AttemptTrigger {
    /// The spelling in `/api/v1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Resend => "resend",
            Self::Replay => "replay",
            Self::Edited => "edited",
            Self::Duplicate => "duplicate",
        }
    }

    /// Whether the attempt is one of the retry schedule's.
    pub fn counts_for_retries(self) -> bool {
        matches!(self, Self::Scheduled | Self::Resend)
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet acknowledged; retries are scheduled.
    Pending,
    /// The merchant answered 2xx.
    Delivered,
    /// Every retry failed.
    Failed,
}

impl DeliveryState {
    /// The spelling in `/api/v1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// A notification to a merchant's `notify_url`, with every delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `EV-…`, the envelope's `id`.
    pub id: String,
    /// The merchant it goes to.
    pub mchid: String,
    /// Where it goes.
    pub notify_url: String,
    /// When the event happened (the envelope's `create_time`).
    pub created_at: Timestamp,
    /// What it says.
    pub subject: NotificationSubject,
    /// Where it stands.
    pub state: DeliveryState,
    /// Every try, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
    /// When the next try is due, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// Sandbox "reorder" fault: held back until a later notification overtakes it, or
    /// until this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<Timestamp>,
}

impl Notification {
    /// Tries of the retry schedule so far (sandbox replays and edited sends do not
    /// count).
    pub fn scheduled_attempts(&self) -> usize {
        self.attempts
            .iter()
            .filter(|attempt| attempt.trigger.counts_for_retries())
            .count()
    }
}

/// A merchant's settlement of one day's payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The merchant.
    pub mchid: String,
    /// `2026-11-26`.
    pub day: String,
    /// Moved to the available balance, fen.
    pub settled_minor: i64,
    /// Booked to the platform's fee account, fen.
    pub fee_minor: i64,
    /// When it ran.
    pub settled_at: Timestamp,
    /// Sub-merchants: their provider, paid [`Settlement::commission_minor`] of the fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The provider's share of [`Settlement::fee_minor`], fen.
    #[serde(default)]
    pub commission_minor: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A paid order of `total` fen with a coupon of `discount` (prepaid, or 免充值 when
    /// `no_cash`), `refunded` fen of it refunded so far.
    fn order(total: i64, coupon: Option<(i64, bool)>, refunded: i64) -> Order {
        let at = Timestamp::from_unix_ms(0);
        Order {
            mchid: "1600000001".to_owned(),
            appid: "wx0000000000000001".to_owned(),
            out_trade_no: "ORDER-1".to_owned(),
            trade_type: TradeType::Native,
            description: "Tea".to_owned(),
            attach: None,
            notify_url: String::new(),
            total_minor: total,
            currency: "CNY".to_owned(),
            goods_tag: None,
            payer_openid: None,
            payer_client_ip: None,
            device_id: None,
            profit_sharing: false,
            request_digest: String::new(),
            prepay_id: String::new(),
            code_token: String::new(),
            time_expire: at,
            state: TradeState::Success,
            transaction_id: None,
            success_time: Some(at),
            payer_user_id: None,
            paid_openid: None,
            payer_total_minor: total - coupon.map_or(0, |(amount, _)| amount),
            fee_minor: 0,
            refunded_minor: refunded,
            fee_refunded_minor: 0,
            refund_count: 0,
            created_at: at,
            closed_at: None,
            sp_mchid: None,
            sub_appid: None,
            payer_sub_openid: None,
            paid_sub_openid: None,
            shared_minor: 0,
            sharing_finished: false,
            coupon: coupon.map(|(amount, no_cash)| AppliedCoupon {
                coupon_id: "90000001".to_owned(),
                stock_id: "80000001".to_owned(),
                name: "¥5 off".to_owned(),
                amount_minor: amount,
                no_cash,
                creator_mchid: "1600000001".to_owned(),
            }),
            scripted_polls: None,
        }
    }

    fn refund(refund: i64, discount_refund: i64) -> Refund {
        let at = Timestamp::from_unix_ms(0);
        Refund {
            mchid: "1600000001".to_owned(),
            out_refund_no: "R-1".to_owned(),
            refund_id: String::new(),
            out_trade_no: "ORDER-1".to_owned(),
            transaction_id: String::new(),
            reason: None,
            notify_url: None,
            refund_minor: refund,
            total_minor: 0,
            fee_refund_minor: 0,
            funds_account: FundsAccount::Unsettled,
            status: RefundStatus::Success,
            request_digest: String::new(),
            created_at: at,
            success_time: Some(at),
            sp_mchid: None,
            payer_refund_minor: refund - discount_refund,
            discount_refund_minor: discount_refund,
            payer_total_minor: 0,
        }
    }

    fn parts(settlement_refund_minor: i64, prepaid_coupon_refund_minor: i64) -> RefundBillParts {
        RefundBillParts {
            settlement_refund_minor,
            prepaid_coupon_refund_minor,
        }
    }

    #[test]
    fn a_prepaid_coupon_is_paid_to_the_merchant_and_refunded_to_its_funder() {
        let order = order(2_000, Some((500, false)), 0);
        assert_eq!(order.discount_minor(), 500);
        assert_eq!(order.settlement_total_minor(), Some(2_000));
        // Cash first; then the coupon's part, which goes back to the stock's funder.
        assert_eq!(
            order.refund_bill_parts(&refund(1_500, 0)),
            Some(parts(1_500, 0))
        );
        assert_eq!(
            order.refund_bill_parts(&refund(500, 500)),
            Some(parts(500, 500))
        );
    }

    #[test]
    fn a_no_cash_discount_is_neither_paid_nor_refunded_to_the_merchant() {
        let order = order(1_000, Some((300, true)), 0);
        assert_eq!(order.discount_minor(), 300);
        assert_eq!(order.settlement_total_minor(), Some(700));
        assert_eq!(
            order.refund_bill_parts(&refund(1_000, 300)),
            Some(parts(700, 0))
        );
        assert_eq!(
            order.refund_bill_parts(&refund(400, 0)),
            Some(parts(400, 0))
        );
    }

    #[test]
    fn without_a_coupon_the_bill_columns_are_the_amounts() {
        let order = order(900, None, 0);
        assert_eq!(
            (order.discount_minor(), order.settlement_total_minor()),
            (0, Some(900))
        );
        assert_eq!(
            order.refund_bill_parts(&refund(900, 0)),
            Some(parts(900, 0))
        );
        assert_eq!(order.discount_refunded_minor(), 0);
    }

    #[test]
    fn refunds_undo_the_discount_only_beyond_the_payers_part() {
        for no_cash in [false, true] {
            let undone =
                |refunded| order(2_000, Some((500, no_cash)), refunded).discount_refunded_minor();
            assert_eq!(undone(0), 0);
            assert_eq!(undone(1_500), 0);
            assert_eq!(undone(1_800), 300);
            assert_eq!(undone(2_000), 500);
        }
    }

    #[test]
    fn amounts_that_do_not_fit_are_refused_not_wrapped() {
        let mut broken = order(0, Some((500, true)), 0);
        broken.total_minor = i64::MIN;
        assert_eq!(broken.settlement_total_minor(), None);
        let mut huge = refund(0, 0);
        (huge.refund_minor, huge.discount_refund_minor) = (i64::MIN, 1);
        assert_eq!(broken.refund_bill_parts(&huge), None);
    }
}
