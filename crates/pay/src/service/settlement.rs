//! Settlement (T+1): at 02:00 the day after, a merchant's day of payments moves to its
//! available balance and the day's fees to the platform, a sub-merchant's provider
//! taking its commission from them, in one batch with the day's settlement record.

use plaza_kernel::queue::NewJob;
use plaza_kernel::record::Expect;
use plaza_ledger::{LedgerError, NewTransfer, WriteSet};
use serde::{Deserialize, Serialize};

use super::{PayService, batch, transfer};
use crate::accounts::{self, AccountSpec};
use crate::error::PayError;
use crate::model::Settlement;
use crate::store::{self, kind, load};
use crate::time::Day;

/// Job kind: settle a merchant's day (payload: `{"mchid", "day"}`).
pub const JOB_SETTLE: &str = "pay.settle";

/// Settlement runs at 02:00 the day after the payments (T+1).
const SETTLE_DELAY_AFTER_DAY_MS: i64 = 2 * 3_600_000;

// T+1: within the next day, never the one after.
const _: () = assert!(0 <= SETTLE_DELAY_AFTER_DAY_MS && SETTLE_DELAY_AFTER_DAY_MS < 86_400_000);

#[derive(Debug, Serialize, Deserialize)]
struct SettlePayload {
    mchid: String,
    day: String,
}

impl PayService {
    /// The `pay.settle` job: moves a merchant's day of payments to its available balance
    /// and books the day's fees to the platform. Runs once per merchant and day.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`], or a balance that moved meanwhile (the job retries).
    pub async fn settle_job(&self, payload: &str) -> Result<(), PayError> {
        let payload: SettlePayload = serde_json::from_str(payload)
            .map_err(|error| PayError::rule(format!("unreadable settle payload: {error}")))?;
        let day = Day::parse(&payload.day).map_err(PayError::rule)?;
        self.settle(&payload.mchid, day).await.map(|_| ())
    }

    /// Settles one merchant-day (idempotent: a settled day returns its settlement).
    ///
    /// # Errors
    ///
    /// As [`PayService::settle_job`].
    pub async fn settle(&self, mchid: &str, day: Day) -> Result<Settlement, PayError> {
        let key = settlement_key(mchid, day);
        if let Some((settlement, _)) =
            load::<Settlement>(&*self.records, kind::SETTLEMENT, &key).await?
        {
            return Ok(settlement);
        }
        let (transfers, settlement) = self.settlement_moves(mchid, day).await?;
        let write = WriteSet {
            batch: batch(transfers)?,
            records: vec![store::write(
                kind::SETTLEMENT,
                &key,
                Expect::Absent,
                &settlement,
                vec![],
            )?],
            ..WriteSet::default()
        };
        match self.commit_write(write).await {
            Ok(()) => Ok(settlement),
            Err(LedgerError::RecordConflict { .. }) => {
                load::<Settlement>(&*self.records, kind::SETTLEMENT, &key)
                    .await?
                    .map(|(settlement, _)| settlement)
                    .ok_or(PayError::Busy {
                        what: "settlement".to_owned(),
                    })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// What settling a merchant-day moves, as its balances stand now, and the record of it.
    async fn settlement_moves(
        &self,
        mchid: &str,
        day: Day,
    ) -> Result<(Vec<NewTransfer>, Settlement), PayError> {
        let pending = accounts::pending(mchid, day)?;
        let fee_held = accounts::fee_held(mchid, day)?;
        let available = accounts::available(mchid)?;
        let fees = accounts::platform_fees()?;
        self.open(&available).await?;
        self.open(&fees).await?;
        let net = self.balance_of(&pending.0).await?;
        let fee = self.balance_of(&fee_held.0).await?;
        let memo = format!("settle {mchid} {}", day.iso());
        let mut transfers = Vec::new();
        if net > 0 {
            transfers.push(transfer(
                format!("settle:{mchid}:{}:net", day.compact()),
                &pending.0,
                &available.0,
                net,
                &memo,
            )?);
        }
        if fee > 0 {
            transfers.push(transfer(
                format!("settle:{mchid}:{}:fee", day.compact()),
                &fee_held.0,
                &fees.0,
                fee,
                &memo,
            )?);
        }
        let (provider, commission) = self
            .commission_moves(mchid, day, fee, &fees, &mut transfers)
            .await?;
        let settlement = Settlement {
            mchid: mchid.to_owned(),
            day: day.iso(),
            settled_minor: net,
            fee_minor: fee,
            settled_at: self.now(),
            provider,
            commission_minor: commission,
        };
        Ok((transfers, settlement))
    }

    /// A sub-merchant's provider and its commission on the day's `fee_minor`, paid from
    /// the platform's `fees` (pushed onto `transfers`); nobody and nothing otherwise.
    async fn commission_moves(
        &self,
        mchid: &str,
        day: Day,
        fee_minor: i64,
        fees: &AccountSpec,
        transfers: &mut Vec<NewTransfer>,
    ) -> Result<(Option<String>, i64), PayError> {
        let (provider, commission) = self.commission_on(mchid, fee_minor).await?;
        if let Some(provider) = &provider
            && commission > 0
        {
            let provider_available = accounts::available(provider)?;
            self.open(&provider_available).await?;
            transfers.push(transfer(
                format!("settle:{mchid}:{}:commission", day.compact()),
                &fees.0,
                &provider_available.0,
                commission,
                &format!("commission {provider} on {mchid} {}", day.iso()),
            )?);
        }
        Ok((provider, commission))
    }

    /// Whether a merchant's day has been settled.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn settlement(&self, mchid: &str, day: Day) -> Result<Option<Settlement>, PayError> {
        Ok(load::<Settlement>(
            &*self.records,
            kind::SETTLEMENT,
            &settlement_key(mchid, day),
        )
        .await?
        .map(|(settlement, _)| settlement))
    }
}

/// The record key of a merchant-day's settlement.
fn settlement_key(mchid: &str, day: Day) -> String {
    format!("{mchid}|{}", day.iso())
}

/// The job that settles `mchid`'s `day`, due at 02:00 the day after.
pub(super) fn settle_job_for(mchid: &str, day: Day) -> Result<NewJob, PayError> {
    let payload = serde_json::to_string(&SettlePayload {
        mchid: mchid.to_owned(),
        day: day.iso(),
    })
    .map_err(|error| PayError::Unavailable {
        reason: error.to_string(),
    })?;
    Ok(NewJob {
        kind: JOB_SETTLE.to_owned(),
        key: settlement_key(mchid, day),
        payload,
        due_at: day.next().start().plus_ms(SETTLE_DELAY_AFTER_DAY_MS),
    })
}
