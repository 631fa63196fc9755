//! The creator incentive plan: the operator funds a month's pool through the ledger
//! (from the outside world into `channels:incentive:<yyyymm>`), and at 02:00 China time
//! on the first of the next month a job pays it to the month's quality creators, in
//! proportion to their score, into their wallets.
//!
//! What counts is activity on **original** posts during the month (copies never earn):
//!
//! - a creator **qualifies** with at least `min_followers` followers when the job runs,
//!   at least `min_views` views in the month, and an engagement rate —
//!   (likes + comments + shares) / views — of at least `min_engagement_bps` basis points;
//! - their **score** is `views + 5·likes + 10·comments + 20·shares` in the month (likes
//!   net of likes taken back);
//! - each qualifying creator gets `⌊pool × score / Σ scores⌋` fen; what the floors leave,
//!   and the whole pool when nobody qualifies, goes back where it came from.
//!
//! Each post keeps its month's activity in a record written with its counters (under
//! the post's lock), so the job reads a month without scanning views.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::queue::NewJob;
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_ledger::{AccountKind, LedgerError, NewAccount, NewTransfer, TransferBatch, WriteSet};
use serde::{Deserialize, Serialize};

use crate::model::Post;
use crate::store::{self, kind, load, prefix_bounds, range, write};
use crate::{Channels, ChannelsError};

/// The job that pays a month's pool, keyed by `yyyymm`.
pub const JOB_INCENTIVE: &str = "channels.incentive";
/// The largest single funding, fen (¥10,000,000).
pub const FUNDING_MAX_MINOR: i64 = 1_000_000_000;
/// Default thresholds of a month's plan.
pub const DEFAULT_MIN_FOLLOWERS: u64 = 1_000;
/// See [`DEFAULT_MIN_FOLLOWERS`].
pub const DEFAULT_MIN_VIEWS: u64 = 10_000;
/// See [`DEFAULT_MIN_FOLLOWERS`]: 3%.
pub const DEFAULT_MIN_ENGAGEMENT_BPS: u64 = 300;
/// Score weights: views, likes, comments, shares.
pub const SCORE_WEIGHTS: [u64; 4] = [1, 5, 10, 20];
/// Creators one month pays at most (one ledger batch each chunk of them).
const CREATORS_MAX: usize = 10_000;
/// Transfers per unit of work when paying.
const PAYOUTS_PER_BATCH: usize = 500;

/// A change to a post's activity this month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Views counted.
    pub views: i64,
    /// Likes given (negative: taken back).
    pub likes: i64,
    /// Comments written.
    pub comments: i64,
    /// Shares.
    pub shares: i64,
}

impl Activity {
    /// One view.
    pub const VIEW: Self = Self {
        views: 1,
        likes: 0,
        comments: 0,
        shares: 0,
    };
    /// One comment.
    pub const COMMENT: Self = Self {
        views: 0,
        likes: 0,
        comments: 1,
        shares: 0,
    };
    /// One share.
    pub const SHARE: Self = Self {
        views: 0,
        likes: 0,
        comments: 0,
        shares: 1,
    };

    /// A like given (`true`) or taken back.
    pub fn likes(given: bool) -> Self {
        Self {
            likes: if given { 1 } else { -1 },
            ..Self::default()
        }
    }
}

/// A post's activity in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthActivity {
    /// The post.
    pub post_id: String,
    /// Its channel.
    pub channel_id: String,
    /// Whether the post was original when last counted.
    pub original: bool,
    /// Views.
    pub views: u64,
    /// Likes, net.
    pub likes: u64,
    /// Comments.
    pub comments: u64,
    /// Shares.
    pub shares: u64,
}

/// A month's plan: the thresholds and what was funded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// `yyyymm`.
    pub month: String,
    /// Followers a creator needs.
    pub min_followers: u64,
    /// Views in the month a creator needs.
    pub min_views: u64,
    /// Engagement rate a creator needs, basis points.
    pub min_engagement_bps: u64,
    /// Funded so far, fen.
    pub funded_minor: i64,
}

/// What a change to a month's plan gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funding {
    /// `yyyymm`: this month or a later one.
    pub month: String,
    /// Fen added to the pool, 1 to [`FUNDING_MAX_MINOR`].
    pub amount_minor: i64,
    /// The caller's id for this funding: the same id again adds nothing.
    pub request_id: String,
    /// New thresholds (the defaults on a new plan when absent).
    pub min_followers: Option<u64>,
    /// See `min_followers`.
    pub min_views: Option<u64>,
    /// See `min_followers`.
    pub min_engagement_bps: Option<u64>,
}

/// One creator's standing in a month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The channel.
    pub channel_id: String,
    /// Its owner.
    pub user_id: String,
    /// Followers now.
    pub followers: u64,
    /// Views on original posts in the month.
    pub views: u64,
    /// Likes, net.
    pub likes: u64,
    /// Comments.
    pub comments: u64,
    /// Shares.
    pub shares: u64,
    /// Engagement rate, basis points (0 without views).
    pub engagement_bps: u64,
    /// `views + 5·likes + 10·comments + 20·shares`.
    pub score: u64,
    /// What the creator still lacks (empty: qualified).
    pub missing: Vec<String>,
    /// Fen paid (after the month's job).
    pub paid_minor: i64,
}

impl Standing {
    /// Whether the creator qualifies.
    pub fn qualified(&self) -> bool {
        self.missing.is_empty()
    }
}

/// A month's result, written by the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// `yyyymm`.
    pub month: String,
    /// The pool paid out, fen.
    pub pool_minor: i64,
    /// Returned to the funding source (the floors' remainder, or all of it).
    pub returned_minor: i64,
    /// Every creator with activity that month, qualified or not.
    pub creators: Vec<Standing>,
    /// When it ran.
    pub paid_at: Timestamp,
}

/// A plan after a funding: the thresholds it sets (defaults on a new plan), the amount
/// added.
fn funded_plan(existing: Option<Plan>, funding: &Funding) -> Plan {
    let mut plan = existing.unwrap_or_else(|| Plan {
        month: funding.month.clone(),
        min_followers: DEFAULT_MIN_FOLLOWERS,
        min_views: DEFAULT_MIN_VIEWS,
        min_engagement_bps: DEFAULT_MIN_ENGAGEMENT_BPS,
        funded_minor: 0,
    });
    plan.min_followers = funding.min_followers.unwrap_or(plan.min_followers);
    plan.min_views = funding.min_views.unwrap_or(plan.min_views);
    plan.min_engagement_bps = funding
        .min_engagement_bps
        .unwrap_or(plan.min_engagement_bps);
    plan.funded_minor += funding.amount_minor;
    plan
}

/// `yyyymm` of an instant, China time.
pub fn month_of(at: Timestamp) -> String {
    let day = crate::china_day(at);
    let date = jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .unwrap_or(jiff::civil::date(1970, 1, 1));
    format!("{:04}{:02}", date.year(), date.month())
}

/// 02:00 China time on the first day of the month after `month`.
pub fn payday(month: &str) -> Result<Timestamp, ChannelsError> {
    let bad = || ChannelsError::invalid("month", "yyyymm, e.g. 202612");
    let year: i16 = month
        .get(..4)
        .and_then(|y| y.parse().ok())
        .ok_or_else(bad)?;
    let number: i8 = month
        .get(4..6)
        .and_then(|m| m.parse().ok())
        .ok_or_else(bad)?;
    if month.len() != 6 || !(1..=12).contains(&number) || !(1970..=9998).contains(&year) {
        return Err(bad());
    }
    let (year, number) = if number == 12 {
        (year + 1, 1)
    } else {
        (year, number + 1)
    };
    let zone = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8));
    jiff::civil::date(year, number, 1)
        .at(2, 0, 0, 0)
        .to_zoned(zone)
        .map(|zoned| Timestamp::from_unix_ms(zoned.timestamp().as_millisecond()))
        .map_err(|_| bad())
}

/// Each score's share of `pool_minor`, rounded down: `⌊pool × score / Σ⌋`, in `i128`
/// so no product overflows; the shares never add up to more than the pool.
pub fn shares(pool_minor: i64, scores: &[u64]) -> Vec<i64> {
    let total: u128 = scores.iter().map(|&score| u128::from(score)).sum();
    if total == 0 || pool_minor <= 0 {
        return vec![0; scores.len()];
    }
    let pool = u128::try_from(pool_minor).unwrap_or(0);
    scores
        .iter()
        // ⌊pool × score / total⌋ ≤ pool, which came from an i64.
        .map(|&score| i64::try_from(pool * u128::from(score) / total).unwrap_or(0))
        .collect()
}

/// The score of a month's activity.
pub fn score(views: u64, likes: u64, comments: u64, shares: u64) -> u64 {
    let [v, l, c, s] = SCORE_WEIGHTS;
    views
        .saturating_mul(v)
        .saturating_add(likes.saturating_mul(l))
        .saturating_add(comments.saturating_mul(c))
        .saturating_add(shares.saturating_mul(s))
}

fn pool_account(month: &str) -> Result<AccountId, ChannelsError> {
    account(format!("channels:incentive:{month}"))
}

fn account(name: String) -> Result<AccountId, ChannelsError> {
    AccountId::parse(&name).map_err(|error| ChannelsError::Unavailable {
        reason: format!("account {name:?}: {error}"),
    })
}

fn transfer(
    id: String,
    from: &AccountId,
    to: &AccountId,
    amount_minor: i64,
    memo: &str,
) -> Result<NewTransfer, ChannelsError> {
    Ok(NewTransfer {
        id: TransferId::parse(&id).map_err(|error| ChannelsError::Unavailable {
            reason: format!("transfer id {id:?}: {error}"),
        })?,
        from: from.clone(),
        to: to.clone(),
        amount_minor,
        currency: Currency::CNY,
        memo: memo.to_owned(),
    })
}

fn check_request_id(request_id: &str) -> Result<(), ChannelsError> {
    let fine = !request_id.is_empty()
        && request_id.len() <= 64
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if fine {
        Ok(())
    } else {
        Err(ChannelsError::invalid(
            "request_id",
            "1 to 64 letters, digits, - and _",
        ))
    }
}

impl Channels {
    /// The write of a post's activity this month after `change`.
    pub(crate) async fn month_activity_write(
        &self,
        post: &Post,
        change: Activity,
    ) -> Result<RecordWrite, ChannelsError> {
        let month = month_of(self.now());
        let key = format!("{}/{month}", post.post_id);
        let (mut activity, version) =
            match load::<MonthActivity>(&*self.records, kind::POST_MONTH, &key).await? {
                Some((activity, version)) => (activity, Some(version)),
                None => (
                    MonthActivity {
                        post_id: post.post_id.clone(),
                        channel_id: post.channel_id.clone(),
                        ..MonthActivity::default()
                    },
                    None,
                ),
            };
        let apply = |value: u64, delta: i64| {
            if delta >= 0 {
                value.saturating_add(delta.unsigned_abs())
            } else {
                value.saturating_sub(delta.unsigned_abs())
            }
        };
        activity.original = post.original();
        activity.views = apply(activity.views, change.views);
        activity.likes = apply(activity.likes, change.likes);
        activity.comments = apply(activity.comments, change.comments);
        activity.shares = apply(activity.shares, change.shares);
        write(
            kind::POST_MONTH,
            &key,
            store::expect(version),
            &activity,
            vec![IndexEntry::new(
                store::index::MONTH,
                format!("{month}/{}/{}", post.channel_id, post.post_id),
            )],
        )
    }

    async fn open_account(&self, id: &AccountId, kind: AccountKind) -> Result<(), ChannelsError> {
        match self
            .ledger
            .open_account(NewAccount::new(id.clone(), kind, Currency::CNY))
            .await
        {
            Ok(_) | Err(LedgerError::AccountConflict { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// A month's plan, if funded.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn plan(&self, month: &str) -> Result<Option<Plan>, ChannelsError> {
        Ok(load(&*self.records, kind::PLAN, month)
            .await?
            .map(|(plan, _)| plan))
    }

    /// Adds to a month's pool from the operator's funding source and sets its
    /// thresholds; schedules the month's payout. The same `request_id` again adds
    /// nothing.
    ///
    /// # Errors
    ///
    /// An invalid month (past, or malformed), amount or request id; no money port.
    pub async fn fund_incentive(&self, funding: Funding) -> Result<Plan, ChannelsError> {
        let due = self.check_funding(&funding)?;
        let money = self.money()?;
        let source = account(money.funding_source())?;
        let pool = pool_account(&funding.month)?;
        self.open_account(&source, AccountKind::External).await?;
        self.open_account(&pool, AccountKind::Frozen).await?;
        let _guard = self.locks.lock(&format!("plan:{}", funding.month)).await;
        let existing = load::<Plan>(&*self.records, kind::PLAN, &funding.month).await?;
        // At most 64 bytes: the request id named by its digest.
        let transfer_id = format!(
            "channels-fund:{}:{}",
            funding.month,
            &store::sha256_hex(funding.request_id.as_bytes())[..40]
        );
        if self
            .ledger
            .transfer(
                TransferId::parse(&transfer_id)
                    .map_err(|error| ChannelsError::invalid("request_id", error.to_string()))?,
            )
            .await?
            .is_some()
        {
            return existing
                .map(|(plan, _)| plan)
                .ok_or_else(|| Self::busy("plan"));
        }
        let version = existing.as_ref().map(|(_, version)| *version);
        let plan = funded_plan(existing.map(|(plan, _)| plan), &funding);
        let unit = WriteSet {
            batch: Some(TransferBatch::new(vec![transfer(
                transfer_id,
                &source,
                &pool,
                funding.amount_minor,
                "creator incentive pool",
            )?])?),
            records: vec![write(
                kind::PLAN,
                &plan.month,
                store::expect(version),
                &plan,
                Vec::new(),
            )?],
            jobs: vec![NewJob {
                kind: JOB_INCENTIVE.to_owned(),
                key: plan.month.clone(),
                payload: plan.month.clone(),
                due_at: due,
            }],
            ..WriteSet::default()
        };
        if self.try_commit(unit).await? {
            Ok(plan)
        } else {
            Err(Self::busy("plan"))
        }
    }

    /// Checks a funding's month, amount and request id; the month's payday.
    fn check_funding(&self, funding: &Funding) -> Result<Timestamp, ChannelsError> {
        let due = payday(&funding.month)?;
        if funding.month < month_of(self.now()) {
            return Err(ChannelsError::invalid("month", "this month or a later one"));
        }
        if !(1..=FUNDING_MAX_MINOR).contains(&funding.amount_minor) {
            return Err(ChannelsError::invalid(
                "amount_minor",
                format!("1 to {FUNDING_MAX_MINOR} fen"),
            ));
        }
        check_request_id(&funding.request_id)?;
        Ok(due)
    }

    /// Every creator's standing in `month` (as it stands now), best score first.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn standings(&self, month: &str) -> Result<Vec<Standing>, ChannelsError> {
        let plan = self.plan(month).await?;
        let activity: Vec<(String, MonthActivity)> = range(
            &*self.records,
            kind::POST_MONTH,
            store::index::MONTH,
            prefix_bounds(&format!("{month}/")),
            None,
            CREATORS_MAX * 10,
            false,
        )
        .await?;
        let mut creators: Vec<Standing> = Vec::new();
        for (_, post) in activity.into_iter().filter(|(_, post)| post.original) {
            let standing = match creators
                .iter_mut()
                .find(|s| s.channel_id == post.channel_id)
            {
                Some(standing) => standing,
                None => {
                    creators.push(Standing {
                        channel_id: post.channel_id.clone(),
                        ..Standing::default()
                    });
                    creators.last_mut().ok_or_else(|| Self::busy("standing"))?
                }
            };
            standing.views += post.views;
            standing.likes += post.likes;
            standing.comments += post.comments;
            standing.shares += post.shares;
        }
        for standing in &mut creators {
            self.judge(standing, plan.as_ref()).await?;
        }
        creators.sort_by(|a, b| b.score.cmp(&a.score).then(a.channel_id.cmp(&b.channel_id)));
        Ok(creators)
    }

    /// Fills a standing's owner, followers, rate, score and what it lacks.
    async fn judge(
        &self,
        standing: &mut Standing,
        plan: Option<&Plan>,
    ) -> Result<(), ChannelsError> {
        if let Some(channel) = self.channel(&standing.channel_id).await? {
            standing.user_id = channel.user_id;
        }
        standing.followers = self.channel_stats(&standing.channel_id).await?.followers;
        let interactions = standing.likes + standing.comments + standing.shares;
        standing.engagement_bps = interactions
            .saturating_mul(10_000)
            .checked_div(standing.views)
            .unwrap_or(0);
        standing.score = score(
            standing.views,
            standing.likes,
            standing.comments,
            standing.shares,
        );
        standing.missing.clear();
        let (min_followers, min_views, min_bps) = plan.map_or(
            (
                DEFAULT_MIN_FOLLOWERS,
                DEFAULT_MIN_VIEWS,
                DEFAULT_MIN_ENGAGEMENT_BPS,
            ),
            |plan| (plan.min_followers, plan.min_views, plan.min_engagement_bps),
        );
        if standing.followers < min_followers {
            standing
                .missing
                .push(format!("followers {}/{min_followers}", standing.followers));
        }
        if standing.views < min_views {
            standing
                .missing
                .push(format!("views {}/{min_views}", standing.views));
        }
        if standing.engagement_bps < min_bps {
            standing.missing.push(format!(
                "engagement {}.{:02}%/{}.{:02}%",
                standing.engagement_bps / 100,
                standing.engagement_bps % 100,
                min_bps / 100,
                min_bps % 100
            ));
        }
        if standing.score == 0 {
            standing
                .missing
                .push("activity on original posts".to_owned());
        }
        Ok(())
    }

    /// One channel's standing in `month` (zeros, with what it lacks, when it had no
    /// activity), and what the month paid it once paid.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn standing(&self, channel_id: &str, month: &str) -> Result<Standing, ChannelsError> {
        let paid = self.payout(month).await?.and_then(|payout| {
            payout
                .creators
                .into_iter()
                .find(|c| c.channel_id == channel_id)
        });
        if let Some(line) = paid {
            return Ok(line);
        }
        if let Some(found) = self
            .standings(month)
            .await?
            .into_iter()
            .find(|standing| standing.channel_id == channel_id)
        {
            return Ok(found);
        }
        let mut standing = Standing {
            channel_id: channel_id.to_owned(),
            ..Standing::default()
        };
        let plan = self.plan(month).await?;
        self.judge(&mut standing, plan.as_ref()).await?;
        Ok(standing)
    }

    /// A month's payout, once the job ran.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn payout(&self, month: &str) -> Result<Option<Payout>, ChannelsError> {
        Ok(load(&*self.records, kind::PAYOUT, month)
            .await?
            .map(|(payout, _)| payout))
    }

    /// The month's job: pays the pool to the qualifying creators' wallets in proportion
    /// to their scores and returns the rest; once (the payout record and the transfer
    /// ids make a second run change nothing).
    ///
    /// # Errors
    ///
    /// When the store fails (the job retries).
    pub async fn pay_incentives(&self, month: &str) -> Result<Payout, ChannelsError> {
        if let Some(payout) = self.payout(month).await? {
            return Ok(payout);
        }
        let money = self.money()?;
        let pool = pool_account(month)?;
        let source = account(money.funding_source())?;
        let pool_minor = self
            .ledger
            .account(pool.clone())
            .await?
            .map_or(0, |account| account.balance_minor);
        let mut creators = self.standings(month).await?;
        let scores: Vec<u64> = creators
            .iter()
            .map(|c| if c.qualified() { c.score } else { 0 })
            .collect();
        let paid = shares(pool_minor, &scores);
        let mut transfers = Vec::new();
        for (creator, amount) in creators.iter_mut().zip(&paid) {
            creator.paid_minor = *amount;
            if *amount > 0 {
                let wallet = account(
                    money
                        .wallet(&creator.user_id)
                        .await
                        .map_err(|reason| ChannelsError::Unavailable { reason })?,
                )?;
                transfers.push(transfer(
                    format!("channels-incentive:{month}:{}", creator.channel_id),
                    &pool,
                    &wallet,
                    *amount,
                    "creator incentive",
                )?);
            }
        }
        let returned_minor = pool_minor - paid.iter().sum::<i64>();
        if returned_minor > 0 {
            transfers.push(transfer(
                format!("channels-incentive:{month}:returned"),
                &pool,
                &source,
                returned_minor,
                "creator incentive, unpaid rest",
            )?);
        }
        let payout = Payout {
            month: month.to_owned(),
            pool_minor,
            returned_minor,
            creators,
            paid_at: self.now(),
        };
        self.commit_payout(&payout, transfers).await?;
        Ok(payout)
    }

    /// Commits the payout's transfers in batches (idempotent by id) and then its
    /// record.
    async fn commit_payout(
        &self,
        payout: &Payout,
        transfers: Vec<NewTransfer>,
    ) -> Result<(), ChannelsError> {
        let mut chunks: Vec<Vec<NewTransfer>> = transfers
            .chunks(PAYOUTS_PER_BATCH)
            .map(<[NewTransfer]>::to_vec)
            .collect();
        let last = chunks.pop();
        for chunk in chunks {
            // A batch committed by an earlier run is a replay: the ledger accepts it
            // and moves nothing again.
            self.ledger
                .commit(WriteSet::transfers(TransferBatch::new(chunk)?))
                .await?;
        }
        let unit = WriteSet {
            batch: last.map(TransferBatch::new).transpose()?,
            records: vec![write(
                kind::PAYOUT,
                &payout.month,
                Expect::Absent,
                payout,
                Vec::new(),
            )?],
            ..WriteSet::default()
        };
        match self.ledger.commit(unit).await {
            Ok(_) | Err(LedgerError::RecordConflict { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn months_and_paydays_are_china_time() {
        // 2026-11-30 16:30 UTC is 2026-12-01 00:30 in China.
        assert_eq!(
            month_of(Timestamp::from_unix_ms(1_796_056_200_000)),
            "202612"
        );
        // A well-formed month by construction: a failure here is the bug the test reports.
        let due = payday("202612").unwrap();
        // 2027-01-01 02:00 +08:00 = 2026-12-31 18:00 UTC.
        assert_eq!(due.unix_ms(), 1_798_740_000_000);
        assert!(payday("202613").is_err());
        assert!(payday("2026-1").is_err());
    }

    #[test]
    fn the_score_is_the_documented_sum() {
        assert_eq!(score(1_000, 30, 5, 2), 1_000 + 150 + 50 + 40);
    }

    #[test]
    fn shares_are_proportional_and_rounded_down() {
        assert_eq!(shares(1_000, &[1, 1, 1]), [333, 333, 333]);
        assert_eq!(shares(1_000, &[3, 1, 0]), [750, 250, 0]);
        assert_eq!(shares(1_000, &[0, 0]), [0, 0]);
    }

    proptest! {
        #[test]
        fn shares_never_exceed_the_pool_and_lose_less_than_one_fen_each(
            pool in 0_i64..=FUNDING_MAX_MINOR * 10,
            scores in proptest::collection::vec(0_u64..=u64::from(u32::MAX), 0..50),
        ) {
            let paid = shares(pool, &scores);
            let total: i64 = paid.iter().sum();
            prop_assert!(total <= pool);
            let nonzero = scores.iter().filter(|&&s| s > 0).count();
            if nonzero > 0 {
                // At most 50 scores, far below i64::MAX.
                prop_assert!(pool - total < i64::try_from(nonzero).unwrap());
            }
            prop_assert!(paid.iter().all(|&amount| amount >= 0));
        }
    }
}
