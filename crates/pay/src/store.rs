//! How payment entities become records: kinds, keys, index names and the JSON body
//! codec. The store sees only text; this module is the one place that knows the shapes.

use plaza_kernel::record::{Expect, IndexEntry, Record, RecordStore, RecordWrite};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::PayError;

/// Record kinds.
pub mod kind {
    /// [`crate::model::App`] by appid.
    pub const APP: &str = "pay.app";
    /// [`crate::model::Merchant`] by mchid.
    pub const MERCHANT: &str = "pay.merchant";
    /// [`crate::model::User`] by user id.
    pub const USER: &str = "pay.user";
    /// [`crate::model::Payer`] by user id: what Pay keeps about a person.
    pub const PAYER: &str = "pay.payer";
    /// [`crate::model::Session`] by the SHA-256 of its token.
    pub const SESSION: &str = "pay.session";
    /// [`crate::model::Order`] by `mchid/out_trade_no`.
    pub const ORDER: &str = "pay.order";
    /// [`crate::model::Refund`] by `mchid/out_refund_no`.
    pub const REFUND: &str = "pay.refund";
    /// [`crate::model::Notification`] by id.
    pub const NOTIFICATION: &str = "pay.notification";
    /// [`crate::model::Settlement`] by `mchid|day`.
    pub const SETTLEMENT: &str = "pay.settlement";
    /// [`crate::model::PaymentCode`] by its 18 digits.
    pub const PAYMENT_CODE: &str = "pay.payment_code";
    /// A profit-sharing `Receiver` by `mchid|type|account`.
    pub const SHARING_RECEIVER: &str = "pay.sharing_receiver";
    /// A profit-sharing `SharingOrder` by `mchid|out_order_no`.
    pub const SHARING_ORDER: &str = "pay.sharing_order";
    /// A profit-sharing `SharingReturn` by `mchid|out_return_no`.
    pub const SHARING_RETURN: &str = "pay.sharing_return";
    /// Which user an openid under an app is: `{user_id}` by `appid|openid`.
    pub const OPENID: &str = "pay.openid";
    /// A coupon `Stock` by stock id.
    pub const STOCK: &str = "pay.stock";
    /// The stock a creator's `out_request_no` made, by `mchid|out_request_no`.
    pub const STOCK_REQUEST: &str = "pay.stock_request";
    /// [`crate::model::Coupon`] by coupon id.
    pub const COUPON: &str = "pay.coupon";
    /// Coupons of one stock a user got, by `stock_id|user_id`.
    pub const COUPON_COUNT: &str = "pay.coupon_count";
    /// The coupon an issue request made, by `stock_id|out_request_no`.
    pub const COUPON_REQUEST: &str = "pay.coupon_request";
    /// A coupon `CouponCallback` by the creator's mchid.
    pub const COUPON_CALLBACK: &str = "pay.coupon_callback";
    /// A sandbox `FaultPlan` by mchid.
    pub const SANDBOX_FAULTS: &str = "pay.sandbox_faults";
    /// A sandbox `Script` by mchid.
    pub const SANDBOX_SCRIPT: &str = "pay.sandbox_script";
    /// The sandbox's own records (the robot payer) by name.
    pub const SANDBOX: &str = "pay.sandbox";
}

/// Index names.
pub mod index {
    /// Everything listable, by creation time: `<ms, 15 digits>`.
    pub const CREATED: &str = "created";
    /// Orders by prepay id.
    pub const PREPAY_ID: &str = "prepay_id";
    /// Orders by Native code token.
    pub const CODE: &str = "code";
    /// Orders and refunds by transaction id.
    pub const TRANSACTION_ID: &str = "transaction_id";
    /// Refunds by refund id.
    pub const REFUND_ID: &str = "refund_id";
    /// Orders by payment day, refunds by success day: `mchid|YYYY-MM-DD`.
    pub const MERCHANT_DAY: &str = "merchant_day";
    /// Orders and notifications of a merchant by creation: `mchid|<ms, 15 digits>`.
    pub const MERCHANT_CREATED: &str = "merchant_created";
    /// Merchant accounts by kind and creation: `provider|<ms, 15 digits>`.
    pub const KIND_CREATED: &str = "kind_created";
    /// Paid orders of every merchant by payment day: `YYYY-MM-DD`.
    pub const PAID_DAY: &str = "paid_day";
    /// Payment-code orders waiting for their payer's password: `user_id|<ms, 15 digits>`.
    pub const AWAITING_PAYER: &str = "awaiting_payer";
    /// Micro-merchants by their owner's user id.
    pub const OWNER: &str = "owner";
    /// Micro-merchants by collection code token.
    pub const COLLECTION_TOKEN: &str = "collection_token";
    /// Sub-merchants by provider and creation: `sp_mchid|<ms, 15 digits>`.
    pub const PROVIDER_CREATED: &str = "provider_created";
}

/// Index value for "by time": fixed width so that text order is time order.
pub fn time_value(unix_ms: i64) -> String {
    format!("{unix_ms:015}")
}

/// Decodes a record's body.
pub(crate) fn decode<T: DeserializeOwned>(record: &Record) -> Result<T, PayError> {
    serde_json::from_str(&record.body).map_err(|error| PayError::Unavailable {
        reason: format!(
            "record {}/{} is unreadable: {error}",
            record.kind, record.key
        ),
    })
}

/// A write of `value` under `kind`/`key`.
pub(crate) fn write<T: Serialize>(
    kind: &str,
    key: &str,
    expect: Expect,
    value: &T,
    index: Vec<IndexEntry>,
) -> Result<RecordWrite, PayError> {
    let body = serde_json::to_string(value).map_err(|error| PayError::Unavailable {
        reason: format!("record {kind}/{key} cannot be encoded: {error}"),
    })?;
    Ok(RecordWrite {
        kind: kind.to_owned(),
        key: key.to_owned(),
        expect,
        body,
        index,
    })
}

/// Reads and decodes one record with its version.
pub(crate) async fn load<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    key: &str,
) -> Result<Option<(T, u64)>, PayError> {
    match records.record(kind, key).await? {
        Some(record) => Ok(Some((decode(&record)?, record.version))),
        None => Ok(None),
    }
}

/// Reads and decodes the one record found under an index value.
pub(crate) async fn find_one<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    name: &str,
    value: &str,
) -> Result<Option<(T, u64)>, PayError> {
    let found = records.find(kind, name, value, 1).await?;
    match found.first() {
        Some(record) => Ok(Some((decode(record)?, record.version))),
        None => Ok(None),
    }
}
