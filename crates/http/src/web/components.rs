//! The pieces every page is built from, in one place so pages stay consistent: money in
//! yuan, local time (China Standard Time, the zone WeChat's people live in and bills
//! count by), status badges, tables that scroll inside their card, empty states, flash
//! messages carried across a redirect, and the app's list rows.

use jiff::tz::{Offset, TimeZone};
use plaza_kernel::clock::Timestamp;
use serde::Deserialize;

use super::escape;

/// China Standard Time's offset from UTC, hours (no daylight saving).
const CHINA_OFFSET_HOURS: i8 = 8;

fn china_zoned(at: Timestamp) -> jiff::Zoned {
    // Every millisecond count Plaza handles lies within jiff's ±9999 years; an
    // impossible one shows the epoch rather than failing the page.
    jiff::Timestamp::from_millisecond(at.unix_ms())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(TimeZone::fixed(Offset::constant(CHINA_OFFSET_HOURS)))
}

/// `2026-11-26 10:34:56`: an instant in China Standard Time, as bills write it.
pub fn china_time(at: Timestamp) -> String {
    china_zoned(at).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// `2026-11-26`: the day an instant falls on (China Standard Time).
pub fn china_date(at: Timestamp) -> String {
    china_zoned(at).strftime("%Y-%m-%d").to_string()
}

/// `10:34:56`: the time of day of an instant (China Standard Time).
pub fn china_time_of_day(at: Timestamp) -> String {
    china_zoned(at).strftime("%H:%M:%S").to_string()
}

/// An instant as a list shows it beside `now`: `10:34` the same day, `11-26` the same
/// year, `2025-11-26` before (China Standard Time).
pub fn china_time_short(at: Timestamp, now: Timestamp) -> String {
    let (at, now) = (china_zoned(at), china_zoned(now));
    let format = if at.date() == now.date() {
        "%H:%M"
    } else if at.year() == now.year() {
        "%m-%d"
    } else {
        "%Y-%m-%d"
    };
    at.strftime(format).to_string()
}

/// `2026年11月`: the month an instant falls in (China Standard Time), as 账单 groups by.
pub fn china_month(at: Timestamp) -> String {
    china_zoned(at).strftime("%Y年%m月").to_string()
}

/// `12.34` from 1234 fen.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// `¥12.34`, marked up as money.
pub fn money(fen: i64) -> String {
    format!("<span class=\"money\">¥{}</span>", yuan(fen))
}

/// `+12.34` or `-12.34`: money coming in (green) or going out, as a statement shows it.
pub fn signed_money(fen: i64) -> String {
    if fen > 0 {
        format!("<span class=\"money plus\">+{}</span>", yuan(fen))
    } else {
        format!("<span class=\"money minus\">{}</span>", yuan(fen))
    }
}

/// A status badge: `state` picks its colour (a wire state such as `SUCCESS`, `NOTPAY`,
/// `REFUND`, or `pending`, `delivered`, `failed`), `label` is what it says.
pub fn status_badge(state: &str, label: &str) -> String {
    format!(
        "<span class=\"status {}\">{}</span>",
        escape(state),
        escape(label)
    )
}

/// The empty state of a list or a page: a title, a sentence, and optionally a way on.
pub fn empty_state(title: &str, text: &str, action: Option<(&str, &str)>) -> String {
    let action = action.map_or_else(String::new, |(href, label)| {
        format!(
            "<p><a class=\"button\" href=\"{}\">{}</a></p>",
            escape(href),
            escape(label)
        )
    });
    format!(
        "<div class=\"empty\"><div class=\"empty-mark\" aria-hidden=\"true\"></div>\
         <p class=\"empty-title\">{}</p><p class=\"muted\">{}</p>{action}</div>",
        escape(title),
        escape(text),
    )
}

/// A table `id` that scrolls sideways inside its card instead of widening the page.
/// `head` is plain text; `rows` are `<tr>`s of HTML already. With no rows, one row says
/// `empty` (plain text).
pub fn table(id: &str, head: &[&str], rows: &str, empty: &str) -> String {
    let columns = head.len().max(1);
    let head: String = head
        .iter()
        .map(|cell| format!("<th>{}</th>", escape(cell)))
        .collect();
    let rows = if rows.is_empty() {
        format!(
            "<tr class=\"empty\"><td colspan=\"{columns}\" class=\"muted\">{}</td></tr>",
            escape(empty)
        )
    } else {
        rows.to_owned()
    };
    format!(
        "<div class=\"table-scroll\"><table class=\"data\" id=\"{}\"><thead><tr>{head}</tr></thead>\
         <tbody>{rows}</tbody></table></div>",
        escape(id)
    )
}

/// A one-character tile before a label in the app's lists; `icon` empty takes the
/// label's first character.
pub fn tile(icon: &str, label: &str) -> String {
    let glyph = if icon.is_empty() {
        label.chars().next().map(String::from).unwrap_or_default()
    } else {
        icon.to_owned()
    };
    format!(
        "<span class=\"tile\" aria-hidden=\"true\">{}</span>",
        escape(&glyph)
    )
}

/// A flash message's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    /// Something was done.
    Good,
    /// Something was refused or failed.
    Bad,
}

/// A flash message as a page's query carries it after a redirect (`?ok=…` or
/// `?error=…`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Flash {
    /// What was done.
    pub ok: Option<String>,
    /// What was refused.
    pub error: Option<String>,
}

impl Flash {
    /// The message as HTML (`#notice`), or nothing.
    pub fn html(&self) -> String {
        let mut html = String::new();
        if let Some(text) = &self.ok {
            html.push_str(&flash_html(FlashKind::Good, text));
        }
        if let Some(text) = &self.error {
            html.push_str(&flash_html(FlashKind::Bad, text));
        }
        html
    }
}

/// One flash message (`#notice`).
pub fn flash_html(kind: FlashKind, text: &str) -> String {
    let class = match kind {
        FlashKind::Good => "good",
        FlashKind::Bad => "bad",
    };
    format!(
        "<div class=\"notice {class}\" id=\"notice\" role=\"status\">{}</div>",
        escape(text)
    )
}

/// `path` with a flash message for the page it leads to (`&` when `path` has a query),
/// percent-encoded.
pub fn with_flash(path: &str, kind: FlashKind, text: &str) -> String {
    let key = match kind {
        FlashKind::Good => "ok",
        FlashKind::Bad => "error",
    };
    let joint = if path.contains('?') { '&' } else { '?' };
    format!("{path}{joint}{key}={}", percent_encode(text))
}

/// Everything but unreserved characters percent-encoded, for a query value.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_in_yuan_with_its_sign() {
        assert_eq!(yuan(1234), "12.34");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-1850), "-18.50");
        assert_eq!(money(1850), "<span class=\"money\">¥18.50</span>");
        assert!(signed_money(100).contains("+1.00") && signed_money(100).contains("plus"));
        assert!(signed_money(-100).contains("-1.00") && signed_money(-100).contains("minus"));
    }

    #[test]
    fn times_read_in_china_standard_time() {
        // 2026-11-26T02:34:56Z is 10:34:56 in Beijing.
        let at = Timestamp::from_unix_ms(1_795_660_496_000);
        assert_eq!(china_time(at), "2026-11-26 10:34:56");
        assert_eq!(china_month(at), "2026年11月");
        assert_eq!(china_date(at), "2026-11-26");
        assert_eq!(china_time_of_day(at), "10:34:56");
        assert_eq!(china_time_short(at, at.plus_ms(3_600_000)), "10:34");
        assert_eq!(china_time_short(at, at.plus_ms(86_400_000)), "11-26");
        assert_eq!(
            china_time_short(at, at.plus_ms(400 * 86_400_000)),
            "2026-11-26"
        );
        // 16:30 UTC is already the next day in China.
        let late = Timestamp::from_unix_ms(1_795_710_600_000);
        assert_eq!(china_time(late), "2026-11-27 00:30:00");
    }

    #[test]
    fn tables_scroll_in_their_card_and_empty_ones_say_so() {
        let rows = "<tr><td><b>a</b></td><td>1</td></tr>";
        let html = table("things", &["Name", "Count <n>"], rows, "Nothing yet.");
        assert!(
            html.starts_with("<div class=\"table-scroll\"><table class=\"data\" id=\"things\">")
        );
        assert!(html.contains("<th>Count &lt;n&gt;</th>") && html.contains("<td><b>a</b></td>"));
        let empty = table("orders", &["Name", "Total"], "", "No orders yet.");
        assert!(empty.contains("<tr class=\"empty\"><td colspan=\"2\""));
        assert!(empty.contains("No orders yet."));
    }

    #[test]
    fn flash_messages_survive_a_redirect() {
        let url = with_flash("/app/me?tab=1", FlashKind::Good, "领取成功 Claimed & kept");
        assert_eq!(
            url,
            "/app/me?tab=1&ok=%E9%A2%86%E5%8F%96%E6%88%90%E5%8A%9F%20Claimed%20%26%20kept"
        );
        let flash = Flash {
            ok: None,
            error: Some("<no>".to_owned()),
        };
        assert_eq!(
            flash.html(),
            "<div class=\"notice bad\" id=\"notice\" role=\"status\">&lt;no&gt;</div>"
        );
        assert_eq!(tile("", "Bills"), tile("B", "x"));
    }
}
