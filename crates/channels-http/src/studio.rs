//! The creator studio (`/app/channels/studio`, from Me): open a channel; then post a
//! video or images (uploaded in pieces by the page's script, with progress), and see
//! each post's state, counts and originality.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use plaza_channels::model::{Area, Channel, Originality};
use plaza_http::web::{AppPage, AppTab, app_layout, app_user, escape, signin_redirect, viewer};

use crate::ChannelsState;
use crate::page_parts::{HEAD, SCRIPT_TAG, channel_avatar, count, refusal, state_label, when};

/// Posts the studio lists.
const POSTS_SHOWN: usize = 50;

fn open_form() -> String {
    let areas: String = Area::ALL
        .iter()
        .map(|area| {
            format!(
                "<option value=\"{}\">{}</option>",
                area.as_str(),
                area.label()
            )
        })
        .collect();
    format!(
        "<section class=\"card\"><h2>开通视频号 Open your channel</h2>\
         <form class=\"ch-form\" id=\"ch-open\" autocomplete=\"off\">\
         <label>名字 Name<input name=\"name\" required minlength=\"2\" maxlength=\"30\"></label>\
         <label>简介 Bio<input name=\"bio\" maxlength=\"200\"></label>\
         <label>领域 Area<select name=\"area\">{areas}</select></label>\
         <button type=\"submit\">开通 Open</button><p class=\"error\" role=\"alert\"></p></form></section>"
    )
}

fn upload_form() -> String {
    "<section class=\"card\"><h2>发表 New post</h2>\
     <form class=\"ch-form\" id=\"ch-upload\" autocomplete=\"off\">\
     <label>视频或图片 Video or images\
     <input type=\"file\" name=\"files\" required multiple accept=\"video/mp4,video/webm,image/png,image/jpeg,image/gif,image/webp\"></label>\
     <label>描述 Caption<textarea name=\"caption\" maxlength=\"1000\" rows=\"3\" placeholder=\"#话题 @视频号\"></textarea></label>\
     <progress id=\"ch-progress\" max=\"1\" value=\"0\" hidden></progress>\
     <button type=\"submit\">发表 Post</button><p class=\"error\" role=\"alert\"></p></form></section>"
        .to_owned()
}

async fn posts_table(state: &ChannelsState, channel: &Channel, user_id: &str) -> String {
    let channels = &state.channels;
    let posts = channels
        .posts_of(&channel.channel_id, Some(user_id), None, POSTS_SHOWN)
        .await
        .unwrap_or_default();
    if posts.is_empty() {
        return "<p class=\"muted\">还没有作品 No posts yet.</p>".to_owned();
    }
    let mut rows = String::new();
    for (_, post) in &posts {
        let stats = channels.post_stats(&post.post_id).await.unwrap_or_default();
        let (key, label) = state_label(post);
        let origin = match &post.originality {
            Originality::Original => "原创",
            Originality::Copy { .. } => "非原创",
            Originality::Unknown => "—",
        };
        let caption: String = post.caption.chars().take(40).collect();
        rows.push_str(&format!(
            "<tr data-post=\"{id}\" data-state=\"{key}\"><td><a href=\"/app/channels/posts/{id}\">{caption}</a><br><small class=\"muted\">{at}</small></td>\
             <td><span class=\"ch-state {key}\">{label}</span></td><td>{origin}</td>\
             <td class=\"num\">{views}</td><td class=\"num\">{likes}</td><td class=\"num\">{comments}</td><td class=\"num\">{shares}</td></tr>",
            id = escape(&post.post_id),
            caption = if caption.is_empty() { "（无描述）".to_owned() } else { escape(&caption) },
            at = when(post),
            label = escape(&label),
            views = count(stats.views),
            likes = count(stats.likes),
            comments = count(stats.comments),
            shares = count(stats.shares),
        ));
    }
    format!(
        "<div class=\"table-scroll\"><table class=\"ch-table\" id=\"ch-posts\"><thead><tr><th>作品 Post</th><th>状态</th><th>原创</th>\
         <th>播放</th><th>赞</th><th>评论</th><th>分享</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

/// The month before `month` (`yyyymm`).
fn previous_month(month: &str) -> String {
    let year: u32 = month.get(..4).and_then(|y| y.parse().ok()).unwrap_or(1970);
    let number: u32 = month.get(4..).and_then(|m| m.parse().ok()).unwrap_or(1);
    if number <= 1 {
        format!("{:04}12", year.saturating_sub(1))
    } else {
        format!("{year:04}{:02}", number - 1)
    }
}

/// The incentive card: this month's standing against the plan's thresholds (what
/// qualifies, what is still missing) and the last months' income.
async fn income_card(state: &ChannelsState, channel: &Channel) -> String {
    let channels = &state.channels;
    let month = plaza_channels::incentive::month_of(channels.now());
    let Ok(standing) = channels.standing(&channel.channel_id, &month).await else {
        return String::new();
    };
    let plan = channels.plan(&month).await.ok().flatten();
    let pool = plan.as_ref().map_or_else(
        || "本月未设激励池 No pool this month yet".to_owned(),
        |plan| {
            format!(
                "本月激励池 This month's pool {}",
                plaza_http::web::money(plan.funded_minor)
            )
        },
    );
    let verdict = if standing.qualified() {
        "<p class=\"ch-state ready\" id=\"ch-qualified\">已达标 Qualified: your share is paid on the 1st.</p>".to_owned()
    } else {
        let missing: String = standing
            .missing
            .iter()
            .map(|item| format!("<li>{}</li>", escape(item)))
            .collect();
        format!(
            "<p class=\"muted\">还差 Still missing:</p><ul class=\"ch-missing\" id=\"ch-missing\">{missing}</ul>"
        )
    };
    let mut history = String::new();
    let mut past = month.clone();
    for _ in 0..3 {
        past = previous_month(&past);
        if let Ok(Some(payout)) = channels.payout(&past).await {
            let paid = payout
                .creators
                .iter()
                .find(|c| c.channel_id == channel.channel_id)
                .map_or(0, |c| c.paid_minor);
            history.push_str(&format!(
                "<li><span>{}年{}月</span><strong class=\"money\">{}</strong></li>",
                &past[..4],
                &past[4..],
                plaza_http::web::money(paid)
            ));
        }
    }
    let history = if history.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"ch-income\" id=\"ch-income\">{history}</ul>")
    };
    format!(
        "<section class=\"card\"><h2>创作者激励 Creator incentive</h2><p class=\"muted\">{pool}</p>\
         <p>本月原创作品 Original posts this month: {views} 播放 · {likes} 赞 · {comments} 评论 · {shares} 分享 · 互动率 {rate}.{rate_frac:02}% · 得分 Score <strong id=\"ch-incentive-score\">{score}</strong></p>\
         {verdict}{history}</section>",
        views = standing.views,
        likes = standing.likes,
        comments = standing.comments,
        shares = standing.shares,
        rate = standing.engagement_bps / 100,
        rate_frac = standing.engagement_bps % 100,
        score = standing.score,
    )
}

/// `GET /app/channels/studio`.
pub(crate) async fn studio(State(state): State<ChannelsState>, headers: HeaderMap) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect("/app/channels/studio");
    };
    let channels = &state.channels;
    let channel = match channels.channel_of(&user.user_id).await {
        Ok(channel) => channel,
        Err(error) => return refusal(error),
    };
    let body = match channel {
        None => open_form(),
        Some(channel) => {
            let stats = channels
                .channel_stats(&channel.channel_id)
                .await
                .unwrap_or_default();
            format!(
                "<section class=\"card ch-profile\">{avatar}<div><h2>{name}</h2>\
                 <p class=\"muted\">{area} · {followers} 关注者 · {posts} 作品</p>\
                 <p><a href=\"/app/channels/c/{cid}\">查看主页 View channel</a> · <a id=\"ch-go-live-link\" href=\"/app/channels/studio/live\">开直播 Go live</a></p></div></section>\
                 {upload}{income}<section class=\"card\"><h2>作品 Posts</h2>{table}</section>",
                avatar = channel_avatar(&channel),
                name = escape(&channel.name),
                area = channel.area.label(),
                followers = count(stats.followers),
                posts = stats.posts,
                cid = escape(&channel.channel_id),
                upload = upload_form(),
                income = income_card(&state, &channel).await,
                table = posts_table(&state, &channel, &user.user_id).await,
            )
        }
    };
    app_layout(
        AppPage::below(AppTab::Me, "视频号助手 Creator studio", "/app/me"),
        &viewer,
        &format!("{HEAD}<div class=\"ch-studio-page\">{body}</div>{SCRIPT_TAG}"),
    )
    .into_response()
}
