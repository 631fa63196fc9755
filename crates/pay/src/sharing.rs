//! Profit sharing (分账): an order paid with `profit_sharing` keeps the merchant's share
//! frozen in an account of its own; the merchant splits it to receivers it added first
//! (other merchants, or users by openid) within a ratio of the order, returns (回退) a
//! split from a merchant receiver, and unfreezes what is left to its balance. Every move
//! is a ledger transfer, written with the records that describe it.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::id::AccountId;
use plaza_kernel::limits::BATCH_TRANSFERS_MAX;
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_ledger::{LedgerError, NewTransfer, WriteSet};
use serde::{Deserialize, Serialize};

use crate::accounts::{self, AccountSpec};
use crate::error::PayError;
use crate::ids;
use crate::model::{MerchantKind, Order, TradeState, order_key};
use crate::money;
use crate::service::{
    CONFLICT_RETRIES_MAX, PayService, batch, check_text, order_write, request_digest, transfer,
};
use crate::store::{self, index, kind, load};

/// The most of an order that may go to others, in basis points of its total: 30%.
pub const SHARING_RATIO_MAX_BPS: u32 = 3_000;
/// Receivers in one split request.
pub const SHARING_RECEIVERS_MAX: usize = 50;

// A split is one batch: a transfer per receiver and one to unfreeze the rest.
const _: () = assert!(SHARING_RECEIVERS_MAX < BATCH_TRANSFERS_MAX);
// Others never get more than the whole order.
const _: () = assert!(SHARING_RATIO_MAX_BPS <= money::BPS_WHOLE);

/// Who receives a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReceiverType {
    /// Another merchant, by mchid.
    MerchantId,
    /// A user, by openid under the request's `appid`.
    PersonalOpenid,
    /// A user, by openid under the sub-merchant's `sub_appid`.
    PersonalSubOpenid,
}

impl ReceiverType {
    /// Reads the wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "MERCHANT_ID" => Some(Self::MerchantId),
            "PERSONAL_OPENID" => Some(Self::PersonalOpenid),
            "PERSONAL_SUB_OPENID" => Some(Self::PersonalSubOpenid),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn wire(self) -> &'static str {
        match self {
            Self::MerchantId => "MERCHANT_ID",
            Self::PersonalOpenid => "PERSONAL_OPENID",
            Self::PersonalSubOpenid => "PERSONAL_SUB_OPENID",
        }
    }
}

/// `relation_type` values a receiver may have.
pub const RELATION_TYPES: [&str; 11] = [
    "STORE",
    "STAFF",
    "STORE_OWNER",
    "PARTNER",
    "HEADQUARTER",
    "BRAND",
    "DISTRIBUTOR",
    "USER",
    "SUPPLIER",
    "CUSTOM",
    "SERVICE_PROVIDER",
];

/// A receiver a merchant added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    /// The merchant that splits to it.
    pub mchid: String,
    /// Its kind.
    pub receiver_type: ReceiverType,
    /// mchid or openid.
    pub account: String,
    /// For merchants: its name, as checked when added.
    pub name: Option<String>,
    /// Its relation to the merchant.
    pub relation_type: String,
    /// When `relation_type` is `CUSTOM`.
    pub custom_relation: Option<String>,
    /// Where the money goes: `mch:<mchid>:available` or `user:<id>:wallet`.
    pub ledger_account: String,
    /// When it was added.
    pub added_at: Timestamp,
    /// When it was deleted; a deleted receiver is not split to.
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
}

/// A new receiver.
#[derive(Debug, Clone)]
pub struct NewReceiver {
    /// The merchant adding it (a sub-merchant when a provider asks).
    pub mchid: String,
    /// The app `account` is an openid under, for personal receivers.
    pub appid: String,
    /// Its kind.
    pub receiver_type: ReceiverType,
    /// mchid or openid.
    pub account: String,
    /// Decrypted name; required for merchants and must match theirs.
    pub name: Option<String>,
    /// Relation.
    pub relation_type: String,
    /// For `CUSTOM`.
    pub custom_relation: Option<String>,
}

/// What became of one receiver's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LineResult {
    /// Credited.
    Success,
}

/// One receiver's share in a sharing order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingLine {
    /// Its kind.
    pub receiver_type: ReceiverType,
    /// mchid or openid (the merchant itself for an unfreeze line).
    pub account: String,
    /// Fen.
    pub amount_minor: i64,
    /// Why, as the merchant wrote it.
    pub description: String,
    /// What became of it.
    pub result: LineResult,
    /// 29 digits.
    pub detail_id: String,
    /// When it was done.
    pub finished_at: Timestamp,
}

/// A profit-sharing order (a split, or an unfreeze).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingOrder {
    /// The merchant whose order is split.
    pub mchid: String,
    /// The provider that asked, for a sub-merchant.
    pub sp_mchid: Option<String>,
    /// The paid order.
    pub transaction_id: String,
    /// The merchant's number.
    pub out_order_no: String,
    /// 29 digits.
    pub order_id: String,
    /// Its lines.
    pub lines: Vec<SharingLine>,
    /// Digest of the request, to tell a retry from a reuse.
    pub request_digest: String,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A return (回退) of a split by a merchant receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingReturn {
    /// The merchant that split.
    pub mchid: String,
    /// The sharing order.
    pub out_order_no: String,
    /// Its id.
    pub order_id: String,
    /// The merchant's return number.
    pub out_return_no: String,
    /// 29 digits.
    pub return_id: String,
    /// The receiver giving money back.
    pub return_mchid: String,
    /// Fen.
    pub amount_minor: i64,
    /// Why.
    pub description: String,
    /// Digest of the request.
    pub request_digest: String,
    /// When it was done.
    pub created_at: Timestamp,
}

/// A split request.
#[derive(Debug, Clone, Serialize)]
pub struct SplitRequest {
    /// The merchant whose order is split.
    pub mchid: String,
    /// The provider asking, for a sub-merchant.
    pub sp_mchid: Option<String>,
    /// The paid order.
    pub transaction_id: String,
    /// The merchant's number for this split.
    pub out_order_no: String,
    /// `(type, account, amount, description)` per receiver.
    pub lines: Vec<(ReceiverType, String, i64, String)>,
    /// Unfreeze what is left afterwards.
    pub unfreeze_unsplit: bool,
}

/// Checks a split request's shape: some receivers (or an unfreeze), not too many, each
/// with an amount and a description, and its number.
fn check_split(request: &SplitRequest) -> Result<(), PayError> {
    if request.lines.is_empty() && !request.unfreeze_unsplit {
        return Err(PayError::invalid(
            "/receivers",
            "name at least one receiver",
        ));
    }
    if request.lines.len() > SHARING_RECEIVERS_MAX {
        return Err(PayError::invalid(
            "/receivers",
            format!("at most {SHARING_RECEIVERS_MAX} receivers per request"),
        ));
    }
    for (index, (_, _, amount, description)) in request.lines.iter().enumerate() {
        money::check_amount(&format!("/receivers/{index}/amount"), *amount)?;
        check_text(
            &format!("/receivers/{index}/description"),
            description,
            1,
            80,
        )?;
    }
    check_text("/out_order_no", &request.out_order_no, 1, 64)
}

/// Whether `order` can be split as `request` asks: paid with profit sharing, not yet
/// unfrozen, and within the ratio others may get.
fn check_splittable(order: &Order, request: &SplitRequest) -> Result<(), PayError> {
    if !order.profit_sharing {
        return Err(PayError::rule(
            "非分账订单不支持分账: the order was not paid with settle_info.profit_sharing",
        ));
    }
    if !matches!(order.state, TradeState::Success | TradeState::Refund) {
        return Err(PayError::RefundOrderNotFound);
    }
    if order.sharing_finished {
        return Err(PayError::rule(
            "the order's frozen money was already unfrozen; nothing is left to split",
        ));
    }
    let asked = money::sum(request.lines.iter().map(|line| line.2), "the split")?;
    let limit = money::bps_down(
        order.total_minor,
        SHARING_RATIO_MAX_BPS,
        "the order's share limit",
    )?;
    let shared_after = money::add(order.shared_minor, asked, "the order's split")?;
    if shared_after > limit {
        return Err(PayError::rule(format!(
            "splitting {asked} more would give others {shared_after} of the order's {}; at most {limit} ({}%)",
            order.total_minor,
            SHARING_RATIO_MAX_BPS / 100
        )));
    }
    Ok(())
}

/// Checks a new receiver's relation; answers its custom relation, if `CUSTOM`.
fn check_relation(new: &NewReceiver) -> Result<Option<String>, PayError> {
    if !RELATION_TYPES.contains(&new.relation_type.as_str()) {
        return Err(PayError::invalid(
            "/relation_type",
            format!("must be one of {}", RELATION_TYPES.join(", ")),
        ));
    }
    if new.relation_type != "CUSTOM" {
        return Ok(None);
    }
    let custom = new.custom_relation.clone().ok_or_else(|| {
        PayError::invalid(
            "/custom_relation",
            "is required when relation_type is CUSTOM",
        )
    })?;
    check_text("/custom_relation", &custom, 1, 10)?;
    Ok(Some(custom))
}

/// A split's transfers and the lines that record them.
#[derive(Default)]
struct SplitMoves {
    transfers: Vec<NewTransfer>,
    lines: Vec<SharingLine>,
}

fn receiver_key(mchid: &str, receiver_type: ReceiverType, account: &str) -> String {
    format!("{mchid}|{}|{account}", receiver_type.wire())
}

impl PayService {
    /// Adds (or updates) a receiver a merchant may split to.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for bad fields, a name that does not match, or an unknown
    /// receiver.
    pub async fn add_receiver(&self, new: NewReceiver) -> Result<Receiver, PayError> {
        let custom_relation = check_relation(&new)?;
        let (ledger_account, name) = self.receiver_account(&new).await?;
        self.open(&ledger_account).await?;
        let receiver = Receiver {
            mchid: new.mchid.clone(),
            receiver_type: new.receiver_type,
            account: new.account.clone(),
            name,
            relation_type: new.relation_type.clone(),
            custom_relation,
            ledger_account: ledger_account.0.as_str().to_owned(),
            added_at: self.now(),
            deleted_at: None,
        };
        let write = store::write(
            kind::SHARING_RECEIVER,
            &receiver_key(&new.mchid, new.receiver_type, &new.account),
            Expect::Any,
            &receiver,
            vec![],
        )?;
        self.try_commit_records(vec![write]).await?;
        Ok(receiver)
    }

    /// Where a new receiver's money goes, and its name: another merchant's available
    /// balance (its name checked; never a provider's, nor the merchant's own), or the
    /// wallet of the user an openid names.
    async fn receiver_account(
        &self,
        new: &NewReceiver,
    ) -> Result<(AccountSpec, Option<String>), PayError> {
        match new.receiver_type {
            ReceiverType::MerchantId => {
                if new.account == new.mchid {
                    return Err(PayError::invalid(
                        "/account",
                        "a merchant cannot split to itself",
                    ));
                }
                let receiver = self.merchant_shared(&new.account).await?.ok_or_else(|| {
                    PayError::invalid(
                        "/account",
                        format!("merchant {} does not exist", new.account),
                    )
                })?;
                let name = new.name.clone().ok_or_else(|| {
                    PayError::invalid("/name", "is required for a MERCHANT_ID receiver")
                })?;
                if name != receiver.name {
                    return Err(PayError::invalid(
                        "/name",
                        "does not match the receiving merchant's name",
                    ));
                }
                if receiver.kind == MerchantKind::Provider {
                    return Err(PayError::invalid(
                        "/account",
                        "a service provider is not paid by profit sharing; its commission comes at settlement",
                    ));
                }
                Ok((accounts::available(&receiver.mchid)?, Some(name)))
            }
            ReceiverType::PersonalOpenid | ReceiverType::PersonalSubOpenid => {
                let user_id = self
                    .user_of_openid(&new.appid, &new.account)
                    .await?
                    .ok_or_else(|| {
                        PayError::invalid(
                            "/account",
                            format!(
                                "no user is known by openid {} under {}",
                                new.account, new.appid
                            ),
                        )
                    })?;
                Ok((accounts::wallet(&user_id)?, new.name.clone()))
            }
        }
    }

    /// Deletes a receiver; deleting one that is not there succeeds.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn delete_receiver(
        &self,
        mchid: &str,
        receiver_type: ReceiverType,
        account: &str,
    ) -> Result<(), PayError> {
        let key = receiver_key(mchid, receiver_type, account);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut receiver, version)) =
                load::<Receiver>(&*self.records_port(), kind::SHARING_RECEIVER, &key).await?
            else {
                return Ok(());
            };
            if receiver.deleted_at.is_some() {
                return Ok(());
            }
            receiver.deleted_at = Some(self.now());
            let write = store::write(
                kind::SHARING_RECEIVER,
                &key,
                Expect::Version(version),
                &receiver,
                vec![],
            )?;
            if self.try_commit_records(vec![write]).await? {
                return Ok(());
            }
        }
        Err(PayError::Busy {
            what: "receiver".to_owned(),
        })
    }

    async fn sharing_order_for(
        &self,
        mchid: &str,
        transaction_id: &str,
    ) -> Result<(Order, u64), PayError> {
        let order = self
            .order_by_transaction_id(mchid, transaction_id)
            .await?
            .ok_or(PayError::RefundOrderNotFound)?;
        let key = order_key(&order.mchid, &order.out_trade_no);
        load::<Order>(&*self.records_port(), kind::ORDER, &key)
            .await?
            .ok_or(PayError::RefundOrderNotFound)
    }

    /// A sharing order by the merchant's number.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn sharing_order(
        &self,
        mchid: &str,
        out_order_no: &str,
    ) -> Result<Option<SharingOrder>, PayError> {
        Ok(load::<SharingOrder>(
            &*self.records_port(),
            kind::SHARING_ORDER,
            &format!("{mchid}|{out_order_no}"),
        )
        .await?
        .map(|(order, _)| order))
    }

    /// A paid order by transaction id that `caller` may act on: its own, or one of its
    /// sub-merchants' when it is their provider.
    ///
    /// # Errors
    ///
    /// [`PayError::RefundOrderNotFound`] when there is none.
    pub async fn order_for_caller(
        &self,
        caller: &str,
        transaction_id: &str,
    ) -> Result<Order, PayError> {
        let found = self
            .records_port()
            .find(kind::ORDER, index::TRANSACTION_ID, transaction_id, 4)
            .await?;
        for record in &found {
            let order: Order = store::decode(record)?;
            if order.mchid == caller || order.sp_mchid.as_deref() == Some(caller) {
                return Ok(order);
            }
        }
        Err(PayError::RefundOrderNotFound)
    }

    /// What is still frozen on a paid order, fen.
    ///
    /// # Errors
    ///
    /// [`PayError::RefundOrderNotFound`] for an unknown or unpaid order.
    pub async fn unsplit_amount(&self, mchid: &str, transaction_id: &str) -> Result<i64, PayError> {
        let (order, _) = self.sharing_order_for(mchid, transaction_id).await?;
        if !order.profit_sharing {
            return Ok(0);
        }
        self.balance_of(&accounts::frozen(&order.mchid, transaction_id)?.0)
            .await
    }

    /// Splits a paid order's frozen share to receivers (and, if asked, unfreezes the
    /// rest), idempotent on `out_order_no`.
    ///
    /// # Errors
    ///
    /// [`PayError::InvalidRequest`] for an order without profit sharing, a receiver not
    /// added, over the ratio, a reused number; [`PayError::MerchantBalanceNotEnough`]
    /// beyond what is frozen.
    pub async fn split(&self, request: SplitRequest) -> Result<SharingOrder, PayError> {
        check_split(&request)?;
        let digest = request_digest(&request)?;
        for _ in 0..CONFLICT_RETRIES_MAX {
            if let Some(existing) = self
                .sharing_order(&request.mchid, &request.out_order_no)
                .await?
            {
                return if existing.request_digest == digest {
                    Ok(existing)
                } else {
                    Err(PayError::rule(format!(
                        "out_order_no {} was already used for a different split",
                        request.out_order_no
                    )))
                };
            }
            let (order, version) = self
                .sharing_order_for(&request.mchid, &request.transaction_id)
                .await?;
            check_splittable(&order, &request)?;
            match self.commit_split(&request, &digest, order, version).await {
                Err(PayError::Busy { .. }) => {}
                other => return other,
            }
        }
        Err(PayError::Busy {
            what: "profit sharing".to_owned(),
        })
    }

    async fn commit_split(
        &self,
        request: &SplitRequest,
        digest: &str,
        mut order: Order,
        version: u64,
    ) -> Result<SharingOrder, PayError> {
        let now = self.now();
        let transaction_id = request.transaction_id.clone();
        let frozen = accounts::frozen(&order.mchid, &transaction_id)?;
        let order_id = ids::new_sharing_id(now);
        let mut moves = self
            .receiver_moves(&order, request, (&frozen, &order_id), now)
            .await?;
        let asked = money::sum(request.lines.iter().map(|line| line.2), "the split")?;
        order.shared_minor = money::add(order.shared_minor, asked, "the order's split")?;
        if request.unfreeze_unsplit {
            let left = self.balance_of(&frozen.0).await? - asked;
            if left < 0 {
                return Err(PayError::MerchantBalanceNotEnough);
            }
            self.unfreeze_move(&order, request, (&frozen, &order_id), left, now, &mut moves)
                .await?;
            order.sharing_finished = true;
        }
        let sharing = SharingOrder {
            mchid: order.mchid.clone(),
            sp_mchid: request.sp_mchid.clone(),
            transaction_id,
            out_order_no: request.out_order_no.clone(),
            order_id,
            lines: moves.lines,
            request_digest: digest.to_owned(),
            created_at: now,
        };
        let write = WriteSet {
            batch: batch(moves.transfers)?,
            records: vec![
                order_write(&order, Expect::Version(version))?,
                sharing_write(&sharing)?,
            ],
            ..WriteSet::default()
        };
        self.commit_money(write, &frozen.0).await?;
        Ok(sharing)
    }

    /// A split's moves from the order's `frozen` account to each receiver the request
    /// names (each must have been added, and not deleted), with their lines.
    async fn receiver_moves(
        &self,
        order: &Order,
        request: &SplitRequest,
        (frozen, order_id): (&AccountSpec, &str),
        now: Timestamp,
    ) -> Result<SplitMoves, PayError> {
        let mut moves = SplitMoves::default();
        for (index, (receiver_type, account, amount, description)) in
            request.lines.iter().enumerate()
        {
            let found = load::<Receiver>(
                &*self.records_port(),
                kind::SHARING_RECEIVER,
                &receiver_key(&order.mchid, *receiver_type, account),
            )
            .await?
            .filter(|(receiver, _)| receiver.deleted_at.is_none());
            let Some((receiver, _)) = found else {
                return Err(PayError::rule(format!(
                    "receivers/{index}: {} {account} was not added as a receiver (receivers/add)",
                    receiver_type.wire()
                )));
            };
            let to = AccountId::parse(&receiver.ledger_account).map_err(|error| {
                PayError::Unavailable {
                    reason: format!("receiver account: {error}"),
                }
            })?;
            moves.transfers.push(transfer(
                format!("ps:{order_id}:{index}"),
                &frozen.0,
                &to,
                *amount,
                &format!("split {} {}", order.mchid, request.out_order_no),
            )?);
            moves.lines.push(SharingLine {
                receiver_type: *receiver_type,
                account: account.clone(),
                amount_minor: *amount,
                description: description.clone(),
                result: LineResult::Success,
                detail_id: ids::new_sharing_id(now),
                finished_at: now,
            });
        }
        Ok(moves)
    }

    /// The unfreeze of what is `left` in the order's `frozen` account to the merchant's
    /// balance, and its line.
    async fn unfreeze_move(
        &self,
        order: &Order,
        request: &SplitRequest,
        (frozen, order_id): (&AccountSpec, &str),
        left: i64,
        now: Timestamp,
        moves: &mut SplitMoves,
    ) -> Result<(), PayError> {
        if left > 0 {
            let available = accounts::available(&order.mchid)?;
            self.open(&available).await?;
            moves.transfers.push(transfer(
                format!("ps:{order_id}:unfreeze"),
                &frozen.0,
                &available.0,
                left,
                &format!("unfreeze {} {}", order.mchid, request.out_order_no),
            )?);
        }
        moves.lines.push(SharingLine {
            receiver_type: ReceiverType::MerchantId,
            account: order.mchid.clone(),
            amount_minor: left,
            description: "解冻给分账方".to_owned(),
            result: LineResult::Success,
            detail_id: ids::new_sharing_id(now),
            finished_at: now,
        });
        Ok(())
    }

    /// Unfreezes what is left of a paid order's frozen share to the merchant.
    ///
    /// # Errors
    ///
    /// As [`PayService::split`].
    pub async fn unfreeze(
        &self,
        mchid: &str,
        sp_mchid: Option<String>,
        transaction_id: &str,
        out_order_no: &str,
        description: &str,
    ) -> Result<SharingOrder, PayError> {
        check_text("/description", description, 1, 80)?;
        self.split(SplitRequest {
            mchid: mchid.to_owned(),
            sp_mchid,
            transaction_id: transaction_id.to_owned(),
            out_order_no: out_order_no.to_owned(),
            lines: Vec::new(),
            unfreeze_unsplit: true,
        })
        .await
    }

    /// Returns (回退) part of a split from a merchant receiver to the merchant,
    /// idempotent on `out_return_no`.
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`] for an unknown sharing order,
    /// [`PayError::InvalidRequest`] beyond what the receiver got, or a reused number;
    /// [`PayError::MerchantBalanceNotEnough`] when the receiver's balance is short.
    pub async fn return_split(
        &self,
        mchid: &str,
        out_order_no: &str,
        out_return_no: &str,
        return_mchid: &str,
        amount_minor: i64,
        description: &str,
    ) -> Result<SharingReturn, PayError> {
        check_text("/description", description, 1, 80)?;
        check_text("/out_return_no", out_return_no, 1, 64)?;
        money::check_amount("/amount", amount_minor)?;
        let digest =
            request_digest(&(mchid, out_order_no, return_mchid, amount_minor, description))?;
        let key = format!("{mchid}|{out_return_no}");
        if let Some((existing, _)) =
            load::<SharingReturn>(&*self.records_port(), kind::SHARING_RETURN, &key).await?
        {
            return if existing.request_digest == digest {
                Ok(existing)
            } else {
                Err(PayError::rule(format!(
                    "out_return_no {out_return_no} was already used for a different return"
                )))
            };
        }
        let sharing = self
            .sharing_order(mchid, out_order_no)
            .await?
            .ok_or(PayError::OrderNotFound)?;
        self.check_returnable(&sharing, (mchid, out_order_no, return_mchid), amount_minor)
            .await?;
        let now = self.now();
        let back = SharingReturn {
            mchid: mchid.to_owned(),
            out_order_no: out_order_no.to_owned(),
            order_id: sharing.order_id.clone(),
            out_return_no: out_return_no.to_owned(),
            return_id: ids::new_sharing_id(now),
            return_mchid: return_mchid.to_owned(),
            amount_minor,
            description: description.to_owned(),
            request_digest: digest,
            created_at: now,
        };
        let from = accounts::available(return_mchid)?;
        let write = self.return_write(&back, &key, &from).await?;
        self.commit_money(write, &from.0).await?;
        Ok(back)
    }

    /// Whether `return_mchid` may give `amount_minor` back to `mchid` from split
    /// `out_order_no`: at most what it received there, less what it returned already.
    async fn check_returnable(
        &self,
        sharing: &SharingOrder,
        (mchid, out_order_no, return_mchid): (&str, &str, &str),
        amount_minor: i64,
    ) -> Result<(), PayError> {
        let received = money::sum(
            sharing
                .lines
                .iter()
                .filter(|line| {
                    line.receiver_type == ReceiverType::MerchantId
                        && line.account == return_mchid
                        && line.account != mchid
                })
                .map(|line| line.amount_minor),
            "what the receiver got",
        )?;
        let returned = self
            .returned_so_far(mchid, out_order_no, return_mchid)
            .await?;
        if amount_minor > received - returned {
            return Err(PayError::rule(format!(
                "{return_mchid} received {received} from this split and returned {returned}; \
                 {amount_minor} is more than is left to return"
            )));
        }
        Ok(())
    }

    /// A return's unit of work: the money from the receiver's balance (`from`) back to
    /// the splitting merchant's (opened here), and the return's record under `key`.
    async fn return_write(
        &self,
        back: &SharingReturn,
        key: &str,
        from: &AccountSpec,
    ) -> Result<WriteSet, PayError> {
        let (mchid, out_order_no) = (&back.mchid, &back.out_order_no);
        let to = accounts::available(mchid)?;
        self.open(&to).await?;
        Ok(WriteSet {
            batch: batch(vec![transfer(
                format!("psr:{}", back.return_id),
                &from.0,
                &to.0,
                back.amount_minor,
                &format!("return {mchid} {out_order_no}"),
            )?])?,
            records: vec![store::write(
                kind::SHARING_RETURN,
                key,
                Expect::Absent,
                back,
                vec![IndexEntry::new(
                    "sharing_order",
                    format!(
                        "{mchid}|{out_order_no}|{}|{}",
                        back.return_mchid, back.return_id
                    ),
                )],
            )?],
            ..WriteSet::default()
        })
    }

    async fn returned_so_far(
        &self,
        mchid: &str,
        out_order_no: &str,
        return_mchid: &str,
    ) -> Result<i64, PayError> {
        let prefix = format!("{mchid}|{out_order_no}|{return_mchid}|");
        let found = self
            .records_port()
            .range(plaza_kernel::record::IndexRange {
                kind: kind::SHARING_RETURN.to_owned(),
                name: "sharing_order".to_owned(),
                from: prefix.clone(),
                to: format!("{prefix}~"),
                after: None,
                rows_max: 1_000,
                newest_first: false,
            })
            .await?;
        let mut total = 0;
        for found in &found {
            let back: SharingReturn = store::decode(&found.record)?;
            total = money::add(total, back.amount_minor, "what was returned")?;
        }
        Ok(total)
    }

    /// A return by the merchant's number.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn sharing_return(
        &self,
        mchid: &str,
        out_return_no: &str,
    ) -> Result<Option<SharingReturn>, PayError> {
        Ok(load::<SharingReturn>(
            &*self.records_port(),
            kind::SHARING_RETURN,
            &format!("{mchid}|{out_return_no}"),
        )
        .await?
        .map(|(back, _)| back))
    }

    /// Commits money moves; `Busy` on a record conflict, `MerchantBalanceNotEnough` when
    /// `source` cannot cover them.
    async fn commit_money(&self, write: WriteSet, source: &AccountId) -> Result<(), PayError> {
        match self.commit_write(write).await {
            Ok(()) => Ok(()),
            Err(LedgerError::RecordConflict { .. }) => Err(PayError::Busy {
                what: "profit sharing".to_owned(),
            }),
            Err(LedgerError::InsufficientFunds { account, .. }) if account == *source => {
                Err(PayError::MerchantBalanceNotEnough)
            }
            Err(error) => Err(error.into()),
        }
    }
}

fn sharing_write(sharing: &SharingOrder) -> Result<RecordWrite, PayError> {
    store::write(
        kind::SHARING_ORDER,
        &format!("{}|{}", sharing.mchid, sharing.out_order_no),
        Expect::Absent,
        sharing,
        vec![],
    )
}
