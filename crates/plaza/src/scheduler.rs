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
use plaza_kernel::clock::{Clock, SandboxClock, Timestamp};
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

/// Steps one clock move takes at most. Each step runs the jobs due at one instant, so
/// this bounds a move that would otherwise never end (a job that keeps scheduling itself
/// inside the window); a day's move with a failing notification takes ~20 steps.
pub(crate) const TRAVEL_STEPS_MAX: usize = 100_000;

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
    /// One clock move at a time: two overlapping moves would pin the clock in turns.
    travelling: Mutex<()>,
}

/// What a clock move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Travelled {
    /// The clock's time once landed.
    pub(crate) now: Timestamp,
    /// Jobs run on the way.
    pub(crate) jobs_run: usize,
}

impl Scheduler {
    pub(crate) fn new(jobs: Arc<dyn JobStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            jobs,
            clock,
            handlers: HashMap::new(),
            running: Mutex::new(()),
            travelling: Mutex::new(()),
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

    /// Moves the sandbox clock to `target` the way waiting would: each job due by then
    /// runs in due order with the clock pinned at its due time (or at the time already
    /// reached, for one that was overdue), so everything it writes — records, transfers,
    /// events, the jobs it schedules — carries that time, and a job scheduled inside the
    /// window runs inside it too. Then the clock lands at `target` and flows again.
    ///
    /// The clock always lands, even when running jobs fails: time that was asked to move
    /// moves, and the jobs left are run by the background loop.
    pub(crate) async fn travel_to(
        &self,
        clock: &SandboxClock,
        target: Timestamp,
    ) -> Result<Travelled, QueueError> {
        let _travelling = self.travelling.lock().await;
        let mut jobs_run = 0;
        let mut steps = 0;
        let stepped = loop {
            let due = match self.jobs.next_due_at().await {
                Ok(Some(due)) if due <= target => due,
                Ok(_) => break Ok(()),
                Err(error) => break Err(error),
            };
            if steps == TRAVEL_STEPS_MAX {
                tracing::warn!(
                    steps,
                    "a clock move ran out of steps; the jobs left run after it"
                );
                break Ok(());
            }
            steps += 1;
            clock.pin(due);
            match self.run_due().await {
                Ok(ran) => jobs_run += ran,
                Err(error) => break Err(error),
            }
        };
        let now = clock.land(target);
        stepped.map(|()| Travelled { now, jobs_run })
    }

    /// At start in the sandbox: runs the jobs that came due while the server was down
    /// at their due times, as if it had been up (see [`Scheduler::travel_to`]), up to
    /// `now`, the instant the clock read before [`pin_for_catch_up`] pinned it.
    pub(crate) async fn catch_up(
        &self,
        clock: &SandboxClock,
        now: Timestamp,
    ) -> Result<usize, QueueError> {
        if clock.pinned_at().is_none() {
            return Ok(0);
        }
        Ok(self.travel_to(clock, now).await?.jobs_run)
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

/// At start in the sandbox, before anything writes: when a job came due while the
/// server was down, pins the clock at its due time (nothing has read the clock yet, so
/// this moves no reader back), so whatever the start writes and every job the catch-up
/// runs carry times in due order. Returns the clock's time before the pin, where
/// [`Scheduler::catch_up`] lands.
pub(crate) async fn pin_for_catch_up(
    clock: &SandboxClock,
    jobs: &dyn JobStore,
) -> Result<Timestamp, QueueError> {
    let now = clock.now();
    if let Some(due) = jobs.next_due_at().await?
        && due < now
    {
        clock.pin_before_start(due);
    }
    Ok(now)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap is that failure"
)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use plaza_kernel::clock::ManualClock;
    use plaza_kernel::queue::NewJob;
    use plaza_ledger::{LedgerStore, WriteSet};
    use plaza_store::{Backend, SqliteOptions, Store};

    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay_ms(1), 1_000);
        assert_eq!(retry_delay_ms(2), 2_000);
        assert_eq!(retry_delay_ms(5), 16_000);
        assert_eq!(retry_delay_ms(30), 3_600_000);
    }

    /// Records the clock's time at each run; a job whose payload is a number of
    /// milliseconds schedules a follow-up that much later.
    struct Recorder {
        store: Store,
        clock: Arc<dyn Clock>,
        runs: StdMutex<Vec<(String, Timestamp)>>,
    }

    impl JobHandler for Recorder {
        fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
            Box::pin(async move {
                let now = self.clock.now();
                self.runs.lock().unwrap().push((job.key.clone(), now));
                if let Ok(later_ms) = job.payload.parse::<i64>() {
                    let follow_up = new_job(&format!("{}+", job.key), now.plus_ms(later_ms));
                    self.store
                        .commit(WriteSet {
                            jobs: vec![follow_up],
                            ..WriteSet::default()
                        })
                        .await
                        .map_err(|error| error.to_string())?;
                }
                Ok(())
            })
        }
    }

    fn new_job(key: &str, due_at: Timestamp) -> NewJob {
        NewJob {
            kind: "test.record".to_owned(),
            key: key.to_owned(),
            payload: String::new(),
            due_at,
        }
    }

    async fn scheduler_with(
        dir: &std::path::Path,
        clock: Arc<dyn Clock>,
        jobs: Vec<NewJob>,
    ) -> (Scheduler, Arc<Recorder>) {
        let backend = Backend::Sqlite(SqliteOptions::new(dir.join("test.sqlite3")));
        let store = Store::open(&backend, clock.clone()).await.unwrap();
        store
            .commit(WriteSet {
                jobs,
                ..WriteSet::default()
            })
            .await
            .unwrap();
        let recorder = Arc::new(Recorder {
            store: store.clone(),
            clock: clock.clone(),
            runs: StdMutex::default(),
        });
        let mut scheduler = Scheduler::new(Arc::new(store), clock);
        scheduler.register("test.record", recorder.clone());
        (scheduler, recorder)
    }

    #[tokio::test]
    async fn in_production_a_job_missed_while_down_is_booked_when_it_really_runs() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_unix_ms(1_900_000_000_000);
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
        let missed = new_job("settle", now.plus_ms(-6 * HOUR_MS));
        let (scheduler, recorder) = scheduler_with(dir.path(), clock, vec![missed]).await;
        assert_eq!(scheduler.run_due().await.unwrap(), 1);
        assert_eq!(
            *recorder.runs.lock().unwrap(),
            vec![("settle".to_owned(), now)]
        );
    }

    #[tokio::test]
    async fn a_clock_move_runs_each_job_at_its_due_time_and_what_they_schedule_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(SandboxClock::new());
        let start = clock.now();
        let mut chained = new_job("first", start.plus_ms(HOUR_MS));
        chained.payload = (HOUR_MS / 2).to_string();
        let jobs = vec![
            new_job("later", start.plus_ms(5 * HOUR_MS)),
            chained,
            new_job("beyond", start.plus_ms(30 * HOUR_MS)),
        ];
        let (scheduler, recorder) = scheduler_with(dir.path(), clock.clone(), jobs).await;
        let target = start.plus_ms(24 * HOUR_MS);
        let travelled = scheduler.travel_to(&clock, target).await.unwrap();
        assert_eq!(travelled.jobs_run, 3);
        assert!(travelled.now >= target);
        assert_eq!(
            clock.pinned_at(),
            None,
            "the clock flows again after the move"
        );
        assert_eq!(
            *recorder.runs.lock().unwrap(),
            vec![
                ("first".to_owned(), start.plus_ms(HOUR_MS)),
                ("first+".to_owned(), start.plus_ms(HOUR_MS + HOUR_MS / 2)),
                ("later".to_owned(), start.plus_ms(5 * HOUR_MS)),
            ]
        );
    }

    #[tokio::test]
    async fn in_the_sandbox_jobs_missed_while_down_run_at_their_due_times_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(SandboxClock::new());
        let now = clock.now();
        let jobs = vec![
            new_job("missed-early", now.plus_ms(-5 * HOUR_MS)),
            new_job("missed-late", now.plus_ms(-HOUR_MS)),
            new_job("future", now.plus_ms(HOUR_MS)),
        ];
        let (scheduler, recorder) = scheduler_with(dir.path(), clock.clone(), jobs).await;
        let before = pin_for_catch_up(&clock, scheduler.jobs.as_ref())
            .await
            .unwrap();
        assert_eq!(
            clock.now(),
            now.plus_ms(-5 * HOUR_MS),
            "pinned at the first"
        );
        assert_eq!(scheduler.catch_up(&clock, before).await.unwrap(), 2);
        assert_eq!(
            *recorder.runs.lock().unwrap(),
            vec![
                ("missed-early".to_owned(), now.plus_ms(-5 * HOUR_MS)),
                ("missed-late".to_owned(), now.plus_ms(-HOUR_MS)),
            ]
        );
        assert!(clock.now() >= now);
        assert_eq!(clock.pinned_at(), None);
    }
}
