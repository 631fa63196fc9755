//! `plaza admin search`: Search's index through the running Plaza's admin API.

use std::io::Write as _;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use super::{AdminApi, ServerArgs};
use crate::Outcome;

/// Where the admin API keeps the reindex.
const REINDEX_PATH: &str = "/api/v1/admin/search/reindex";
/// How often the progress is read again.
const POLL: Duration = Duration::from_millis(200);
/// The progress bar's width, in cells.
const BAR_CELLS: u64 = 30;

#[derive(Debug, Subcommand)]
pub(crate) enum SearchCommand {
    /// Rebuild the search index from the database, with a progress bar; searches see the
    /// old index until the new one is whole.
    Reindex(ReindexArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReindexArgs {
    #[command(flatten)]
    server: ServerArgs,
}

/// One line of progress: `[#####.....] done/total`.
fn bar(progress: &Value) -> String {
    let done = progress["done"].as_u64().unwrap_or(0);
    let total = progress["total"].as_u64().unwrap_or(0);
    let filled = done
        .saturating_mul(BAR_CELLS)
        .checked_div(total)
        .unwrap_or(0)
        .min(BAR_CELLS);
    let cells = usize::try_from(filled).unwrap_or(0);
    let empty = usize::try_from(BAR_CELLS)
        .unwrap_or(0)
        .saturating_sub(cells);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(cells),
        ".".repeat(empty)
    )
}

pub(crate) async fn run(command: SearchCommand) -> anyhow::Result<Outcome> {
    match command {
        SearchCommand::Reindex(args) => {
            let api = AdminApi::of(&args.server)?;
            let started = api.request(Method::POST, REINDEX_PATH, None).await?;
            let before = started["finished"].as_u64().unwrap_or(0);
            let mut progress = started;
            loop {
                let finished = progress["finished"].as_u64().unwrap_or(0) > before
                    && progress["running"] == Value::Bool(false);
                {
                    let mut err = std::io::stderr().lock();
                    write!(err, "\r{}", bar(&progress))?;
                    err.flush()?;
                }
                if finished {
                    break;
                }
                tokio::time::sleep(POLL).await;
                progress = api.request(Method::GET, REINDEX_PATH, None).await?;
            }
            writeln!(std::io::stderr().lock())?;
            if let Some(error) = progress["error"].as_str() {
                anyhow::bail!("the reindex failed: {error}");
            }
            writeln!(
                std::io::stdout().lock(),
                "search index rebuilt: {} documents",
                progress["documents"].as_u64().unwrap_or(0)
            )?;
            Ok(Outcome::Success)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_work_done() {
        let half = serde_json::json!({ "done": 50, "total": 100 });
        assert_eq!(
            bar(&half),
            format!("[{}{}] 50/100", "#".repeat(15), ".".repeat(15))
        );
        let nothing = serde_json::json!({ "done": 0, "total": 0 });
        assert_eq!(bar(&nothing), format!("[{}] 0/0", ".".repeat(30)));
    }
}
