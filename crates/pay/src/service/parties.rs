//! Who may act for whom: a direct merchant for itself, a service provider for its own
//! sub-merchants — the rules prepay checks — and the provider's commission settlement
//! pays. Onboarding providers and sub-merchants is the `partner` module's.

use std::sync::Arc;

use super::PayService;
use crate::error::PayError;
use crate::model::{Merchant, MerchantKind};

impl PayService {
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
        let sub = self.existing_merchant(sub_mchid).await?;
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
    /// one of its apps (`appid`), or a provider (`sp_mchid`) for its own sub-merchant
    /// with the provider's `sp_appid` (`appid`) and, if given, the sub-merchant's
    /// `sub_appid`.
    pub(crate) async fn check_order_parties(
        &self,
        merchant: &Merchant,
        appid: &str,
        (sp_mchid, sub_appid): (Option<&str>, Option<&str>),
    ) -> Result<(), PayError> {
        let Some(sp_mchid) = sp_mchid else {
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
            return check_bound(merchant, appid);
        };
        let sub = self.sub_merchant_of(sp_mchid, &merchant.mchid).await?;
        let provider = self.existing_merchant(sp_mchid).await?;
        check_bound(&provider, appid)?;
        if let Some(sub_appid) = sub_appid {
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
