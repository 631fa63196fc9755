//! The payer's 账单 (`/app/me/bills`): the wallet's ledger history read back as
//! payments, refunds and top-ups (`plaza_pay::statement`), each named by its merchant
//! and goods from the order records, grouped by month (China Standard Time). The same
//! lines fill the "WeChat Pay" service conversation in Chats (`super::app`).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use plaza_http::web::{
    AppPage, AppTab, app_layout, china_month, china_time, empty_state, percent_encode,
    signed_money, tile,
};
use plaza_ledger::LedgerStore;
use plaza_pay::PayService;
use plaza_pay::statement::{EntryKind, StatementEntry, statement_page};

use super::escape;
use super::pages::{signin_redirect, viewer};
use crate::PayState;

/// Ledger transfers read for the 账单 and the service conversation (a payment is up to
/// two, so this is about the last hundred operations).
pub(crate) const WALLET_TRANSFERS_READ: usize = 200;

/// One line of the 账单: a statement entry with the names people know it by.
#[derive(Debug, Clone)]
pub(crate) struct BillLine {
    /// What the ledger says.
    pub(crate) entry: StatementEntry,
    /// Who or what: the merchant's name, or the kind of entry.
    pub(crate) title: String,
    /// What for: the goods (a refund's order's), or the kind of entry.
    pub(crate) goods: String,
    /// The line's second line: the goods, marked as a refund's for one.
    pub(crate) note: String,
    /// The payment's transaction id or the refund's id, when it has one.
    pub(crate) reference: Option<String>,
    /// The order's page (its checkout, showing how it ended), when there is one.
    pub(crate) link: Option<String>,
}

/// Names read while building lines, so each merchant is read once.
struct Names<'a> {
    pay: &'a PayService,
    merchants: HashMap<String, String>,
}

impl Names<'_> {
    async fn merchant(&mut self, mchid: &str) -> String {
        if let Some(name) = self.merchants.get(mchid) {
            return name.clone();
        }
        let name = self
            .pay
            .merchant(mchid)
            .await
            .ok()
            .flatten()
            .map_or_else(|| mchid.to_owned(), |merchant| merchant.name);
        self.merchants.insert(mchid.to_owned(), name.clone());
        name
    }

    /// The order's goods and its page.
    async fn order(&self, mchid: &str, out_trade_no: &str) -> (String, Option<String>) {
        match self.pay.order(mchid, out_trade_no).await {
            Ok(Some(order)) => (
                order.description,
                Some(format!(
                    "/app/pay/checkout?prepay_id={}",
                    percent_encode(&order.prepay_id)
                )),
            ),
            _ => (out_trade_no.to_owned(), None),
        }
    }

    async fn line(&mut self, entry: StatementEntry) -> BillLine {
        let (title, goods, reference, link) = match &entry.kind {
            EntryKind::Payment {
                mchid,
                out_trade_no,
                transaction_id,
            } => {
                let (goods, link) = self.order(mchid, out_trade_no).await;
                let title = self.merchant(mchid).await;
                (title, goods, Some(transaction_id.clone()), link)
            }
            EntryKind::Refund {
                mchid,
                out_refund_no,
                refund_id,
            } => {
                let refund = self
                    .pay
                    .refund_of(mchid, out_refund_no)
                    .await
                    .ok()
                    .flatten();
                let (goods, link) = match refund {
                    Some(refund) => self.order(mchid, &refund.out_trade_no).await,
                    None => (out_refund_no.clone(), None),
                };
                let title = self.merchant(mchid).await;
                (title, goods, Some(refund_id.clone()), link)
            }
            EntryKind::TopUp => (
                "零钱充值 Top-up".to_owned(),
                "Into your balance".to_owned(),
                None,
                None,
            ),
            EntryKind::SharingReceived => (
                "分账 Profit share".to_owned(),
                "From a merchant's order".to_owned(),
                None,
                None,
            ),
            EntryKind::Other { memo } => ("零钱 Balance".to_owned(), memo.clone(), None, None),
        };
        let note = match entry.kind {
            EntryKind::Refund { .. } => format!("退款 Refund · {goods}"),
            _ => goods.clone(),
        };
        BillLine {
            entry,
            title,
            goods,
            note,
            reference,
            link,
        }
    }
}

/// The user's latest 账单 lines, newest first (none when their wallet never held money).
pub(crate) async fn bill_lines(
    pay: &PayService,
    ledger: &dyn LedgerStore,
    user_id: &str,
) -> Vec<BillLine> {
    let Ok((wallet, _)) = plaza_pay::accounts::wallet(user_id) else {
        return Vec::new();
    };
    let Ok(page) = ledger
        .history(wallet.clone(), None, WALLET_TRANSFERS_READ)
        .await
    else {
        return Vec::new();
    };
    let mut names = Names {
        pay,
        merchants: HashMap::new(),
    };
    let mut lines = Vec::new();
    for entry in statement_page(&wallet, &page) {
        lines.push(names.line(entry).await);
    }
    lines
}

/// One line as a row: tile, who and what, when; the amount and the balance after.
fn row(line: &BillLine) -> String {
    let inner = format!(
        "{tile}<span class=\"bill-text\"><span class=\"bill-title\">{title}</span>\
         <span class=\"muted\">{note}</span><span class=\"muted small\">{time}</span></span>\
         <span class=\"bill-amount\">{amount}<span class=\"muted small\">余额 ¥{balance}</span></span>",
        tile = tile("", &line.title),
        title = escape(&line.title),
        note = escape(&line.note),
        time = china_time(line.entry.at),
        amount = signed_money(line.entry.amount_minor),
        balance = super::yuan(line.entry.balance_after_minor),
    );
    let reference = line.reference.as_deref().map_or_else(String::new, |id| {
        format!(" data-reference=\"{}\"", escape(id))
    });
    match &line.link {
        Some(href) => format!(
            "<li class=\"bill\"{reference}><a href=\"{}\">{inner}</a></li>",
            escape(href)
        ),
        None => format!("<li class=\"bill\"{reference}><div>{inner}</div></li>"),
    }
}

/// The lines grouped by month, each month with what went out and what came in.
fn by_month(lines: &[BillLine]) -> String {
    let mut html = String::new();
    let mut index = 0;
    while let Some(first) = lines.get(index) {
        let month = china_month(first.entry.at);
        let end = lines[index..]
            .iter()
            .position(|line| china_month(line.entry.at) != month)
            .map_or(lines.len(), |offset| index + offset);
        let group = &lines[index..end];
        let spent: i64 = group
            .iter()
            .map(|line| line.entry.amount_minor.min(0))
            .sum();
        let received: i64 = group
            .iter()
            .map(|line| line.entry.amount_minor.max(0))
            .sum();
        let rows: String = group.iter().map(row).collect();
        html.push_str(&format!(
            "<section class=\"card month\"><header class=\"month-head\"><h2>{month}</h2>\
             <span class=\"muted\">支出 Out ¥{spent} · 收入 In ¥{received}</span></header>\
             <ul class=\"bills\">{rows}</ul></section>",
            spent = super::yuan(-spent),
            received = super::yuan(received),
        ));
        index = end;
    }
    html
}

/// `GET /app/me/bills`: the 账单.
pub(crate) async fn page(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect("/app/me/bills");
    };
    let lines = bill_lines(&surface.pay, &*state.http.ledger, &user.user_id).await;
    let body = if lines.is_empty() {
        empty_state(
            "No transactions yet",
            "Payments, refunds and top-ups of your balance appear here.",
            None,
        )
    } else {
        format!("<div id=\"bills\">{}</div>", by_month(&lines))
    };
    let page = AppPage::below(AppTab::Me, "账单 Bills", "/app/me");
    app_layout(page, &viewer, &body).into_response()
}
