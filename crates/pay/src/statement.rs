//! A payer's statement (账单): the wallet's ledger history read back as the entries a
//! person recognises — a payment, a refund, a top-up, a profit share received — each
//! the sum of the transfers one operation made (a payment moves its net and its fee in
//! two transfers; the payer paid the total).
//!
//! It reads what the ledger holds, so it is exact by construction: the transfer ids and
//! memos the payment paths write (`pay:{transaction_id}:wallet:{net|fee}` with memo
//! `pay {mchid} {out_trade_no}`, `refund:{refund_id}:{net|fee}` with memo
//! `refund {mchid} {out_refund_no}`, `topup:{user_id}:{request_id}`,
//! `ps:{order_id}:{index}`) are stored facts and never change meaning.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::id::AccountId;
use plaza_ledger::{HistoryPage, Transfer};

/// What one statement entry was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A payment to a merchant.
    Payment {
        /// The merchant paid (a sub-merchant's own mchid for a partner order).
        mchid: String,
        /// The merchant's order number.
        out_trade_no: String,
        /// The payment's transaction id.
        transaction_id: String,
    },
    /// A refund from a merchant.
    Refund {
        /// The merchant refunding.
        mchid: String,
        /// The merchant's refund number.
        out_refund_no: String,
        /// The refund's id.
        refund_id: String,
    },
    /// Money put into the wallet from outside (the sandbox's top-ups).
    TopUp,
    /// A merchant's profit share paid to this wallet.
    SharingReceived,
    /// Anything else, with its memo.
    Other {
        /// The transfers' memo.
        memo: String,
    },
}

/// One line of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementEntry {
    /// What it was.
    pub kind: EntryKind,
    /// Fen into the wallet (positive) or out of it (negative).
    pub amount_minor: i64,
    /// When it was committed.
    pub at: Timestamp,
    /// The wallet's balance right after it, fen.
    pub balance_after_minor: i64,
}

/// The operation a transfer id belongs to: its id without the part suffix.
fn operation_key(id: &str) -> &str {
    let mut parts = id.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some(prefix @ ("pay" | "refund")), Some(reference)) => {
            &id[..prefix.len() + 1 + reference.len()]
        }
        _ => id,
    }
}

fn kind_of(key: &str, memo: &str) -> EntryKind {
    let mut words = memo.split(' ');
    let (_, mchid, number) = (words.next(), words.next(), words.next());
    let (mchid, number) = (mchid.unwrap_or_default(), number.unwrap_or_default());
    match key.split_once(':') {
        Some(("pay", transaction_id)) => EntryKind::Payment {
            mchid: mchid.to_owned(),
            out_trade_no: number.to_owned(),
            transaction_id: transaction_id.to_owned(),
        },
        Some(("refund", refund_id)) => EntryKind::Refund {
            mchid: mchid.to_owned(),
            out_refund_no: number.to_owned(),
            refund_id: refund_id.to_owned(),
        },
        Some(("topup", _)) => EntryKind::TopUp,
        Some(("ps", _)) => EntryKind::SharingReceived,
        _ => EntryKind::Other {
            memo: memo.to_owned(),
        },
    }
}

/// The statement of `wallet` from its transfers, newest first as the ledger's history
/// gives them: one entry per operation, its transfers summed.
pub fn statement(wallet: &AccountId, transfers: &[Transfer]) -> Vec<StatementEntry> {
    let mut keys: Vec<&str> = Vec::new();
    let mut entries: Vec<StatementEntry> = Vec::new();
    for transfer in transfers {
        let (signed, balance_after) = if &transfer.to == wallet {
            (transfer.amount_minor, transfer.to_balance_after_minor)
        } else if &transfer.from == wallet {
            (-transfer.amount_minor, transfer.from_balance_after_minor)
        } else {
            continue;
        };
        let key = operation_key(transfer.id.as_str());
        match keys.iter().position(|seen| *seen == key) {
            Some(index) => {
                if let Some(entry) = entries.get_mut(index) {
                    entry.amount_minor = entry.amount_minor.saturating_add(signed);
                }
            }
            None => {
                keys.push(key);
                entries.push(StatementEntry {
                    kind: kind_of(key, &transfer.memo),
                    amount_minor: signed,
                    at: transfer.committed_at,
                    balance_after_minor: balance_after,
                });
            }
        }
    }
    entries
}

/// The statement of one page of the wallet's history. When older transfers remain, the
/// page's oldest operation may be cut in two, so it is left for the next page.
pub fn statement_page(wallet: &AccountId, page: &HistoryPage) -> Vec<StatementEntry> {
    let mut entries = statement(wallet, &page.transfers);
    if page.next_before_seq.is_some() && entries.len() > 1 {
        entries.pop();
    }
    entries
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;
    use plaza_kernel::id::TransferId;
    use plaza_kernel::money::Currency;

    fn transfer(seq: i64, id: &str, from: &str, to: &str, amount: i64, memo: &str) -> Transfer {
        Transfer {
            seq,
            id: TransferId::parse(id).unwrap(),
            from: AccountId::parse(from).unwrap(),
            to: AccountId::parse(to).unwrap(),
            amount_minor: amount,
            currency: Currency::CNY,
            memo: memo.to_owned(),
            from_balance_after_minor: 1_000 - seq,
            to_balance_after_minor: 1_000 + seq,
            committed_at: Timestamp::from_unix_ms(seq * 1_000),
        }
    }

    /// Transfers from `seq|id|from|to|amount|memo` lines.
    fn history(lines: &[&str]) -> Vec<Transfer> {
        let parse = |line: &&str| {
            let fields: Vec<&str> = line.split('|').collect();
            let seq = fields[0].parse().unwrap();
            let amount = fields[4].parse().unwrap();
            transfer(seq, fields[1], fields[2], fields[3], amount, fields[5])
        };
        lines.iter().map(parse).collect()
    }

    #[test]
    fn a_payment_and_its_refund_read_as_one_line_each_newest_first() {
        let wallet = AccountId::parse("user:u1:wallet").unwrap();
        let history = history(&[
            "9|refund:R1:fee|platform:fees|user:u1:wallet|2|refund 1600000001 RF-1",
            "8|refund:R1:net|mch:1600000001:available|user:u1:wallet|498|refund 1600000001 RF-1",
            "5|pay:4200001:wallet:fee|user:u1:wallet|mch:1600000001:fee:20261126|11|pay 1600000001 ORDER-1",
            "4|pay:4200001:wallet:net|user:u1:wallet|mch:1600000001:pending:20261126|1839|pay 1600000001 ORDER-1",
            "1|topup:u1:first|bank:CNY|user:u1:wallet|5000|sandbox top-up",
        ]);
        let entries = statement(&wallet, &history);
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0].kind,
            EntryKind::Refund {
                mchid: "1600000001".to_owned(),
                out_refund_no: "RF-1".to_owned(),
                refund_id: "R1".to_owned(),
            }
        );
        assert_eq!(entries[0].amount_minor, 500);
        assert_eq!(
            entries[0].balance_after_minor, 1_009,
            "after its newest transfer"
        );
        assert_eq!(
            entries[1].kind,
            EntryKind::Payment {
                mchid: "1600000001".to_owned(),
                out_trade_no: "ORDER-1".to_owned(),
                transaction_id: "4200001".to_owned(),
            }
        );
        assert_eq!(
            entries[1].amount_minor, -1_850,
            "net and fee: the total paid"
        );
        assert_eq!(entries[2].kind, EntryKind::TopUp);
        assert_eq!(entries[2].amount_minor, 5_000);
    }

    #[test]
    fn a_page_with_older_transfers_left_holds_back_its_oldest_operation() {
        let wallet = AccountId::parse("user:u1:wallet").unwrap();
        let page = HistoryPage {
            transfers: vec![
                transfer(
                    7,
                    "topup:u1:b",
                    "bank:CNY",
                    "user:u1:wallet",
                    100,
                    "sandbox top-up",
                ),
                transfer(
                    5,
                    "pay:42:wallet:fee",
                    "user:u1:wallet",
                    "platform:fees",
                    1,
                    "pay 1 O",
                ),
            ],
            next_before_seq: Some(5),
        };
        let entries = statement_page(&wallet, &page);
        assert_eq!(entries.len(), 1, "the payment's net is on the next page");
        assert_eq!(entries[0].kind, EntryKind::TopUp);
    }
}
