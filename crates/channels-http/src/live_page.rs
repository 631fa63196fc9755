//! Live rooms' pages: the rooms on air (`/app/channels/live`), a room for viewers
//! (`/app/channels/live/{room_id}`: the stream through Media Source Extensions, the
//! chat, likes, gifts and pinned cards) and the host's control (`/app/channels/studio/live`:
//! going live from the camera with `MediaRecorder`, the room's chat and counts, pins,
//! the end). The script is `web/channels-live.js`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use plaza_channels::live::{GIFTS, LiveRoom, RoomState};
use plaza_http::web::{
    AppPage, AppTab, app_layout, app_user, empty_state, escape, money, signin_redirect, viewer,
};

use crate::ChannelsState;
use crate::page_parts::{HEAD, channel_avatar, count, refusal};

const SCRIPT: &str = include_str!("../../../web/channels-live.js");
/// The live pages' script tag.
const LIVE_SCRIPT_TAG: &str = "<script type=\"module\" src=\"/static/channels-live.js\"></script>";

pub(crate) fn router() -> Router<ChannelsState> {
    Router::new()
        .route("/app/channels/live", get(rooms_page))
        .route("/app/channels/live/{room_id}", get(room_page))
        .route("/app/channels/studio/live", get(host_page))
        .route(
            "/static/channels-live.js",
            get(|| plaza_http::web::asset("text/javascript; charset=utf-8", SCRIPT)),
        )
}

/// `GET /app/channels/live`: the rooms on air.
async fn rooms_page(State(state): State<ChannelsState>, headers: HeaderMap) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let rooms = match state.channels.live_rooms(50).await {
        Ok(rooms) => rooms,
        Err(error) => return refusal(error),
    };
    let mut items = String::new();
    for room in &rooms {
        let Ok(channel) = state.channels.existing_channel(&room.channel_id).await else {
            continue;
        };
        let watching = state.channels.stage(&room.room_id).map_or(0, |stage| {
            stage.watching.load(std::sync::atomic::Ordering::Relaxed)
        });
        items.push_str(&format!(
            "<li><a class=\"ch-who\" href=\"/app/channels/live/{id}\">{avatar}<span><strong>{title}</strong>\
             <small>{name} · {watching} 人在看</small></span></a><span class=\"ch-live-badge\">直播中</span></li>",
            id = escape(&room.room_id),
            avatar = channel_avatar(&channel),
            title = escape(&room.title),
            name = escape(&channel.name),
            watching = count(watching),
        ));
    }
    let body = if items.is_empty() {
        empty_state(
            "没有直播 Nobody is live",
            "Rooms on air appear here.",
            Some(("/app/channels/studio/live", "开直播 Go live")),
        )
    } else {
        format!("<ul class=\"card ch-rooms\" id=\"ch-rooms\">{items}</ul>")
    };
    app_layout(
        AppPage::below(AppTab::Discover, "直播 Live", "/app/channels"),
        &viewer,
        &format!("{HEAD}{body}"),
    )
    .into_response()
}

fn gift_buttons() -> String {
    GIFTS
        .iter()
        .map(|(id, name, price)| {
            format!(
                "<button type=\"button\" class=\"ch-gift\" data-gift=\"{id}\" data-price=\"{price}\">{name}<small>{}</small></button>",
                money(*price)
            )
        })
        .collect()
}

fn pins_html(room: &LiveRoom) -> String {
    room.pins
        .iter()
        .map(|pin| {
            let price = pin.price_minor.map(money).unwrap_or_default();
            format!(
                "<a class=\"ch-pin\" href=\"{url}\"><strong>{title}</strong><small>{price}</small></a>",
                url = escape(&pin.url),
                title = escape(&pin.title),
            )
        })
        .collect()
}

/// `GET /app/channels/live/{room_id}`: the room for viewers.
async fn room_page(
    State(state): State<ChannelsState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let user = app_user(&viewer);
    let (room, _) = match state.channels.room(&room_id).await {
        Ok(found) => found,
        Err(error) => return refusal(error),
    };
    let channel = match state.channels.existing_channel(&room.channel_id).await {
        Ok(channel) => channel,
        Err(error) => return refusal(error),
    };
    let live = room.state == RoomState::Live;
    let composer = if user.is_some() {
        format!(
            "<form class=\"ch-live-composer\" id=\"ch-live-composer\" autocomplete=\"off\">\
             <input name=\"text\" maxlength=\"200\" placeholder=\"说点什么 Say something\" aria-label=\"Comment\">\
             <button type=\"button\" id=\"ch-live-like\" aria-label=\"Like\">♥</button></form>\
             <div class=\"ch-gifts\" id=\"ch-gifts\">{}</div><p class=\"muted small\" id=\"ch-gift-status\" role=\"status\"></p>",
            gift_buttons()
        )
    } else {
        format!(
            "<p class=\"muted\"><a href=\"/signin?next=/app/channels/live/{}\">登录</a>后评论、点赞和送礼 Sign in to take part.</p>",
            escape(&room.room_id)
        )
    };
    let body = format!(
        "{HEAD}<div class=\"ch-live\" id=\"ch-live\" data-room=\"{id}\" data-live=\"{live}\">\
         <div class=\"ch-stage\"><video id=\"ch-live-video\" muted playsinline autoplay></video>\
         <div class=\"ch-live-top\"><span class=\"ch-who\">{avatar}<span><strong>{name}</strong><small>{title}</small></span></span>\
         <span class=\"ch-live-count\"><span id=\"ch-watching\">0</span> 在看 · <span id=\"ch-viewers-total\">{total}</span> 看过</span></div>\
         <button type=\"button\" class=\"ch-unmute\" id=\"ch-unmute\">打开声音 Sound on</button>\
         <p class=\"ch-live-state\" id=\"ch-live-state\">{state_text}</p></div>\
         <div class=\"ch-pins\" id=\"ch-pins\">{pins}</div>\
         <p class=\"ch-live-figures\">♥ <span id=\"ch-likes\">{likes}</span> · 礼物 <span id=\"ch-gifts-total\">{gifts}</span></p>\
         <ol class=\"ch-live-chat\" id=\"ch-live-chat\" aria-live=\"polite\"></ol>{composer}</div>{LIVE_SCRIPT_TAG}",
        id = escape(&room.room_id),
        avatar = channel_avatar(&channel),
        name = escape(&channel.name),
        title = escape(&room.title),
        total = count(room.viewers_total),
        state_text = if live {
            "连接中 Connecting…"
        } else {
            "直播已结束 This live has ended"
        },
        pins = pins_html(&room),
        likes = count(room.likes),
        gifts = money(room.gifts_minor),
    );
    app_layout(
        AppPage::below(AppTab::Discover, &room.title, "/app/channels/live"),
        &viewer,
        &body,
    )
    .into_response()
}

/// `GET /app/channels/studio/live`: the host's control.
async fn host_page(State(state): State<ChannelsState>, headers: HeaderMap) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect("/app/channels/studio/live");
    };
    let channel = match state.channels.channel_of(&user.user_id).await {
        Ok(Some(channel)) => channel,
        Ok(None) => return axum::response::Redirect::to("/app/channels/studio").into_response(),
        Err(error) => return refusal(error),
    };
    let on_air = state
        .channels
        .live_rooms(50)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|room| room.channel_id == channel.channel_id);
    let room_attr = on_air.as_ref().map_or_else(String::new, |room| {
        format!(" data-room=\"{}\"", escape(&room.room_id))
    });
    let body = format!(
        "{HEAD}<div class=\"ch-live ch-host\" id=\"ch-host\"{room_attr}>\
         <div class=\"ch-stage\"><video id=\"ch-preview\" muted playsinline autoplay></video>\
         <p class=\"ch-live-state\" id=\"ch-live-state\">{state_text}</p></div>\
         <form class=\"ch-form\" id=\"ch-go-live\" autocomplete=\"off\"{hidden_form}>\
         <label>直播标题 Title<input name=\"title\" required maxlength=\"40\" value=\"{name}的直播\"></label>\
         <button type=\"submit\">开始直播 Go live</button><p class=\"error\" role=\"alert\"></p></form>\
         <div id=\"ch-on-air\"{hidden_air}><p class=\"ch-live-figures\"><span id=\"ch-watching\">0</span> 在看 · \
         <span id=\"ch-viewers-total\">0</span> 看过 · ♥ <span id=\"ch-likes\">0</span> · 礼物 <span id=\"ch-gifts-total\">¥0.00</span></p>\
         <ol class=\"ch-live-chat\" id=\"ch-live-chat\"></ol>\
         <form class=\"ch-live-composer\" id=\"ch-live-composer\" autocomplete=\"off\">\
         <input name=\"text\" maxlength=\"200\" placeholder=\"和观众说 Talk to viewers\" aria-label=\"Comment\"></form>\
         <form class=\"ch-form ch-pin-form\" id=\"ch-pin-form\" autocomplete=\"off\"><label>置顶卡片 Pin a card\
         <select name=\"kind\"><option value=\"product\">商品 Product</option><option value=\"miniprogram\">小程序 Mini program</option><option value=\"wecom_group\">企业微信群 WeCom group</option></select></label>\
         <input name=\"title\" required maxlength=\"40\" placeholder=\"标题 Title\"><input name=\"url\" required placeholder=\"/app/…\">\
         <button type=\"submit\">置顶 Pin</button></form>\
         <button type=\"button\" class=\"ch-end\" id=\"ch-end\">结束直播 End</button></div></div>{LIVE_SCRIPT_TAG}",
        state_text = if on_air.is_some() {
            "直播中 On air"
        } else {
            "未开播 Not live"
        },
        hidden_form = if on_air.is_some() { " hidden" } else { "" },
        hidden_air = if on_air.is_some() { "" } else { " hidden" },
        name = escape(&channel.name),
    );
    app_layout(
        AppPage::below(AppTab::Me, "开直播 Go live", "/app/channels/studio"),
        &viewer,
        &body,
    )
    .into_response()
}
