//! The user app's three tabs, filled by the systems through one port ([`UserApp`]):
//! Chats lists the conversations each system holds for the signed-in user (Pay's
//! service notifications today; WeCom's conversations later), Discover lists the
//! systems' Discover entries, Me shows the user, each system's cards (Pay's wallet) and
//! the systems' Me entries. The pages below a tab (a checkout, the 账单) are the
//! systems' own, drawn with [`super::app_layout`].
//!
//! Routes: `GET /app` (Chats), `GET /app/chats/{id}`, `GET /app/discover`, `GET /app/me`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Timestamp;

use super::components::{
    Flash, china_time, china_time_short, empty_state, signed_money, tile, yuan,
};
use super::errors::{ErrorPage, PageQuery};
use super::escape;
use super::layouts::{AppPage, AppTab, Viewer, app_layout};
use super::nav::{NavPlace, Role};
use super::signin::{signin_redirect, viewer};
use crate::HttpState;

/// The signed-in user of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUser {
    /// Their user id.
    pub user_id: String,
    /// Their name.
    pub name: String,
}

/// A conversation as the Chats tab lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// Its id, unique across systems (`wechat-pay`): the page is `/app/chats/{id}`.
    pub id: String,
    /// Its title (`WeChat Pay 微信支付`).
    pub title: String,
    /// One character drawn as its avatar.
    pub icon: &'static str,
    /// The latest message in one line.
    pub preview: String,
    /// When the latest message came; `None` for a conversation without one.
    pub at: Option<Timestamp>,
    /// Where it opens, when not the shell's notice page `/app/chats/{id}` (a live chat).
    pub link: Option<String>,
    /// Messages the user has not read (shown as a badge).
    pub unread: u64,
}

/// One message of a service conversation: a notice card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// When it came.
    pub at: Timestamp,
    /// Its heading (`付款成功 Payment successful`).
    pub heading: String,
    /// The amount it is about, fen: negative leaves the user, positive reaches them.
    pub amount_minor: Option<i64>,
    /// Its lines: label and value, plain text.
    pub rows: Vec<(String, String)>,
    /// The id of what it is about (a transaction id), its label and value, shown last
    /// in monospace.
    pub reference: Option<(String, String)>,
    /// A link to what it is about: where, and what the link says.
    pub link: Option<(String, String)>,
}

/// A conversation's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its title.
    pub title: String,
    /// One sentence above the messages (who sends them).
    pub about: String,
    /// Its messages, newest first.
    pub notices: Vec<Notice>,
}

/// What a system puts into the user app. Registered in [`crate::HttpState::user_apps`].
pub trait UserApp: Send + Sync {
    /// The user's conversations this system holds, for the Chats tab.
    fn conversations<'a>(&'a self, user: &'a AppUser) -> BoxFuture<'a, Vec<ConversationSummary>>;
    /// One of them, by id; `None` when it is not this system's.
    fn conversation<'a>(
        &'a self,
        user: &'a AppUser,
        id: &'a str,
    ) -> BoxFuture<'a, Option<Conversation>>;
    /// Cards at the top of the Me tab (HTML), such as the wallet.
    fn me_cards<'a>(&'a self, user: &'a AppUser) -> BoxFuture<'a, Vec<String>>;
}

/// The app's user, from the viewer.
pub fn app_user(viewer: &Viewer) -> Option<AppUser> {
    viewer.as_role(Role::USER).map(|signed_in| AppUser {
        user_id: signed_in.account.clone(),
        name: signed_in.name.clone(),
    })
}

/// A person's avatar: the first character of their name in a tile.
pub fn avatar(name: &str) -> String {
    let initial = name.chars().next().map(String::from).unwrap_or_default();
    format!(
        "<span class=\"avatar\" aria-hidden=\"true\">{}</span>",
        escape(&initial)
    )
}

/// `GET /app`: the Chats tab.
pub(crate) async fn chats(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let viewer = viewer(&state, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect("/app");
    };
    let mut conversations = Vec::new();
    for port in state.user_apps.iter() {
        conversations.extend(port.conversations(&user).await);
    }
    conversations.sort_by_key(|conversation| std::cmp::Reverse(conversation.at));
    let now = state.clock.now();
    let body = if conversations.is_empty() {
        empty_state(
            "No chats yet",
            "Service notifications, such as WeChat Pay's payment receipts, arrive here.",
            None,
        )
    } else {
        let rows: String = conversations
            .iter()
            .map(|conversation| {
                let href = conversation
                    .link
                    .clone()
                    .unwrap_or_else(|| format!("/app/chats/{}", conversation.id));
                let unread = if conversation.unread > 0 {
                    format!(
                        "<span class=\"chat-unread\" aria-label=\"{n} unread\">{n}</span>",
                        n = conversation.unread.min(99)
                    )
                } else {
                    String::new()
                };
                format!(
                    "<li><a class=\"chat\" href=\"{href}\" id=\"chat-{id}\">{icon}\
                     <span class=\"chat-text\"><span class=\"chat-title\">{title}</span>\
                     <span class=\"chat-preview\">{preview}</span></span>\
                     <span class=\"chat-time\">{time}{unread}</span></a></li>",
                    href = escape(&href),
                    id = escape(&conversation.id),
                    icon = tile(conversation.icon, &conversation.title),
                    title = escape(&conversation.title),
                    preview = escape(&conversation.preview),
                    time = conversation
                        .at
                        .map(|at| china_time_short(at, now))
                        .unwrap_or_default(),
                )
            })
            .collect();
        format!("<ul class=\"chats\" id=\"chats\">{rows}</ul>")
    };
    app_layout(AppPage::tab(AppTab::Chats, "Chats"), &viewer, &body).into_response()
}

/// `GET /app/chats/{id}`: one conversation, newest message first.
pub(crate) async fn conversation(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let viewer = viewer(&state, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect(&format!("/app/chats/{id}"));
    };
    let mut found = None;
    for port in state.user_apps.iter() {
        if let Some(conversation) = port.conversation(&user, &id).await {
            found = Some(conversation);
            break;
        }
    }
    let Some(conversation) = found else {
        return ErrorPage::not_found("没有这个对话 There is no such conversation.")
            .back("/app", "返回 Back to Chats")
            .into_response();
    };
    let notices = if conversation.notices.is_empty() {
        empty_state("No messages yet", "Nothing has been sent here yet.", None)
    } else {
        conversation.notices.iter().map(notice_card).collect()
    };
    let body = format!(
        "<p class=\"about muted\">{about}</p><div class=\"notices\" id=\"notices\">{notices}</div>",
        about = escape(&conversation.about),
    );
    let page = AppPage::below(AppTab::Chats, &conversation.title, "/app");
    app_layout(page, &viewer, &body).into_response()
}

/// A service notice as a card: time above, heading, amount, lines, link.
fn notice_card(notice: &Notice) -> String {
    let amount = notice.amount_minor.map_or_else(String::new, |fen| {
        format!(
            "<div class=\"notice-amount\">{}</div>",
            if fen < 0 {
                format!("¥{}", yuan(-fen))
            } else {
                signed_money(fen)
            }
        )
    });
    let mut rows: String = notice
        .rows
        .iter()
        .map(|(label, value)| {
            format!(
                "<div><span>{}</span><span>{}</span></div>",
                escape(label),
                escape(value)
            )
        })
        .collect();
    if let Some((label, value)) = &notice.reference {
        rows.push_str(&format!(
            "<div><span>{}</span><span class=\"mono\">{}</span></div>",
            escape(label),
            escape(value)
        ));
    }
    let link = notice
        .link
        .as_ref()
        .map_or_else(String::new, |(href, label)| {
            format!(
                "<a class=\"notice-link\" href=\"{}\">{}</a>",
                escape(href),
                escape(label)
            )
        });
    format!(
        "<div class=\"notice-time\">{time}</div><article class=\"card notice-card\">\
         <h2>{heading}</h2>{amount}<div class=\"rows\">{rows}</div>{link}</article>",
        time = china_time(notice.at),
        heading = escape(&notice.heading),
    )
}

/// `GET /app/discover`: the systems' Discover entries.
pub(crate) async fn discover(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let viewer = viewer(&state, &headers).await;
    let rows = entry_rows(&viewer, NavPlace::Discover);
    let body = if rows.is_empty() {
        empty_state(
            "Nothing to discover yet",
            "Channels, Mini Programs and Search appear here once Plaza runs them.",
            None,
        )
    } else {
        format!(
            "<div class=\"card rows-card\"><ul class=\"entries\" id=\"discover\">{rows}</ul></div>"
        )
    };
    app_layout(AppPage::tab(AppTab::Discover, "Discover"), &viewer, &body).into_response()
}

/// The entries of an app place as rows with their tiles.
fn entry_rows(viewer: &Viewer, place: NavPlace) -> String {
    viewer
        .nav_at(place)
        .map(|entry| {
            format!(
                "<li><a href=\"{href}\" id=\"entry-{section}\">{tile}<span>{label}</span></a></li>",
                href = escape(entry.href),
                section = escape(entry.section),
                tile = tile(entry.icon, entry.label),
                label = escape(entry.label),
            )
        })
        .collect()
}

/// `GET /app/me`: the user, each system's cards, the Me entries, sign-out.
pub(crate) async fn me(
    State(state): State<HttpState>,
    headers: HeaderMap,
    PageQuery(flash): PageQuery<Flash>,
) -> Response {
    let viewer = viewer(&state, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect("/app/me");
    };
    let mut cards = String::new();
    for port in state.user_apps.iter() {
        for card in port.me_cards(&user).await {
            cards.push_str(&card);
        }
    }
    let entries = entry_rows(&viewer, NavPlace::Me);
    let entries = if entries.is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"card rows-card\"><ul class=\"entries\" id=\"me-entries\">{entries}</ul></div>"
        )
    };
    let body = format!(
        "{flash}<div class=\"card profile\">{avatar}<div><div class=\"profile-name\" id=\"me-name\">{name}</div>\
         <div class=\"muted mono\">Plaza ID {id}</div></div></div>{cards}{entries}\
         <form method=\"post\" action=\"/signout\" class=\"sign-out\"><button class=\"secondary wide\">Sign out</button></form>",
        flash = flash.html(),
        avatar = avatar(&user.name),
        name = escape(&user.name),
        id = escape(&user.user_id),
    );
    app_layout(AppPage::tab(AppTab::Me, "Me"), &viewer, &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_card_shows_what_left_the_wallet_without_a_sign() {
        let card = notice_card(&Notice {
            at: Timestamp::from_unix_ms(1_795_660_496_000),
            heading: "付款成功 Payment successful".to_owned(),
            amount_minor: Some(-1_850),
            rows: vec![("Merchant".to_owned(), "Harbour <Coffee>".to_owned())],
            reference: Some(("Transaction".to_owned(), "4200".to_owned())),
            link: Some(("/app/me/bills".to_owned(), "账单 Bills".to_owned())),
        });
        assert!(card.contains("2026-11-26 10:34:56"));
        assert!(
            card.contains("<div class=\"notice-amount\">¥18.50</div>"),
            "{card}"
        );
        assert!(card.contains("Harbour &lt;Coffee&gt;"));
        assert!(card.contains("<span class=\"mono\">4200</span>"));
        let refund = notice_card(&Notice {
            amount_minor: Some(500),
            link: None,
            ..Notice {
                at: Timestamp::from_unix_ms(0),
                heading: String::new(),
                amount_minor: None,
                rows: Vec::new(),
                reference: None,
                link: None,
            }
        });
        assert!(refund.contains("+5.00"));
    }
}
