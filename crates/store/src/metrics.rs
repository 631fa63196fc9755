//! Counters the writer keeps for `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The writer's figures. Cloning shares the same counters.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Database transactions committed by the writer.
    pub commits: Counter,
    /// Transfers committed.
    pub transfers: Counter,
    /// Commands answered (each submission is one).
    pub commands: Counter,
    /// Groups whose commit failed (every command in them was answered with an error).
    pub commit_failures: Counter,
    /// Commands per committed group: the group-commit batch size.
    pub group_commands: Histogram,
    /// Seconds from the start of a group's planning to its durable commit.
    pub commit_seconds: Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self {
            commits: Counter::default(),
            transfers: Counter::default(),
            commands: Counter::default(),
            commit_failures: Counter::default(),
            group_commands: Histogram::new([
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
            ]),
            commit_seconds: Histogram::new([
                0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        }
    }
}

impl StoreMetrics {
    /// Adds the figures to a registry under `plaza_store_*` / `plaza_ledger_*` names.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "plaza_ledger_commits",
            "Database transactions committed by the group-commit writer",
            self.commits.clone(),
        );
        registry.register(
            "plaza_ledger_transfers",
            "Ledger transfers committed",
            self.transfers.clone(),
        );
        registry.register(
            "plaza_store_commands",
            "Write commands answered by the writer",
            self.commands.clone(),
        );
        registry.register(
            "plaza_ledger_commit_failures",
            "Groups whose commit failed",
            self.commit_failures.clone(),
        );
        registry.register(
            "plaza_ledger_batch_commands",
            "Commands per group commit (the batch size)",
            self.group_commands.clone(),
        );
        registry.register(
            "plaza_ledger_commit_seconds",
            "Seconds to plan and durably commit one group",
            self.commit_seconds.clone(),
        );
    }
}
