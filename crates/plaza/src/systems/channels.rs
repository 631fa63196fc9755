//! Channels as a system: creators, posts whose media `ffmpeg` processes in jobs, the
//! social graph, the feed, and their surfaces.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use plaza_channels::Channels;
use plaza_channels_http::{ChannelsState, ChannelsStateParts};
use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_kernel::BoxFuture;
use plaza_kernel::queue::Job;
use plaza_pay::PayService;

use super::{Foundation, OBJECTS_DIR, System};
use crate::scheduler::{JobFailure, JobHandler};

/// `channels.process`: a post's media is processed.
struct ProcessPost(Arc<Channels>);

impl JobHandler for ProcessPost {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            self.0
                .process_post(&job.payload)
                .await
                .map_err(|error| JobFailure::Retry(error.to_string()))
        })
    }

    fn concurrent(&self) -> bool {
        // Processing waits on ffmpeg for seconds; other jobs go on meanwhile.
        true
    }
}

/// `channels.incentive`: a month's creator incentive pool is paid.
struct PayIncentives(Arc<Channels>);

impl JobHandler for PayIncentives {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            let payout = self
                .0
                .pay_incentives(&job.payload)
                .await
                .map_err(|error| JobFailure::Retry(error.to_string()))?;
            tracing::info!(
                month = %payout.month,
                pool_minor = payout.pool_minor,
                returned_minor = payout.returned_minor,
                creators = payout.creators.len(),
                "creator incentives paid"
            );
            Ok(())
        })
    }
}

/// Pay's accounts for Channels: people's wallets and the bank the operator's funding
/// comes in from.
struct PayMoney(Arc<PayService>);

impl plaza_channels::ports::Money for PayMoney {
    fn funding_source(&self) -> String {
        plaza_pay::accounts::bank().map_or_else(|_| "bank:CNY".to_owned(), |(id, _)| id.to_string())
    }

    fn wallet<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            match self.0.user(user_id).await {
                Ok(Some(_)) => plaza_pay::accounts::wallet(user_id)
                    .map(|(id, _)| id.to_string())
                    .map_err(|error| error.to_string()),
                Ok(None) => Err(format!("{user_id} has no wallet")),
                Err(error) => Err(error.to_string()),
            }
        })
    }
}

/// Channels, built.
pub(crate) struct ChannelsSystem {
    channels: Arc<Channels>,
}

impl ChannelsSystem {
    /// The domain, for systems that read it (Search's catalog and context).
    pub(crate) fn channels(&self) -> Arc<Channels> {
        self.channels.clone()
    }

    /// Builds the domain over the store, sharing Pay's identity, with the object store
    /// and Debian's `ffmpeg`/`ffprobe` found on `PATH`.
    pub(crate) fn build(
        foundation: &Foundation<'_>,
        pay: &Arc<PayService>,
        fanout: plaza_fanout::SharedFanOut,
    ) -> anyhow::Result<Self> {
        let objects =
            plaza_store::objects::LocalObjects::open(foundation.config.data_dir.join(OBJECTS_DIR))
                .with_context(|| format!("the object store under {OBJECTS_DIR}/"))?;
        let channels = Channels::new(
            foundation.store.clone(),
            foundation.store.clone(),
            foundation.clock.clone(),
            pay.identity().clone(),
            Arc::new(objects),
            Arc::new(plaza_media::Tools::default()),
        )
        .with_money(Arc::new(PayMoney(pay.clone())))
        .with_fanout(fanout);
        Ok(Self {
            channels: Arc::new(channels),
        })
    }
}

impl System for ChannelsSystem {
    fn name(&self) -> &'static str {
        "channels"
    }

    fn jobs(&self) -> Vec<(&'static str, Arc<dyn JobHandler>)> {
        vec![
            (
                plaza_channels::posts::JOB_PROCESS,
                Arc::new(ProcessPost(self.channels.clone())),
            ),
            (
                plaza_channels::incentive::JOB_INCENTIVE,
                Arc::new(PayIncentives(self.channels.clone())),
            ),
        ]
    }

    fn start<'a>(&'a self, _data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let posts = self
                .channels
                .load_feed()
                .await
                .context("loading the Channels feed")?;
            tracing::info!(posts, "channels feed loaded");
            let closed = self
                .channels
                .close_stale_rooms()
                .await
                .context("closing live rooms a previous run left on air")?;
            if closed > 0 {
                tracing::info!(closed, "live rooms of a previous run closed");
            }
            Ok(())
        })
    }

    fn nav(&self) -> &'static [NavEntry] {
        plaza_channels_http::NAV
    }

    fn error_codes(&self) -> &'static [ErrorCode] {
        plaza_channels_http::CHANNELS_ERROR_CODES
    }

    fn routes(&self, http: &HttpState) -> SystemRoutes {
        plaza_channels_http::routes(ChannelsState::new(ChannelsStateParts {
            http: http.clone(),
            channels: self.channels.clone(),
        }))
    }
}
