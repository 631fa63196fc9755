//! The ledger's operator API in tests: open accounts, move money, read balances
//! (`/api/v1/admin/ledger/...`, with the admin token).

use serde_json::{Value, json};

use crate::{Reply, TestServer};

impl TestServer {
    /// Opens ledger account `id` of `kind` (`POST /api/v1/admin/ledger/accounts`); an
    /// account already open the same way answers as well. The account as answered.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn open_account(&self, id: &str, kind: &str) -> Value {
        let reply = self
            .admin_post(
                "/api/v1/admin/ledger/accounts",
                &json!({ "id": id, "kind": kind }),
            )
            .await;
        assert!(
            matches!(reply.status, 200 | 201),
            "opening account {id}: {}",
            reply.text
        );
        reply.json()
    }

    /// Submits one transfer of `amount_minor` from `from` to `to` under `id`
    /// (`POST /api/v1/admin/ledger/transfers`); the reply whatever it is.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn transfer(&self, id: &str, from: &str, to: &str, amount_minor: i64) -> Reply {
        self.admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({ "transfers": [{ "id": id, "from": from, "to": to, "amount_minor": amount_minor }] }),
        )
        .await
    }

    /// The balance of ledger account `id`, in minor units
    /// (`GET /api/v1/admin/ledger/accounts/{id}`).
    ///
    /// # Panics
    ///
    /// When the account is not found.
    pub async fn balance(&self, id: &str) -> i64 {
        let reply = self
            .admin_get(&format!("/api/v1/admin/ledger/accounts/{id}"))
            .await;
        reply.json()["balance_minor"]
            .as_i64()
            .unwrap_or_else(|| panic!("account {id} has a balance: {}", reply.text))
    }
}
