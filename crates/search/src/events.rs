//! Producers' outbox events read as changes to the index. Each producer publishes a
//! thing's public facts as it now is, keyed by its id, with every change; the topics and
//! their payloads are the contract (documented in docs/search.md):
//!
//! | topic | key | payload |
//! |---|---|---|
//! | `miniapp.app` | appid | `appid, name, icon, category, description, service_keywords, service_pages?` |
//! | `channels.channel` | channel id | `channel_id, name, bio, area, avatar` |
//! | `channels.post` | post id | `post_id, state` (`ready`: `channel_id, channel_name, area, caption, topics, published_at`) |
//! | `pay.merchant` | mchid | `mchid, name, kind` |
//! | `wecom.corp` | corpid | `corpid, name` |
//!
//! Other topics are not search's and are skipped.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::document::{Document, Section, document_key};
use crate::error::SearchError;

/// The topics search reads.
pub const TOPICS: [&str; 5] = [
    "miniapp.app",
    "channels.channel",
    "channels.post",
    "pay.merchant",
    "wecom.corp",
];

/// One change to the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Put this document in place of any with its key.
    Upsert(Document),
    /// Remove the document with this key.
    Delete(String),
    /// Remove every service a mini program declared (before its current ones go in).
    DeleteServicesOf(String),
}

#[derive(Deserialize)]
struct AppPayload {
    appid: String,
    name: String,
    #[serde(default)]
    icon: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    service_keywords: Vec<String>,
    #[serde(default)]
    service_pages: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ChannelPayload {
    channel_id: String,
    name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    avatar: Option<String>,
}

#[derive(Deserialize)]
struct PostPayload {
    post_id: String,
    state: String,
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    channel_name: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    caption: String,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    published_at: Option<i64>,
}

#[derive(Deserialize)]
struct MerchantPayload {
    mchid: String,
    name: String,
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
struct CorpPayload {
    corpid: String,
    name: String,
}

fn card(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Most characters of a post's caption used as its title.
const POST_TITLE_CHARS: usize = 40;

/// The changes `topic`/`key`/`payload` asks for; none for another system's topic.
///
/// # Errors
///
/// [`SearchError::Event`] when a search topic's payload cannot be read.
pub fn changes(topic: &str, key: &str, payload: &str) -> Result<Vec<Change>, SearchError> {
    let bad = |error: serde_json::Error| SearchError::Event {
        topic: topic.to_owned(),
        key: key.to_owned(),
        reason: error.to_string(),
    };
    Ok(match topic {
        "miniapp.app" => app_changes(serde_json::from_str(payload).map_err(bad)?),
        "channels.channel" => vec![channel_change(serde_json::from_str(payload).map_err(bad)?)],
        "channels.post" => vec![post_change(serde_json::from_str(payload).map_err(bad)?)],
        "pay.merchant" => {
            let merchant: MerchantPayload = serde_json::from_str(payload).map_err(bad)?;
            vec![Change::Upsert(plain(
                Section::Merchants,
                merchant.mchid,
                merchant.name,
                card(json!({ "kind": merchant.kind })),
            ))]
        }
        "wecom.corp" => {
            let corp: CorpPayload = serde_json::from_str(payload).map_err(bad)?;
            vec![Change::Upsert(plain(
                Section::Corps,
                corp.corpid,
                corp.name,
                Map::new(),
            ))]
        }
        _ => Vec::new(),
    })
}

/// A document that is a name only (merchants, corps): no page of its own to open.
fn plain(section: Section, id: String, title: String, card: Map<String, Value>) -> Document {
    Document {
        section,
        owner: id.clone(),
        id,
        title,
        body: String::new(),
        keywords: Vec::new(),
        popularity: 0,
        published_at_ms: None,
        link: String::new(),
        card,
    }
}

/// A mini program's card and one service per keyword, after its old services go.
fn app_changes(app: AppPayload) -> Vec<Change> {
    let mut changes = vec![Change::DeleteServicesOf(app.appid.clone())];
    let mut keywords = app.service_keywords.clone();
    if !app.category.is_empty() {
        keywords.push(app.category.clone());
    }
    changes.push(Change::Upsert(Document {
        section: Section::MiniPrograms,
        id: app.appid.clone(),
        title: app.name.clone(),
        body: app.description.clone(),
        keywords,
        popularity: 0,
        published_at_ms: None,
        owner: app.appid.clone(),
        link: format!("/app/mp/{}", app.appid),
        card: card(json!({ "icon": app.icon, "category": app.category })),
    }));
    for keyword in &app.service_keywords {
        let page = app.service_pages.get(keyword).cloned().unwrap_or_default();
        let link = if page.is_empty() {
            format!("/app/mp/{}", app.appid)
        } else {
            format!("/app/mp/{}/{page}", app.appid)
        };
        changes.push(Change::Upsert(Document {
            section: Section::Services,
            id: format!("{}:{keyword}", app.appid),
            title: keyword.clone(),
            body: format!("{} {}", app.name, app.description),
            keywords: Vec::new(),
            popularity: 0,
            published_at_ms: None,
            owner: app.appid.clone(),
            link,
            card: card(json!({ "app_name": app.name, "icon": app.icon, "page": page })),
        }));
    }
    changes
}

fn channel_change(channel: ChannelPayload) -> Change {
    Change::Upsert(Document {
        section: Section::Creators,
        id: channel.channel_id.clone(),
        title: channel.name,
        body: channel.bio,
        keywords: Vec::new(),
        popularity: 0,
        published_at_ms: None,
        owner: channel.channel_id.clone(),
        link: format!("/app/channels/c/{}", channel.channel_id),
        card: card(json!({ "avatar": channel.avatar, "area": channel.area })),
    })
}

fn post_change(post: PostPayload) -> Change {
    if post.state != "ready" {
        return Change::Delete(document_key(Section::Posts, &post.post_id));
    }
    let first_line = post.caption.lines().next().unwrap_or_default();
    let title: String = first_line.chars().take(POST_TITLE_CHARS).collect();
    Change::Upsert(Document {
        section: Section::Posts,
        id: post.post_id.clone(),
        title,
        body: post.caption,
        keywords: post.topics,
        popularity: 0,
        published_at_ms: post.published_at,
        owner: post.channel_id.clone(),
        link: format!("/app/channels/posts/{}", post.post_id),
        card: card(json!({
            "channel_id": post.channel_id,
            "channel_name": post.channel_name,
            "area": post.area,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mini_program_is_its_card_and_one_service_per_keyword() -> Result<(), SearchError> {
        let payload = r#"{"appid":"wx1","name":"健康城市","icon":"健","category":"政务民生",
            "description":"核酸与疫苗","service_keywords":["核酸检测","疫苗预约"],
            "service_pages":{"核酸检测":"pages/test/index"}}"#;
        let changes = changes("miniapp.app", "wx1", payload)?;
        assert_eq!(changes[0], Change::DeleteServicesOf("wx1".into()));
        let links: Vec<&str> = changes
            .iter()
            .filter_map(|change| match change {
                Change::Upsert(doc) if doc.section == Section::Services => Some(doc.link.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(links, ["/app/mp/wx1/pages/test/index", "/app/mp/wx1"]);
        Ok(())
    }

    #[test]
    fn a_deleted_post_is_removed_and_other_topics_are_skipped() -> Result<(), SearchError> {
        let gone = changes(
            "channels.post",
            "p1",
            r#"{"post_id":"p1","state":"deleted"}"#,
        )?;
        assert_eq!(gone, [Change::Delete("posts:p1".into())]);
        assert!(changes("pay.transaction.success", "x", "{}")?.is_empty());
        assert!(changes("pay.merchant", "m", "not json").is_err());
        Ok(())
    }
}
