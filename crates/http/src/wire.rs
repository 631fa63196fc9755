//! JSON shapes of Plaza's own API (`/api/v1`), converted by hand from and to domain types.

use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::queue::{Event, Job};
use plaza_ledger::{Account, AccountKind, NewAccount, NewTransfer, Transfer, VerifyReport};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub use crate::rfc3339;

fn parse_currency(field: &str, text: &str) -> Result<Currency, ApiError> {
    Currency::parse(text).map_err(|error| ApiError::invalid_field(field, error))
}

fn parse_account_id(field: &str, text: String) -> Result<AccountId, ApiError> {
    AccountId::parse(text).map_err(|error| ApiError::invalid_field(field, error))
}

/// `POST /api/v1/admin/ledger/accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAccountBody {
    /// The account's name.
    pub id: String,
    /// Its kind (`wallet`, `external`, …).
    pub kind: String,
    /// Its currency; `CNY` when absent.
    pub currency: Option<String>,
    /// Its floor; absent means the kind's default, `null` means no floor.
    #[serde(default, deserialize_with = "present_or_null")]
    pub floor_minor: Option<Option<i64>>,
}

fn present_or_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(deserializer).map(Some)
}

impl OpenAccountBody {
    /// Validates into the domain request.
    ///
    /// # Errors
    ///
    /// An `invalid_field` [`ApiError`] naming the field.
    pub fn into_domain(self) -> Result<NewAccount, ApiError> {
        let id = parse_account_id("id", self.id)?;
        let kind = AccountKind::parse(&self.kind).ok_or_else(|| {
            let known: Vec<&str> = AccountKind::ALL.iter().map(|k| k.as_str()).collect();
            ApiError::invalid_field("kind", format!("must be one of {}", known.join(", ")))
        })?;
        let currency = match self.currency {
            Some(text) => parse_currency("currency", &text)?,
            None => Currency::CNY,
        };
        let mut account = NewAccount::new(id, kind, currency);
        if let Some(floor_minor) = self.floor_minor {
            account.floor_minor = floor_minor;
        }
        Ok(account)
    }
}

/// An account as answered.
#[derive(Debug, Serialize)]
pub struct AccountView {
    id: String,
    kind: &'static str,
    currency: String,
    floor_minor: Option<i64>,
    balance_minor: i64,
    created_at: String,
}

impl From<Account> for AccountView {
    fn from(account: Account) -> Self {
        Self {
            id: account.id.to_string(),
            kind: account.kind.as_str(),
            currency: account.currency.to_string(),
            floor_minor: account.floor_minor,
            balance_minor: account.balance_minor,
            created_at: rfc3339(account.created_at),
        }
    }
}

/// One transfer in a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// The caller's id (idempotency key).
    pub id: String,
    /// Source account.
    pub from: String,
    /// Destination account.
    pub to: String,
    /// Amount in minor units (fen).
    pub amount_minor: i64,
    /// Currency; `CNY` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Free text.
    #[serde(default)]
    pub memo: String,
}

impl TransferBody {
    /// Validates into the domain request; `field` prefixes error messages.
    ///
    /// # Errors
    ///
    /// An `invalid_field` [`ApiError`] naming the field.
    pub fn into_domain(self, field: &str) -> Result<NewTransfer, ApiError> {
        Ok(NewTransfer {
            id: TransferId::parse(self.id)
                .map_err(|error| ApiError::invalid_field(&format!("{field}.id"), error))?,
            from: parse_account_id(&format!("{field}.from"), self.from)?,
            to: parse_account_id(&format!("{field}.to"), self.to)?,
            amount_minor: self.amount_minor,
            currency: match self.currency {
                Some(text) => parse_currency(&format!("{field}.currency"), &text)?,
                None => Currency::CNY,
            },
            memo: self.memo,
        })
    }
}

/// `POST /api/v1/admin/ledger/transfers`: an atomic batch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// The transfers, applied all or none.
    pub transfers: Vec<TransferBody>,
}

/// `POST /api/v1/admin/ledger/scheduled-transfers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// The transfer to make when due.
    pub transfer: TransferBody,
    /// When, in milliseconds since the epoch by Plaza's clock; or use `after_ms`.
    pub due_at_ms: Option<i64>,
    /// How long from now, by Plaza's clock.
    pub after_ms: Option<i64>,
}

/// The payload of a `ledger.scheduled_transfer` job.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScheduledTransferPayload {
    /// The transfer to make.
    pub transfer: TransferBody,
}

/// A transfer as answered.
#[derive(Debug, Serialize)]
pub struct TransferView {
    seq: i64,
    id: String,
    from: String,
    to: String,
    amount_minor: i64,
    currency: String,
    memo: String,
    from_balance_after_minor: i64,
    to_balance_after_minor: i64,
    committed_at: String,
}

impl From<Transfer> for TransferView {
    fn from(transfer: Transfer) -> Self {
        Self {
            seq: transfer.seq,
            id: transfer.id.to_string(),
            from: transfer.from.to_string(),
            to: transfer.to.to_string(),
            amount_minor: transfer.amount_minor,
            currency: transfer.currency.to_string(),
            memo: transfer.memo,
            from_balance_after_minor: transfer.from_balance_after_minor,
            to_balance_after_minor: transfer.to_balance_after_minor,
            committed_at: rfc3339(transfer.committed_at),
        }
    }
}

/// The outcome of `plaza admin verify-ledger`.
#[derive(Debug, Serialize, Deserialize)]
pub struct VerifyView {
    /// Whether the ledger is sound.
    pub sound: bool,
    /// Accounts checked.
    pub accounts_count: usize,
    /// Per currency, the money held (sum of positive balances), as text (it is an i128).
    pub held_minor_by_currency: std::collections::BTreeMap<String, String>,
    /// One sentence per violation.
    pub violations: Vec<String>,
}

impl From<VerifyReport> for VerifyView {
    fn from(report: VerifyReport) -> Self {
        Self {
            sound: report.is_sound(),
            accounts_count: report.accounts_count,
            held_minor_by_currency: report
                .held_minor_by_currency
                .iter()
                .map(|(currency, held)| (currency.to_string(), held.to_string()))
                .collect(),
            violations: report.violations.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A job as answered.
#[derive(Debug, Serialize)]
pub struct JobView {
    id: i64,
    kind: String,
    key: String,
    state: &'static str,
    due_at: String,
    due_at_ms: i64,
    attempts: u32,
    last_error: Option<String>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            key: job.key,
            state: job.state.as_str(),
            due_at: rfc3339(job.due_at),
            due_at_ms: job.due_at.unix_ms(),
            attempts: job.attempts,
            last_error: job.last_error,
        }
    }
}

/// An outbox event as answered.
#[derive(Debug, Serialize)]
pub struct EventView {
    seq: i64,
    topic: String,
    key: String,
    payload: String,
    created_at: String,
}

impl From<Event> for EventView {
    fn from(event: Event) -> Self {
        Self {
            seq: event.seq,
            topic: event.topic,
            key: event.key,
            payload: event.payload,
            created_at: rfc3339(event.created_at),
        }
    }
}
