//! The scale-out backend: PostgreSQL (and PostgreSQL-wire databases) through
//! tokio-postgres.
//!
//! The writer is a task that owns one connection and holds a session advisory lock, so
//! a second Plaza cannot write to the same database. Each group is written with a few
//! set-based statements (`UNNEST` of arrays), not a statement per row: a group of 500
//! transfers costs about five round trips and one WAL flush. Reads use a second
//! connection, on which tokio-postgres pipelines concurrent queries.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::queue::{Event, Job, JobState};
use plaza_kernel::record::{IndexEntry, IndexRange, IndexedRecord, Record};
use plaza_ledger::{Account, AccountAudit, AccountKind, HistoryPage, Transfer};
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::DurableHorizon;
use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::plan::{
    Answer, CachedAccount, GroupRows, Loaded, Needs, NextIds, RecordRow, WriterCache,
};
use crate::sql::{BALANCE_OF_A, account_select, history_page};
use crate::writer::{Group, GroupFacts, GroupSteps, Message};

/// How the PostgreSQL backend is reached.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// A `postgres://user[:password]@host[:port]/database` URL.
    pub url: String,
}

/// The advisory lock key that marks "a plaza writer holds this database" ("plaza" in
/// ASCII).
const WRITER_LOCK_KEY: i64 = 0x70_6c_61_7a_61;

/// How often, and how many more times, opening asks for a writer lock that another
/// session holds before it answers InUse: about two seconds in all. A session whose client
/// has gone is usually ended within milliseconds, but a loaded server can take longer.
const LOCK_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);
const LOCK_RETRIES_MAX: u32 = 40;

/// How long a stopping writer waits for the database to take the writer lock back and
/// end its session, so that a database that stopped answering cannot hold up a shutdown.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

const MIGRATIONS: &[&str] = &[
    // 1: ledger, outbox, jobs.
    "
    CREATE TABLE ledger_accounts (
        row_id BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        currency TEXT NOT NULL,
        floor_minor BIGINT,
        created_at_ms BIGINT NOT NULL
    );
    CREATE TABLE ledger_transfers (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        from_row BIGINT NOT NULL,
        to_row BIGINT NOT NULL,
        amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
        currency TEXT NOT NULL,
        memo TEXT NOT NULL,
        from_balance_after_minor BIGINT NOT NULL,
        to_balance_after_minor BIGINT NOT NULL,
        committed_at_ms BIGINT NOT NULL
    );
    CREATE INDEX ledger_transfers_from ON ledger_transfers (from_row, seq);
    CREATE INDEX ledger_transfers_to ON ledger_transfers (to_row, seq);
    CREATE TABLE outbox_events (
        seq BIGINT PRIMARY KEY,
        topic TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL
    );
    CREATE TABLE outbox_cursors (
        consumer TEXT PRIMARY KEY,
        seq BIGINT NOT NULL
    );
    CREATE TABLE jobs (
        id BIGINT PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        due_at_ms BIGINT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        last_error TEXT,
        created_at_ms BIGINT NOT NULL,
        finished_at_ms BIGINT,
        UNIQUE (kind, key)
    );
    CREATE INDEX jobs_pending_due ON jobs (due_at_ms, id) WHERE state = 'pending';
    ",
    // 2: domain records and their indexes. Index values compare byte-wise (\"C\").
    "
    CREATE TABLE records (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        index_entries TEXT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE record_index (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT COLLATE \"C\" NOT NULL,
        key TEXT COLLATE \"C\" NOT NULL,
        PRIMARY KEY (kind, name, value, key)
    );
    ",
    // 3: the outbox read by topic and key, as logs of their own (a corp's session archive).
    "
    CREATE INDEX outbox_events_topic_key ON outbox_events (topic, key, seq);
    ",
];

/// The URL without its password, for messages.
fn location(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{}:{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        port,
        config.get_dbname().unwrap_or("")
    )
}

/// Connects; the connection runs on its own task, which ends once the client is dropped
/// and the session's goodbye has been sent.
async fn connect(
    config: &tokio_postgres::Config,
    location: &str,
) -> Result<(Client, tokio::task::JoinHandle<()>), StoreError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|error| StoreError::Open {
            location: location.to_owned(),
            reason: error.to_string(),
        })?;
    let task = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::error!(%error, "postgres connection closed");
        }
    });
    Ok((client, task))
}

/// An outbox row selected as `seq, topic, key, payload, created_at_ms`.
fn event_of_row(row: &Row) -> Event {
    Event {
        seq: row.get(0),
        topic: row.get(1),
        key: row.get(2),
        payload: row.get(3),
        created_at: Timestamp::from_unix_ms(row.get(4)),
    }
}

fn db_error(error: tokio_postgres::Error) -> StoreError {
    StoreError::unavailable(error)
}

async fn migrate(client: &mut Client, location: &str) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS plaza_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )
        .await
        .map_err(db_error)?;
    let found: i64 = client
        .query_opt(
            "SELECT value FROM plaza_meta WHERE key = 'schema_version'",
            &[],
        )
        .await
        .map_err(db_error)?
        .and_then(|row| row.get::<_, String>(0).parse().ok())
        .unwrap_or(0);
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(StoreError::NewerSchema {
            location: location.to_owned(),
            found,
            supported,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let failed = |error: tokio_postgres::Error| StoreError::Migration {
            version,
            reason: error.to_string(),
        };
        let tx = client.transaction().await.map_err(failed)?;
        tx.batch_execute(sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO plaza_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&version.to_string()],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(version, "postgres schema migrated");
    }
    Ok(())
}

async fn next_ids(client: &Client) -> Result<NextIds, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT (SELECT COALESCE(MAX(row_id), 0) + 1 FROM ledger_accounts), \
                    (SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger_transfers), \
                    (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_events), \
                    (SELECT COALESCE(MAX(id), 0) + 1 FROM jobs)",
            &[],
        )
        .await?;
    Ok(NextIds {
        account_row: row.get(0),
        transfer_seq: row.get(1),
        event_seq: row.get(2),
        job_id: row.get(3),
    })
}

/// Takes the writer lock, asking again for a short while if another session holds it:
/// that session may be one whose client has gone (a killed Plaza, a store dropped without
/// `close`), which keeps its locks until the server has ended it. A running Plaza keeps the
/// lock for good and is reported after the last try, with the session that holds it.
async fn take_writer_lock(client: &Client, location: &str) -> Result<(), StoreError> {
    for attempt in 0..=LOCK_RETRIES_MAX {
        if attempt > 0 {
            tokio::time::sleep(LOCK_RETRY_INTERVAL).await;
        }
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK_KEY])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        if locked {
            if attempt > 0 {
                tracing::info!(attempt, "the writer lock's previous holder went away");
            }
            return Ok(());
        }
    }
    Err(StoreError::InUse {
        location: location.to_owned(),
        holder: lock_holder(client).await,
    })
}

/// The session holding the writer lock, in words, if the server tells (it shows another
/// role's sessions only to roles allowed to see them).
async fn lock_holder(client: &Client) -> Option<String> {
    // pg_locks shows a bigint advisory key as its high and low 32 bits.
    let row = client
        .query_opt(
            "SELECT a.pid, COALESCE(a.application_name, ''), \
                    COALESCE(host(a.client_addr), 'a local socket'), \
                    COALESCE(date_trunc('second', a.backend_start)::text, 'an unknown time') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid::bigint = ($1::bigint >> 32) AND l.objid::bigint = ($1::bigint & 4294967295)",
            &[&WRITER_LOCK_KEY],
        )
        .await
        .inspect_err(|error| tracing::debug!(%error, "finding the writer lock's holder failed"))
        .ok()??;
    let pid: i32 = row.try_get(0).ok()?;
    let application: String = row.try_get(1).ok()?;
    let client_addr: String = row.try_get(2).ok()?;
    let since: String = row.try_get(3).ok()?;
    let named = if application.is_empty() {
        String::new()
    } else {
        format!("{application:?}, ")
    };
    Some(format!(
        "PostgreSQL session {pid} ({named}from {client_addr}, connected since {since})"
    ))
}

/// Connects, takes the writer lock, migrates and starts the writer task.
pub(crate) async fn open(
    options: &PostgresOptions,
    clock: Arc<dyn Clock>,
    metrics: StoreMetrics,
    horizon: DurableHorizon,
    receiver: mpsc::Receiver<Message>,
) -> Result<(PgReaders, tokio::task::JoinHandle<()>), StoreError> {
    let mut config =
        tokio_postgres::Config::from_str(&options.url).map_err(|error| StoreError::Open {
            location: "the --database-url".to_owned(),
            reason: error.to_string(),
        })?;
    if config.get_application_name().is_none() {
        // What an operator sees in pg_stat_activity, and what InUse names.
        config.application_name("plaza");
    }
    let location = location(&config);
    let (mut client, connection) = connect(&config, &location).await?;
    take_writer_lock(&client, &location).await?;
    migrate(&mut client, &location).await?;
    let next = next_ids(&client).await.map_err(db_error)?;
    horizon.advance(next.event_seq - 1);
    let statements = Statements::prepare(&client).await.map_err(db_error)?;
    let readers = PgReaders {
        client: Arc::new(connect(&config, &location).await?.0),
        horizon: horizon.clone(),
    };
    let writer = PgWriter {
        client,
        connection,
        statements,
        cache: WriterCache::default(),
        next,
        clock,
        metrics,
        horizon,
    };
    let task = tokio::spawn(writer.run(receiver));
    Ok((readers, task))
}

const TRANSFER_SELECT: &str = "SELECT t.seq, t.id, fa.id, ta.id, t.amount_minor, \
     t.currency, t.memo, t.from_balance_after_minor, t.to_balance_after_minor, t.committed_at_ms \
     FROM ledger_transfers t \
     JOIN ledger_accounts fa ON fa.row_id = t.from_row \
     JOIN ledger_accounts ta ON ta.row_id = t.to_row";

fn bad_value(column: &str, value: &str) -> StoreError {
    StoreError::Unavailable {
        reason: format!("column {column} holds {value:?}, which plaza cannot read"),
    }
}

fn account_id(text: String) -> Result<AccountId, StoreError> {
    AccountId::parse(text.clone()).map_err(|_| bad_value("account id", &text))
}

fn currency(text: &str) -> Result<Currency, StoreError> {
    Currency::parse(text).map_err(|_| bad_value("currency", text))
}

fn transfer_from_row(row: &Row) -> Result<Transfer, StoreError> {
    let id: String = row.try_get(1).map_err(db_error)?;
    Ok(Transfer {
        seq: row.try_get(0).map_err(db_error)?,
        id: TransferId::parse(id.clone()).map_err(|_| bad_value("transfer id", &id))?,
        from: account_id(row.try_get(2).map_err(db_error)?)?,
        to: account_id(row.try_get(3).map_err(db_error)?)?,
        amount_minor: row.try_get(4).map_err(db_error)?,
        currency: currency(row.try_get(5).map_err(db_error)?)?,
        memo: row.try_get(6).map_err(db_error)?,
        from_balance_after_minor: row.try_get(7).map_err(db_error)?,
        to_balance_after_minor: row.try_get(8).map_err(db_error)?,
        committed_at: Timestamp::from_unix_ms(row.try_get(9).map_err(db_error)?),
    })
}

fn account_from_row(row: &Row) -> Result<CachedAccount, StoreError> {
    let kind: String = row.try_get(2).map_err(db_error)?;
    Ok(CachedAccount {
        row: row.try_get(0).map_err(db_error)?,
        account: Account {
            id: account_id(row.try_get(1).map_err(db_error)?)?,
            kind: AccountKind::parse(&kind).ok_or_else(|| bad_value("kind", &kind))?,
            currency: currency(row.try_get(3).map_err(db_error)?)?,
            floor_minor: row.try_get(4).map_err(db_error)?,
            balance_minor: row.try_get(5).map_err(db_error)?,
            created_at: Timestamp::from_unix_ms(row.try_get(6).map_err(db_error)?),
        },
    })
}

const JOB_COLUMNS: &str = "id, kind, key, payload, due_at_ms, attempts, state, last_error";

fn record_from_row(row: &Row) -> Record {
    Record {
        kind: row.get(0),
        key: row.get(1),
        version: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
        body: row.get(3),
        updated_at: Timestamp::from_unix_ms(row.get(4)),
    }
}

fn job_from_row(row: &Row) -> Result<Job, StoreError> {
    let state: String = row.try_get(6).map_err(db_error)?;
    let attempts: i64 = row.try_get(5).map_err(db_error)?;
    Ok(Job {
        id: row.try_get(0).map_err(db_error)?,
        kind: row.try_get(1).map_err(db_error)?,
        key: row.try_get(2).map_err(db_error)?,
        payload: row.try_get(3).map_err(db_error)?,
        due_at: Timestamp::from_unix_ms(row.try_get(4).map_err(db_error)?),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        state: JobState::parse(&state).ok_or_else(|| bad_value("state", &state))?,
        last_error: row.try_get(7).map_err(db_error)?,
    })
}

/// The writer's statements, prepared once.
struct Statements {
    load_transfers: Statement,
    load_accounts: Statement,
    load_jobs: Statement,
    insert_accounts: Statement,
    insert_transfers: Statement,
    insert_events: Statement,
    insert_jobs: Statement,
    update_job: Statement,
    upsert_cursor: Statement,
    upsert_meta: Statement,
    load_records: Statement,
    upsert_records: Statement,
    remove_record_index: Statement,
    insert_record_index: Statement,
}

impl Statements {
    #[expect(
        clippy::too_many_lines,
        reason = "one prepared statement per line, all the writer needs"
    )]
    async fn prepare(client: &Client) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            load_transfers: client
                .prepare(&format!("{TRANSFER_SELECT} WHERE t.id = ANY($1::text[])"))
                .await?,
            load_accounts: client
                .prepare(&format!("{} WHERE a.id = ANY($1::text[])", account_select()))
                .await?,
            load_jobs: client
                .prepare(
                    "SELECT j.id, j.kind, j.key FROM jobs j \
                     JOIN UNNEST($1::text[], $2::text[]) AS k(kind, key) \
                       ON j.kind = k.kind AND j.key = k.key",
                )
                .await?,
            insert_accounts: client
                .prepare(
                    "INSERT INTO ledger_accounts (row_id, id, kind, currency, floor_minor, created_at_ms) \
                     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], \
                                          $5::int8[], $6::int8[])",
                )
                .await?,
            insert_transfers: client
                .prepare(
                    "INSERT INTO ledger_transfers (seq, id, from_row, to_row, amount_minor, \
                       currency, memo, from_balance_after_minor, to_balance_after_minor, committed_at_ms) \
                     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[], \
                                          $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[])",
                )
                .await?,
            insert_events: client
                .prepare(
                    "INSERT INTO outbox_events (seq, topic, key, payload, created_at_ms) \
                     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[])",
                )
                .await?,
            insert_jobs: client
                .prepare(
                    "INSERT INTO jobs (id, kind, key, payload, due_at_ms, state, created_at_ms) \
                     SELECT id, kind, key, payload, due_at_ms, 'pending', created_at_ms \
                     FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[]) \
                       AS j(id, kind, key, payload, due_at_ms, created_at_ms)",
                )
                .await?,
            update_job: client
                .prepare(
                    "UPDATE jobs SET state = $2, due_at_ms = $3, attempts = $4, last_error = $5, \
                     finished_at_ms = $6 WHERE id = $1",
                )
                .await?,
            upsert_cursor: client
                .prepare(
                    "INSERT INTO outbox_cursors (consumer, seq) VALUES ($1, $2) \
                     ON CONFLICT (consumer) DO UPDATE SET seq = GREATEST(outbox_cursors.seq, excluded.seq)",
                )
                .await?,
            upsert_meta: client
                .prepare(
                    "INSERT INTO plaza_meta (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .await?,
            load_records: client
                .prepare(
                    "SELECT r.kind, r.key, r.version, r.index_entries FROM records r \
                     JOIN UNNEST($1::text[], $2::text[]) AS k(kind, key) \
                       ON r.kind = k.kind AND r.key = k.key",
                )
                .await?,
            upsert_records: client
                .prepare(
                    "INSERT INTO records (kind, key, version, body, index_entries, updated_at_ms) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], \
                                          $5::text[], $6::int8[]) \
                     ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, \
                       body = excluded.body, index_entries = excluded.index_entries, \
                       updated_at_ms = excluded.updated_at_ms",
                )
                .await?,
            remove_record_index: client
                .prepare(
                    "DELETE FROM record_index i \
                     USING UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS d(kind, name, value, key) \
                     WHERE i.kind = d.kind AND i.name = d.name AND i.value = d.value AND i.key = d.key",
                )
                .await?,
            insert_record_index: client
                .prepare(
                    "INSERT INTO record_index (kind, name, value, key) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])",
                )
                .await?,
        })
    }
}

struct PgWriter {
    client: Client,
    /// The task running `client`'s connection.
    connection: tokio::task::JoinHandle<()>,
    statements: Statements,
    cache: WriterCache,
    next: NextIds,
    clock: Arc<dyn Clock>,
    metrics: StoreMetrics,
    horizon: DurableHorizon,
}

impl PgWriter {
    async fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        let mut shutdown_replies = Vec::new();
        while let Some(first) = receiver.recv().await {
            let group = Group::gather(first, &mut receiver);
            shutdown_replies.extend(group.shutdown_replies);
            if !group.requests.is_empty() {
                self.run_group(GroupSteps::new(group.requests)).await;
            }
        }
        self.release().await;
        for reply in shutdown_replies {
            let _ignored = reply.send(());
        }
    }

    /// Gives the writer lock back and ends the session. Dropping the client alone would
    /// leave the lock to the server, which frees it only when it gets round to ending the
    /// session, after this task has finished: a store opened right after `close` could
    /// still find it held.
    async fn release(self) {
        let Self {
            client,
            connection,
            statements,
            ..
        } = self;
        let released = tokio::time::timeout(RELEASE_WAIT, async move {
            match client
                .query_one("SELECT pg_advisory_unlock($1)", &[&WRITER_LOCK_KEY])
                .await
                .and_then(|row| row.try_get::<_, bool>(0))
            {
                Ok(true) => {}
                Ok(false) => tracing::warn!("the writer lock was not held when the writer stopped"),
                Err(error) => tracing::warn!(
                    %error,
                    "giving the writer lock back failed; the server frees it when it ends the session"
                ),
            }
            drop(statements);
            drop(client);
            let _ended = connection.await;
        })
        .await;
        if released.is_err() {
            tracing::warn!(
                wait_ms = RELEASE_WAIT.as_millis() as u64,
                "the database did not answer the writer's goodbye; the server frees the writer lock when it ends the session"
            );
        }
    }

    async fn run_group(&mut self, steps: GroupSteps) {
        self.cache.trim();
        match self.plan_and_write(&steps).await {
            Ok((answers, facts)) => {
                // PostgreSQL's commit returns once its WAL is flushed: durable now.
                if let Some(seq) = facts.last_event_seq {
                    self.horizon.advance(seq);
                }
                steps.acknowledgement(answers, facts).send(&self.metrics);
            }
            Err(reason) => {
                self.cache.clear();
                match next_ids(&self.client).await {
                    Ok(next) => self.next = next,
                    Err(error) => tracing::error!(%error, "rereading sequence numbers failed"),
                }
                steps.fail(&reason, &self.metrics);
            }
        }
    }

    async fn plan_and_write(
        &mut self,
        steps: &GroupSteps,
    ) -> Result<(Vec<Answer>, GroupFacts), String> {
        let needs = steps.needs(&self.cache);
        let loaded = self.load(needs).await.map_err(|e| e.to_string())?;
        let now = self.clock.now();
        let (answers, rows) = steps.plan(loaded, &mut self.cache, &mut self.next, now);
        if !rows.is_empty() {
            self.write(&rows).await.map_err(|e| e.to_string())?;
        }
        Ok((answers, GroupFacts::of(&rows)))
    }

    async fn load(&mut self, needs: Needs) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded::default();
        if !needs.transfer_ids.is_empty() {
            let ids: Vec<&str> = needs.transfer_ids.iter().map(TransferId::as_str).collect();
            for row in self
                .client
                .query(&self.statements.load_transfers, &[&ids])
                .await
                .map_err(db_error)?
            {
                let transfer = transfer_from_row(&row)?;
                loaded.transfers.insert(transfer.id.clone(), transfer);
            }
        }
        if !needs.account_ids.is_empty() {
            let ids: Vec<&str> = needs.account_ids.iter().map(AccountId::as_str).collect();
            for row in self
                .client
                .query(&self.statements.load_accounts, &[&ids])
                .await
                .map_err(db_error)?
            {
                self.cache.insert(account_from_row(&row)?);
            }
        }
        if !needs.job_keys.is_empty() {
            let (kinds, keys): (Vec<&str>, Vec<&str>) = needs
                .job_keys
                .iter()
                .map(|(kind, key)| (kind.as_str(), key.as_str()))
                .unzip();
            let mut found = HashMap::new();
            for row in self
                .client
                .query(&self.statements.load_jobs, &[&kinds, &keys])
                .await
                .map_err(db_error)?
            {
                found.insert(
                    (row.get::<_, String>(1), row.get::<_, String>(2)),
                    row.get(0),
                );
            }
            loaded.jobs = found;
        }
        if !needs.record_keys.is_empty() {
            let (kinds, keys): (Vec<&str>, Vec<&str>) = needs
                .record_keys
                .iter()
                .map(|(kind, key)| (kind.as_str(), key.as_str()))
                .unzip();
            for row in self
                .client
                .query(&self.statements.load_records, &[&kinds, &keys])
                .await
                .map_err(db_error)?
            {
                let version: i64 = row.get(2);
                let entries: String = row.get(3);
                let entries = crate::plan::decode_index(&entries)
                    .ok_or_else(|| bad_value("records.index_entries", &entries))?;
                let id = (row.get::<_, String>(0), row.get::<_, String>(1));
                loaded
                    .record_versions
                    .insert(id.clone(), u64::try_from(version).unwrap_or(0));
                loaded.stored_index.insert(id, entries);
            }
        }
        Ok(loaded)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one batched statement per table of a group, in the order the transaction writes them"
    )]
    async fn write(&mut self, rows: &GroupRows) -> Result<(), tokio_postgres::Error> {
        let statements = &self.statements;
        let tx = self.client.transaction().await?;
        if !rows.new_accounts.is_empty() {
            let accounts = &rows.new_accounts;
            let row_ids: Vec<i64> = accounts.iter().map(|a| a.row).collect();
            let ids: Vec<&str> = accounts.iter().map(|a| a.account.id.as_str()).collect();
            let kinds: Vec<&str> = accounts.iter().map(|a| a.account.kind.as_str()).collect();
            let currencies: Vec<&str> = accounts
                .iter()
                .map(|a| a.account.currency.as_str())
                .collect();
            let floors: Vec<Option<i64>> = accounts.iter().map(|a| a.account.floor_minor).collect();
            let created: Vec<i64> = accounts
                .iter()
                .map(|a| a.account.created_at.unix_ms())
                .collect();
            tx.execute(
                &statements.insert_accounts,
                &[&row_ids, &ids, &kinds, &currencies, &floors, &created],
            )
            .await?;
        }
        if !rows.transfers.is_empty() {
            let transfers = &rows.transfers;
            let seqs: Vec<i64> = transfers.iter().map(|r| r.transfer.seq).collect();
            let ids: Vec<&str> = transfers.iter().map(|r| r.transfer.id.as_str()).collect();
            let from_rows: Vec<i64> = transfers.iter().map(|r| r.from_row).collect();
            let to_rows: Vec<i64> = transfers.iter().map(|r| r.to_row).collect();
            let amounts: Vec<i64> = transfers.iter().map(|r| r.transfer.amount_minor).collect();
            let currencies: Vec<&str> = transfers
                .iter()
                .map(|r| r.transfer.currency.as_str())
                .collect();
            let memos: Vec<&str> = transfers.iter().map(|r| r.transfer.memo.as_str()).collect();
            let from_after: Vec<i64> = transfers
                .iter()
                .map(|r| r.transfer.from_balance_after_minor)
                .collect();
            let to_after: Vec<i64> = transfers
                .iter()
                .map(|r| r.transfer.to_balance_after_minor)
                .collect();
            let committed: Vec<i64> = transfers
                .iter()
                .map(|r| r.transfer.committed_at.unix_ms())
                .collect();
            tx.execute(
                &statements.insert_transfers,
                &[
                    &seqs,
                    &ids,
                    &from_rows,
                    &to_rows,
                    &amounts,
                    &currencies,
                    &memos,
                    &from_after,
                    &to_after,
                    &committed,
                ],
            )
            .await?;
        }
        if !rows.events.is_empty() {
            let events = &rows.events;
            let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
            let topics: Vec<&str> = events.iter().map(|e| e.topic.as_str()).collect();
            let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
            let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
            let created: Vec<i64> = events.iter().map(|e| e.created_at.unix_ms()).collect();
            tx.execute(
                &statements.insert_events,
                &[&seqs, &topics, &keys, &payloads, &created],
            )
            .await?;
        }
        if !rows.jobs.is_empty() {
            let jobs = &rows.jobs;
            let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
            let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
            let keys: Vec<&str> = jobs.iter().map(|j| j.key.as_str()).collect();
            let payloads: Vec<&str> = jobs.iter().map(|j| j.payload.as_str()).collect();
            let due: Vec<i64> = jobs.iter().map(|j| j.due_at.unix_ms()).collect();
            let created: Vec<i64> = jobs.iter().map(|j| j.created_at.unix_ms()).collect();
            tx.execute(
                &statements.insert_jobs,
                &[&ids, &kinds, &keys, &payloads, &due, &created],
            )
            .await?;
        }
        for job in &rows.job_updates {
            tx.execute(
                &statements.update_job,
                &[
                    &job.id,
                    &job.state.as_str(),
                    &job.due_at.unix_ms(),
                    &i64::from(job.attempts),
                    &job.last_error,
                    &job.finished_at.map(Timestamp::unix_ms),
                ],
            )
            .await?;
        }
        for (consumer, seq) in &rows.cursor_acks {
            tx.execute(&statements.upsert_cursor, &[consumer, seq])
                .await?;
        }
        for (key, value) in &rows.meta {
            tx.execute(&statements.upsert_meta, &[key, value]).await?;
        }
        if !rows.records.is_empty() {
            let records = &rows.records;
            let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
            let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
            let versions: Vec<i64> = records
                .iter()
                .map(|r| i64::try_from(r.version).unwrap_or(i64::MAX))
                .collect();
            let bodies: Vec<&str> = records.iter().map(|r| r.body.as_str()).collect();
            let entries: Vec<String> = records
                .iter()
                .map(|r| crate::plan::encode_index(&r.index))
                .collect();
            let updated: Vec<i64> = records.iter().map(|r| r.updated_at.unix_ms()).collect();
            tx.execute(
                &statements.upsert_records,
                &[&kinds, &keys, &versions, &bodies, &entries, &updated],
            )
            .await?;
            let columns = |pick: fn(&RecordRow) -> &[IndexEntry]| {
                let mut columns: (Vec<&str>, Vec<&str>, Vec<&str>, Vec<&str>) = Default::default();
                for record in records {
                    for entry in pick(record) {
                        columns.0.push(record.kind.as_str());
                        columns.1.push(entry.name.as_str());
                        columns.2.push(entry.value.as_str());
                        columns.3.push(record.key.as_str());
                    }
                }
                columns
            };
            let removed = columns(|r| &r.index_removed);
            if !removed.0.is_empty() {
                tx.execute(
                    &statements.remove_record_index,
                    &[&removed.0, &removed.1, &removed.2, &removed.3],
                )
                .await?;
            }
            let added = columns(|r| &r.index_added);
            if !added.0.is_empty() {
                tx.execute(
                    &statements.insert_record_index,
                    &[&added.0, &added.1, &added.2, &added.3],
                )
                .await?;
            }
        }
        tx.commit().await
    }
}

/// The read connection.
#[derive(Clone)]
pub(crate) struct PgReaders {
    client: Arc<Client>,
    horizon: DurableHorizon,
}

impl std::fmt::Debug for PgReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgReaders").finish_non_exhaustive()
    }
}

impl PgReaders {
    pub(crate) async fn check(&self) -> Result<(), StoreError> {
        self.client
            .query_one("SELECT 1", &[])
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    pub(crate) async fn record(
        &self,
        kind: String,
        key: String,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self
            .client
            .query_opt(
                "SELECT kind, key, version, body, updated_at_ms FROM records \
                 WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )
            .await
            .map_err(db_error)?
            .map(|row| record_from_row(&row)))
    }

    pub(crate) async fn find_records(
        &self,
        kind: String,
        name: String,
        value: String,
        rows_max: usize,
    ) -> Result<Vec<Record>, StoreError> {
        Ok(self
            .client
            .query(
                "SELECT r.kind, r.key, r.version, r.body, r.updated_at_ms \
                 FROM record_index i JOIN records r ON r.kind = i.kind AND r.key = i.key \
                 WHERE i.kind = $1 AND i.name = $2 AND i.value = $3 ORDER BY i.key LIMIT $4",
                &[&kind, &name, &value, &(rows_max as i64)],
            )
            .await
            .map_err(db_error)?
            .iter()
            .map(record_from_row)
            .collect())
    }

    pub(crate) async fn record_range(
        &self,
        range: IndexRange,
    ) -> Result<Vec<IndexedRecord>, StoreError> {
        let (after_value, after_key) = range.after.clone().unwrap_or_default();
        let (past, order) = if range.newest_first {
            ("(i.value, i.key) < ($6, $7)", "DESC")
        } else {
            ("(i.value, i.key) > ($6, $7)", "ASC")
        };
        Ok(self
            .client
            .query(
                &format!(
                    "SELECT r.kind, r.key, r.version, r.body, r.updated_at_ms, i.value \
                     FROM record_index i JOIN records r ON r.kind = i.kind AND r.key = i.key \
                     WHERE i.kind = $1 AND i.name = $2 AND i.value >= $3 AND i.value < $4 \
                     AND (NOT $5 OR {past}) \
                     ORDER BY i.value {order}, i.key {order} LIMIT $8"
                ),
                &[
                    &range.kind,
                    &range.name,
                    &range.from,
                    &range.to,
                    &range.after.is_some(),
                    &after_value,
                    &after_key,
                    &(range.rows_max as i64),
                ],
            )
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| IndexedRecord {
                value: row.get(5),
                record: record_from_row(row),
            })
            .collect())
    }

    pub(crate) async fn meta(&self, key: String) -> Result<Option<String>, StoreError> {
        Ok(self
            .client
            .query_opt("SELECT value FROM plaza_meta WHERE key = $1", &[&key])
            .await
            .map_err(db_error)?
            .map(|row| row.get(0)))
    }

    pub(crate) async fn account(&self, id: String) -> Result<Option<Account>, StoreError> {
        self.client
            .query_opt(&format!("{} WHERE a.id = $1", account_select()), &[&id])
            .await
            .map_err(db_error)?
            .map(|row| account_from_row(&row).map(|cached| cached.account))
            .transpose()
    }

    pub(crate) async fn transfer(&self, id: String) -> Result<Option<Transfer>, StoreError> {
        self.client
            .query_opt(&format!("{TRANSFER_SELECT} WHERE t.id = $1"), &[&id])
            .await
            .map_err(db_error)?
            .map(|row| transfer_from_row(&row))
            .transpose()
    }

    pub(crate) async fn history(
        &self,
        id: String,
        before_seq: Option<i64>,
        rows_max: usize,
    ) -> Result<Option<HistoryPage>, StoreError> {
        let Some(row) = self
            .client
            .query_opt("SELECT row_id FROM ledger_accounts WHERE id = $1", &[&id])
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let row_id: i64 = row.get(0);
        let before = before_seq.unwrap_or(i64::MAX);
        let limit = rows_max as i64 + 1;
        let sql = format!(
            "{TRANSFER_SELECT} WHERE t.seq IN (\
               (SELECT seq FROM ledger_transfers WHERE from_row = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) \
               UNION ALL \
               (SELECT seq FROM ledger_transfers WHERE to_row = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3)) \
             ORDER BY t.seq DESC LIMIT $3"
        );
        let transfers = self
            .client
            .query(&sql, &[&row_id, &before, &limit])
            .await
            .map_err(db_error)?
            .iter()
            .map(transfer_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(history_page(transfers, rows_max)))
    }

    pub(crate) async fn audit(&self) -> Result<Vec<AccountAudit>, StoreError> {
        let rows = self
            .client
            .query(
                &format!("SELECT a.id, a.currency, a.floor_minor, {BALANCE_OF_A}::int8, \
                   (COALESCE((SELECT SUM(amount_minor) FROM ledger_transfers WHERE to_row = a.row_id), 0) \
                  - COALESCE((SELECT SUM(amount_minor) FROM ledger_transfers WHERE from_row = a.row_id), 0))::int8, \
                   (SELECT COUNT(*) FROM ledger_transfers WHERE to_row = a.row_id AND currency <> a.currency) \
                 + (SELECT COUNT(*) FROM ledger_transfers WHERE from_row = a.row_id AND currency <> a.currency) \
                 FROM ledger_accounts a ORDER BY a.row_id"),
                &[],
            )
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let foreign: i64 = row.try_get(5).map_err(db_error)?;
                Ok(AccountAudit {
                    id: account_id(row.try_get(0).map_err(db_error)?)?,
                    currency: currency(row.try_get(1).map_err(db_error)?)?,
                    floor_minor: row.try_get(2).map_err(db_error)?,
                    stored_balance_minor: row.try_get(3).map_err(db_error)?,
                    recomputed_balance_minor: row.try_get(4).map_err(db_error)?,
                    foreign_currency_transfers_count: u64::try_from(foreign).unwrap_or(0),
                })
            })
            .collect()
    }

    pub(crate) async fn events_of(
        &self,
        topic: String,
        key: String,
        after_seq: i64,
        rows_max: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT seq, topic, key, payload, created_at_ms FROM outbox_events \
                 WHERE topic = $1 AND key = $2 AND seq > $3 AND seq <= $5 \
                 ORDER BY seq LIMIT $4",
                &[
                    &topic,
                    &key,
                    &after_seq,
                    &(rows_max as i64),
                    &self.horizon.get(),
                ],
            )
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(event_of_row).collect())
    }

    pub(crate) async fn read_events(
        &self,
        consumer: String,
        rows_max: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT seq, topic, key, payload, created_at_ms FROM outbox_events \
                 WHERE seq > COALESCE((SELECT seq FROM outbox_cursors WHERE consumer = $1), 0) \
                   AND seq <= $3 \
                 ORDER BY seq LIMIT $2",
                &[&consumer, &(rows_max as i64), &self.horizon.get()],
            )
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(event_of_row).collect())
    }

    pub(crate) async fn lag(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT c.consumer, (SELECT COUNT(*) FROM outbox_events e WHERE e.seq > c.seq) \
                 FROM outbox_cursors c ORDER BY c.consumer",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    pub(crate) async fn due_jobs(
        &self,
        now: Timestamp,
        rows_max: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.client
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'pending' AND due_at_ms <= $1 \
                     ORDER BY due_at_ms, id LIMIT $2"
                ),
                &[&now.unix_ms(), &(rows_max as i64)],
            )
            .await
            .map_err(db_error)?
            .iter()
            .map(job_from_row)
            .collect()
    }

    pub(crate) async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let row = self
            .client
            .query_one(
                "SELECT MIN(due_at_ms) FROM jobs WHERE state = 'pending'",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(row.get::<_, Option<i64>>(0).map(Timestamp::from_unix_ms))
    }

    pub(crate) async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        self.client
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(db_error)?
            .map(|row| job_from_row(&row))
            .transpose()
    }
}
