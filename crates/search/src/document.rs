//! What is searchable: public documents, each in one section of the results.

use serde::{Deserialize, Serialize};

/// A section of the results, each with its own card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Services a mini program declares (核酸检测, 社保查询…): what intents lead to.
    Services,
    /// Mini programs.
    MiniPrograms,
    /// Channels creators (a channel's public profile).
    Creators,
    /// Channels posts (caption and topics).
    Posts,
    /// Merchants' public names.
    Merchants,
    /// WeCom corps' public profiles.
    Corps,
}

impl Section {
    /// Every section, in the order results show them.
    pub const ALL: [Section; 6] = [
        Section::Services,
        Section::MiniPrograms,
        Section::Creators,
        Section::Posts,
        Section::Merchants,
        Section::Corps,
    ];

    /// The name the API and the pages use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Services => "services",
            Section::MiniPrograms => "mini_programs",
            Section::Creators => "creators",
            Section::Posts => "posts",
            Section::Merchants => "merchants",
            Section::Corps => "corps",
        }
    }

    /// The section named `name`, if any.
    #[must_use]
    pub fn parse(name: &str) -> Option<Section> {
        Section::ALL
            .into_iter()
            .find(|section| section.as_str() == name)
    }

    /// The number the index keeps for it.
    #[must_use]
    pub fn code(self) -> u64 {
        match self {
            Section::Services => 1,
            Section::MiniPrograms => 2,
            Section::Creators => 3,
            Section::Posts => 4,
            Section::Merchants => 5,
            Section::Corps => 6,
        }
    }

    /// The section kept as `code`.
    #[must_use]
    pub fn from_code(code: u64) -> Option<Section> {
        Section::ALL
            .into_iter()
            .find(|section| section.code() == code)
    }

    /// Its heading on the page.
    #[must_use]
    pub fn heading(self) -> &'static str {
        match self {
            Section::Services => "服务",
            Section::MiniPrograms => "小程序",
            Section::Creators => "视频号",
            Section::Posts => "动态",
            Section::Merchants => "商户",
            Section::Corps => "企业",
        }
    }
}

/// One searchable thing, public by construction: the producers publish only what
/// anyone may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Its section.
    pub section: Section,
    /// Unique within the section (an appid, a post id, `appid:keyword` for a service).
    pub id: String,
    /// Its name or, for a post, its caption's first line.
    pub title: String,
    /// The rest of its text: a description, a caption, a bio.
    #[serde(default)]
    pub body: String,
    /// Words it wants to be found by: service keywords, topics, a category.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Visits, followers or views: how much people use it.
    #[serde(default)]
    pub popularity: u64,
    /// When it was published (posts), Unix milliseconds: fresher posts rank higher.
    #[serde(default)]
    pub published_at_ms: Option<i64>,
    /// Whose it is, for the searcher's context: an appid (mini programs and their
    /// services) or a channel id (creators and their posts).
    #[serde(default)]
    pub owner: String,
    /// Where its card leads, a path of the user app.
    pub link: String,
    /// What its card shows besides the title and text (an icon, an avatar, a category).
    #[serde(default)]
    pub card: serde_json::Map<String, serde_json::Value>,
}

impl Document {
    /// The key the index knows it by: section and id.
    #[must_use]
    pub fn key(&self) -> String {
        document_key(self.section, &self.id)
    }
}

/// The index key of `id` in `section`.
#[must_use]
pub fn document_key(section: Section, id: &str) -> String {
    format!("{}:{id}", section.as_str())
}
