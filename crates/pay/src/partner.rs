//! Service providers (服务商) and their sub-merchants (子商户): who may act for whom, and
//! the provider's commission on its sub-merchants' fees.
//!
//! A provider is a merchant account that signs requests; its sub-merchants never sign.
//! A partner order belongs to the sub-merchant (its money, fee and settlement) and
//! remembers the provider, which placed it and receives its notifications.

use std::sync::Arc;

use plaza_kernel::limits::PAGE_ROWS_MAX;
use plaza_kernel::record::IndexRange;

use crate::error::PayError;
use crate::model::{Merchant, MerchantKind};
use crate::service::{PayService, PrepayRequest, check_fee_rate, check_text};
use crate::store::{self, index, kind};

/// A new sub-merchant's settings.
#[derive(Debug, Clone)]
pub struct NewSubMerchant {
    /// The service provider onboarding it (`sp_mchid`).
    pub provider: String,
    /// Its name, shown to payers.
    pub name: String,
    /// Its own app (`sub_appid`): existing, or registered now. Optional.
    pub sub_appid: Option<String>,
    /// Its fee in basis points.
    pub fee_rate_bps: u32,
}

impl PayService {
    /// Creates a service provider, bound to its `sp_appid`.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for bad settings (a commission over 100% of the fee too).
    pub async fn create_provider(
        &self,
        new: crate::NewMerchant,
        commission_bps: u32,
    ) -> Result<Merchant, PayError> {
        if commission_bps > 10_000 {
            return Err(PayError::invalid(
                "commission_bps",
                "at most 10000 (the whole fee)",
            ));
        }
        self.create_signing_merchant(new, MerchantKind::Provider, commission_bps)
            .await
    }

    /// Onboards a sub-merchant under a provider: its own mchid, fee rate and
    /// settlement; it signs nothing itself.
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`] for an unknown provider, [`PayError::Invalid`] when
    /// the provider is not one or a setting is bad.
    pub async fn create_sub_merchant(&self, new: NewSubMerchant) -> Result<Merchant, PayError> {
        check_text("name", &new.name, 1, 64)?;
        check_fee_rate(new.fee_rate_bps)?;
        let provider = self.merchant_shared(&new.provider).await?.ok_or_else(|| {
            PayError::MerchantNotFound {
                mchid: new.provider.clone(),
            }
        })?;
        if provider.kind != MerchantKind::Provider {
            return Err(PayError::invalid(
                "sp_mchid",
                format!("{} is not a service provider", provider.mchid),
            ));
        }
        let appids = match &new.sub_appid {
            Some(appid) => vec![self.create_app(&new.name, Some(appid)).await?.appid],
            None => Vec::new(),
        };
        let now = self.now();
        self.insert_merchant(|mchid| Merchant {
            mchid,
            name: new.name.clone(),
            appids: appids.clone(),
            keys: Vec::new(),
            apiv3_key: crate::ids::random_alnum(32),
            fee_rate_bps: new.fee_rate_bps,
            sign_mode: provider.sign_mode,
            created_at: now,
            kind: MerchantKind::SubMerchant,
            provider: Some(provider.mchid.clone()),
            commission_bps: 0,
            apiv2_key: String::new(),
            owner_user_id: None,
            collection_token: None,
        })
        .await
    }

    /// A provider's sub-merchants, oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn sub_merchants(
        &self,
        sp_mchid: &str,
        rows_max: usize,
    ) -> Result<Vec<Merchant>, PayError> {
        self.listed_merchants(
            index::PROVIDER_CREATED,
            format!("{sp_mchid}|"),
            format!("{sp_mchid}|~"),
            rows_max,
        )
        .await
    }

    /// Every sub-merchant of a provider, oldest first, read page by page.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn all_sub_merchants(&self, sp_mchid: &str) -> Result<Vec<Merchant>, PayError> {
        let mut range = IndexRange {
            kind: kind::MERCHANT.to_owned(),
            name: index::PROVIDER_CREATED.to_owned(),
            from: format!("{sp_mchid}|"),
            to: format!("{sp_mchid}|~"),
            after: None,
            rows_max: PAGE_ROWS_MAX,
            newest_first: false,
        };
        let mut all = Vec::new();
        loop {
            let page = self.records_port().range(range.clone()).await?;
            let Some(last) = page.last() else {
                return Ok(all);
            };
            range.after = Some((last.value.clone(), last.record.key.clone()));
            for found in &page {
                all.push(store::decode(&found.record)?);
            }
        }
    }

    /// Service providers, oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn providers(&self, rows_max: usize) -> Result<Vec<Merchant>, PayError> {
        let prefix = MerchantKind::Provider.as_str();
        self.listed_merchants(
            index::KIND_CREATED,
            format!("{prefix}|"),
            format!("{prefix}|~"),
            rows_max,
        )
        .await
    }

    /// The sub-merchant `sub_mchid`, when `sp_mchid` is its provider.
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`] for an unknown sub-merchant, [`PayError::NoAuth`]
    /// when it is not this provider's.
    pub async fn sub_merchant_of(
        &self,
        sp_mchid: &str,
        sub_mchid: &str,
    ) -> Result<Arc<Merchant>, PayError> {
        let sub =
            self.merchant_shared(sub_mchid)
                .await?
                .ok_or_else(|| PayError::MerchantNotFound {
                    mchid: sub_mchid.to_owned(),
                })?;
        if sub.kind != MerchantKind::SubMerchant || sub.provider.as_deref() != Some(sp_mchid) {
            return Err(PayError::NoAuth {
                reason: format!(
                    "无权限: {sub_mchid} is not a sub-merchant of service provider {sp_mchid}"
                ),
            });
        }
        Ok(sub)
    }

    /// Checks who an order is for and through whom: a direct merchant for itself with
    /// one of its apps, or a provider for its own sub-merchant with the provider's
    /// `sp_appid` and, if given, the sub-merchant's `sub_appid`.
    pub(crate) async fn check_order_parties(
        &self,
        request: &PrepayRequest,
        merchant: &Merchant,
    ) -> Result<(), PayError> {
        let Some(sp_mchid) = &request.sp_mchid else {
            if merchant.kind != MerchantKind::Direct {
                return Err(PayError::NoAuth {
                    reason: format!(
                        "无权限: {} is a {}; its orders go through the partner API \
                         (/v3/pay/partner/...)",
                        merchant.mchid,
                        merchant.kind.as_str().replace('_', "-")
                    ),
                });
            }
            return check_bound(merchant, &request.appid);
        };
        let sub = self.sub_merchant_of(sp_mchid, &merchant.mchid).await?;
        let provider =
            self.merchant_shared(sp_mchid)
                .await?
                .ok_or_else(|| PayError::MerchantNotFound {
                    mchid: sp_mchid.clone(),
                })?;
        check_bound(&provider, &request.appid)?;
        if let Some(sub_appid) = &request.sub_appid {
            check_bound(&sub, sub_appid)?;
        }
        Ok(())
    }

    /// A sub-merchant's provider and its commission on `fee_minor` (rounded down: the
    /// platform keeps the odd fen); nobody and nothing for other merchants.
    pub(crate) async fn commission_on(
        &self,
        mchid: &str,
        fee_minor: i64,
    ) -> Result<(Option<String>, i64), PayError> {
        let Some(provider) = self
            .merchant_shared(mchid)
            .await?
            .and_then(|merchant| merchant.provider.clone())
        else {
            return Ok((None, 0));
        };
        let bps = self
            .merchant_shared(&provider)
            .await?
            .map_or(0, |provider| provider.commission_bps);
        let commission = crate::money::bps_down(fee_minor, bps, "the provider's commission")?;
        Ok((Some(provider), commission))
    }
}

fn check_bound(merchant: &Merchant, appid: &str) -> Result<(), PayError> {
    if merchant.appids.iter().any(|bound| bound == appid) {
        Ok(())
    } else {
        Err(PayError::AppidMchidNotMatch {
            appid: appid.to_owned(),
            mchid: merchant.mchid.clone(),
        })
    }
}
