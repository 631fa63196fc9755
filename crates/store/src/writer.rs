//! The group-commit writer's mailbox, shared by both backends.
//!
//! Submitters send a [`Command`] with a reply slot and wait. The writer takes the first
//! waiting command, then everything else already queued (up to
//! [`COMMIT_TRANSFERS_MAX`] transfers), plans the whole group in memory, writes it in one
//! transaction, and only after the commit returns answers every submitter. While one
//! group commits, the next one queues up: the busier the store, the larger the groups
//! and the fewer the fsyncs per transfer.

use std::time::Instant;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::limits::{COMMIT_TRANSFERS_MAX, WRITER_QUEUE_LEN_MAX};
use plaza_kernel::queue::QueueError;
use plaza_ledger::LedgerError;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::StoreMetrics;
use crate::plan::{Answer, Command, GroupRows, Loaded, Needs, NextIds, WriterCache, needs, plan};

/// One submission waiting for the writer.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) command: Command,
    pub(crate) reply: oneshot::Sender<Answer>,
}

/// What arrives in the writer's mailbox.
#[derive(Debug)]
pub(crate) enum Message {
    Request(Request),
    /// Finish everything queued, then stop and say so.
    Shutdown(oneshot::Sender<()>),
}

/// The submitters' end of the mailbox.
#[derive(Debug, Clone)]
pub(crate) struct WriterHandle {
    sender: mpsc::Sender<Message>,
}

pub(crate) fn mailbox() -> (WriterHandle, mpsc::Receiver<Message>) {
    let (sender, receiver) = mpsc::channel(WRITER_QUEUE_LEN_MAX);
    (WriterHandle { sender }, receiver)
}

const STOPPED: &str = "the store is shutting down";

impl WriterHandle {
    /// Sends a command and waits for its durable answer.
    pub(crate) async fn call(&self, command: Command) -> Option<Answer> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Message::Request(Request { command, reply }))
            .await
            .ok()?;
        answer.await.ok()
    }

    pub(crate) async fn ledger(&self, command: Command) -> Result<Answer, LedgerError> {
        self.call(command).await.ok_or(LedgerError::Unavailable {
            reason: STOPPED.to_owned(),
        })
    }

    pub(crate) async fn queue(&self, command: Command) -> Result<(), QueueError> {
        match self.call(command).await {
            Some(Answer::Queue(result)) => result,
            Some(_) => Err(QueueError::Unavailable {
                reason: "the writer answered a queue command with another kind of answer"
                    .to_owned(),
            }),
            None => Err(QueueError::Unavailable {
                reason: STOPPED.to_owned(),
            }),
        }
    }

    /// Asks the writer to finish what is queued and stop; returns once it has.
    pub(crate) async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.sender.send(Message::Shutdown(reply)).await.is_ok() {
            let _stopped = done.await;
        }
    }
}

fn transfers_in(command: &Command) -> usize {
    match command {
        Command::Commit(write) => write
            .batch
            .as_ref()
            .map_or(0, |batch| batch.transfers().len()),
        _ => 0,
    }
}

/// A group taken from the mailbox, and whether a shutdown was asked for.
pub(crate) struct Group {
    pub(crate) requests: Vec<Request>,
    pub(crate) shutdown_replies: Vec<oneshot::Sender<()>>,
}

impl Group {
    fn take(&mut self, message: Message, receiver: &mut mpsc::Receiver<Message>) -> usize {
        match message {
            Message::Request(request) => {
                let transfers = transfers_in(&request.command);
                self.requests.push(request);
                transfers
            }
            Message::Shutdown(reply) => {
                // No new submissions from now on; what is already queued still runs.
                receiver.close();
                self.shutdown_replies.push(reply);
                0
            }
        }
    }

    /// Adds whatever is already queued, up to the group's transfer limit.
    pub(crate) fn gather(first: Message, receiver: &mut mpsc::Receiver<Message>) -> Self {
        let mut group = Self {
            requests: Vec::new(),
            shutdown_replies: Vec::new(),
        };
        let mut transfers = group.take(first, receiver);
        while transfers < COMMIT_TRANSFERS_MAX {
            match receiver.try_recv() {
                Ok(message) => transfers += group.take(message, receiver),
                Err(_) => break,
            }
        }
        group
    }
}

/// What a backend does for the writer: look rows up and write a group's rows in one
/// durable transaction. The SQLite backend runs this on its own thread, PostgreSQL on a
/// task; both share [`run_group`]'s logic through [`GroupSteps`].
pub(crate) struct GroupSteps {
    pub(crate) commands: Vec<Command>,
    pub(crate) replies: Vec<oneshot::Sender<Answer>>,
    started: Instant,
}

impl GroupSteps {
    pub(crate) fn new(requests: Vec<Request>) -> Self {
        let (commands, replies) = requests
            .into_iter()
            .map(|request| (request.command, request.reply))
            .unzip();
        Self {
            commands,
            replies,
            started: Instant::now(),
        }
    }

    pub(crate) fn needs(&self, cache: &WriterCache) -> Needs {
        needs(&self.commands, cache)
    }

    pub(crate) fn plan(
        &self,
        loaded: Loaded,
        cache: &mut WriterCache,
        next: &mut NextIds,
        now: Timestamp,
    ) -> (Vec<Answer>, GroupRows) {
        plan(&self.commands, loaded, cache, next, now)
    }

    /// The answers of a committed group, to be sent once the commit is durable.
    pub(crate) fn acknowledgement(
        self,
        answers: Vec<Answer>,
        facts: GroupFacts,
    ) -> Acknowledgement {
        Acknowledgement {
            replies: self.replies,
            answers,
            started: self.started,
            facts,
        }
    }

    /// Answers every submitter with an error: nothing of the group was applied.
    pub(crate) fn fail(self, reason: &str, metrics: &StoreMetrics) {
        metrics.commands.inc_by(self.commands.len() as u64);
        metrics.commit_failures.inc();
        tracing::error!(%reason, commands = self.commands.len(), "group commit failed");
        for (reply, command) in self.replies.into_iter().zip(&self.commands) {
            let _ignored = reply.send(failure(command, reason));
        }
    }
}

/// What a committed group wrote, for metrics and the outbox's durable horizon.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupFacts {
    pub(crate) transfers_written: usize,
    /// The highest outbox sequence number the group wrote, if it wrote events.
    pub(crate) last_event_seq: Option<i64>,
}

impl GroupFacts {
    pub(crate) fn of(rows: &GroupRows) -> Self {
        Self {
            transfers_written: rows.transfers.len(),
            last_event_seq: rows.events.last().map(|event| event.seq),
        }
    }
}

/// The answers of a committed group, held until its commit is durable.
#[derive(Debug)]
pub(crate) struct Acknowledgement {
    replies: Vec<oneshot::Sender<Answer>>,
    answers: Vec<Answer>,
    started: Instant,
    pub(crate) facts: GroupFacts,
}

impl Acknowledgement {
    /// Answers every submitter of the group; call only once the commit is durable.
    pub(crate) fn send(self, metrics: &StoreMetrics) {
        metrics.commands.inc_by(self.replies.len() as u64);
        metrics.commits.inc();
        metrics
            .transfers
            .inc_by(self.facts.transfers_written as u64);
        metrics.group_commands.observe(self.replies.len() as f64);
        metrics
            .commit_seconds
            .observe(self.started.elapsed().as_secs_f64());
        for (reply, answer) in self.replies.into_iter().zip(self.answers) {
            // A submitter that stopped waiting (timeout, disconnect) is not an error:
            // its write is durable and a retry with the same id will see it.
            let _ignored = reply.send(answer);
        }
    }

    /// Answers every submitter with an error: the commit could not be made durable.
    pub(crate) fn fail(self, reason: &str, metrics: &StoreMetrics) {
        metrics.commands.inc_by(self.replies.len() as u64);
        metrics.commit_failures.inc();
        for (reply, answer) in self.replies.into_iter().zip(self.answers) {
            let failed = match answer {
                Answer::Committed(_) => Answer::Committed(Err(LedgerError::Unavailable {
                    reason: reason.to_owned(),
                })),
                Answer::Account(_) => Answer::Account(Err(LedgerError::Unavailable {
                    reason: reason.to_owned(),
                })),
                Answer::Queue(_) => Answer::Queue(Err(QueueError::Unavailable {
                    reason: reason.to_owned(),
                })),
            };
            let _ignored = reply.send(failed);
        }
    }
}

fn failure(command: &Command, reason: &str) -> Answer {
    let reason = reason.to_owned();
    match command {
        Command::Commit(_) => Answer::Committed(Err(LedgerError::Unavailable { reason })),
        Command::OpenAccount(_) => Answer::Account(Err(LedgerError::Unavailable { reason })),
        Command::AckEvents { .. } | Command::FinishJob { .. } | Command::SetMeta { .. } => {
            Answer::Queue(Err(QueueError::Unavailable { reason }))
        }
    }
}
