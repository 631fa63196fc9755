//! Crash safety: a `plaza` process under concurrent ledger load is killed with SIGKILL;
//! after a restart every transfer it acknowledged is present and the ledger verifies.
//! Run against SQLite always and PostgreSQL when one answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plaza_testkit::{ServerOptions, TestServer};
use serde_json::json;

use crate::PLAZA;
const WALLETS: usize = 16;

async fn setup(server: &TestServer) {
    server.open_account("bank", "external").await;
    for index in 0..WALLETS {
        server.open_account(&format!("w{index}"), "wallet").await;
    }
}

/// Loads the server from `workers` tasks until `stop`; returns the acknowledged ids.
async fn load(server: Arc<TestServer>, workers: usize, stop: Arc<AtomicBool>) -> Vec<String> {
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let server = server.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut sequence = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("c{worker}-{sequence}");
                // Money in from the bank, and a move between wallets in the same batch.
                let body = json!({"transfers": [
                    {"id": format!("{id}-in"), "from": "bank", "to": format!("w{}", (worker + sequence) % WALLETS), "amount_minor": 10},
                    {"id": format!("{id}-mv"), "from": format!("w{}", (worker + sequence) % WALLETS), "to": format!("w{}", (worker + sequence + 1) % WALLETS), "amount_minor": 3}
                ]});
                sequence += 1;
                match server.try_admin_post("/api/v1/admin/ledger/transfers", &body).await {
                    Ok(reply) if reply.status == 201 => acknowledged.push(id),
                    Ok(reply) => panic!("unexpected answer under load: {} {}", reply.status, reply.text),
                    Err(_) => break, // the process is gone
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    acknowledged
}

async fn crash_and_recover(options: ServerOptions) {
    let server = options.start();
    setup(&server).await;
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(load(server.clone(), 32, stop.clone()));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // SIGKILL while the load is running: no shutdown path, no flush.
    let pid = server.pid();
    std::process::Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let acknowledged = loader.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(
        acknowledged.len() > 50,
        "the load ran: {} acknowledged",
        acknowledged.len()
    );

    let server = Arc::try_unwrap(server)
        .expect("the load has finished")
        .restart();
    for id in &acknowledged {
        for leg in ["in", "mv"] {
            let reply = server
                .admin_get(&format!("/api/v1/admin/ledger/transfers/{id}-{leg}"))
                .await;
            assert_eq!(
                reply.status, 200,
                "acknowledged transfer {id}-{leg} was lost"
            );
        }
    }
    server.assert_ledger_sound().await;
    // And the command-line verifier agrees, through the running server.
    let output = std::process::Command::new(PLAZA)
        .args(["admin", "verify-ledger", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ledger sound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sqlite_plaza_keeps_every_acknowledged_transfer() {
    crash_and_recover(ServerOptions::new(PLAZA)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_postgres_plaza_keeps_every_acknowledged_transfer() {
    let Some(url) = plaza_testkit::postgres_database().await else {
        return;
    };
    crash_and_recover(ServerOptions::new(PLAZA).arg("--database-url").arg(url)).await;
}

#[tokio::test]
async fn verify_ledger_exits_non_zero_and_names_each_violation() {
    let mut server = TestServer::start(PLAZA);
    setup(&server).await;
    server
        .admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({"transfers": [{"id": "v1", "from": "bank", "to": "w1", "amount_minor": 50}]}),
        )
        .await;
    assert!(server.terminate().success());
    let verify = || {
        std::process::Command::new(PLAZA)
            .args(["admin", "verify-ledger", "--data-dir"])
            .arg(&server.data_dir)
            .output()
            .unwrap()
    };
    let sound = verify();
    assert!(sound.status.success());
    assert!(String::from_utf8_lossy(&sound.stdout).contains("CNY 50"));
    // Tamper with a stored balance behind Plaza's back: an account's balance is the
    // balance-after of its latest transfer.
    let conn = rusqlite::Connection::open(server.data_dir.join("plaza.sqlite3")).unwrap();
    conn.execute(
        "UPDATE ledger_transfers SET to_balance_after_minor = -7 WHERE id = 'v1'",
        [],
    )
    .unwrap();
    drop(conn);
    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8_lossy(&broken.stdout);
    assert!(
        text.contains("account w1: stored balance -7 but its transfers sum to 50"),
        "{text}"
    );
    assert!(
        text.contains("account w1: balance -7 is below its floor 0"),
        "{text}"
    );
    assert!(
        text.contains("currency CNY: balances sum to -57, not 0"),
        "{text}"
    );
}
