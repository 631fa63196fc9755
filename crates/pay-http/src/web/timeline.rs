//! An order's timeline, built from the records as they stand: created → paid (or
//! closed) → each notification with its delivery attempts → settled with its day →
//! refunds, each with its status; what is still to come (the day's settlement, the
//! deadline of an unpaid order) closes the list.
//!
//! The domain has no "everything about one order" read, so [`OrderFacts::read`] puts it
//! together from public reads: the merchant's newest notifications, filtered to the
//! order; the settlement of the order's payment day; and its refunds — those its
//! notifications name, and the succeeded ones found day by day from the payment day
//! until they add up to what the order says was refunded.

use plaza_kernel::clock::Timestamp;
use plaza_pay::model::{
    DeliveryState, FundsAccount, Notification, NotificationSubject, Order, Refund, Settlement,
    TradeState,
};
use plaza_pay::time::Day;
use plaza_pay::{PayError, PayService};

use super::consoles::{china_time, money, refund_badge};
use super::escape;

/// The merchant's newest notifications read to find an order's: enough for a console,
/// bounded so a busy merchant's page stays one read.
const NOTIFICATIONS_READ_MAX: usize = 500;
/// How many payment days a refund search walks: WeChat takes refunds for a year.
const REFUND_SEARCH_DAYS_MAX: usize = 370;

/// Everything the order page shows about one order.
#[derive(Debug)]
pub(crate) struct OrderFacts {
    /// The order as it stands.
    pub(crate) order: Order,
    /// Who paid it, by name.
    pub(crate) payer_name: Option<String>,
    /// Notifications about it, oldest first.
    pub(crate) notifications: Vec<Notification>,
    /// Whether every notification of the merchant was read (else older ones may be
    /// missing).
    pub(crate) notifications_complete: bool,
    /// The settlement of its payment day, once it ran.
    pub(crate) settlement: Option<Settlement>,
    /// Its refunds, oldest first.
    pub(crate) refunds: Vec<Refund>,
}

impl OrderFacts {
    /// Reads what is known about `order` now.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub(crate) async fn read(pay: &PayService, order: Order) -> Result<Self, PayError> {
        let payer_name = match &order.payer_user_id {
            Some(user_id) => pay.user(user_id).await?.map(|user| user.name),
            None => None,
        };
        let listed = pay
            .notifications_of(order.notified_mchid(), NOTIFICATIONS_READ_MAX)
            .await?;
        let notifications_complete = listed.len() < NOTIFICATIONS_READ_MAX;
        let mut notifications: Vec<Notification> = listed
            .into_iter()
            .filter(|notification| about_order(&notification.subject, &order))
            .collect();
        notifications.reverse();
        let settlement = match order.success_time {
            Some(paid_at) => pay.settlement(&order.mchid, Day::of(paid_at)).await?,
            None => None,
        };
        let refunds = refunds_of(pay, &order, &notifications).await?;
        Ok(Self {
            order,
            payer_name,
            notifications,
            notifications_complete,
            settlement,
            refunds,
        })
    }
}

/// Whether a notification reports something about `order`.
fn about_order(subject: &NotificationSubject, order: &Order) -> bool {
    let reported = match subject {
        NotificationSubject::TransactionSuccess { order }
        | NotificationSubject::RefundSuccess { order, .. }
        | NotificationSubject::RefundAbnormal { order, .. } => order,
        NotificationSubject::CouponUse { .. } => return false,
    };
    reported.mchid == order.mchid && reported.out_trade_no == order.out_trade_no
}

/// The order's refunds: those its notifications name (failed ones too), then the
/// succeeded ones of each day from its payment day on, until they add up to
/// [`Order::refunded_minor`].
async fn refunds_of(
    pay: &PayService,
    order: &Order,
    notifications: &[Notification],
) -> Result<Vec<Refund>, PayError> {
    let mut found: Vec<Refund> = Vec::new();
    for notification in notifications {
        if let NotificationSubject::RefundSuccess { refund, .. }
        | NotificationSubject::RefundAbnormal { refund, .. } = &notification.subject
            && !found
                .iter()
                .any(|known| known.out_refund_no == refund.out_refund_no)
            && let Some(current) = pay.refund_of(&order.mchid, &refund.out_refund_no).await?
        {
            found.push(current);
        }
    }
    if let Some(paid_at) = order.success_time {
        let today = Day::of(pay.now());
        let mut day = Day::of(paid_at);
        for _ in 0..REFUND_SEARCH_DAYS_MAX {
            if succeeded_sum(&found) >= order.refunded_minor || day > today {
                break;
            }
            for refund in pay.refunds_on(&order.mchid, day).await? {
                let known = found
                    .iter()
                    .any(|known| known.out_refund_no == refund.out_refund_no);
                if refund.out_trade_no == order.out_trade_no && !known {
                    found.push(refund);
                }
            }
            day = day.next();
        }
    }
    found.sort_by_key(|refund| refund.created_at);
    Ok(found)
}

fn succeeded_sum(refunds: &[Refund]) -> i64 {
    refunds
        .iter()
        .filter(|refund| refund.success_time.is_some())
        .map(|refund| refund.refund_minor)
        .sum()
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimelineEvent {
    /// When it happened (or will); `None` when the records do not say.
    pub(crate) at: Option<Timestamp>,
    /// Breaks ties between events of the same instant: the cause before what it
    /// caused.
    rank: u8,
    /// Still to come.
    pub(crate) upcoming: bool,
    /// `created`, `paid`, `closed`, `notification`, `refund`, `settled`, `settles`,
    /// `expires` (the `data-kind` tests read).
    pub(crate) kind: &'static str,
    /// What happened, in words.
    title: String,
    /// The line's HTML beside the title (badges, details).
    detail: String,
}

/// What the timeline links to, beside the words.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimelineLinks {
    /// The operator's notification console exists (sandbox) and the viewer may open it.
    pub(crate) notification_console: bool,
}

/// The timeline of `facts` at `now`, in order.
pub(crate) fn timeline(
    facts: &OrderFacts,
    now: Timestamp,
    links: TimelineLinks,
) -> Vec<TimelineEvent> {
    let order = &facts.order;
    let mut events = vec![created(order)];
    events.extend(paid_or_ended(facts));
    for notification in &facts.notifications {
        events.push(notification_event(notification, links));
    }
    for refund in &facts.refunds {
        events.push(refund_event(refund));
    }
    events.extend(settled_or_due(facts, now));
    sort(&mut events, order.created_at);
    events
}

fn sort(events: &mut [TimelineEvent], fallback: Timestamp) {
    events.sort_by_key(|event| (event.upcoming, event.at.unwrap_or(fallback), event.rank));
}

fn event(
    at: Option<Timestamp>,
    rank: u8,
    kind: &'static str,
    title: impl Into<String>,
    detail: String,
) -> TimelineEvent {
    TimelineEvent {
        at,
        rank,
        upcoming: false,
        kind,
        title: title.into(),
        detail,
    }
}

fn created(order: &Order) -> TimelineEvent {
    let through = order
        .sp_mchid
        .as_ref()
        .map_or_else(String::new, |sp_mchid| {
            format!(
                " · placed by service provider <span class=\"mono\">{}</span>",
                escape(sp_mchid)
            )
        });
    event(
        Some(order.created_at),
        0,
        "created",
        "Created",
        format!(
            "{total} · {trade_type} order{through} · pay by {deadline}",
            total = money(order.total_minor),
            trade_type = order.trade_type.wire(),
            deadline = china_time(Some(order.time_expire)),
        ),
    )
}

fn paid_or_ended(facts: &OrderFacts) -> Option<TimelineEvent> {
    let order = &facts.order;
    if let Some(paid_at) = order.success_time {
        let payer = facts
            .payer_name
            .as_deref()
            .map_or_else(|| "The payer".to_owned(), escape);
        let coupon = order.coupon.as_ref().map_or_else(String::new, |coupon| {
            format!(
                " with a {} coupon ({})",
                money(coupon.amount_minor),
                escape(&coupon.name)
            )
        });
        return Some(event(
            Some(paid_at),
            1,
            "paid",
            "Paid",
            format!(
                "{payer} paid {paid}{coupon} · fee {fee} · transaction \
                 <span class=\"mono\" id=\"transaction-id\">{transaction}</span>",
                paid = money(order.payer_total_minor),
                fee = money(order.fee_minor),
                transaction = escape(order.transaction_id.as_deref().unwrap_or("—")),
            ),
        ));
    }
    let (title, detail) = match order.state {
        TradeState::Closed => match order.closed_at {
            Some(closed_at) if closed_at >= order.time_expire => (
                "Expired",
                "Nobody paid it before its deadline, so it closed.",
            ),
            _ => ("Closed", "It was closed before anyone paid it."),
        },
        TradeState::Revoked => ("Cancelled", "The merchant reversed it before it was paid."),
        TradeState::Payerror => ("Payment failed", "Its payment failed; it cannot be paid."),
        TradeState::Notpay | TradeState::Userpaying | TradeState::Success | TradeState::Refund => {
            return None;
        }
    };
    Some(event(
        order.closed_at,
        1,
        "closed",
        title,
        detail.to_owned(),
    ))
}

fn notification_event(notification: &Notification, links: TimelineLinks) -> TimelineEvent {
    let name = notification.subject.event_type();
    let name = if links.notification_console {
        format!(
            "<a href=\"/console/notifications/{id}\">{name}</a>",
            id = escape(&notification.id)
        )
    } else {
        name.to_owned()
    };
    let state = notification.state.as_str();
    let next = match (notification.state, notification.next_attempt_at) {
        (DeliveryState::Pending, Some(at)) => format!(" · next try {}", china_time(Some(at))),
        _ => String::new(),
    };
    let mut attempts = String::new();
    for (index, attempt) in notification.attempts.iter().enumerate() {
        let answer = match (attempt.status, &attempt.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => escape(error),
            (None, None) => "no answer".to_owned(),
        };
        let fault = attempt.fault.as_deref().map_or_else(String::new, |fault| {
            format!(" <span class=\"fault\">{}</span>", escape(fault))
        });
        attempts.push_str(&format!(
            "<li class=\"attempt\"><span class=\"mono\">#{number} {sent_at}</span> · \
             <span class=\"trigger\">{trigger}</span> · <strong>{answer}</strong> · {latency} ms{fault}</li>",
            number = index + 1,
            sent_at = china_time(Some(attempt.sent_at)),
            trigger = attempt.trigger.as_str(),
            latency = attempt.latency_ms,
        ));
    }
    if attempts.is_empty() {
        attempts.push_str("<li class=\"muted\">Not tried yet.</li>");
    }
    event(
        Some(notification.created_at),
        3,
        "notification",
        format!("Notification {name}"),
        format!(
            "<span class=\"status {state}\">{state}</span> to <span class=\"mono\">{url}</span>{next}\
             <ul class=\"attempts\">{attempts}</ul>",
            url = escape(&notification.notify_url),
        ),
    )
}

fn refund_event(refund: &Refund) -> TimelineEvent {
    let reason = refund.reason.as_deref().filter(|reason| !reason.is_empty());
    let reason = reason.map_or_else(String::new, |reason| {
        format!(
            " · “<span class=\"refund-reason\">{}</span>”",
            escape(reason)
        )
    });
    let from = match refund.funds_account {
        FundsAccount::Unsettled => "from the day's unsettled money",
        FundsAccount::Available => "from the available balance",
    };
    let parts = if refund.discount_refund_minor > 0 {
        format!(
            " · payer {} · coupon {}",
            money(refund.payer_refund_minor),
            money(refund.discount_refund_minor)
        )
    } else {
        String::new()
    };
    let settled = refund.success_time.map_or_else(
        || format!(" · no money moved ({})", refund.status.wire()),
        |_| format!(" · {from}"),
    );
    event(
        Some(refund.created_at),
        2,
        "refund",
        format!("Refund {}", money(refund.refund_minor)),
        format!(
            "{badge}{reason}{parts}{settled} · <span class=\"mono\">{no}</span>",
            badge = refund_badge(refund.status),
            no = escape(&refund.out_refund_no),
        ),
    )
}

fn settled_or_due(facts: &OrderFacts, now: Timestamp) -> Option<TimelineEvent> {
    let order = &facts.order;
    if let Some(settlement) = &facts.settlement {
        let commission = match &settlement.provider {
            Some(provider) if settlement.commission_minor > 0 => format!(
                " · {} commission to provider <span class=\"mono\">{}</span>",
                money(settlement.commission_minor),
                escape(provider)
            ),
            _ => String::new(),
        };
        return Some(event(
            Some(settlement.settled_at),
            4,
            "settled",
            "Settled",
            format!(
                "The day {day} settled: {net} to the available balance, {fee} in fees{commission}",
                day = escape(&settlement.day),
                net = money(settlement.settled_minor),
                fee = money(settlement.fee_minor),
            ),
        ));
    }
    let upcoming = |at: Timestamp, kind, title: &str, detail: String| TimelineEvent {
        upcoming: true,
        ..event(Some(at), 9, kind, title, detail)
    };
    if let Some(paid_at) = order.success_time {
        let day = Day::of(paid_at);
        let frozen = if order.profit_sharing && !order.sharing_finished {
            " Its money stays frozen for profit sharing; the fee settles with the day."
        } else {
            ""
        };
        return Some(upcoming(
            day.next().start(),
            "settles",
            "Settles",
            format!(
                "With the payments of {day}, early on {next} (China time).{frozen}",
                day = day.iso(),
                next = day.next().iso(),
            ),
        ));
    }
    let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
    (open && now < order.time_expire).then(|| {
        upcoming(
            order.time_expire,
            "expires",
            "Closes if unpaid",
            format!(
                "At {} China time, unless someone pays it first.",
                china_time(Some(order.time_expire))
            ),
        )
    })
}

/// The timeline as an ordered list (`#timeline`, each line's `data-kind`).
pub(crate) fn timeline_html(events: &[TimelineEvent], notifications_complete: bool) -> String {
    let mut lines = String::new();
    for event in events {
        let upcoming = if event.upcoming { " upcoming" } else { "" };
        lines.push_str(&format!(
            "<li class=\"event {kind}{upcoming}\" data-kind=\"{kind}\">\
             <div class=\"when mono\">{when}</div><div class=\"what\"><strong>{title}</strong> \
             <span class=\"detail\">{detail}</span></div></li>",
            kind = event.kind,
            when = if event.upcoming {
                "to come".to_owned()
            } else {
                china_time(event.at)
            },
            title = event.title,
            detail = event.detail,
        ));
    }
    let note = if notifications_complete {
        ""
    } else {
        "<p class=\"muted\">Only the merchant's newest notifications were searched; older ones \
         about this order may be missing.</p>"
    };
    format!("<ol class=\"timeline\" id=\"timeline\">{lines}</ol>{note}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Option<Timestamp> {
        Some(Timestamp::from_unix_ms(ms))
    }

    #[test]
    fn events_run_in_time_order_causes_first_and_what_is_to_come_last() {
        let mut events = vec![
            TimelineEvent {
                upcoming: true,
                ..event(at(50), 9, "settles", "Settles", String::new())
            },
            event(at(30), 3, "notification", "Notification", String::new()),
            event(at(30), 2, "refund", "Refund", String::new()),
            event(at(10), 1, "paid", "Paid", String::new()),
            event(None, 1, "closed", "Payment failed", String::new()),
            event(at(0), 0, "created", "Created", String::new()),
            event(at(90), 3, "notification", "Notification", String::new()),
        ];
        sort(&mut events, Timestamp::from_unix_ms(0));
        let kinds: Vec<&str> = events.iter().map(|event| event.kind).collect();
        assert_eq!(
            kinds,
            [
                "created",
                "closed",
                "paid",
                "refund",
                "notification",
                "notification",
                "settles"
            ]
        );
    }
}
