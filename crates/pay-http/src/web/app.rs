//! Pay's parts of the user app ([`PayWeb`] as the shell's `UserApp` port): on the Me
//! tab the wallet (balance, 账单, payment code, Scan, collection code), the counter
//! payments waiting for the password and the 卡包 of coupons; in Chats the "WeChat Pay"
//! service conversation — a receipt for each payment and a notice for each refund, from
//! the same ledger lines as the 账单, newest first.

use plaza_http::web::{AppUser, Conversation, ConversationSummary, Notice, UserApp};
use plaza_kernel::BoxFuture;
use plaza_pay::statement::EntryKind;

use super::bills::{BillLine, bill_lines};
use super::signin::PayWeb;
use super::yuan;

/// The service conversation's id (`/app/chats/wechat-pay`).
pub(crate) const CONVERSATION_ID: &str = "wechat-pay";
const CONVERSATION_TITLE: &str = "WeChat Pay 微信支付";

/// Whether a line is something WeChat Pay sends a notice about.
fn noticed(line: &BillLine) -> bool {
    matches!(
        line.entry.kind,
        EntryKind::Payment { .. } | EntryKind::Refund { .. }
    )
}

/// The notice's heading, and its short form for the Chats list.
fn heading(line: &BillLine) -> (&'static str, &'static str) {
    match line.entry.kind {
        EntryKind::Refund { .. } => ("退款到账 Refund received", "退款到账"),
        _ => ("付款成功 Payment successful", "付款成功"),
    }
}

/// A bill line as WeChat Pay's notice about it.
fn notice(line: &BillLine) -> Notice {
    let refund = matches!(line.entry.kind, EntryKind::Refund { .. });
    let rows = vec![
        ("商户 Merchant".to_owned(), line.title.clone()),
        ("商品 Goods".to_owned(), line.goods.clone()),
        (
            if refund {
                "退回 Refunded to"
            } else {
                "支付方式 Paid with"
            }
            .to_owned(),
            "零钱 Balance".to_owned(),
        ),
    ];
    let reference = line.reference.as_ref().map(|reference| {
        let label = if refund {
            "退款单号 Refund"
        } else {
            "交易单号 Transaction"
        };
        (label.to_owned(), reference.clone())
    });
    let link = line
        .link
        .clone()
        .unwrap_or_else(|| "/app/me/bills".to_owned());
    Notice {
        at: line.entry.at,
        heading: heading(line).0.to_owned(),
        amount_minor: Some(line.entry.amount_minor),
        rows,
        reference,
        link: Some((link, "查看详情 View details".to_owned())),
    }
}

/// The wallet card: balance with the way to the 账单, and the three actions.
fn wallet_card(balance_minor: i64) -> String {
    format!(
        "<div class=\"card wallet\" id=\"wallet\"><div class=\"wallet-head\">\
         <div><div class=\"wallet-label\">零钱 Balance</div>\
         <div class=\"wallet-balance\" id=\"balance\"><small>¥</small>{balance}</div></div>\
         <a class=\"wallet-bills\" id=\"bills-link\" href=\"/app/me/bills\">账单 Bills ›</a></div>\
         <div class=\"wallet-actions\">\
         <form method=\"post\" action=\"/app/me/payment-code\"><button class=\"action\" id=\"show-code\">\
         <svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><path d=\"M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h2v2h-2zM18 18h2v2h-2zM14 18h2v2h-2zM18 14h2v2h-2z\"/></svg>\
         <span>付款码 Pay code</span></button></form>\
         <a class=\"action\" id=\"scan\" href=\"/app/pay/scan\">\
         <svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><path d=\"M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5M4 12h16\"/></svg>\
         <span>扫一扫 Scan</span></a>\
         <a class=\"action\" id=\"collect\" href=\"/app/collect\">\
         <svg viewBox=\"0 0 24 24\" aria-hidden=\"true\"><path d=\"M12 3v18M7 7.5c0-1.5 2-2.5 5-2.5s5 1 5 2.5-2 2.5-5 2.5-5 1-5 2.5 2 2.5 5 2.5 5-1 5-2.5\"/></svg>\
         <span>收款码 Collect</span></a></div></div>",
        balance = yuan(balance_minor),
    )
}

impl UserApp for PayWeb {
    fn conversations<'a>(&'a self, user: &'a AppUser) -> BoxFuture<'a, Vec<ConversationSummary>> {
        Box::pin(async move {
            let lines = bill_lines(&self.pay, &*self.ledger, &user.user_id).await;
            let Some(latest) = lines.iter().find(|line| noticed(line)) else {
                return Vec::new();
            };
            vec![ConversationSummary {
                id: CONVERSATION_ID.to_owned(),
                title: CONVERSATION_TITLE.to_owned(),
                icon: "支",
                preview: format!(
                    "{} ¥{} · {}",
                    heading(latest).1,
                    yuan(latest.entry.amount_minor.abs()),
                    latest.title
                ),
                at: Some(latest.entry.at),
                link: None,
                unread: 0,
            }]
        })
    }

    fn conversation<'a>(
        &'a self,
        user: &'a AppUser,
        id: &'a str,
    ) -> BoxFuture<'a, Option<Conversation>> {
        Box::pin(async move {
            if id != CONVERSATION_ID {
                return None;
            }
            let lines = bill_lines(&self.pay, &*self.ledger, &user.user_id).await;
            Some(Conversation {
                title: CONVERSATION_TITLE.to_owned(),
                about: "WeChat Pay's service notifications: a receipt for each payment, a notice for each refund."
                    .to_owned(),
                notices: lines.iter().filter(|line| noticed(line)).map(notice).collect(),
            })
        })
    }

    fn me_cards<'a>(&'a self, user: &'a AppUser) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let balance = self.pay.wallet_balance(&user.user_id).await.unwrap_or(0);
            vec![
                wallet_card(balance),
                super::paycode::awaiting(&self.pay, &user.user_id).await,
                super::coupons::card(&self.pay, &user.user_id).await,
            ]
        })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;
    use plaza_kernel::clock::Timestamp;
    use plaza_pay::statement::StatementEntry;

    fn line(kind: EntryKind, amount_minor: i64) -> BillLine {
        BillLine {
            entry: StatementEntry {
                kind,
                amount_minor,
                at: Timestamp::from_unix_ms(0),
                balance_after_minor: 0,
            },
            title: "Harbour Coffee".to_owned(),
            goods: "Flat white".to_owned(),
            note: "Flat white".to_owned(),
            reference: Some("4200".to_owned()),
            link: None,
        }
    }

    #[test]
    fn payments_and_refunds_are_noticed_and_top_ups_are_not() {
        let payment = line(
            EntryKind::Payment {
                mchid: "1".to_owned(),
                out_trade_no: "O".to_owned(),
                transaction_id: "4200".to_owned(),
            },
            -1_850,
        );
        assert!(noticed(&payment));
        assert!(!noticed(&line(EntryKind::TopUp, 5_000)));
        let receipt = notice(&payment);
        assert_eq!(receipt.heading, "付款成功 Payment successful");
        assert_eq!(receipt.amount_minor, Some(-1_850));
        assert_eq!(
            receipt.reference,
            Some(("交易单号 Transaction".to_owned(), "4200".to_owned()))
        );
        assert_eq!(
            receipt.link.unwrap().0,
            "/app/me/bills",
            "no order page: the 账单"
        );
    }
}
