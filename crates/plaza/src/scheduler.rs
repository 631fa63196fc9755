//! The job scheduler: runs due jobs, one at a time, in due order, by the injected clock.
//!
//! Handlers must be idempotent: a job runs at least once (a crash between a handler's
//! commit and the job's `done` mark runs it again). Ledger work is idempotent by transfer
//! id, so handlers derive their transfer ids from the job.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use plaza_kernel::BoxFuture;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::limits::JOB_ATTEMPTS_MAX;
use plaza_kernel::queue::{Job, JobOutcome, JobStore, QueueError};
use tokio::sync::{Mutex, watch};

/// Runs one kind of job.
pub(crate) trait JobHandler: Send + Sync {
    /// Does the job's work; an error is retried later with back-off.
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), String>>;
}

/// The longest the scheduler sleeps before looking again; bounds how late a job runs
/// when the sandbox clock jumps without asking the scheduler.
const IDLE_POLL_MS_MAX: u64 = 1_000;

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

    fn outcome_of_failure(&self, job: &Job, error: String, now: Timestamp) -> JobOutcome {
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

    /// Runs every job that is due now, oldest due first; returns how many ran.
    pub(crate) async fn run_due(&self) -> Result<usize, QueueError> {
        let _running = self.running.lock().await;
        let mut ran = 0;
        loop {
            let now = self.clock.now();
            // One at a time: a job may schedule another that is due before the rest.
            let Some(job) = self.jobs.due_jobs(now, 1).await?.into_iter().next() else {
                break;
            };
            let outcome = match self.handlers.get(job.kind.as_str()) {
                Some(handler) => match handler.run(&job).await {
                    Ok(()) => JobOutcome::Done,
                    Err(error) => {
                        tracing::warn!(job = job.id, kind = %job.kind, %error, "job failed");
                        self.outcome_of_failure(&job, error, now)
                    }
                },
                None => JobOutcome::Failed {
                    error: format!("no handler for job kind {}", job.kind),
                },
            };
            self.jobs.finish_job(job, outcome).await?;
            ran += 1;
        }
        Ok(ran)
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
