//! Ads and the revenue share. An advertiser is a Pay merchant that moves money from its
//! available balance into an ad budget; its campaigns are priced per thousand
//! impressions (CPM) and per click (CPC). A developer enables ad slots in its mini
//! program; the container shows an ad in a slot and reports an impression once per
//! view and a click once. Spend moves through the ledger as it happens, from the
//! budget into what the app earned that month, in whole fen: a campaign's spend in an
//! app is `⌊impressions × CPM / 1000⌋ + clicks × CPC`, and each event books the
//! difference from what was booked before, so fractions of a fen are never lost nor
//! charged twice. A month-end job pays each app's earnings out: [`DEVELOPER_SHARE_BPS`]
//! to the developer account's ad income, the rest to the platform.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::queue::NewJob;
use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordWrite};
use plaza_ledger::{AccountKind, LedgerError, NewAccount, NewTransfer, TransferBatch, WriteSet};
use serde::{Deserialize, Serialize};

use crate::login::{Code, Purpose};
use crate::store::{kind, load, time_value, write};
use crate::{CONFLICT_RETRIES_MAX, MerchantRefusal, MiniAppError, MiniApps, china_day};

/// What developers get of what their slots earned: 50%, paid at month end.
pub const DEVELOPER_SHARE_BPS: i64 = 5_000;
/// The month-end job.
pub const JOB_AD_SHARE: &str = "miniapp.ad_share";
/// A served ad's impression and click count within this long of serving.
pub const SERVE_TTL_MS: i64 = 30 * 60_000;
/// The most a CPM or CPC may be, fen.
pub const PRICE_MAX_MINOR: i64 = 100_000;
/// The largest top-up, fen (WeChat's 32-bit amounts).
pub const TOP_UP_MAX_MINOR: i64 = 2_147_483_647;

/// An ad campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// `cmp` + 16 hex digits.
    pub campaign_id: String,
    /// The advertiser.
    pub mchid: String,
    /// The headline.
    pub title: String,
    /// One line below it.
    pub text: String,
    /// Where a click leads: a mini program path (`/app/mp/…`) or an `https://` URL.
    pub link: String,
    /// Price per thousand impressions, fen.
    pub cpm_minor: i64,
    /// Price per click, fen.
    pub cpc_minor: i64,
    /// Served only while active.
    pub active: bool,
    /// When it was made.
    pub created_at: Timestamp,
}

/// An ad slot in a mini program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdSlot {
    /// `adunit-` + 16 hex digits.
    pub slot_id: String,
    /// The app.
    pub appid: String,
    /// What the developer calls it.
    pub name: String,
    /// Served only while enabled.
    pub enabled: bool,
    /// When it was made.
    pub created_at: Timestamp,
}

/// One campaign's events in one app in one month, and what was booked for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Impressions counted.
    pub impressions: u64,
    /// Clicks counted.
    pub clicks: u64,
    /// Spend moved through the ledger, fen.
    pub booked_minor: i64,
}

/// An app's ad figures on one China day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdDay {
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// What advertisers spent, fen.
    pub spend_minor: i64,
}

/// An app's month paid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// The app.
    pub appid: String,
    /// The developer account paid.
    pub developer_id: String,
    /// `yyyymm`.
    pub month: String,
    /// What the app's slots earned.
    pub earned_minor: i64,
    /// The developer's share.
    pub developer_minor: i64,
    /// The platform's.
    pub platform_minor: i64,
    /// When it was paid.
    pub paid_at: Timestamp,
}

/// An ad to show, with the token its impression and click are reported with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Reported back with the impression and the click.
    pub token: String,
    /// The campaign.
    pub campaign: Campaign,
}

/// What a campaign costs for `tally`'s events, fen.
pub fn spend_for(tally: &Tally, campaign: &Campaign) -> i64 {
    let impressions = i128::from(tally.impressions) * i128::from(campaign.cpm_minor) / 1_000;
    let clicks = i128::from(tally.clicks) * i128::from(campaign.cpc_minor);
    i64::try_from(impressions + clicks).unwrap_or(i64::MAX)
}

/// The developer's share of `earned`, rounded down; the platform keeps the rest.
pub fn developer_share(earned_minor: i64) -> i64 {
    i64::try_from(i128::from(earned_minor) * i128::from(DEVELOPER_SHARE_BPS) / 10_000).unwrap_or(0)
}

fn account(name: String) -> Result<AccountId, MiniAppError> {
    AccountId::parse(&name).map_err(|error| MiniAppError::Unavailable {
        reason: format!("account {name:?}: {error}"),
    })
}

/// An ad budget.
pub fn budget_account(mchid: &str) -> Result<AccountId, MiniAppError> {
    account(format!("ads:{mchid}:budget"))
}

/// What an app's slots earned in a month, until paid out.
pub fn earned_account(appid: &str, month: &str) -> Result<AccountId, MiniAppError> {
    account(format!("ads:{appid}:earned:{month}"))
}

/// A developer account's ad income.
pub fn income_account(developer_id: &str) -> Result<AccountId, MiniAppError> {
    account(format!("ads:dev:{developer_id}:income"))
}

/// The platform's share of ad revenue.
pub fn platform_account() -> Result<AccountId, MiniAppError> {
    account("platform:ads".to_owned())
}

fn transfer(
    id: String,
    from: &AccountId,
    to: &AccountId,
    amount: i64,
    memo: &str,
) -> Result<NewTransfer, MiniAppError> {
    Ok(NewTransfer {
        id: TransferId::parse(&id).map_err(|error| MiniAppError::Unavailable {
            reason: format!("transfer id {id:?}: {error}"),
        })?,
        from: from.clone(),
        to: to.clone(),
        amount_minor: amount,
        currency: Currency::CNY,
        memo: memo.to_owned(),
    })
}

/// `yyyymm` of a China day.
pub fn month_of_day(day: i64) -> String {
    let date = jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .unwrap_or(jiff::civil::date(1970, 1, 1));
    format!("{:04}{:02}", date.year(), date.month())
}

/// 02:00 China time on the first day of the month after `month` (`yyyymm`).
fn month_end_due(month: &str) -> Timestamp {
    let year: i16 = month.get(..4).and_then(|y| y.parse().ok()).unwrap_or(1970);
    let number: i8 = month.get(4..).and_then(|m| m.parse().ok()).unwrap_or(1);
    let (year, number) = if number >= 12 {
        (year + 1, 1)
    } else {
        (year, number + 1)
    };
    let first = jiff::civil::date(year, number, 1).at(2, 0, 0, 0);
    let zone = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8));
    first
        .to_zoned(zone)
        .map(|zoned| Timestamp::from_unix_ms(zoned.timestamp().as_millisecond()))
        .unwrap_or(Timestamp::from_unix_ms(0))
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn check_price(field: &str, value: i64, min: i64) -> Result<(), MiniAppError> {
    if (min..=PRICE_MAX_MINOR).contains(&value) {
        Ok(())
    } else {
        Err(MiniAppError::invalid(
            field,
            format!("{min} to {PRICE_MAX_MINOR} fen"),
        ))
    }
}

/// What an advertiser gives to make a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    /// 1–20 characters.
    pub title: String,
    /// Up to 40 characters.
    pub text: String,
    /// `/app/mp/…` or `https://…`.
    pub link: String,
    /// Fen per thousand impressions, at least 1.
    pub cpm_minor: i64,
    /// Fen per click, at least 0.
    pub cpc_minor: i64,
}

impl MiniApps {
    async fn open_account(&self, id: &AccountId, kind: AccountKind) -> Result<(), MiniAppError> {
        if self.opened.lock().is_ok_and(|opened| opened.contains(id)) {
            return Ok(());
        }
        match self
            .ledger
            .open_account(NewAccount::new(id.clone(), kind, Currency::CNY))
            .await
        {
            Ok(_) | Err(LedgerError::AccountConflict { .. }) => {
                if let Ok(mut opened) = self.opened.lock() {
                    opened.insert(id.clone());
                }
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Moves `amount_minor` from merchant `mchid`'s available balance into its ad budget;
    /// the same `request_id` again moves nothing more.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for a bad amount, request id or merchant;
    /// [`MiniAppError::BudgetShort`] when the balance is short.
    pub async fn top_up_ads(
        &self,
        mchid: &str,
        amount_minor: i64,
        request_id: &str,
    ) -> Result<i64, MiniAppError> {
        if !(1..=TOP_UP_MAX_MINOR).contains(&amount_minor) {
            return Err(MiniAppError::invalid(
                "amount_minor",
                format!("1 to {TOP_UP_MAX_MINOR} fen"),
            ));
        }
        if request_id.is_empty()
            || request_id.len() > 64
            || !request_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(MiniAppError::invalid(
                "request_id",
                "1 to 64 letters, digits, - and _",
            ));
        }
        let merchants = self
            .merchants
            .as_ref()
            .ok_or_else(|| MiniAppError::invalid("mchid", "this Plaza runs no payments"))?;
        let source = merchants
            .available_account(mchid.to_owned())
            .await
            .map_err(|refusal| match refusal {
                MerchantRefusal::NotFound { .. } => {
                    MiniAppError::invalid("mchid", refusal.to_string())
                }
                MerchantRefusal::Unavailable { reason } => MiniAppError::Unavailable { reason },
            })?;
        let source = account(source)?;
        let budget = budget_account(mchid)?;
        self.open_account(&budget, AccountKind::Frozen).await?;
        let batch = TransferBatch::new(vec![transfer(
            format!("ads-topup:{mchid}:{request_id}"),
            &source,
            &budget,
            amount_minor,
            "ad budget top-up",
        )?])?;
        match self.ledger.commit(WriteSet::transfers(batch)).await {
            Ok(_) => {}
            Err(LedgerError::InsufficientFunds { .. }) => {
                return Err(MiniAppError::BudgetShort {
                    what: "the merchant's available balance".to_owned(),
                });
            }
            Err(error) => return Err(error.into()),
        }
        self.ad_budget(mchid).await
    }

    /// An advertiser's ad budget, fen (0 before its first top-up).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn ad_budget(&self, mchid: &str) -> Result<i64, MiniAppError> {
        self.balance(&budget_account(mchid)?).await
    }

    async fn balance(&self, id: &AccountId) -> Result<i64, MiniAppError> {
        Ok(self
            .ledger
            .account(id.clone())
            .await?
            .map_or(0, |account| account.balance_minor))
    }

    /// A developer account's ad income, fen.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn ad_income(&self, developer_id: &str) -> Result<i64, MiniAppError> {
        self.balance(&income_account(developer_id)?).await
    }

    /// Makes a campaign for advertiser `mchid` (active at once).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] naming a bad field.
    pub async fn create_campaign(
        &self,
        mchid: &str,
        new: NewCampaign,
    ) -> Result<Campaign, MiniAppError> {
        if !(1..=20).contains(&new.title.chars().count()) {
            return Err(MiniAppError::invalid("title", "1 to 20 characters"));
        }
        if new.text.chars().count() > 40 {
            return Err(MiniAppError::invalid("text", "at most 40 characters"));
        }
        let link_ok = (new.link.starts_with("/app/mp/") || new.link.starts_with("https://"))
            && new.link.len() <= 300
            && !new
                .link
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if !link_ok {
            return Err(MiniAppError::invalid(
                "link",
                "a mini program path (/app/mp/…) or an https:// URL",
            ));
        }
        check_price("cpm_minor", new.cpm_minor, 1)?;
        check_price("cpc_minor", new.cpc_minor, 0)?;
        let campaign = Campaign {
            campaign_id: format!("cmp{}", random_hex(8)),
            mchid: mchid.to_owned(),
            title: new.title,
            text: new.text,
            link: new.link,
            cpm_minor: new.cpm_minor,
            cpc_minor: new.cpc_minor,
            active: true,
            created_at: self.now(),
        };
        let write = self.campaign_write(&campaign, Expect::Absent)?;
        if self.try_commit(vec![write]).await? {
            Ok(campaign)
        } else {
            Err(MiniAppError::Busy {
                what: "campaign".to_owned(),
            })
        }
    }

    fn campaign_write(
        &self,
        campaign: &Campaign,
        expect: Expect,
    ) -> Result<RecordWrite, MiniAppError> {
        let created = time_value(campaign.created_at.unix_ms());
        let mut index = vec![IndexEntry::new(
            crate::store::index::ADVERTISER,
            format!("{}/{created}", campaign.mchid),
        )];
        if campaign.active {
            index.push(IndexEntry::new(crate::store::index::ACTIVE, created));
        }
        write(
            kind::CAMPAIGN,
            &campaign.campaign_id,
            expect,
            campaign,
            index,
        )
    }

    /// Pauses or resumes a campaign of `mchid`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for another advertiser's or an unknown campaign.
    pub async fn set_campaign_active(
        &self,
        mchid: &str,
        campaign_id: &str,
        active: bool,
    ) -> Result<Campaign, MiniAppError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut campaign, version) =
                load::<Campaign>(&*self.records, kind::CAMPAIGN, campaign_id)
                    .await?
                    .filter(|(campaign, _)| campaign.mchid == mchid)
                    .ok_or_else(|| {
                        MiniAppError::invalid("campaign_id", "no such campaign of this advertiser")
                    })?;
            campaign.active = active;
            if self
                .try_commit(vec![
                    self.campaign_write(&campaign, Expect::Version(version))?,
                ])
                .await?
            {
                return Ok(campaign);
            }
        }
        Err(MiniAppError::Busy {
            what: "campaign".to_owned(),
        })
    }

    /// An advertiser's campaigns with their spend so far, newest first.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn campaigns_of(&self, mchid: &str) -> Result<Vec<Campaign>, MiniAppError> {
        self.campaigns_in(
            crate::store::index::ADVERTISER,
            format!("{mchid}/"),
            format!("{mchid}/~"),
            true,
        )
        .await
    }

    async fn campaigns_in(
        &self,
        name: &str,
        from: String,
        to: String,
        newest_first: bool,
    ) -> Result<Vec<Campaign>, MiniAppError> {
        crate::store::range(
            &*self.records,
            kind::CAMPAIGN,
            name,
            (from, to),
            500,
            newest_first,
        )
        .await
    }

    /// Adds an ad slot to the app (enabled).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for a bad name, [`MiniAppError::AppNotFound`].
    pub async fn add_slot(&self, appid: &str, name: &str) -> Result<AdSlot, MiniAppError> {
        self.existing_app(appid).await?;
        if !(1..=20).contains(&name.chars().count()) {
            return Err(MiniAppError::invalid("name", "1 to 20 characters"));
        }
        let slot = AdSlot {
            slot_id: format!("adunit-{}", random_hex(8)),
            appid: appid.to_owned(),
            name: name.to_owned(),
            enabled: true,
            created_at: self.now(),
        };
        let write = write(
            kind::AD_SLOT,
            &slot.slot_id,
            Expect::Absent,
            &slot,
            vec![IndexEntry::new(
                crate::store::index::APP,
                format!("{appid}/{}", time_value(slot.created_at.unix_ms())),
            )],
        )?;
        if self.try_commit(vec![write]).await? {
            Ok(slot)
        } else {
            Err(MiniAppError::Busy {
                what: "ad slot".to_owned(),
            })
        }
    }

    /// Enables or disables one of the app's slots.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for another app's or an unknown slot.
    pub async fn set_slot_enabled(
        &self,
        appid: &str,
        slot_id: &str,
        enabled: bool,
    ) -> Result<AdSlot, MiniAppError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut slot, version) = self.slot(appid, slot_id).await?;
            slot.enabled = enabled;
            let write = write(
                kind::AD_SLOT,
                slot_id,
                Expect::Version(version),
                &slot,
                vec![IndexEntry::new(
                    crate::store::index::APP,
                    format!("{appid}/{}", time_value(slot.created_at.unix_ms())),
                )],
            )?;
            if self.try_commit(vec![write]).await? {
                return Ok(slot);
            }
        }
        Err(MiniAppError::Busy {
            what: "ad slot".to_owned(),
        })
    }

    async fn slot(&self, appid: &str, slot_id: &str) -> Result<(AdSlot, u64), MiniAppError> {
        load::<AdSlot>(&*self.records, kind::AD_SLOT, slot_id)
            .await?
            .filter(|(slot, _)| slot.appid == appid)
            .ok_or_else(|| {
                MiniAppError::invalid("adUnitId", "no such ad slot in this mini program")
            })
    }

    /// The app's slots, oldest first.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn slots(&self, appid: &str) -> Result<Vec<AdSlot>, MiniAppError> {
        crate::store::range(
            &*self.records,
            kind::AD_SLOT,
            crate::store::index::APP,
            (format!("{appid}/"), format!("{appid}/~")),
            100,
            false,
        )
        .await
    }

    /// An ad for an enabled slot: the active campaign with the highest CPM whose budget
    /// holds at least a click or a thousandth of its CPM's worth (oldest first on a tie);
    /// none when no campaign can pay.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for a disabled or unknown slot.
    pub async fn serve_ad(
        &self,
        appid: &str,
        slot_id: &str,
        user_id: &str,
    ) -> Result<Option<Served>, MiniAppError> {
        let (slot, _) = self.slot(appid, slot_id).await?;
        if !slot.enabled {
            return Err(MiniAppError::invalid("adUnitId", "the ad slot is disabled"));
        }
        let mut campaigns = self
            .campaigns_in(
                crate::store::index::ACTIVE,
                String::new(),
                "~".to_owned(),
                false,
            )
            .await?;
        campaigns.retain(|campaign| campaign.active);
        campaigns.sort_by_key(|campaign| std::cmp::Reverse(campaign.cpm_minor));
        for campaign in campaigns {
            if self.ad_budget(&campaign.mchid).await? >= campaign.cpc_minor.max(1) {
                let token = self.secrets.seal_code(&Code {
                    purpose: Purpose::Ad,
                    issued_ms: self.now().unix_ms(),
                    appid: appid.to_owned(),
                    user_id: user_id.to_owned(),
                    extra: format!("{slot_id}/{}/{}", campaign.campaign_id, random_hex(8)),
                });
                return Ok(Some(Served { token, campaign }));
            }
        }
        Ok(None)
    }

    /// Counts a served ad's impression (`click` false) or click, once each, and books the
    /// spend it causes. `Ok(false)` when it was counted before.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for a token that is not this user's ad in this app or
    /// is too old, or a click before an impression; [`MiniAppError::BudgetShort`] when
    /// the budget ran out (the campaign stops being served).
    pub async fn count_ad_event(
        &self,
        appid: &str,
        user_id: &str,
        token: &str,
        click: bool,
    ) -> Result<bool, MiniAppError> {
        let (code, serve_id) = self
            .secrets
            .open_code(token)
            .ok_or_else(|| MiniAppError::invalid("token", "not an ad Plaza served"))?;
        if code.purpose != Purpose::Ad
            || code.appid != appid
            || code.user_id != user_id
            || !crate::login::fresh(code.issued_ms, self.now().unix_ms(), SERVE_TTL_MS)
        {
            return Err(MiniAppError::invalid(
                "token",
                "not an ad served to this user here, or served too long ago",
            ));
        }
        let campaign_id = code.extra.split('/').nth(1).unwrap_or_default().to_owned();
        let view_key = format!("{serve_id}/view");
        if click
            && load::<bool>(&*self.records, kind::AD_EVENT, &view_key)
                .await?
                .is_none()
        {
            return Err(MiniAppError::invalid(
                "token",
                "a click comes after its impression",
            ));
        }
        let event_key = if click {
            format!("{serve_id}/click")
        } else {
            view_key
        };
        if load::<bool>(&*self.records, kind::AD_EVENT, &event_key)
            .await?
            .is_some()
        {
            return Ok(false);
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            match self
                .book_event(appid, &campaign_id, &event_key, click)
                .await?
            {
                Booked::Done => return Ok(true),
                Booked::Again => return Ok(false),
                Booked::Retry => {}
            }
        }
        Err(MiniAppError::Busy {
            what: "ad figures".to_owned(),
        })
    }

    /// One attempt at counting an event: its marker, the tally and the day's figures
    /// checked by version, and the spend's transfer, in one unit of work.
    async fn book_event(
        &self,
        appid: &str,
        campaign_id: &str,
        event_key: &str,
        click: bool,
    ) -> Result<Booked, MiniAppError> {
        let (campaign, _) = load::<Campaign>(&*self.records, kind::CAMPAIGN, campaign_id)
            .await?
            .ok_or_else(|| MiniAppError::invalid("token", "the campaign is gone"))?;
        let write_set = self
            .event_write_set(appid, &campaign, event_key, click)
            .await?;
        match self.ledger.commit(write_set).await {
            Ok(_) => Ok(Booked::Done),
            Err(LedgerError::RecordConflict { .. }) => {
                if load::<bool>(&*self.records, kind::AD_EVENT, event_key)
                    .await?
                    .is_some()
                {
                    Ok(Booked::Again)
                } else {
                    Ok(Booked::Retry)
                }
            }
            Err(LedgerError::InsufficientFunds { .. }) => {
                self.set_campaign_active(&campaign.mchid, campaign_id, false)
                    .await?;
                Err(MiniAppError::BudgetShort {
                    what: format!("campaign {campaign_id}'s budget"),
                })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The unit of work that counts one event: the marker that it was counted, the
    /// month's tally and the day's figures (checked by version), the spend it adds, and
    /// the month-end job (scheduled once per month).
    async fn event_write_set(
        &self,
        appid: &str,
        campaign: &Campaign,
        event_key: &str,
        click: bool,
    ) -> Result<WriteSet, MiniAppError> {
        let day = china_day(self.now());
        let month = month_of_day(day);
        let tally_key = format!("{}/{appid}/{month}", campaign.campaign_id);
        let (mut tally, tally_expect) =
            match load::<Tally>(&*self.records, kind::AD_TALLY, &tally_key).await? {
                Some((tally, version)) => (tally, Expect::Version(version)),
                None => (Tally::default(), Expect::Absent),
            };
        let day_key = format!("{appid}/{day:06}");
        let (mut figures, day_expect) =
            match load::<AdDay>(&*self.records, kind::AD_DAY, &day_key).await? {
                Some((figures, version)) => (figures, Expect::Version(version)),
                None => (AdDay::default(), Expect::Absent),
            };
        if click {
            tally.clicks += 1;
            figures.clicks += 1;
        } else {
            tally.impressions += 1;
            figures.impressions += 1;
        }
        let delta = spend_for(&tally, campaign) - tally.booked_minor;
        tally.booked_minor += delta;
        figures.spend_minor += delta;
        let earned = earned_account(appid, &month)?;
        self.open_account(&earned, AccountKind::Frozen).await?;
        let batch = if delta > 0 {
            Some(TransferBatch::new(vec![transfer(
                format!("ads-spend:{}", event_key.replace('/', ":")),
                &budget_account(&campaign.mchid)?,
                &earned,
                delta,
                "ad spend",
            )?])?)
        } else {
            None
        };
        let month_index = format!("{month}/{appid}/{}", campaign.campaign_id);
        Ok(WriteSet {
            batch,
            records: vec![
                write(kind::AD_EVENT, event_key, Expect::Absent, &true, vec![])?,
                write(
                    kind::AD_TALLY,
                    &tally_key,
                    tally_expect,
                    &tally,
                    vec![IndexEntry::new(crate::store::index::MONTH, month_index)],
                )?,
                write(
                    kind::AD_DAY,
                    &day_key,
                    day_expect,
                    &figures,
                    vec![IndexEntry::new(
                        crate::store::index::VISIT_DAYS,
                        day_key.clone(),
                    )],
                )?,
            ],
            jobs: vec![NewJob {
                kind: JOB_AD_SHARE.to_owned(),
                key: month.clone(),
                payload: month.clone(),
                due_at: month_end_due(&month),
            }],
            ..WriteSet::default()
        })
    }

    /// An app's ad figures on China day `day`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn ad_day(&self, appid: &str, day: i64) -> Result<AdDay, MiniAppError> {
        Ok(
            load::<AdDay>(&*self.records, kind::AD_DAY, &format!("{appid}/{day:06}"))
                .await?
                .map(|(figures, _)| figures)
                .unwrap_or_default(),
        )
    }

    /// The month-end job: pays each app's earnings of `month` out, the developer's share
    /// to its developer account's income and the rest to the platform, each app once
    /// (transfer ids are the idempotency keys; a payout record says what was paid).
    ///
    /// # Errors
    ///
    /// The store's; the job retries.
    pub async fn share_ad_revenue(&self, month: &str) -> Result<Vec<Payout>, MiniAppError> {
        let found = self
            .records
            .range(IndexRange {
                kind: kind::AD_TALLY.to_owned(),
                name: crate::store::index::MONTH.to_owned(),
                from: format!("{month}/"),
                to: format!("{month}/~"),
                after: None,
                rows_max: 10_000,
                newest_first: false,
            })
            .await?;
        let mut apps: Vec<String> = found
            .iter()
            .filter_map(|found| found.value.split('/').nth(1).map(str::to_owned))
            .collect();
        apps.dedup();
        let mut payouts = Vec::new();
        for appid in apps {
            if let Some(payout) = self.pay_out(&appid, month).await? {
                payouts.push(payout);
            }
        }
        Ok(payouts)
    }

    async fn pay_out(&self, appid: &str, month: &str) -> Result<Option<Payout>, MiniAppError> {
        let payout_key = format!("{appid}/{month}");
        if let Some((payout, _)) =
            load::<Payout>(&*self.records, kind::AD_PAYOUT, &payout_key).await?
        {
            return Ok(Some(payout));
        }
        let app = self.existing_app(appid).await?;
        let earned = self.balance(&earned_account(appid, month)?).await?;
        let developer_minor = developer_share(earned);
        let payout = Payout {
            appid: appid.to_owned(),
            developer_id: app.developer_id.clone(),
            month: month.to_owned(),
            earned_minor: earned,
            developer_minor,
            platform_minor: earned - developer_minor,
            paid_at: self.now(),
        };
        let write_set = self.payout_write_set(&payout).await?;
        match self.ledger.commit(write_set).await {
            Ok(_) => Ok(Some(payout)),
            Err(LedgerError::RecordConflict { .. }) => {
                Ok(load::<Payout>(&*self.records, kind::AD_PAYOUT, &payout_key)
                    .await?
                    .map(|(payout, _)| payout))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A payout's transfers (the developer's share, the platform's rest) and its record.
    async fn payout_write_set(&self, payout: &Payout) -> Result<WriteSet, MiniAppError> {
        let (appid, month) = (&payout.appid, &payout.month);
        let earned = earned_account(appid, month)?;
        let income = income_account(&payout.developer_id)?;
        let platform = platform_account()?;
        self.open_account(&income, AccountKind::Wallet).await?;
        self.open_account(&platform, AccountKind::Fee).await?;
        let mut transfers = Vec::new();
        if payout.developer_minor > 0 {
            transfers.push(transfer(
                format!("ads-share:{appid}:{month}:dev"),
                &earned,
                &income,
                payout.developer_minor,
                "ad revenue share",
            )?);
        }
        if payout.platform_minor > 0 {
            transfers.push(transfer(
                format!("ads-share:{appid}:{month}:platform"),
                &earned,
                &platform,
                payout.platform_minor,
                "ad revenue, platform",
            )?);
        }
        Ok(WriteSet {
            batch: if transfers.is_empty() {
                None
            } else {
                Some(TransferBatch::new(transfers)?)
            },
            records: vec![write(
                kind::AD_PAYOUT,
                &format!("{appid}/{month}"),
                Expect::Absent,
                payout,
                vec![
                    IndexEntry::new(crate::store::index::MONTH, format!("{month}/{appid}")),
                    IndexEntry::new(
                        crate::store::index::DEVELOPER,
                        format!("{}/{month}/{appid}", payout.developer_id),
                    ),
                ],
            )?],
            ..WriteSet::default()
        })
    }

    /// Payouts of a month (all apps), or of a developer account (all months).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn payouts(
        &self,
        month: Option<&str>,
        developer_id: Option<&str>,
    ) -> Result<Vec<Payout>, MiniAppError> {
        let (name, from, to) = match (month, developer_id) {
            (_, Some(developer)) => (
                crate::store::index::DEVELOPER,
                format!("{developer}/"),
                format!("{developer}/~"),
            ),
            (Some(month), None) => (
                crate::store::index::MONTH,
                format!("{month}/"),
                format!("{month}/~"),
            ),
            (None, None) => (crate::store::index::MONTH, String::new(), "~".to_owned()),
        };
        crate::store::range(
            &*self.records,
            kind::AD_PAYOUT,
            name,
            (from, to),
            10_000,
            false,
        )
        .await
    }
}

/// How one attempt at counting an ad event ended.
enum Booked {
    /// Counted and booked.
    Done,
    /// Someone else counted it meanwhile.
    Again,
    /// A record changed meanwhile: read again.
    Retry,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(cpm: i64, cpc: i64) -> Campaign {
        Campaign {
            campaign_id: "c".to_owned(),
            mchid: "m".to_owned(),
            title: "t".to_owned(),
            text: String::new(),
            link: "https://x".to_owned(),
            cpm_minor: cpm,
            cpc_minor: cpc,
            active: true,
            created_at: Timestamp::from_unix_ms(0),
        }
    }

    #[test]
    fn spend_is_whole_fen_of_impressions_and_clicks() {
        let c = campaign(1_500, 30);
        let tally = |impressions, clicks| Tally {
            impressions,
            clicks,
            booked_minor: 0,
        };
        assert_eq!(spend_for(&tally(0, 0), &c), 0);
        assert_eq!(spend_for(&tally(1, 0), &c), 1, "1.5 fen rounds down");
        assert_eq!(spend_for(&tally(2, 0), &c), 3);
        assert_eq!(spend_for(&tally(1_000, 2), &c), 1_560);
    }

    proptest::proptest! {
        #[test]
        fn booking_each_event_by_difference_adds_up_to_the_total(
            cpm in 1i64..=PRICE_MAX_MINOR, cpc in 0i64..=1_000, events in proptest::collection::vec(proptest::bool::ANY, 0..400)
        ) {
            let c = campaign(cpm, cpc);
            let mut tally = Tally::default();
            for click in events {
                if click { tally.clicks += 1 } else { tally.impressions += 1 }
                let delta = spend_for(&tally, &c) - tally.booked_minor;
                proptest::prop_assert!(delta >= 0);
                tally.booked_minor += delta;
            }
            proptest::prop_assert_eq!(tally.booked_minor, spend_for(&tally, &c));
        }

        #[test]
        fn the_share_and_the_rest_make_the_whole(earned in 0i64..=i64::from(i32::MAX) * 1_000) {
            let developer = developer_share(earned);
            proptest::prop_assert!(developer >= 0 && developer <= earned);
            proptest::prop_assert_eq!(developer + (earned - developer), earned);
            proptest::prop_assert!((earned - 2 * developer).abs() <= 1);
        }
    }

    #[test]
    fn months_and_their_ends() {
        assert_eq!(month_of_day(0), "197001");
        assert_eq!(
            month_end_due("202612").unix_ms(),
            1_798_740_000_000,
            "2027-01-01 02:00 +08:00"
        );
    }
}
