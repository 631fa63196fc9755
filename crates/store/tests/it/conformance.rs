//! The storage conformance suite: the same behaviour, asserted against SQLite always and
//! against PostgreSQL when one answers (CI always has one; set
//! `PLAZA_TEST_REQUIRE_POSTGRES=1` to make its absence a failure instead of a skip).

use std::collections::HashMap;
use std::sync::Arc;

use plaza_kernel::clock::{Clock, ManualClock, Timestamp};
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::queue::{JobOutcome, JobState, JobStore, NewEvent, NewJob, OutboxStore};
use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordStore, RecordWrite};
use plaza_ledger::{
    AccountKind, LedgerError, LedgerStore, NewAccount, NewTransfer, TransferBatch, WriteSet, verify,
};
use plaza_store::{Backend, PostgresOptions, SqliteOptions, Store, StoreError};

mod harness {
    use super::*;

    pub struct Opened {
        pub name: &'static str,
        pub backend: Backend,
        pub clock: Arc<ManualClock>,
        pub store: Store,
        _dir: Option<tempfile::TempDir>,
    }

    pub async fn postgres_url() -> Option<String> {
        plaza_testkit::postgres_database().await
    }

    /// A fresh store per backend.
    pub async fn stores() -> Vec<Opened> {
        let mut opened = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::Sqlite(SqliteOptions {
            path: dir.path().join("plaza.sqlite3"),
            durability: plaza_store::SqliteDurability::default(),
        });
        opened.push(open("sqlite", backend, Some(dir)).await);
        if let Some(url) = postgres_url().await {
            opened.push(open("postgres", Backend::Postgres(PostgresOptions { url }), None).await);
        }
        opened
    }

    async fn open(name: &'static str, backend: Backend, dir: Option<tempfile::TempDir>) -> Opened {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(1_700_000_000_000)));
        let store = Store::open(&backend, clock.clone()).await.unwrap();
        Opened {
            name,
            backend,
            clock,
            store,
            _dir: dir,
        }
    }

    pub async fn reopen(opened: &mut Opened) {
        opened.store.close().await;
        opened.store = Store::open(&opened.backend, opened.clock.clone())
            .await
            .unwrap();
    }
}

use harness::stores;

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn transfer(id: &str, from: &str, to: &str, amount_minor: i64) -> NewTransfer {
    NewTransfer {
        id: TransferId::parse(id).unwrap(),
        from: account(from),
        to: account(to),
        amount_minor,
        currency: Currency::CNY,
        memo: format!("memo {id}"),
    }
}

async fn open_book(store: &Store) {
    store
        .open_account(NewAccount::new(
            account("bank"),
            AccountKind::External,
            Currency::CNY,
        ))
        .await
        .unwrap();
    for name in ["alice", "bob", "carol"] {
        store
            .open_account(NewAccount::new(
                account(name),
                AccountKind::Wallet,
                Currency::CNY,
            ))
            .await
            .unwrap();
    }
}

async fn submit(
    store: &Store,
    transfers: Vec<NewTransfer>,
) -> Result<plaza_ledger::Committed, LedgerError> {
    store
        .commit(WriteSet::transfers(TransferBatch::new(transfers)?))
        .await
}

async fn balance(store: &Store, id: &str) -> i64 {
    store
        .account(account(id))
        .await
        .unwrap()
        .unwrap()
        .balance_minor
}

async fn assert_sound(store: &Store) {
    let report = verify(&store.audit().await.unwrap());
    assert!(report.is_sound(), "{:?}", report.violations);
}

#[tokio::test(flavor = "multi_thread")]
async fn opening_an_account_is_idempotent_and_conflicts_are_refused() {
    for opened in stores().await {
        let store = &opened.store;
        let wallet = NewAccount::new(account("w"), AccountKind::Wallet, Currency::CNY);
        let first = store.open_account(wallet.clone()).await.unwrap();
        let again = store.open_account(wallet.clone()).await.unwrap();
        assert_eq!(first, again, "{}", opened.name);
        let mut other = wallet;
        other.kind = AccountKind::Fee;
        assert_eq!(
            store.open_account(other).await,
            Err(LedgerError::AccountConflict {
                account: account("w")
            }),
            "{}",
            opened.name
        );
        assert_eq!(first.floor_minor, Some(0));
        let bank = store
            .open_account(NewAccount::new(
                account("b"),
                AccountKind::External,
                Currency::CNY,
            ))
            .await
            .unwrap();
        assert_eq!(bank.floor_minor, None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transfers_move_money_and_can_be_read_back() {
    for opened in stores().await {
        let store = &opened.store;
        open_book(store).await;
        let committed = submit(store, vec![transfer("t1", "bank", "alice", 1_000)])
            .await
            .unwrap();
        assert!(!committed.replayed);
        assert_eq!(committed.transfers[0].to_balance_after_minor, 1_000);
        submit(store, vec![transfer("t2", "alice", "bob", 250)])
            .await
            .unwrap();
        assert_eq!(balance(store, "alice").await, 750, "{}", opened.name);
        assert_eq!(balance(store, "bob").await, 250);
        assert_eq!(balance(store, "bank").await, -1_000);
        let stored = store
            .transfer(TransferId::parse("t2").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.from, account("alice"));
        assert_eq!(stored.memo, "memo t2");
        assert_eq!(stored.from_balance_after_minor, 750);
        assert_eq!(stored.committed_at, opened.clock.now());
        assert!(
            store
                .transfer(TransferId::parse("nope").unwrap())
                .await
                .unwrap()
                .is_none()
        );
        assert_sound(store).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn history_pages_cover_every_transfer_once_newest_first() {
    for opened in stores().await {
        let store = &opened.store;
        open_book(store).await;
        for index in 0..7 {
            submit(
                store,
                vec![transfer(&format!("in{index}"), "bank", "alice", 10)],
            )
            .await
            .unwrap();
            submit(
                store,
                vec![transfer(&format!("other{index}"), "bank", "bob", 10)],
            )
            .await
            .unwrap();
        }
        for index in 0..5 {
            submit(
                store,
                vec![transfer(&format!("out{index}"), "alice", "carol", 1)],
            )
            .await
            .unwrap();
        }
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store.history(account("alice"), before, 5).await.unwrap();
            assert!(page.transfers.len() <= 5);
            seen.extend(page.transfers.iter().map(|t| (t.seq, t.id.to_string())));
            match page.next_before_seq {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 12, "{}: {seen:?}", opened.name);
        assert!(
            seen.windows(2).all(|pair| pair[0].0 > pair[1].0),
            "newest first"
        );
        assert_eq!(seen[0].1, "out4");
        assert!(seen.iter().all(|(_, id)| !id.starts_with("other")));
        assert_eq!(
            store.history(account("nobody"), None, 5).await,
            Err(LedgerError::UnknownAccount {
                account: account("nobody")
            })
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_id_again_returns_the_original_and_changes_nothing() {
    for opened in stores().await {
        let store = &opened.store;
        open_book(store).await;
        let batch = vec![
            transfer("p1", "bank", "alice", 500),
            transfer("p2", "alice", "bob", 200),
        ];
        let first = submit(store, batch.clone()).await.unwrap();
        opened.clock.advance(60_000).unwrap();
        let again = submit(store, batch.clone()).await.unwrap();
        assert!(again.replayed, "{}", opened.name);
        assert_eq!(again.transfers, first.transfers);
        assert_eq!(balance(store, "alice").await, 300);
        let mut altered = batch.clone();
        altered[1].amount_minor = 201;
        assert_eq!(
            submit(store, altered).await,
            Err(LedgerError::IdReused {
                transfer: TransferId::parse("p2").unwrap()
            })
        );
        // Part of an earlier batch together with something new is not a replay either.
        assert!(matches!(
            submit(
                store,
                vec![batch[0].clone(), transfer("p3", "bank", "carol", 1)]
            )
            .await,
            Err(LedgerError::IdReused { .. })
        ));
        assert_eq!(balance(store, "carol").await, 0);
        assert_sound(store).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_transfers_are_refused_with_typed_errors_and_change_nothing() {
    for opened in stores().await {
        let store = &opened.store;
        open_book(store).await;
        store
            .open_account(NewAccount::new(
                account("usd"),
                AccountKind::Wallet,
                Currency::parse("USD").unwrap(),
            ))
            .await
            .unwrap();
        submit(store, vec![transfer("seed", "bank", "alice", 100)])
            .await
            .unwrap();
        assert!(matches!(
            submit(store, vec![transfer("x1", "alice", "bob", 101)]).await,
            Err(LedgerError::InsufficientFunds {
                balance_minor: 100,
                amount_minor: 101,
                floor_minor: 0,
                ..
            })
        ));
        assert_eq!(
            submit(store, vec![transfer("x2", "alice", "dave", 1)]).await,
            Err(LedgerError::UnknownAccount {
                account: account("dave")
            })
        );
        assert!(matches!(
            submit(store, vec![transfer("x3", "alice", "usd", 1)]).await,
            Err(LedgerError::CurrencyMismatch { .. })
        ));
        assert!(matches!(
            submit(store, vec![transfer("x4", "alice", "bob", -5)]).await,
            Err(LedgerError::AmountNotPositive { .. })
        ));
        // One bad transfer sinks its whole batch.
        assert!(matches!(
            submit(
                store,
                vec![
                    transfer("x5", "alice", "bob", 60),
                    transfer("x6", "alice", "carol", 60)
                ]
            )
            .await,
            Err(LedgerError::InsufficientFunds { .. })
        ));
        assert_eq!(balance(store, "alice").await, 100, "{}", opened.name);
        assert_eq!(balance(store, "bob").await, 0);
        for id in ["x1", "x2", "x3", "x5", "x6"] {
            assert!(
                store
                    .transfer(TransferId::parse(id).unwrap())
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        // A refused id is still free to use for a valid transfer.
        submit(store, vec![transfer("x1", "alice", "bob", 100)])
            .await
            .unwrap();
        assert_sound(store).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn balances_at_the_edge_of_i64_overflow_as_a_typed_error_and_audit_soundly() {
    for opened in stores().await {
        let store = &opened.store;
        open_book(store).await;
        submit(
            store,
            vec![transfer("near", "bank", "alice", i64::MAX - 10)],
        )
        .await
        .unwrap();
        // A balance beyond i64 is refused, typed, and changes nothing.
        assert!(
            matches!(
                submit(store, vec![transfer("over", "bank", "alice", 11)]).await,
                Err(LedgerError::Overflow { account: ref overflowed, .. }) if *overflowed == account("alice")
            ),
            "{}",
            opened.name
        );
        assert_eq!(balance(store, "alice").await, i64::MAX - 10);
        // Money in and out: alice's incoming transfers now sum beyond i64 while her
        // balance stays in range, and the audit still adds her up.
        submit(store, vec![transfer("out", "alice", "bob", 1_000)])
            .await
            .unwrap();
        submit(store, vec![transfer("in", "bob", "alice", 995)])
            .await
            .unwrap();
        assert_eq!(balance(store, "alice").await, i64::MAX - 15);
        assert_sound(store).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_submitters_are_group_committed_and_all_land() {
    for opened in stores().await {
        let store = opened.store.clone();
        open_book(&store).await;
        submit(&store, vec![transfer("fund", "bank", "alice", 1_000_000)])
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for worker in 0..64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for index in 0..20 {
                    let id = format!("w{worker}-{index}");
                    let to = if index % 2 == 0 { "bob" } else { "carol" };
                    submit(&store, vec![transfer(&id, "alice", to, 7)])
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            balance(&store, "alice").await,
            1_000_000 - 64 * 20 * 7,
            "{}",
            opened.name
        );
        assert_eq!(
            balance(&store, "bob").await + balance(&store, "carol").await,
            64 * 20 * 7
        );
        let metrics = store.metrics();
        assert_eq!(metrics.transfers.get(), 1 + 64 * 20);
        assert!(
            metrics.commits.get() < metrics.commands.get(),
            "some submissions shared a commit"
        );
        assert_sound(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_commit_with_their_change_and_consumers_read_them_at_least_once_in_order() {
    for opened in stores().await {
        let store = &opened.store;
        open_book(store).await;
        let event = |n: usize| NewEvent {
            topic: "test.happened".to_owned(),
            key: format!("k{n}"),
            payload: format!("{{\"n\":{n}}}"),
        };
        let write = WriteSet {
            batch: Some(TransferBatch::single(transfer("e1", "bank", "alice", 5)).unwrap()),
            events: vec![event(1), event(2)],
            ..WriteSet::default()
        };
        let committed = store.commit(write.clone()).await.unwrap();
        assert_eq!(committed.event_seqs.len(), 2);
        // A replay writes its events again: no.
        let replayed = store.commit(write).await.unwrap();
        assert!(replayed.replayed && replayed.event_seqs.is_empty());
        // A refused change writes no events.
        let refused = WriteSet {
            batch: Some(TransferBatch::single(transfer("e2", "alice", "bob", 6)).unwrap()),
            events: vec![event(99)],
            ..WriteSet::default()
        };
        assert!(store.commit(refused).await.is_err());
        store
            .commit(WriteSet {
                events: vec![event(3)],
                ..WriteSet::default()
            })
            .await
            .unwrap();

        let read = store.read_events("mailer".to_owned(), 2).await.unwrap();
        assert_eq!(
            read.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["k1", "k2"],
            "{}",
            opened.name
        );
        // Not acknowledged: read again.
        assert_eq!(
            store
                .read_events("mailer".to_owned(), 10)
                .await
                .unwrap()
                .len(),
            3
        );
        store
            .ack_events("mailer".to_owned(), read[1].seq)
            .await
            .unwrap();
        let rest = store.read_events("mailer".to_owned(), 10).await.unwrap();
        assert_eq!(
            rest.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            ["k3"]
        );
        // Cursors never move back, and each consumer has its own.
        store.ack_events("mailer".to_owned(), 0).await.unwrap();
        assert_eq!(
            store
                .read_events("mailer".to_owned(), 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .read_events("indexer".to_owned(), 10)
                .await
                .unwrap()
                .len(),
            3
        );
        store.ack_events("indexer".to_owned(), 0).await.unwrap();
        assert_eq!(
            store.lag().await.unwrap(),
            vec![("indexer".to_owned(), 3), ("mailer".to_owned(), 1)]
        );
        assert!(store.read_events(String::new(), 1).await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_topic_and_key_of_the_outbox_reads_as_a_log_of_its_own() {
    for opened in stores().await {
        let store = &opened.store;
        let event = |topic: &str, key: &str, n: usize| NewEvent {
            topic: topic.to_owned(),
            key: key.to_owned(),
            payload: n.to_string(),
        };
        let events = vec![
            event("test.archive", "corp-a", 1),
            event("test.archive", "corp-b", 2),
            event("test.other", "corp-a", 3),
            event("test.archive", "corp-a", 4),
            event("test.archive", "corp-a", 5),
        ];
        store
            .commit(WriteSet {
                events,
                ..WriteSet::default()
            })
            .await
            .unwrap();
        let read = |after: i64, rows: usize| {
            store.events_of("test.archive".to_owned(), "corp-a".to_owned(), after, rows)
        };
        let all = read(0, 10).await.unwrap();
        assert_eq!(
            all.iter().map(|e| e.payload.as_str()).collect::<Vec<_>>(),
            ["1", "4", "5"],
            "{}",
            opened.name
        );
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        let page = read(all[0].seq, 1).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].payload, "4");
        assert!(read(all[2].seq, 10).await.unwrap().is_empty());
        // Reading a partition moves no consumer's cursor.
        assert_eq!(
            store.read_events("any".to_owned(), 10).await.unwrap().len(),
            5
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_come_due_in_order_and_record_their_outcomes() {
    for opened in stores().await {
        let store = &opened.store;
        let now = opened.clock.now();
        let job = |key: &str, due_in_ms: i64| NewJob {
            kind: "test.job".to_owned(),
            key: key.to_owned(),
            payload: key.to_owned(),
            due_at: now.plus_ms(due_in_ms),
        };
        let committed = store
            .commit(WriteSet {
                jobs: vec![job("late", 3_000), job("early", 1_000), job("mid", 2_000)],
                ..WriteSet::default()
            })
            .await
            .unwrap();
        // The same key again is the same job.
        let again = store
            .commit(WriteSet {
                jobs: vec![job("early", 9_000)],
                ..WriteSet::default()
            })
            .await
            .unwrap();
        assert_eq!(again.job_ids, vec![committed.job_ids[1]], "{}", opened.name);
        assert_eq!(store.next_due_at().await.unwrap(), Some(now.plus_ms(1_000)));
        assert!(store.due_jobs(now, 10).await.unwrap().is_empty());
        let due = store.due_jobs(now.plus_ms(2_500), 10).await.unwrap();
        assert_eq!(
            due.iter().map(|j| j.key.as_str()).collect::<Vec<_>>(),
            ["early", "mid"]
        );
        store
            .finish_job(due[0].clone(), JobOutcome::Done)
            .await
            .unwrap();
        store
            .finish_job(
                due[1].clone(),
                JobOutcome::Retry {
                    due_at: now.plus_ms(5_000),
                    error: "busy".to_owned(),
                },
            )
            .await
            .unwrap();
        let due = store.due_jobs(now.plus_ms(10_000), 10).await.unwrap();
        assert_eq!(
            due.iter().map(|j| j.key.as_str()).collect::<Vec<_>>(),
            ["late", "mid"]
        );
        assert_eq!(due[1].attempts, 1);
        assert_eq!(due[1].last_error.as_deref(), Some("busy"));
        store
            .finish_job(
                due[1].clone(),
                JobOutcome::Failed {
                    error: "gave up".to_owned(),
                },
            )
            .await
            .unwrap();
        let failed = store.job(due[1].id).await.unwrap().unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(failed.attempts, 2);
        let done = store.job(committed.job_ids[1]).await.unwrap().unwrap();
        assert_eq!(done.state, JobState::Done);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_acknowledged_survives_a_reopen() {
    for mut opened in stores().await {
        open_book(&opened.store).await;
        submit(&opened.store, vec![transfer("r1", "bank", "alice", 42)])
            .await
            .unwrap();
        opened
            .store
            .set_meta("sandbox_clock_offset_ms", "1000")
            .await
            .unwrap();
        harness::reopen(&mut opened).await;
        let store = &opened.store;
        assert_eq!(balance(store, "alice").await, 42, "{}", opened.name);
        assert_eq!(
            store
                .meta("sandbox_clock_offset_ms")
                .await
                .unwrap()
                .as_deref(),
            Some("1000")
        );
        let next = submit(store, vec![transfer("r2", "bank", "alice", 1)])
            .await
            .unwrap();
        assert_eq!(
            next.transfers[0].seq, 2,
            "sequence numbers continue after a reopen"
        );
        assert!(
            submit(store, vec![transfer("r1", "bank", "alice", 42)])
                .await
                .unwrap()
                .replayed
        );
        assert_sound(store).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_store_refuses_writes() {
    for opened in stores().await {
        opened.store.close().await;
        let result = opened
            .store
            .open_account(NewAccount::new(
                account("late"),
                AccountKind::Wallet,
                Currency::CNY,
            ))
            .await;
        assert!(
            matches!(result, Err(LedgerError::Unavailable { .. })),
            "{}",
            opened.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_from_a_newer_plaza_is_refused_untouched() {
    for opened in stores().await {
        opened
            .store
            .set_meta("schema_version", "999")
            .await
            .unwrap();
        opened.store.close().await;
        let clock: Arc<dyn Clock> = opened.clock.clone();
        let error = Store::open(&opened.backend, clock).await.unwrap_err();
        assert!(
            matches!(error, StoreError::NewerSchema { found: 999, .. }),
            "{}: {error}",
            opened.name
        );
        assert!(error.to_string().contains("newer"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_sqlite_file_is_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plaza.sqlite3");
    std::fs::write(
        &path,
        b"this is not a database, just some text that is long enough",
    )
    .unwrap();
    let backend = Backend::Sqlite(SqliteOptions {
        path,
        durability: plaza_store::SqliteDurability::default(),
    });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(0)));
    let error = Store::open(&backend, clock).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("corrupt"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_writer_on_one_postgres_database_is_refused() {
    let Some(url) = harness::postgres_url().await else {
        return;
    };
    let backend = Backend::Postgres(PostgresOptions { url });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(0)));
    let first = Store::open(&backend, clock.clone()).await.unwrap();
    let error = Store::open(&backend, clock.clone()).await.unwrap_err();
    assert!(matches!(error, StoreError::InUse { .. }), "{error}");
    // The operator learns which session to look for.
    let message = error.to_string();
    assert!(
        message.contains("held by PostgreSQL session") && message.contains("\"plaza\""),
        "{message}"
    );
    first.close().await;
    drop(first);
}

/// A model of the ledger for the property test: what balances and stored ids should be.
#[derive(Default)]
struct Model {
    balances: HashMap<String, i64>,
    applied: HashMap<String, NewTransfer>,
}

mod property {
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    pub struct Op {
        pub transfers: Vec<(u8, u8, u8, i64)>,
    }

    pub fn ops() -> impl Strategy<Value = Vec<Op>> {
        let transfer = (0u8..12, 0u8..4, 0u8..4, -2i64..400);
        prop::collection::vec(
            prop::collection::vec(transfer, 1..4).prop_map(|transfers| Op { transfers }),
            1..40,
        )
    }
}

const ACCOUNTS: [&str; 4] = ["bank", "alice", "bob", "carol"];

#[test]
fn random_sequences_of_batches_keep_every_invariant() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in property::ops())| {
        runtime.block_on(async {
            for opened in stores().await {
                let store = &opened.store;
                open_book(store).await;
                let mut model = Model::default();
                for op in &ops {
                    // Ids repeat across ops on purpose (12 of them), so replays and
                    // reuses with other content happen often.
                    let batch: Vec<NewTransfer> = op.transfers.iter().map(|&(id, from, to, amount)| NewTransfer {
                        id: TransferId::parse(format!("id{id}")).unwrap(),
                        from: account(ACCOUNTS[from as usize]),
                        to: account(ACCOUNTS[to as usize]),
                        amount_minor: amount,
                        currency: Currency::CNY,
                        memo: String::new(),
                    }).collect();
                    let expected = model_apply(&model, &batch);
                    let result = submit(store, batch.clone()).await;
                    match (&expected, &result) {
                        (Expectation::Applied, Ok(c)) => {
                            prop_assert!(!c.replayed);
                            for t in &batch {
                                *model.balances.entry(t.from.to_string()).or_default() -= t.amount_minor;
                                *model.balances.entry(t.to.to_string()).or_default() += t.amount_minor;
                                model.applied.insert(t.id.to_string(), t.clone());
                            }
                        }
                        (Expectation::Replayed, Ok(c)) => prop_assert!(c.replayed),
                        (Expectation::Refused, Err(_)) => {}
                        _ => prop_assert!(false, "{}: expected {:?}, got {:?}", opened.name, expected, result),
                    }
                    for name in ACCOUNTS {
                        prop_assert_eq!(balance(store, name).await, model.balances.get(name).copied().unwrap_or(0));
                    }
                }
                let report = verify(&store.audit().await.unwrap());
                prop_assert!(report.is_sound(), "{:?}", report.violations);
            }
            Ok(())
        })?;
    });
}

#[derive(Debug)]
enum Expectation {
    Applied,
    Replayed,
    Refused,
}

fn model_apply(model: &Model, batch: &[NewTransfer]) -> Expectation {
    let mut ids = std::collections::HashSet::new();
    if batch
        .iter()
        .any(|t| t.amount_minor <= 0 || t.from == t.to || !ids.insert(t.id.clone()))
    {
        return Expectation::Refused;
    }
    let known: Vec<Option<&NewTransfer>> = batch
        .iter()
        .map(|t| model.applied.get(t.id.as_str()))
        .collect();
    if known.iter().all(Option::is_some) {
        let same = batch.iter().zip(&known).all(|(t, k)| Some(t) == *k);
        return if same {
            Expectation::Replayed
        } else {
            Expectation::Refused
        };
    }
    if known.iter().any(Option::is_some) {
        return Expectation::Refused;
    }
    let mut balances = model.balances.clone();
    for t in batch {
        let from = balances.entry(t.from.to_string()).or_default();
        *from -= t.amount_minor;
        if t.from.as_str() != "bank" && *from < 0 {
            return Expectation::Refused;
        }
        *balances.entry(t.to.to_string()).or_default() += t.amount_minor;
    }
    Expectation::Applied
}

#[tokio::test(flavor = "multi_thread")]
async fn full_sync_mode_keeps_the_same_promises() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(SqliteOptions {
        path: dir.path().join("plaza.sqlite3"),
        durability: plaza_store::SqliteDurability::FullSync,
    });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(0)));
    let store = Store::open(&backend, clock.clone()).await.unwrap();
    open_book(&store).await;
    let write = WriteSet {
        batch: Some(TransferBatch::single(transfer("f1", "bank", "alice", 9)).unwrap()),
        events: vec![NewEvent {
            topic: "t".to_owned(),
            key: "f1".to_owned(),
            payload: String::new(),
        }],
        jobs: vec![],
        records: vec![],
    };
    store.commit(write).await.unwrap();
    assert_eq!(
        store.read_events("c".to_owned(), 10).await.unwrap().len(),
        1
    );
    store.close().await;
    let store = Store::open(&backend, clock).await.unwrap();
    assert_eq!(balance(&store, "alice").await, 9);
    assert_sound(&store).await;
}

fn record_write(key: &str, expect: Expect, body: &str, index: &[(&str, &str)]) -> RecordWrite {
    RecordWrite {
        kind: "test.order".to_owned(),
        key: key.to_owned(),
        expect,
        body: body.to_owned(),
        index: index
            .iter()
            .map(|(name, value)| IndexEntry::new(*name, *value))
            .collect(),
    }
}

fn records_only(records: Vec<RecordWrite>) -> WriteSet {
    WriteSet {
        records,
        ..WriteSet::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_are_versioned_found_by_index_and_refused_on_a_stale_version() {
    for opened in stores().await {
        let store = &opened.store;
        let name = opened.name;
        let first = store
            .commit(records_only(vec![record_write(
                "m1/T1",
                Expect::Absent,
                "v1",
                &[("day", "m1|2026-11-26"), ("txn", "42")],
            )]))
            .await
            .unwrap();
        assert_eq!(first.record_versions, vec![1], "{name}");
        let again = store
            .commit(records_only(vec![record_write(
                "m1/T1",
                Expect::Absent,
                "other",
                &[],
            )]))
            .await;
        assert!(
            matches!(again, Err(LedgerError::RecordConflict { .. })),
            "{name}: {again:?}"
        );
        let stale = store
            .commit(records_only(vec![record_write(
                "m1/T1",
                Expect::Version(7),
                "other",
                &[],
            )]))
            .await;
        assert!(
            matches!(stale, Err(LedgerError::RecordConflict { .. })),
            "{name}"
        );
        let read = store.record("test.order", "m1/T1").await.unwrap().unwrap();
        assert_eq!((read.version, read.body.as_str()), (1, "v1"), "{name}");
        assert_eq!(read.updated_at, opened.clock.now(), "{name}");
        let found = store.find("test.order", "txn", "42", 10).await.unwrap();
        assert_eq!(found.len(), 1, "{name}");

        // An update replaces the index entries.
        let second = store
            .commit(records_only(vec![record_write(
                "m1/T1",
                Expect::Version(1),
                "v2",
                &[("day", "m1|2026-11-27")],
            )]))
            .await
            .unwrap();
        assert_eq!(second.record_versions, vec![2], "{name}");
        assert!(
            store
                .find("test.order", "txn", "42", 10)
                .await
                .unwrap()
                .is_empty()
        );
        let read = store.record("test.order", "m1/T1").await.unwrap().unwrap();
        assert_eq!((read.version, read.body.as_str()), (2, "v2"), "{name}");
        assert_eq!(store.record("test.order", "nope").await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn index_ranges_page_in_byte_order() {
    for opened in stores().await {
        let store = &opened.store;
        let name = opened.name;
        let mut writes = Vec::new();
        for (key, day) in [
            ("a", "m1|2026-11-25"),
            ("b", "m1|2026-11-26"),
            ("c", "m1|2026-11-26"),
            ("d", "m1|2026-11-26"),
            ("e", "m1|2026-11-27"),
            ("f", "m2|2026-11-26"),
            ("g", "m1|2026-11-26T"),
            ("h", "m1|2026-11-26Z"),
        ] {
            writes.push(record_write(key, Expect::Any, key, &[("day", day)]));
        }
        store.commit(records_only(writes)).await.unwrap();
        let mut range = IndexRange {
            kind: "test.order".to_owned(),
            name: "day".to_owned(),
            from: "m1|2026-11-26".to_owned(),
            to: "m1|2026-11-27".to_owned(),
            after: None,
            rows_max: 2,
            newest_first: false,
        };
        let mut keys = Vec::new();
        loop {
            let page = store.range(range.clone()).await.unwrap();
            if page.is_empty() {
                break;
            }
            let last = page.last().unwrap();
            range.after = Some((last.value.clone(), last.record.key.clone()));
            keys.extend(page.into_iter().map(|found| found.record.key));
        }
        assert_eq!(keys, ["b", "c", "d", "g", "h"], "{name}");
        range.after = None;
        range.newest_first = true;
        let mut newest = Vec::new();
        loop {
            let page = store.range(range.clone()).await.unwrap();
            let Some(last) = page.last() else { break };
            range.after = Some((last.value.clone(), last.record.key.clone()));
            newest.extend(page.into_iter().map(|found| found.record.key));
        }
        assert_eq!(newest, ["h", "g", "d", "c", "b"], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_land_with_their_money_or_not_at_all() {
    for opened in stores().await {
        let store = &opened.store;
        let name = opened.name;
        open_book(store).await;
        submit(store, vec![transfer("fund", "bank", "alice", 100)])
            .await
            .unwrap();
        // Too little money: the record is not written either.
        let refused = store
            .commit(WriteSet {
                batch: Some(TransferBatch::single(transfer("pay1", "alice", "bob", 500)).unwrap()),
                records: vec![record_write("o1", Expect::Absent, "paid", &[])],
                ..WriteSet::default()
            })
            .await;
        assert!(
            matches!(refused, Err(LedgerError::InsufficientFunds { .. })),
            "{name}"
        );
        assert_eq!(
            store.record("test.order", "o1").await.unwrap(),
            None,
            "{name}"
        );
        // A stale record: the money does not move either.
        store
            .commit(records_only(vec![record_write(
                "o2",
                Expect::Absent,
                "new",
                &[],
            )]))
            .await
            .unwrap();
        let refused = store
            .commit(WriteSet {
                batch: Some(TransferBatch::single(transfer("pay2", "alice", "bob", 50)).unwrap()),
                records: vec![record_write("o2", Expect::Absent, "paid", &[])],
                ..WriteSet::default()
            })
            .await;
        assert!(
            matches!(refused, Err(LedgerError::RecordConflict { .. })),
            "{name}"
        );
        assert_eq!(balance(store, "alice").await, 100, "{name}");
        // Both together.
        let paid = store
            .commit(WriteSet {
                batch: Some(TransferBatch::single(transfer("pay2", "alice", "bob", 50)).unwrap()),
                records: vec![record_write("o2", Expect::Version(1), "paid", &[])],
                ..WriteSet::default()
            })
            .await
            .unwrap();
        assert_eq!(paid.record_versions, vec![2], "{name}");
        assert_eq!(balance(store, "bob").await, 50, "{name}");
        // Replaying the same transfers changes no record.
        let replay = store
            .commit(WriteSet {
                batch: Some(TransferBatch::single(transfer("pay2", "alice", "bob", 50)).unwrap()),
                records: vec![record_write("o2", Expect::Any, "again", &[])],
                ..WriteSet::default()
            })
            .await
            .unwrap();
        assert!(replay.replayed, "{name}");
        let read = store.record("test.order", "o2").await.unwrap().unwrap();
        assert_eq!((read.version, read.body.as_str()), (2, "paid"), "{name}");
        assert_sound(store).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_writers_of_one_record_version_have_exactly_one_winner() {
    for mut opened in stores().await {
        let name = opened.name;
        opened
            .store
            .commit(records_only(vec![record_write(
                "hot",
                Expect::Absent,
                "0",
                &[],
            )]))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for writer in 0..64 {
            let store = opened.store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .commit(records_only(vec![record_write(
                        "hot",
                        Expect::Version(1),
                        &writer.to_string(),
                        &[("writer", &writer.to_string())],
                    )]))
                    .await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(committed) => {
                    assert_eq!(committed.record_versions, vec![2]);
                    winners += 1;
                }
                Err(LedgerError::RecordConflict { .. }) => {}
                Err(other) => panic!("{name}: {other}"),
            }
        }
        assert_eq!(winners, 1, "{name}");
        harness::reopen(&mut opened).await;
        let read = opened
            .store
            .record("test.order", "hot")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.version, 2, "{name}");
        let by_index = opened
            .store
            .find("test.order", "writer", &read.body, 10)
            .await
            .unwrap();
        assert_eq!(by_index, vec![read], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_records_are_refused() {
    for opened in stores().await {
        let big = "x".repeat(plaza_kernel::limits::RECORD_BYTES_MAX + 1);
        let refused = opened
            .store
            .commit(records_only(vec![record_write(
                "big",
                Expect::Any,
                &big,
                &[],
            )]))
            .await;
        assert!(
            matches!(refused, Err(LedgerError::RecordTooLarge { .. })),
            "{}",
            opened.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_postgres_store_can_be_reopened_at_once_every_time() {
    let Some(url) = harness::postgres_url().await else {
        return;
    };
    let backend = Backend::Postgres(PostgresOptions { url });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(0)));
    for round in 0..50 {
        let store = Store::open(&backend, clock.clone())
            .await
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
        store.set_meta("round", &round.to_string()).await.unwrap();
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_postgres_store_is_waited_for_not_reported_in_use() {
    let Some(url) = harness::postgres_url().await else {
        return;
    };
    let backend = Backend::Postgres(PostgresOptions { url });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(0)));
    for round in 0..20 {
        let store = Store::open(&backend, clock.clone())
            .await
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
        store.set_meta("round", &round.to_string()).await.unwrap();
        drop(store);
    }
}

/// A session that holds the writer lock and whose client then goes away, as a killed
/// Plaza's does: opening waits for the server to end it instead of answering InUse.
#[tokio::test(flavor = "multi_thread")]
async fn opening_a_postgres_store_waits_for_a_lock_holder_whose_client_has_gone() {
    let Some(url) = harness::postgres_url().await else {
        return;
    };
    let (holder, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let holder_connection = tokio::spawn(connection);
    let locked: bool = holder
        .query_one("SELECT pg_try_advisory_lock($1)", &[&0x70_6c_61_7a_61_i64])
        .await
        .unwrap()
        .get(0);
    assert!(locked);
    let backend = Backend::Postgres(PostgresOptions { url });
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(0)));
    let opening = tokio::spawn(async move { Store::open(&backend, clock).await });
    // Once the opener has asked for the lock (and been told no), the holder's client goes.
    let mut opener_seen = false;
    for _ in 0..400 {
        if opening.is_finished() {
            break;
        }
        let sessions: i64 = holder
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'plaza' \
                   AND query LIKE '%pg_try_advisory_lock%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if sessions > 0 {
            opener_seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(holder);
    holder_connection.await.unwrap().unwrap();
    let store = opening.await.unwrap().unwrap();
    assert!(opener_seen, "the opener was never seen asking for the lock");
    store.close().await;
}
