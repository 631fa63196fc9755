//! Service providers (服务商) and their sub-merchants (子商户): onboarding them and
//! listing them.
//!
//! A provider is a merchant account that signs requests; its sub-merchants never sign.
//! A partner order belongs to the sub-merchant (its money, fee and settlement) and
//! remembers the provider, which placed it and receives its notifications. Who may act
//! for whom at prepay, and the commission settlement pays, are the core's (its `parties`
//! module): every order and settlement needs them.

use plaza_kernel::limits::PAGE_ROWS_MAX;
use plaza_kernel::record::IndexRange;

use crate::error::PayError;
use crate::model::{Merchant, MerchantKind};
use crate::service::{NewMerchant, PayService, check_fee_rate, check_text};
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
        new: NewMerchant,
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
        let provider = self.existing_merchant(&new.provider).await?;
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
}
