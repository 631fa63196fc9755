//! Search as a system: the index in the data directory, the outbox consumer that keeps
//! it current, the catalog a reindex reads from every system, and the searcher's
//! context (the channels they follow, the mini programs they used), and popularity.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use plaza_channels::Channels;
use plaza_channels::model::{Channel, Post};
use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_kernel::BoxFuture;
use plaza_kernel::queue::{NewEvent, OutboxStore};
use plaza_miniapp::MiniApps;
use plaza_pay::PayService;
use plaza_search::analyze::Analyzer;
use plaza_search::{
    Catalog, Opened, Personal, PopularitySource, Search, SearchIndex, SearchParts, Section,
    document_key,
};
use plaza_search_http::{SearchState, SearchStateParts};
use plaza_store::Store;
use plaza_wecom::WeCom;

use super::{Foundation, System};
use crate::scheduler::JobHandler;

/// The index's folder in the data directory.
pub(crate) const INDEX_DIR: &str = "search-index";
/// Events the consumer reads at a time.
const CONSUMER_BATCH: usize = 512;
/// How long the consumer waits when the outbox has nothing new: the bound on how stale
/// search is (well inside the second the issue allows).
const CONSUMER_IDLE: Duration = Duration::from_millis(100);
/// How often what people searched is written (the query log, hot searches, users).
const ACTIVITY_FLUSH: Duration = Duration::from_secs(1);
/// How often popularity (visits, followers, views) is read from the systems.
const POPULARITY_REFRESH: Duration = Duration::from_secs(300);
/// How long it waits after a failure before reading again.
const CONSUMER_RETRY: Duration = Duration::from_secs(1);
/// The most rows a catalog source reads of one kind (a reindex of a larger platform
/// pages channels and posts; the others list at most this many).
const CATALOG_ROWS_MAX: usize = 1_000_000;
/// Channels read per page by the catalog, and posts per page of a channel.
const CATALOG_PAGE: usize = 500;
/// Channels a searcher's context holds at most.
const CONTEXT_FOLLOWS_MAX: usize = 500;
/// Mini programs a searcher's context holds at most.
const CONTEXT_APPS_MAX: usize = 500;

/// Every system's public things, as the events that publish them.
struct SystemsCatalog {
    pay: Arc<PayService>,
    miniapps: Arc<MiniApps>,
    wecom: Arc<WeCom>,
    channels: Arc<Channels>,
    /// The domain clock: which China day's visits are the latest.
    clock: Arc<dyn plaza_kernel::clock::Clock>,
}

impl SystemsCatalog {
    /// Every channel, page by page.
    async fn all_channels(&self) -> Result<Vec<Channel>, String> {
        let mut channels = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .channels
                .channels(after.clone(), CATALOG_PAGE)
                .await
                .map_err(|error| error.to_string())?;
            let Some((value, last)) = page.last() else {
                break;
            };
            after = Some((value.clone(), last.channel_id.clone()));
            let full = page.len() == CATALOG_PAGE;
            channels.extend(page.into_iter().map(|(_, channel)| channel));
            if !full {
                break;
            }
        }
        Ok(channels)
    }

    /// Every post of `channel_id` in any state, page by page.
    async fn all_posts_of(&self, channel_id: &str) -> Result<Vec<Post>, String> {
        let mut posts = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .channels
                .posts_of(channel_id, None, before.clone(), CATALOG_PAGE)
                .await
                .map_err(|error| error.to_string())?;
            let Some((value, last)) = page.last() else {
                break;
            };
            before = Some((value.clone(), last.post_id.clone()));
            let full = page.len() == CATALOG_PAGE;
            posts.extend(page.into_iter().map(|(_, post)| post));
            if !full {
                break;
            }
        }
        Ok(posts)
    }

    async fn channel_events(&self) -> Result<Vec<NewEvent>, String> {
        let mut events = Vec::new();
        for channel in self.all_channels().await? {
            events.push(plaza_channels::creators::channel_event(&channel));
            events.extend(
                self.all_posts_of(&channel.channel_id)
                    .await?
                    .iter()
                    .map(|post| plaza_channels::posts::post_event(post, &channel)),
            );
        }
        Ok(events)
    }
}

impl Catalog for SystemsCatalog {
    fn sources(&self) -> Vec<&'static str> {
        vec!["miniapp", "channels", "pay", "wecom"]
    }

    fn events_of(&self, source: &'static str) -> BoxFuture<'_, Result<Vec<NewEvent>, String>> {
        Box::pin(async move {
            match source {
                "miniapp" => Ok(self
                    .miniapps
                    .apps(CATALOG_ROWS_MAX)
                    .await
                    .map_err(|error| error.to_string())?
                    .iter()
                    .map(plaza_miniapp::app_event)
                    .collect()),
                "channels" => self.channel_events().await,
                "pay" => Ok(self
                    .pay
                    .merchants(CATALOG_ROWS_MAX)
                    .await
                    .map_err(|error| error.to_string())?
                    .iter()
                    .filter_map(plaza_pay::service::merchant_event)
                    .collect()),
                "wecom" => Ok(self
                    .wecom
                    .corps()
                    .await
                    .map_err(|error| error.to_string())?
                    .iter()
                    .map(plaza_wecom::corps::corp_event)
                    .collect()),
                other => Err(format!("no catalog source {other}")),
            }
        })
    }
}

impl SystemsCatalog {
    /// Each mini program's users ever and each of its services' (the app's).
    async fn app_popularity(&self, counts: &mut Vec<(String, u64)>) -> Result<(), String> {
        let today = plaza_miniapp::china_day(self.clock.now());
        for app in self
            .miniapps
            .apps(CATALOG_ROWS_MAX)
            .await
            .map_err(|error| error.to_string())?
        {
            let users = self
                .miniapps
                .day_visits(&app.appid, today)
                .await
                .map_err(|error| error.to_string())?
                .visit_total;
            counts.push((document_key(Section::MiniPrograms, &app.appid), users));
            for keyword in &app.service_keywords {
                let id = format!("{}:{keyword}", app.appid);
                counts.push((document_key(Section::Services, &id), users));
            }
        }
        Ok(())
    }

    /// Each channel's followers and each ready post's views.
    async fn channel_popularity(&self, counts: &mut Vec<(String, u64)>) -> Result<(), String> {
        for channel in self.all_channels().await? {
            let stats = self
                .channels
                .channel_stats(&channel.channel_id)
                .await
                .map_err(|error| error.to_string())?;
            counts.push((
                document_key(Section::Creators, &channel.channel_id),
                stats.followers,
            ));
            for post in self.all_posts_of(&channel.channel_id).await? {
                if !post.ready() {
                    continue;
                }
                let stats = self
                    .channels
                    .post_stats(&post.post_id)
                    .await
                    .map_err(|error| error.to_string())?;
                counts.push((document_key(Section::Posts, &post.post_id), stats.views));
            }
        }
        Ok(())
    }
}

impl PopularitySource for SystemsCatalog {
    fn popularity(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, String>> {
        Box::pin(async move {
            let mut counts = Vec::new();
            self.app_popularity(&mut counts).await?;
            self.channel_popularity(&mut counts).await?;
            Ok(counts)
        })
    }
}

/// A searcher's context: the channels they follow and the mini programs they used.
struct SearcherContext {
    channels: Arc<Channels>,
    miniapps: Arc<MiniApps>,
}

impl Personal for SearcherContext {
    fn owners(&self, user_id: &str) -> BoxFuture<'_, Vec<String>> {
        let user_id = user_id.to_owned();
        Box::pin(async move {
            let mut owners = match self.channels.following(&user_id, CONTEXT_FOLLOWS_MAX).await {
                Ok(follows) => follows
                    .into_iter()
                    .filter(|follow| follow.active)
                    .map(|follow| follow.channel_id)
                    .collect(),
                Err(error) => {
                    tracing::warn!(%error, "a searcher's follows could not be read");
                    Vec::new()
                }
            };
            match self.miniapps.apps_used_by(&user_id, CONTEXT_APPS_MAX).await {
                Ok(apps) => owners.extend(apps),
                Err(error) => {
                    tracing::warn!(%error, "a searcher's mini programs could not be read")
                }
            }
            owners
        })
    }
}

/// Search, built.
pub(crate) struct SearchSystem {
    search: Arc<Search>,
    opened: Opened,
    catalog: Arc<SystemsCatalog>,
    personal: Arc<SearcherContext>,
    identity: Arc<plaza_identity::Identity>,
    store: Arc<Store>,
}

impl SearchSystem {
    /// Opens the index under the data directory (a missing, unreadable or outdated one is
    /// made anew and rebuilt at start) with the systems it reads.
    pub(crate) fn build(
        foundation: &Foundation<'_>,
        pay: &Arc<PayService>,
        miniapps: &Arc<MiniApps>,
        wecom: &Arc<WeCom>,
        channels: &Arc<Channels>,
    ) -> anyhow::Result<Self> {
        let dir = foundation.config.data_dir.join(INDEX_DIR);
        let (index, opened) = SearchIndex::open(&dir, Analyzer::new(), 1)
            .with_context(|| format!("the search index under {INDEX_DIR}/"))?;
        let search = Search::new(SearchParts {
            index,
            records: foundation.store.clone(),
            ledger: foundation.store.clone(),
            clock: foundation.clock.clone(),
        });
        Ok(Self {
            search: Arc::new(search),
            opened,
            catalog: Arc::new(SystemsCatalog {
                pay: pay.clone(),
                miniapps: miniapps.clone(),
                wecom: wecom.clone(),
                channels: channels.clone(),
                clock: foundation.clock.clone(),
            }),
            personal: Arc::new(SearcherContext {
                channels: channels.clone(),
                miniapps: miniapps.clone(),
            }),
            identity: pay.identity().clone(),
            store: foundation.store.clone(),
        })
    }
}

/// Keeps the index current: reads the outbox after the `search` cursor, applies, and
/// moves the cursor only after the index committed (a crash between re-reads the
/// events; applying is idempotent).
async fn consume(search: Arc<Search>, outbox: Arc<Store>) {
    loop {
        let events = match outbox
            .read_events(plaza_search::service::CONSUMER.to_owned(), CONSUMER_BATCH)
            .await
        {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "search could not read the outbox");
                tokio::time::sleep(CONSUMER_RETRY).await;
                continue;
            }
        };
        let Some(last) = events.last().map(|event| event.seq) else {
            tokio::time::sleep(CONSUMER_IDLE).await;
            continue;
        };
        if let Err(error) = search.apply_events(&events).await {
            tracing::error!(%error, "search could not index events; retrying");
            tokio::time::sleep(CONSUMER_RETRY).await;
            continue;
        }
        if let Err(error) = outbox
            .ack_events(plaza_search::service::CONSUMER.to_owned(), last)
            .await
        {
            tracing::warn!(%error, "search could not move its outbox cursor");
            tokio::time::sleep(CONSUMER_RETRY).await;
        }
    }
}

/// Writes what people searched, every [`ACTIVITY_FLUSH`].
async fn flush_activity(search: Arc<Search>) {
    let mut tick = tokio::time::interval(ACTIVITY_FLUSH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = search.activity().flush().await {
            tracing::warn!(%error, "search could not write its query log; retrying");
        }
    }
}

/// Refreshes popularity every [`POPULARITY_REFRESH`], the first time soon after start.
async fn refresh_popularity(search: Arc<Search>, source: Arc<SystemsCatalog>) {
    let mut tick = tokio::time::interval(POPULARITY_REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match search.refresh_popularity(&*source).await {
            Ok(changed) => tracing::debug!(changed, "search popularity refreshed"),
            Err(error) => tracing::warn!(%error, "search popularity could not be refreshed"),
        }
    }
}

impl System for SearchSystem {
    fn name(&self) -> &'static str {
        "search"
    }

    fn jobs(&self) -> Vec<(&'static str, Arc<dyn JobHandler>)> {
        Vec::new()
    }

    fn start<'a>(&'a self, _data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.search
                .load()
                .await
                .context("reading search's intent dictionary and recent searches")?;
            if let Opened::Fresh(reason) = &self.opened {
                tracing::warn!(%reason, "the search index is new; rebuilding it from the database");
                let search = self.search.clone();
                let catalog = self.catalog.clone();
                tokio::spawn(async move {
                    match search.reindex(&*catalog).await {
                        Ok(documents) => tracing::info!(documents, "search index rebuilt"),
                        Err(error) => {
                            tracing::error!(%error, "the search index could not be rebuilt")
                        }
                    }
                });
            } else {
                tracing::info!(
                    documents = self.search.index().document_count(),
                    "search index opened"
                );
            }
            tokio::spawn(consume(self.search.clone(), self.store.clone()));
            tokio::spawn(flush_activity(self.search.clone()));
            tokio::spawn(refresh_popularity(
                self.search.clone(),
                self.catalog.clone(),
            ));
            Ok(())
        })
    }

    fn nav(&self) -> &'static [NavEntry] {
        plaza_search_http::NAV
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        plaza_search_http::SEARCH_ERROR_CODES
    }

    fn routes(&self, http: &HttpState) -> SystemRoutes {
        plaza_search_http::routes(SearchState::new(SearchStateParts {
            http: http.clone(),
            search: self.search.clone(),
            catalog: self.catalog.clone(),
            popularity: self.catalog.clone(),
            personal: self.personal.clone(),
            identity: self.identity.clone(),
        }))
    }
}
