//! Search as people and operators use it: `GET /api/v1/search` and its suggestions,
//! waiting (bounded) until the index shows a change, and the operator's reindex.

use serde_json::Value;

use crate::{Reply, TestServer, eventually};

/// `GET /api/v1/search` with `params` (`q`, `section`, `page`, `explain`), as sent by
/// anyone (no session).
///
/// # Panics
///
/// When the server cannot be reached.
pub async fn search(server: &TestServer, params: &[(&str, &str)]) -> Reply {
    let request = server
        .client
        .get(format!("{}/api/v1/search", server.base_url))
        .query(params);
    // Test-only code (the kit is a dev-dependency): the only failure is a server that
    // does not answer, and failing the calling test here is this helper's documented contract.
    server.send(request).await.expect("GET /api/v1/search")
}

/// The keys (`section:id`) of every result of the answer to `q`, the intent card's
/// first, in the order shown.
///
/// # Panics
///
/// When the search is refused.
pub async fn found_keys(server: &TestServer, q: &str) -> Vec<String> {
    let reply = search(server, &[("q", q)]).await;
    assert_eq!(reply.status, 200, "searching {q:?}: {}", reply.text);
    keys_of(&reply.json())
}

/// The keys of an answer: the intent card's, then each section's results.
#[must_use]
pub fn keys_of(answer: &Value) -> Vec<String> {
    let key = |doc: &Value| {
        format!(
            "{}:{}",
            doc["section"].as_str().unwrap_or_default(),
            doc["id"].as_str().unwrap_or_default()
        )
    };
    let mut keys = Vec::new();
    if !answer["intent"].is_null() {
        keys.push(key(&answer["intent"]["document"]));
    }
    for section in answer["sections"].as_array().into_iter().flatten() {
        for hit in section["hits"].as_array().into_iter().flatten() {
            keys.push(key(hit));
        }
    }
    keys
}

/// Waits until searching `q` finds `key` (`present`) or no longer finds it.
///
/// # Panics
///
/// When it never does within the bounded wait.
pub async fn wait_for(server: &TestServer, q: &str, key: &str, present: bool) {
    eventually(
        &format!(
            "search {q:?} to {} {key}",
            if present { "find" } else { "lose" }
        ),
        || async {
            let found = found_keys(server, q).await.iter().any(|k| k == key);
            (found == present).then_some(())
        },
    )
    .await;
}

/// Starts a reindex as the operator and waits until it has finished; its last progress.
///
/// # Panics
///
/// When it is refused or never finishes.
pub async fn reindex(server: &TestServer) -> Value {
    let before = server
        .admin_get("/api/v1/admin/search/reindex")
        .await
        .json()["finished"]
        .as_u64()
        .unwrap_or(0);
    let started = server
        .admin_post("/api/v1/admin/search/reindex", &Value::Null)
        .await;
    assert_eq!(started.status, 202, "starting a reindex: {}", started.text);
    eventually("the reindex to finish", || async {
        let progress = server
            .admin_get("/api/v1/admin/search/reindex")
            .await
            .json();
        (progress["finished"].as_u64().unwrap_or(0) > before && progress["running"] == false)
            .then_some(progress)
    })
    .await
}
