//! The job scheduler: runs due jobs in due order, by the injected clock.
//!
//! Most jobs run one at a time, so one job's effects are visible to the next. Handlers
//! that talk to the outside world (notification delivery) say they are concurrent: up to
//! [`CONCURRENT_JOBS_MAX`] of those run side by side, so a merchant server that hangs
//! never holds up anyone else's deliveries.
//!
//! Handlers must be idempotent: a job runs at least once (a crash between a handler's
//! commit and the job's `done` mark runs it again). Ledger work is idempotent by transfer
//! id, so handlers derive their transfer ids from the job.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use plaza_kernel::BoxFuture;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::limits::JOB_ATTEMPTS_MAX;
use plaza_kernel::queue::{Job, JobOutcome, JobStore, QueueError};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

/// Why a job did not succeed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobFailure {
    /// Try again later with the scheduler's back-off.
    Retry(String),
    /// Try again at this time (the handler keeps its own schedule).
    RetryAt { due_at: Timestamp, error: String },
    /// Do not try again.
    GiveUp(String),
}

impl From<String> for JobFailure {
    fn from(error: String) -> Self {
        Self::Retry(error)
    }
}

/// Runs one kind of job.
pub(crate) trait JobHandler: Send + Sync {
    /// Does the job's work.
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>>;

    /// Whether jobs of this kind may run beside others (they wait on the network).
    fn concurrent(&self) -> bool {
        false
    }
}

/// Concurrent jobs in flight at most.
pub(crate) const CONCURRENT_JOBS_MAX: usize = 64;

/// How often a waiting scheduler looks for newly due jobs while concurrent ones run.
const IN_FLIGHT_POLL_MS: u64 = 50;

/// The longest the scheduler sleeps before looking again; bounds how late a job runs
/// when the sandbox clock jumps without asking the scheduler.
const IDLE_POLL_MS_MAX: u64 = 1_000;

fn outcome_of(job: &Job, result: Result<(), JobFailure>, now: Timestamp) -> JobOutcome {
    let failure = match result {
        Ok(()) => return JobOutcome::Done,
        Err(failure) => failure,
    };
    tracing::warn!(job = job.id, kind = %job.kind, ?failure, "job did not succeed");
    match failure {
        JobFailure::Retry(error) => {
            let attempts = job.attempts.saturating_add(1);
            if attempts >= JOB_ATTEMPTS_MAX {
                JobOutcome::Failed { error }
            } else {
                JobOutcome::Retry {
                    due_at: now.plus_ms(retry_delay_ms(attempts)),
                    error,
                }
            }
        }
        JobFailure::RetryAt { due_at, error } => JobOutcome::Retry { due_at, error },
        JobFailure::GiveUp(error) => JobOutcome::Failed { error },
    }
}

/// Back-off before retry `attempts` (1-based): 1 s, 2 s, 4 s … capped at an hour.
fn retry_delay_ms(attempts: u32) -> i64 {
    let exponent = attempts.saturating_sub(1).min(12);
    (1_000_i64 << exponent).min(3_600_000)
}

pub(crate) struct Scheduler {
    jobs: Arc<dyn JobStore>,
    clock: Arc<dyn Clock>,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    /// One run at a time, so jobs run in due order even when the clock endpoint and the
    /// background loop both ask.
    running: Mutex<()>,
}

impl Scheduler {
    pub(crate) fn new(jobs: Arc<dyn JobStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            jobs,
            clock,
            handlers: HashMap::new(),
            running: Mutex::new(()),
        }
    }

    pub(crate) fn register(&mut self, kind: &'static str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind, handler);
    }

    /// Runs every job that is due now, oldest due first; returns how many ran. Returns
    /// once nothing is due and no concurrent job is still running.
    pub(crate) async fn run_due(&self) -> Result<usize, QueueError> {
        let _running = self.running.lock().await;
        let mut ran = 0;
        let mut in_flight: HashSet<i64> = HashSet::new();
        let mut running: JoinSet<(Job, JobOutcome)> = JoinSet::new();
        loop {
            let now = self.clock.now();
            // Ask for one more than is in flight: then at least one of them, if any is
            // due, is not already running.
            let due = self.jobs.due_jobs(now, in_flight.len() + 1).await?;
            let next = due.into_iter().find(|job| !in_flight.contains(&job.id));
            let Some(job) = next else {
                if running.is_empty() {
                    break;
                }
                let wait = Duration::from_millis(IN_FLIGHT_POLL_MS);
                if let Ok(Some(joined)) = tokio::time::timeout(wait, running.join_next()).await {
                    ran += self.finish(joined, &mut in_flight).await?;
                }
                continue;
            };
            let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
                let error = format!("no handler for job kind {}", job.kind);
                self.jobs
                    .finish_job(job, JobOutcome::Failed { error })
                    .await?;
                ran += 1;
                continue;
            };
            if handler.concurrent() {
                while running.len() >= CONCURRENT_JOBS_MAX {
                    if let Some(joined) = running.join_next().await {
                        ran += self.finish(joined, &mut in_flight).await?;
                    }
                }
                in_flight.insert(job.id);
                running.spawn(async move {
                    let result = handler.run(&job).await;
                    let outcome = outcome_of(&job, result, now);
                    (job, outcome)
                });
            } else {
                // One at a time: a job may schedule another that is due before the rest.
                let result = handler.run(&job).await;
                let outcome = outcome_of(&job, result, now);
                self.jobs.finish_job(job, outcome).await?;
                ran += 1;
            }
        }
        Ok(ran)
    }

    async fn finish(
        &self,
        joined: Result<(Job, JobOutcome), tokio::task::JoinError>,
        in_flight: &mut HashSet<i64>,
    ) -> Result<usize, QueueError> {
        match joined {
            Ok((job, outcome)) => {
                in_flight.remove(&job.id);
                self.jobs.finish_job(job, outcome).await?;
                Ok(1)
            }
            Err(error) => {
                // The job stays pending and runs again: handlers are idempotent.
                tracing::error!(%error, "a concurrent job panicked");
                in_flight.clear();
                Ok(0)
            }
        }
    }

    /// Runs due jobs until `stop` turns true.
    pub(crate) async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.run_due().await {
                tracing::error!(%error, "running due jobs failed");
            }
            let wait_ms = match self.jobs.next_due_at().await {
                Ok(Some(due_at)) => {
                    let until_due = due_at.unix_ms() - self.clock.now().unix_ms();
                    u64::try_from(until_due).unwrap_or(0).min(IDLE_POLL_MS_MAX)
                }
                _ => IDLE_POLL_MS_MAX,
            };
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay_ms;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay_ms(1), 1_000);
        assert_eq!(retry_delay_ms(2), 2_000);
        assert_eq!(retry_delay_ms(5), 16_000);
        assert_eq!(retry_delay_ms(30), 3_600_000);
    }
}
