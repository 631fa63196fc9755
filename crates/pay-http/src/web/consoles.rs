//! What every console page shares: the one helper that renders a console page
//! ([`console_page`], in the shell's console layout: the role's entries of Pay's
//! navigation, [`crate::NAV`], on the left), the sections those entries name, and the
//! small components the merchant, provider and operator pages are built from — order
//! and refund badges, money in yuan, China time, a pager and amounts typed in yuan, with
//! flash messages and percent-encoding from the shell's components.

use axum::response::{Html, IntoResponse, Redirect, Response};
use plaza_http::web::{FlashKind, with_flash};
use plaza_kernel::clock::Timestamp;
use plaza_pay::model::{Order, RefundStatus, TradeState};

use super::{Viewer, yuan};

/// Who a console is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A merchant, signed in with the `plaza_merchant` cookie: its own orders.
    Merchant,
    /// A service provider (a merchant of kind provider, same cookie): its sub-merchants.
    Provider,
    /// The platform's operator: everything, read-only apart from sandbox powers.
    Operator,
}

impl Role {
    /// The shell's role: whose navigation and name the console shows (the operator's
    /// pages carry the sandbox clock).
    fn shell_role(self) -> plaza_http::web::Role {
        match self {
            Self::Merchant => plaza_http::web::Role::MERCHANT,
            Self::Provider => plaza_http::web::Role::PROVIDER,
            Self::Operator => plaza_http::web::Role::OPERATOR,
        }
    }
}

/// The merchant console's orders.
pub(crate) const SECTION_ORDERS: &str = "orders";
/// The merchant demo (a new Native order and its QR code).
pub(crate) const SECTION_NEW_ORDER: &str = "new-order";
/// The provider console's sub-merchants.
pub(crate) const SECTION_SUB_MERCHANTS: &str = "sub-merchants";
/// The operator's day report.
pub(crate) const SECTION_PAYMENTS: &str = "payments";
/// The operator's list of merchants (and their orders).
pub(crate) const SECTION_MERCHANTS: &str = "merchants";
/// The operator's notification console (sandbox only).
pub(crate) const SECTION_NOTIFICATIONS: &str = "notifications";

/// A console page: `body` in the role's console (its navigation with `section` marked
/// current), titled `title`.
pub(crate) fn console_page(
    role: Role,
    section: &str,
    viewer: &Viewer,
    title: &str,
    body: &str,
) -> Html<String> {
    plaza_http::web::console_layout(role.shell_role(), section, viewer, title, body)
}

/// `?ok=…` / `?error=…`: what the last action did, shown once on the page it came back
/// to (the shell's flash messages).
pub(crate) use plaza_http::web::Flash;

/// The flash message boxes for `ok` and `error`.
pub(crate) fn flash_html(ok: Option<&str>, error: Option<&str>) -> String {
    Flash {
        ok: ok.map(str::to_owned),
        error: error.map(str::to_owned),
    }
    .html()
}

/// `path?ok=…` or `path?error=…` (`&` when `path` has a query), percent-encoded.
pub(crate) fn flash_url(path: &str, key: &str, text: &str) -> String {
    let kind = if key == "ok" {
        FlashKind::Good
    } else {
        FlashKind::Bad
    };
    with_flash(path, kind, text)
}

/// Back to `path` with a flash message under `key` (`ok` or `error`).
pub(crate) fn redirect_with_flash(path: &str, key: &str, text: &str) -> Response {
    Redirect::to(&flash_url(path, key, text)).into_response()
}

/// `¥12.34`.
pub(crate) fn money(fen: i64) -> String {
    format!("¥{}", yuan(fen))
}

/// `2026-11-26 10:34:56`, China Standard Time; `—` for nothing.
pub(crate) fn china_time(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "—".to_owned(), plaza_http::web::china_time)
}

/// An order's state as a badge: the wire name as its class, words people read inside.
pub(crate) fn order_badge(order: &Order) -> String {
    let label = match order.state {
        TradeState::Notpay => "Not paid",
        TradeState::Userpaying => "Paying",
        TradeState::Success => "Paid",
        TradeState::Refund if order.refunded_minor >= order.total_minor => "Refunded",
        TradeState::Refund => "Partly refunded",
        TradeState::Closed => "Closed",
        TradeState::Revoked => "Cancelled",
        TradeState::Payerror => "Failed",
    };
    format!(
        "<span class=\"status {state}\" data-state=\"{state}\">{label}</span>",
        state = order.state.wire()
    )
}

/// A refund's status as a badge.
pub(crate) fn refund_badge(status: RefundStatus) -> String {
    let label = match status {
        RefundStatus::Success => "Refunded",
        RefundStatus::Processing => "Processing",
        RefundStatus::Abnormal => "Failed at the bank",
    };
    format!(
        "<span class=\"status refund-{state}\" data-state=\"{state}\">{label}</span>",
        state = status.wire()
    )
}

pub(crate) use plaza_http::web::table;

/// Rows per page of a console list.
pub(crate) const PAGE_ROWS: usize = 20;
/// The deepest a console list pages: the domain lists a merchant's newest rows only, so
/// page `n` costs reading `n × PAGE_ROWS` of them.
pub(crate) const PAGES_MAX: usize = 24;
// The last page's read (with its one extra row) stays within one page of the store.
const _: () = assert!(PAGE_ROWS * PAGES_MAX < plaza_kernel::limits::PAGE_ROWS_MAX);

/// Page `page` (1-based, clamped to `1..=PAGES_MAX`) of `rows`, which hold at least one
/// more row than the page when there is a next one.
pub(crate) fn page_of<T>(rows: Vec<T>, page: usize) -> (Vec<T>, bool) {
    let page = page.clamp(1, PAGES_MAX);
    let skip = (page - 1) * PAGE_ROWS;
    let more = rows.len() > skip + PAGE_ROWS && page < PAGES_MAX;
    (rows.into_iter().skip(skip).take(PAGE_ROWS).collect(), more)
}

/// How many rows to read for page `page`: the pages before it, itself, and one more to
/// know whether there is a next.
pub(crate) fn rows_for_page(page: usize) -> usize {
    page.clamp(1, PAGES_MAX) * PAGE_ROWS + 1
}

/// Newer / page n / older links under a list at `href` (which has no query).
pub(crate) fn pager(href: &str, page: usize, more: bool) -> String {
    let page = page.clamp(1, PAGES_MAX);
    let newer = if page > 1 {
        format!(
            "<a href=\"{href}?page={}\" id=\"newer\">← Newer</a>",
            page - 1
        )
    } else {
        "<span class=\"muted\">← Newer</span>".to_owned()
    };
    let older = if more {
        format!(
            "<a href=\"{href}?page={}\" id=\"older\">Older →</a>",
            page + 1
        )
    } else {
        "<span class=\"muted\">Older →</span>".to_owned()
    };
    format!("<div class=\"pager\">{newer}<span class=\"muted\">Page {page}</span>{older}</div>")
}

/// Why an amount typed in yuan was refused, in people's words.
pub(crate) const YUAN_HINT: &str =
    "请输入金额 Enter an amount in yuan, such as 12 or 12.50 (at most two decimals).";

/// Fen from yuan as people type it (`12`, `12.5`, `12.50`, `¥12.50`), digit by digit,
/// never through floats; `None` for anything else or more than `AMOUNT_MINOR_MAX`.
pub(crate) fn fen_from_yuan(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text
        .strip_prefix('¥')
        .or_else(|| text.strip_prefix('￥'))
        .unwrap_or(text)
        .trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && whole.len() <= 12
        && digits(whole)
        && digits(fraction)
        && fraction.len() <= 2
        && !(text.ends_with('.'));
    if !well_formed {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction_fen: i64 = format!("{fraction:0<2}").parse().ok()?;
    let fen = whole.checked_mul(100)?.checked_add(fraction_fen)?;
    (fen <= plaza_kernel::limits::AMOUNT_MINOR_MAX).then_some(fen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_as_people_type_it_is_read_exactly() {
        for (text, fen) in [
            ("12", 1_200),
            ("12.5", 1_250),
            ("12.50", 1_250),
            ("0.01", 1),
            ("¥ 7", 700),
            ("￥0.1", 10),
            (" 21474836.47 ", 2_147_483_647),
        ] {
            assert_eq!(fen_from_yuan(text), Some(fen), "{text:?}");
        }
        for text in [
            "",
            "12.",
            ".5",
            "1.234",
            "-1",
            "1e3",
            "12,00",
            "abc",
            "21474836.48",
            "9999999999999",
        ] {
            assert_eq!(fen_from_yuan(text), None, "{text:?}");
        }
    }

    #[test]
    fn pages_cover_the_rows_once_and_know_when_there_is_more() {
        let rows: Vec<usize> = (0..45).collect();
        let (first, more) = page_of(rows.clone(), 1);
        assert_eq!((first.len(), first[0], more), (PAGE_ROWS, 0, true));
        let (third, more) = page_of(rows.clone(), 3);
        assert_eq!((third, more), ((40..45).collect::<Vec<_>>(), false));
        let (beyond, more) = page_of(rows, 9);
        assert!(beyond.is_empty() && !more);
        assert_eq!(rows_for_page(0), PAGE_ROWS + 1);
        assert_eq!(rows_for_page(1_000), PAGES_MAX * PAGE_ROWS + 1);
    }

    #[test]
    fn every_role_has_navigation_and_flash_text_is_escaped() {
        for role in [Role::Merchant, Role::Provider, Role::Operator] {
            let place = plaza_http::web::NavPlace::Console(role.shell_role());
            assert!(crate::NAV.iter().any(|entry| entry.place == place));
        }
        assert_eq!(
            flash_url("/x?page=2", "ok", "Refunded ¥1.00 & more"),
            "/x?page=2&ok=Refunded%20%C2%A51.00%20%26%20more"
        );
        assert!(flash_html(None, Some("<b>")).contains("&lt;b&gt;"));
    }
}
