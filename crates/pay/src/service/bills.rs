//! The facts bills are made of: a merchant's orders paid and refunds made on a day, and
//! the movements of its available balance.

use plaza_kernel::id::AccountId;
use plaza_ledger::{LedgerError, Transfer};

use super::PayService;
use crate::accounts;
use crate::error::PayError;
use crate::model::{Order, Refund};
use crate::store::{index, kind};
use crate::time::Day;

impl PayService {
    /// Orders paid on `day` (trade bill rows), in payment order.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn orders_paid_on(&self, mchid: &str, day: Day) -> Result<Vec<Order>, PayError> {
        let value = format!("{mchid}|{}", day.iso());
        let mut orders: Vec<Order> = self
            .all_under(kind::ORDER, index::MERCHANT_DAY, &value)
            .await?;
        orders.sort_by_key(|order| order.success_time);
        Ok(orders)
    }

    /// Refunds that succeeded on `day`, in time order.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn refunds_on(&self, mchid: &str, day: Day) -> Result<Vec<Refund>, PayError> {
        let value = format!("{mchid}|{}", day.iso());
        let mut refunds: Vec<Refund> = self
            .all_under(kind::REFUND, index::MERCHANT_DAY, &value)
            .await?;
        refunds.sort_by_key(|refund| refund.success_time);
        Ok(refunds)
    }

    /// Movements of a merchant's available balance on `day` (fund-flow bill rows),
    /// oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn available_movements_on(
        &self,
        mchid: &str,
        day: Day,
    ) -> Result<Vec<Transfer>, PayError> {
        let account = accounts::available(mchid)?.0;
        let (start, end) = (day.start(), day.next().start());
        let mut movements = Vec::new();
        let mut before_seq = None;
        loop {
            let page = match self.ledger.history(account.clone(), before_seq, 500).await {
                Ok(page) => page,
                Err(LedgerError::UnknownAccount { .. }) => break,
                Err(error) => return Err(error.into()),
            };
            let mut older = false;
            for transfer in &page.transfers {
                if transfer.committed_at < start {
                    older = true;
                    break;
                }
                if transfer.committed_at < end {
                    movements.push(transfer.clone());
                }
            }
            match (older, page.next_before_seq) {
                (false, Some(next)) => before_seq = Some(next),
                _ => break,
            }
        }
        movements.reverse();
        Ok(movements)
    }

    /// The merchant's account the fund-flow bill covers.
    ///
    /// # Errors
    ///
    /// Only on a bug (an unnameable account).
    pub fn available_account(&self, mchid: &str) -> Result<AccountId, PayError> {
        Ok(accounts::available(mchid)?.0)
    }
}
