//! Search (搜一搜): one search across the platform's public things, Chinese done right.
//!
//! Producers publish what anyone may see through the outbox; [`events`] turns their
//! events into [`Document`]s; [`SearchIndex`] keeps them in tantivy with the analysis
//! of [`analyze`] (jieba words, character grams, pinyin and initials) over text folded by
//! [`fold`]; [`engine`] answers queries ranked as [`rank`] documents, with the intents of
//! [`intent`] and highlights from [`highlight`]; [`cache`] keeps answers until the index
//! changes.

pub mod activity;
pub mod analyze;
pub mod cache;
pub mod document;
pub mod engine;
pub mod error;
pub mod events;
pub mod fold;
pub mod highlight;
pub mod index;
pub mod intent;
pub mod query;
pub mod rank;
pub mod service;
pub mod tokens;

pub use activity::{Activity, HotSearches, HotSettings, LoggedSearch, SearchUsers};
pub use cache::CacheStats;
pub use document::{Document, Section, document_key};
pub use engine::{Answer, Request, Suggestion};
pub use error::SearchError;
pub use index::{Opened, Prepared, SearchIndex};
pub use intent::{IntentDictionary, ServiceIntent};
pub use rank::Context;
pub use service::{Catalog, Personal, PopularitySource, ReindexProgress, Search, SearchParts};
