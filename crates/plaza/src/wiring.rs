//! Adapters that plug the store and the scheduler into the HTTP layer's ports.

use std::sync::Arc;

use plaza_http::wire::ScheduledTransferPayload;
use plaza_http::{Advanced, HealthCheck, ScrapeHook, TimeTravel};
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::{Clock, ClockError, SandboxClock, Timestamp};
use plaza_kernel::queue::{Job, OutboxStore};
use plaza_ledger::{LedgerStore, TransferBatch, WriteSet};
use plaza_store::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::scheduler::{JobFailure, JobHandler, Scheduler};

/// The meta key under which the sandbox clock's offset survives restarts.
pub(crate) const SANDBOX_OFFSET_KEY: &str = "sandbox_clock_offset_ms";

/// The meta key of the latest instant a clock move reached: a restart never starts the
/// sandbox clock before it, even if the wall clock has stepped back meanwhile.
pub(crate) const SANDBOX_REACHED_KEY: &str = "sandbox_clock_reached_ms";

pub(crate) struct StoreHealth(pub(crate) Store);

impl HealthCheck for StoreHealth {
    fn backend_name(&self) -> &'static str {
        self.0.backend_name()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.check().await.map_err(|error| error.to_string()) })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    consumer: String,
}

/// Refreshes the outbox lag gauge at each scrape.
pub(crate) struct OutboxLag {
    store: Store,
    lag: Family<ConsumerLabels, Gauge>,
}

impl OutboxLag {
    pub(crate) fn new(store: Store, registry: &mut Registry) -> Self {
        let lag = Family::<ConsumerLabels, Gauge>::default();
        registry.register(
            "plaza_outbox_lag_events",
            "Outbox events not yet acknowledged, by consumer",
            lag.clone(),
        );
        Self { store, lag }
    }
}

impl ScrapeHook for OutboxLag {
    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match self.store.lag().await {
                Ok(lags) => {
                    for (consumer, lag) in lags {
                        self.lag
                            .get_or_create(&ConsumerLabels { consumer })
                            .set(lag);
                    }
                }
                Err(error) => tracing::warn!(%error, "reading outbox lag failed"),
            }
        })
    }
}

/// Moves the sandbox clock, persists the move, and runs what became due.
pub(crate) struct SandboxTime {
    pub(crate) clock: Arc<SandboxClock>,
    pub(crate) store: Store,
    pub(crate) scheduler: Arc<Scheduler>,
}

impl SandboxTime {
    /// At start, before the server listens: runs the jobs that came due while it was
    /// down at their due times, up to `catch_up_to` (see `scheduler::pin_for_catch_up`),
    /// then moves the clock to `start_at` if it is behind it.
    pub(crate) async fn start(
        &self,
        catch_up_to: Option<Timestamp>,
        start_at: Option<Timestamp>,
    ) -> anyhow::Result<()> {
        if let Some(now) = catch_up_to {
            let caught_up = self.scheduler.catch_up(&self.clock, now).await?;
            if caught_up > 0 {
                tracing::info!(
                    jobs = caught_up,
                    "ran the jobs that came due while Plaza was down, each at its due time"
                );
            }
        }
        if let Some(start_at) = start_at
            && start_at > self.clock.now()
        {
            self.travel(start_at).await?;
        }
        Ok(())
    }

    async fn travel(&self, target: Timestamp) -> Result<Advanced, ClockError> {
        // Where the move will land is recorded first: should the process die during the
        // move, it restarts there, and the jobs the move had not run yet are caught up at
        // their due times, which are after every job it had run.
        let landing_offset_ms = target
            .unix_ms()
            .saturating_sub(self.clock.now().unix_ms())
            .saturating_add(self.clock.offset_ms())
            .max(self.clock.offset_ms());
        self.record_offset(landing_offset_ms, target)
            .await
            .map_err(|reason| ClockError::Unavailable { reason })?;
        // In its own task: a move must finish (and land the clock) even if the request
        // that asked for it goes away.
        let scheduler = self.scheduler.clone();
        let clock = self.clock.clone();
        let travelled = tokio::spawn(async move { scheduler.travel_to(&clock, target).await })
            .await
            .unwrap_or_else(|error| {
                // A job panicked mid-move: land the clock so it is not left pinned.
                self.clock.land(target);
                Err(plaza_kernel::queue::QueueError::Unavailable {
                    reason: format!("a job panicked: {error}"),
                })
            });
        if let Err(reason) = self
            .record_offset(self.clock.offset_ms(), self.clock.now())
            .await
        {
            tracing::error!(%reason, "recording the sandbox clock offset failed");
        }
        match travelled {
            Ok(travelled) => Ok(Advanced {
                now: travelled.now,
                jobs_run: travelled.jobs_run,
            }),
            Err(error) => {
                tracing::error!(%error, "running due jobs during a clock move failed");
                Err(ClockError::Unavailable {
                    reason: error.to_string(),
                })
            }
        }
    }

    async fn record_offset(&self, offset_ms: i64, reached: Timestamp) -> Result<(), String> {
        self.store
            .set_meta(SANDBOX_OFFSET_KEY, &offset_ms.to_string())
            .await
            .map_err(|error| error.to_string())?;
        self.store
            .set_meta(SANDBOX_REACHED_KEY, &reached.unix_ms().to_string())
            .await
            .map_err(|error| error.to_string())
    }
}

impl TimeTravel for SandboxTime {
    fn advance(&self, by_ms: i64) -> BoxFuture<'_, Result<Advanced, ClockError>> {
        Box::pin(async move {
            if by_ms <= 0 {
                return Err(ClockError::NotForward { by_ms });
            }
            let target = self.clock.now().plus_ms(by_ms);
            self.travel(target).await
        })
    }

    fn set(&self, to: Timestamp) -> BoxFuture<'_, Result<Advanced, ClockError>> {
        Box::pin(async move {
            let now = self.clock.now();
            if to <= now {
                return Err(ClockError::NotAfterNow { to, now });
            }
            self.travel(to).await
        })
    }

    fn reach(&self, at: Timestamp) -> BoxFuture<'_, Result<Advanced, ClockError>> {
        Box::pin(self.travel(at))
    }

    fn offset_ms(&self) -> i64 {
        self.clock.offset_ms()
    }
}

/// Makes the transfer of a `ledger.scheduled_transfer` job.
pub(crate) struct ScheduledTransfer {
    pub(crate) ledger: Arc<dyn LedgerStore>,
}

impl JobHandler for ScheduledTransfer {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            let payload: ScheduledTransferPayload = serde_json::from_str(&job.payload)
                .map_err(|error| format!("unreadable payload: {error}"))?;
            let transfer = payload
                .transfer
                .into_domain("transfer")
                .map_err(|error| format!("{error:?}"))?;
            let batch = TransferBatch::single(transfer).map_err(|error| error.to_string())?;
            // A replay (the job ran before a crash) answers the original: that is success.
            self.ledger
                .commit(WriteSet::transfers(batch))
                .await
                .map(|_| ())
                .map_err(|error| JobFailure::Retry(error.to_string()))
        })
    }
}
