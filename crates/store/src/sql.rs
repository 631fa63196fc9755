//! SQL that both backends run unchanged.

/// An account's balance: the balance-after of its latest transfer, or 0 without one.
/// Written for an outer query that names the account table `a`; both backends run it.
pub(crate) const BALANCE_OF_A: &str = "COALESCE((\
     SELECT CASE WHEN t.from_row = a.row_id THEN t.from_balance_after_minor \
                 ELSE t.to_balance_after_minor END \
     FROM ledger_transfers t WHERE t.seq = (SELECT MAX(m.seq) FROM (\
         SELECT f.seq FROM (SELECT seq FROM ledger_transfers WHERE from_row = a.row_id \
                            ORDER BY seq DESC LIMIT 1) AS f \
         UNION ALL \
         SELECT g.seq FROM (SELECT seq FROM ledger_transfers WHERE to_row = a.row_id \
                            ORDER BY seq DESC LIMIT 1) AS g) AS m)), 0)";

/// The account columns `account_from_row` reads, from `ledger_accounts a`.
pub(crate) fn account_select() -> String {
    format!(
        "SELECT a.row_id, a.id, a.kind, a.currency, a.floor_minor, {BALANCE_OF_A}, a.created_at_ms \
         FROM ledger_accounts a"
    )
}

/// Turns up to `rows_max + 1` transfers, newest first, into a page: the extra row only
/// says that another page follows.
pub(crate) fn history_page(
    mut transfers: Vec<plaza_ledger::Transfer>,
    rows_max: usize,
) -> plaza_ledger::HistoryPage {
    let next_before_seq = if transfers.len() > rows_max {
        transfers.truncate(rows_max);
        transfers.last().map(|transfer| transfer.seq)
    } else {
        None
    };
    plaza_ledger::HistoryPage {
        transfers,
        next_before_seq,
    }
}
