//! Collection codes (收款码) for micro-merchants: any user opens a static code; a payer
//! scans it, types an amount and a note, and pays with the password; the owner watches
//! payments arrive ([`PayService::subscribe_payments`]) and reads a daily summary.
//!
//! A micro-merchant is a merchant account of kind [`MerchantKind::Micro`] owned by the
//! user: its money, fee and settlement work like any merchant's. Payments through a
//! code are Native orders under the platform's collection-code app, made out to the
//! payer's openid there, and numbered from the payer and a reference the paying page
//! draws once, so a double submit pays once.

use crate::error::PayError;
use crate::ids;
use crate::model::{Merchant, MerchantKind, Order, TradeType};
use crate::service::{
    OrderRef, PayService, PrepayRequest, check_chars, check_prepay_beyond_description, check_text,
    sha256_hex,
};
use crate::store::index;
use crate::time::Day;

/// The platform app collection-code payments are made in.
pub const COLLECTION_APPID: &str = "wx0c011ec7c0de0001";
/// The fee on collection-code payments: 0.38%.
pub const COLLECTION_FEE_RATE_BPS: u32 = 38;

/// A day of a micro-merchant's collections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSummary {
    /// The day (China Standard Time).
    pub day: Day,
    /// Payments received.
    pub payments: usize,
    /// Paid in, fen.
    pub total_minor: i64,
    /// The platform's fee on them, fen.
    pub fee_minor: i64,
}

/// A payment through someone's collection code.
#[derive(Debug, Clone)]
pub struct CollectPayment {
    /// The code's token.
    pub token: String,
    /// Fen.
    pub amount_minor: i64,
    /// The payer's note, shown to the owner.
    pub note: Option<String>,
    /// Drawn once by the paying page: the same reference pays once.
    pub client_ref: String,
}

impl PayService {
    /// Opens the user's collection code, or returns the one already open.
    ///
    /// # Errors
    ///
    /// [`PayError::UserNotFound`], [`PayError::Invalid`] for a bad name.
    pub async fn open_collection_code(
        &self,
        user_id: &str,
        name: &str,
    ) -> Result<Merchant, PayError> {
        check_text("name", name, 1, 64)?;
        if self.user(user_id).await?.is_none() {
            return Err(PayError::UserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        if let Some(existing) = self.collection_code_of(user_id).await? {
            return Ok(existing);
        }
        self.create_app("Collection codes", Some(COLLECTION_APPID))
            .await?;
        let now = self.now();
        let created = self
            .insert_merchant(|mchid| Merchant {
                mchid,
                name: name.to_owned(),
                appids: vec![COLLECTION_APPID.to_owned()],
                keys: Vec::new(),
                apiv3_key: ids::random_alnum(32),
                fee_rate_bps: COLLECTION_FEE_RATE_BPS,
                sign_mode: crate::model::SignMode::Certificate,
                created_at: now,
                kind: MerchantKind::Micro,
                provider: None,
                commission_bps: 0,
                apiv2_key: String::new(),
                owner_user_id: Some(user_id.to_owned()),
                collection_token: Some(ids::random_alnum(24)),
            })
            .await?;
        // Two first opens racing: keep the older; the other account stays empty.
        Ok(self.collection_code_of(user_id).await?.unwrap_or(created))
    }

    /// The user's collection code (its micro-merchant), if open.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn collection_code_of(&self, user_id: &str) -> Result<Option<Merchant>, PayError> {
        self.found_merchant(index::OWNER, user_id).await
    }

    /// The micro-merchant behind a collection code token.
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`] for an unknown token.
    pub async fn collection_code(&self, token: &str) -> Result<Merchant, PayError> {
        self.found_merchant(index::COLLECTION_TOKEN, token)
            .await?
            .ok_or_else(|| PayError::MerchantNotFound {
                mchid: "(collection code)".to_owned(),
            })
    }

    /// Pays through a collection code with the password.
    ///
    /// # Errors
    ///
    /// As [`PayService::pay`], plus [`PayError::Invalid`] for a bad amount or note and
    /// [`PayError::InvalidRequest`] for paying one's own code.
    pub async fn collect(
        &self,
        payer_user_id: &str,
        payment: CollectPayment,
        password: &str,
    ) -> Result<Order, PayError> {
        let merchant = self.collection_code(&payment.token).await?;
        if merchant.owner_user_id.as_deref() == Some(payer_user_id) {
            return Err(PayError::rule("this is your own collection code"));
        }
        if let Some(note) = &payment.note {
            // Plaza's own text, shown to the owner: any Unicode, emoji included.
            check_chars("note", note, 0, 40)?;
        }
        check_text("client_ref", &payment.client_ref, 8, 64)?;
        let reference = sha256_hex(format!("{payer_user_id}\n{}", payment.client_ref).as_bytes());
        let request = PrepayRequest {
            mchid: merchant.mchid.clone(),
            appid: COLLECTION_APPID.to_owned(),
            trade_type: TradeType::Native,
            description: payment
                .note
                .clone()
                .filter(|note| !note.trim().is_empty())
                .unwrap_or_else(|| format!("收款码 {}", merchant.name)),
            out_trade_no: format!("C{}", &reference[..24]),
            time_expire: None,
            attach: None,
            notify_url: String::new(),
            goods_tag: None,
            total_minor: payment.amount_minor,
            currency: "CNY".to_owned(),
            payer_openid: Some(self.openid(COLLECTION_APPID, payer_user_id)),
            payer_client_ip: None,
            device_id: None,
            profit_sharing: false,
            sp_mchid: None,
            sub_appid: None,
            payer_sub_openid: None,
        };
        crate::money::check_amount("amount", payment.amount_minor)?;
        let now = self.now();
        check_prepay_beyond_description(&request, now)?;
        let order = match self.insert_order(&request, now).await {
            Ok(order) => order,
            // The same reference again, already paid: answer the payment.
            Err(PayError::OrderPaid { .. }) => {
                return self
                    .order(&merchant.mchid, &request.out_trade_no)
                    .await?
                    .ok_or(PayError::OrderNotFound);
            }
            Err(error) => return Err(error),
        };
        self.pay(
            payer_user_id,
            &OrderRef::PrepayId(order.prepay_id),
            password,
        )
        .await
    }

    /// A micro-merchant's collections of one day.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn collection_summary(
        &self,
        mchid: &str,
        day: Day,
    ) -> Result<(CollectionSummary, Vec<Order>), PayError> {
        let orders = self.orders_paid_on(mchid, day).await?;
        let summary = CollectionSummary {
            day,
            payments: orders.len(),
            total_minor: crate::money::sum(
                orders.iter().map(|order| order.total_minor),
                "the day's collections",
            )?,
            fee_minor: crate::money::sum(
                orders.iter().map(|order| order.fee_minor),
                "the day's collection fees",
            )?,
        };
        Ok((summary, orders))
    }
}
