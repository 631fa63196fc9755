//! Balances as payers and merchants see them, and the sandbox's top-ups from the bank.

use plaza_ledger::{LedgerError, TransferBatch, WriteSet};

use super::checks::check_merchant_no;
use super::{PayService, transfer};
use crate::accounts::{self, AccountSpec};
use crate::error::PayError;
use crate::money::check_amount;
use crate::time::Day;

impl PayService {
    /// A merchant's available balance, fen.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn available_balance(&self, mchid: &str) -> Result<i64, PayError> {
        self.balance_of(&accounts::available(mchid)?.0).await
    }

    /// A merchant's money of `day` not yet settled (net of fees, and the fees), fen.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn pending_balance(&self, mchid: &str, day: Day) -> Result<(i64, i64), PayError> {
        let net = self.balance_of(&accounts::pending(mchid, day)?.0).await?;
        let fee = self.balance_of(&accounts::fee_held(mchid, day)?.0).await?;
        Ok((net, fee))
    }

    /// A user's wallet balance, fen.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn wallet_balance(&self, user_id: &str) -> Result<i64, PayError> {
        self.balance_of(&accounts::wallet(user_id)?.0).await
    }

    /// Sandbox: puts money into a wallet from the bank, idempotent by `request_id`.
    ///
    /// # Errors
    ///
    /// [`PayError::UserNotFound`], or [`PayError::Invalid`] for a bad amount.
    pub async fn top_up(
        &self,
        user_id: &str,
        amount_minor: i64,
        request_id: &str,
    ) -> Result<i64, PayError> {
        check_top_up(amount_minor, request_id)?;
        if self.user(user_id).await?.is_none() {
            return Err(PayError::UserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        let wallet = accounts::wallet(user_id)?;
        self.credit_from_bank(
            &wallet,
            &format!("topup:{user_id}:{request_id}"),
            amount_minor,
        )
        .await?;
        self.wallet_balance(user_id).await
    }

    /// Sandbox: puts money into a merchant's available balance from outside (to fund
    /// coupon budgets); idempotent on `request_id`.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`], [`PayError::MerchantNotFound`].
    pub async fn top_up_merchant(
        &self,
        mchid: &str,
        amount_minor: i64,
        request_id: &str,
    ) -> Result<i64, PayError> {
        check_top_up(amount_minor, request_id)?;
        self.existing_merchant(mchid).await?;
        let available = accounts::available(mchid)?;
        self.credit_from_bank(
            &available,
            &format!("topup:{mchid}:{request_id}"),
            amount_minor,
        )
        .await?;
        self.available_balance(mchid).await
    }

    /// Moves money in from outside (the bank account), idempotent by `transfer_id`.
    async fn credit_from_bank(
        &self,
        to: &AccountSpec,
        transfer_id: &str,
        amount_minor: i64,
    ) -> Result<(), PayError> {
        let bank = accounts::bank()?;
        self.open(&bank).await?;
        self.open(to).await?;
        let top_up = transfer(
            transfer_id.to_owned(),
            &bank.0,
            &to.0,
            amount_minor,
            "sandbox top-up",
        )?;
        match self
            .commit_write(WriteSet::transfers(TransferBatch::single(top_up)?))
            .await
        {
            Ok(()) => Ok(()),
            Err(LedgerError::IdReused { .. }) => Err(PayError::invalid(
                "request_id",
                "already used for a different top-up",
            )),
            Err(error) => Err(error.into()),
        }
    }
}

fn check_top_up(amount_minor: i64, request_id: &str) -> Result<(), PayError> {
    check_amount("amount", amount_minor)?;
    check_merchant_no("request_id", request_id, 1, 40)
}
