//! Merchant accounts: creating them, reading them (cached, their keys opened), changing
//! their keys, apps and sign mode, and sealing keys stored before keys were sealed.

use std::sync::Arc;

use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordWrite};

use super::checks::{check_fee_rate, check_serial};
use super::{CONFLICT_RETRIES_MAX, PayService, check_text, records_only};
use crate::accounts;
use crate::error::PayError;
use crate::ids;
use crate::model::{Merchant, MerchantKey, MerchantKind, SignMode};
use crate::sealing::KeySealer;
use crate::store::{self, decode, find_one, index, kind, load, time_value};

/// A new merchant's settings.
#[derive(Debug, Clone)]
pub struct NewMerchant {
    /// Its name.
    pub name: String,
    /// An app to bind: existing, or registered now; `None` makes a new one.
    pub appid: Option<String>,
    /// The merchant API key it signs with.
    pub serial_no: String,
    /// The key's public half, SPKI PEM.
    pub public_key_pem: String,
    /// The fee in basis points.
    pub fee_rate_bps: u32,
    /// Which identity signs its notifications.
    pub sign_mode: SignMode,
}

impl PayService {
    /// Creates a merchant with a new mchid and APIv3 key, bound to an app.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for bad settings.
    pub async fn create_merchant(&self, new: NewMerchant) -> Result<Merchant, PayError> {
        self.create_signing_merchant(new, MerchantKind::Direct, 0)
            .await
    }

    /// Creates a merchant account that signs its own requests: a direct merchant or a
    /// service provider.
    pub(crate) async fn create_signing_merchant(
        &self,
        new: NewMerchant,
        kind: MerchantKind,
        commission_bps: u32,
    ) -> Result<Merchant, PayError> {
        check_text("name", &new.name, 1, 64)?;
        check_serial("serial_no", &new.serial_no)?;
        check_fee_rate(new.fee_rate_bps)?;
        let app = self.create_app(&new.name, new.appid.as_deref()).await?;
        let now = self.now();
        self.insert_merchant(|mchid| Merchant {
            mchid,
            name: new.name.clone(),
            appids: vec![app.appid.clone()],
            keys: vec![MerchantKey {
                serial_no: new.serial_no.to_ascii_uppercase(),
                public_key_pem: new.public_key_pem.clone(),
                added_at: now,
            }],
            apiv3_key: ids::random_alnum(32),
            fee_rate_bps: new.fee_rate_bps,
            sign_mode: new.sign_mode,
            created_at: now,
            kind,
            provider: None,
            commission_bps,
            apiv2_key: ids::random_alnum(32),
            owner_user_id: None,
            collection_token: None,
        })
        .await
    }

    /// Writes a new merchant account under a fresh mchid (drawn again on a collision)
    /// and opens its available balance.
    pub(crate) async fn insert_merchant(
        &self,
        build: impl Fn(String) -> Merchant,
    ) -> Result<Merchant, PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let merchant = build(ids::new_mchid());
            self.open(&accounts::available(&merchant.mchid)?).await?;
            let write = self.merchant_write(&merchant, Expect::Absent)?;
            if self.commit_merchant(write, &merchant).await? {
                return Ok(merchant);
            }
        }
        Err(PayError::Busy {
            what: "merchant".to_owned(),
        })
    }

    /// One merchant.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn merchant(&self, mchid: &str) -> Result<Option<Merchant>, PayError> {
        Ok(self
            .merchant_shared(mchid)
            .await?
            .map(|merchant| Merchant::clone(&merchant)))
    }

    /// One merchant, shared rather than copied (every signed request needs one).
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn merchant_shared(&self, mchid: &str) -> Result<Option<Arc<Merchant>>, PayError> {
        if let Some(merchant) = self
            .merchants
            .read()
            .ok()
            .and_then(|cache| cache.get(mchid).cloned())
        {
            return Ok(Some(merchant));
        }
        let found = match load::<Merchant>(&*self.records, kind::MERCHANT, mchid).await? {
            Some((stored, _)) => Some(Arc::new(self.opened(stored)?)),
            None => None,
        };
        if let Some(merchant) = &found
            && let Ok(mut cache) = self.merchants.write()
        {
            cache.insert(merchant.mchid.clone(), merchant.clone());
        }
        Ok(found)
    }

    /// The merchant `mchid`, which must exist.
    pub(crate) async fn existing_merchant(&self, mchid: &str) -> Result<Arc<Merchant>, PayError> {
        self.merchant_shared(mchid)
            .await?
            .ok_or_else(|| PayError::MerchantNotFound {
                mchid: mchid.to_owned(),
            })
    }

    fn remember(&self, merchant: &Merchant) {
        if let Ok(mut cache) = self.merchants.write() {
            cache.insert(merchant.mchid.clone(), Arc::new(merchant.clone()));
        }
    }

    /// Commits a merchant's record and keeps the cache in step: the merchant as written
    /// on success, nothing (read again) otherwise. `Ok(false)` on a version conflict.
    pub(crate) async fn commit_merchant(
        &self,
        write: RecordWrite,
        merchant: &Merchant,
    ) -> Result<bool, PayError> {
        let mut set = records_only(vec![write]);
        set.events.extend(merchant_event(merchant));
        let committed = self.try_commit_write(set).await;
        match &committed {
            Ok(true) => self.remember(merchant),
            _ => self.forget(&merchant.mchid),
        }
        committed
    }

    fn forget(&self, mchid: &str) {
        if let Ok(mut cache) = self.merchants.write() {
            cache.remove(mchid);
        }
    }

    /// Merchants, oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn merchants(&self, rows_max: usize) -> Result<Vec<Merchant>, PayError> {
        self.listed_merchants(index::CREATED, String::new(), "~".to_owned(), rows_max)
            .await
    }

    /// Merchants by an index range, oldest first, their keys opened.
    pub(crate) async fn listed_merchants(
        &self,
        name: &str,
        from: String,
        to: String,
        rows_max: usize,
    ) -> Result<Vec<Merchant>, PayError> {
        let stored: Vec<Merchant> = self
            .listed(kind::MERCHANT, name, from, to, rows_max, false)
            .await?;
        stored
            .into_iter()
            .map(|merchant| self.opened(merchant))
            .collect()
    }

    /// The merchant an index entry names, its keys opened.
    pub(crate) async fn found_merchant(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Option<Merchant>, PayError> {
        match find_one::<Merchant>(&*self.records, kind::MERCHANT, name, value).await? {
            Some((stored, _)) => Ok(Some(self.opened(stored)?)),
            None => Ok(None),
        }
    }

    /// A merchant's record as stored: its keys sealed.
    fn merchant_write(&self, merchant: &Merchant, expect: Expect) -> Result<RecordWrite, PayError> {
        let mut stored = merchant.clone();
        stored.apiv3_key = self.sealer.seal(
            &merchant.apiv3_key,
            &key_context(&merchant.mchid, "apiv3_key"),
        )?;
        stored.apiv2_key = self.sealer.seal(
            &merchant.apiv2_key,
            &key_context(&merchant.mchid, "apiv2_key"),
        )?;
        store::write(
            kind::MERCHANT,
            &merchant.mchid,
            expect,
            &stored,
            merchant_index(merchant),
        )
    }

    /// A merchant as read from its record, its keys opened.
    fn opened(&self, mut merchant: Merchant) -> Result<Merchant, PayError> {
        merchant.apiv3_key = self.sealer.open(
            &merchant.apiv3_key,
            &key_context(&merchant.mchid, "apiv3_key"),
        )?;
        merchant.apiv2_key = self.sealer.open(
            &merchant.apiv2_key,
            &key_context(&merchant.mchid, "apiv2_key"),
        )?;
        Ok(merchant)
    }

    /// Seals the keys of merchant records written before keys were sealed (run at
    /// start); answers how many records it sealed.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn seal_stored_keys(&self) -> Result<usize, PayError> {
        let mut range = IndexRange {
            kind: kind::MERCHANT.to_owned(),
            name: index::CREATED.to_owned(),
            from: String::new(),
            to: "~".to_owned(),
            after: None,
            rows_max: 500,
            newest_first: false,
        };
        let mut sealed = 0;
        loop {
            let page = self.records.range(range.clone()).await?;
            let Some(last) = page.last() else { break };
            range.after = Some((last.value.clone(), last.record.key.clone()));
            for found in &page {
                let stored: Merchant = decode(&found.record)?;
                if KeySealer::is_sealed(&stored.apiv3_key)
                    && KeySealer::is_sealed(&stored.apiv2_key)
                {
                    continue;
                }
                let merchant = self.opened(stored)?;
                let write =
                    self.merchant_write(&merchant, Expect::Version(found.record.version))?;
                // A conflict means someone wrote it meanwhile, sealed.
                if self.commit_merchant(write, &merchant).await? {
                    sealed += 1;
                }
            }
        }
        Ok(sealed)
    }

    async fn update_merchant(
        &self,
        mchid: &str,
        change: impl Fn(&mut Merchant) -> Result<bool, PayError>,
    ) -> Result<Merchant, PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((stored, version)) =
                load::<Merchant>(&*self.records, kind::MERCHANT, mchid).await?
            else {
                return Err(PayError::MerchantNotFound {
                    mchid: mchid.to_owned(),
                });
            };
            let mut merchant = self.opened(stored)?;
            if !change(&mut merchant)? {
                return Ok(merchant);
            }
            let write = self.merchant_write(&merchant, Expect::Version(version))?;
            if self.commit_merchant(write, &merchant).await? {
                return Ok(merchant);
            }
        }
        Err(PayError::Busy {
            what: "merchant".to_owned(),
        })
    }

    /// Registers another merchant API key (a merchant bringing its own key pair).
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`], or [`PayError::Invalid`] for a bad serial.
    pub async fn add_merchant_key(
        &self,
        mchid: &str,
        serial_no: &str,
        public_key_pem: &str,
    ) -> Result<Merchant, PayError> {
        check_serial("serial_no", serial_no)?;
        let now = self.now();
        self.update_merchant(mchid, |merchant| {
            if merchant.key(serial_no).is_some() {
                return Err(PayError::invalid(
                    "serial_no",
                    "a key with this serial is registered",
                ));
            }
            merchant.keys.push(MerchantKey {
                serial_no: serial_no.to_ascii_uppercase(),
                public_key_pem: public_key_pem.to_owned(),
                added_at: now,
            });
            Ok(true)
        })
        .await
    }

    /// Binds another app to a merchant.
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`] or [`PayError::AppNotFound`].
    pub async fn bind_app(&self, mchid: &str, appid: &str) -> Result<Merchant, PayError> {
        if self.app(appid).await?.is_none() {
            return Err(PayError::AppNotFound {
                appid: appid.to_owned(),
            });
        }
        self.update_merchant(mchid, |merchant| {
            if merchant.appids.iter().any(|bound| bound == appid) {
                return Ok(false);
            }
            merchant.appids.push(appid.to_owned());
            Ok(true)
        })
        .await
    }

    /// Sets which identity signs a merchant's notifications; a no-op when unchanged.
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`].
    pub async fn set_sign_mode(&self, mchid: &str, mode: SignMode) -> Result<Merchant, PayError> {
        self.update_merchant(mchid, |merchant| {
            let changed = merchant.sign_mode != mode;
            merchant.sign_mode = mode;
            Ok(changed)
        })
        .await
    }
}

/// The associated data of a sealed merchant key: whose, and which.
fn key_context(mchid: &str, field: &str) -> String {
    format!("merchant|{mchid}|{field}")
}

/// A merchant's index entries: by creation, and sub-merchants by their provider.
fn merchant_index(merchant: &Merchant) -> Vec<IndexEntry> {
    let created = time_value(merchant.created_at.unix_ms());
    let mut entries = vec![
        IndexEntry::new(index::CREATED, created.clone()),
        IndexEntry::new(
            index::KIND_CREATED,
            format!("{}|{created}", merchant.kind.as_str()),
        ),
    ];
    if let Some(provider) = &merchant.provider {
        entries.push(IndexEntry::new(
            index::PROVIDER_CREATED,
            format!("{provider}|{created}"),
        ));
    }
    if let Some(owner) = &merchant.owner_user_id {
        entries.push(IndexEntry::new(index::OWNER, owner.clone()));
    }
    if let Some(token) = &merchant.collection_token {
        entries.push(IndexEntry::new(index::COLLECTION_TOKEN, token.clone()));
    }
    entries
}

/// The outbox topic of a merchant's public name, written with every change of the
/// merchant (Search reads it).
pub const TOPIC_MERCHANT: &str = "pay.merchant";

/// The outbox event of a business merchant as it now is: its name and kind, nothing
/// else. A person's collection code (a micro merchant) is a person's, never published.
#[must_use]
pub fn merchant_event(merchant: &Merchant) -> Option<plaza_kernel::queue::NewEvent> {
    let kind = match merchant.kind {
        MerchantKind::Micro => return None,
        MerchantKind::Direct => "direct",
        MerchantKind::Provider => "provider",
        MerchantKind::SubMerchant => "sub_merchant",
    };
    Some(plaza_kernel::queue::NewEvent {
        topic: TOPIC_MERCHANT.to_owned(),
        key: merchant.mchid.clone(),
        payload: serde_json::json!({
            "mchid": merchant.mchid,
            "name": merchant.name,
            "kind": kind,
        })
        .to_string(),
    })
}
