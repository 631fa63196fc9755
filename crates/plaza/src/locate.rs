//! How `plaza admin` finds the Plaza it works on.
//!
//! A data directory named by `--data-dir`, `PLAZA_DATA_DIR` or the config file is the only
//! place looked at. Otherwise the defaults of `plaza serve` (`./plaza-data`) and of
//! `plaza demo` (`./plaza-demo`) are, in that order. A directory whose lock is held has a
//! running server, whose address is in its `plaza.addr`. Looking creates nothing, and a
//! command that finds nothing says where it looked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::{Config, DATA_DIR_DEFAULT};
use crate::datadir::{is_locked, read_addr, read_admin_token};

/// Where `plaza demo` keeps its data unless told.
pub(crate) const DEMO_DIR_DEFAULT: &str = "plaza-demo";

/// What one place held when it was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// No such directory.
    Missing,
    /// A data directory that no process holds.
    Stopped,
    /// Held by a process that has not written its address (yet).
    Starting,
    /// A server listens here.
    Running(SocketAddr),
}

/// One place looked at.
#[derive(Debug, Clone)]
struct Place {
    data_dir: PathBuf,
    /// Why it was looked at, e.g. "flag --data-dir" or "plaza demo's default".
    why: String,
    status: Status,
}

/// The places an admin command looked at, in order, and what each held.
#[derive(Debug)]
pub(crate) struct Survey {
    places: Vec<Place>,
}

impl Survey {
    /// Looks where `config` says, or at both defaults when it names no data directory.
    pub(crate) fn of(config: &Config) -> Self {
        let candidates = match &config.data_dir_origin {
            Some(origin) => vec![(config.data_dir.clone(), origin.clone())],
            None => vec![
                (
                    PathBuf::from(DATA_DIR_DEFAULT),
                    "plaza serve's default".to_owned(),
                ),
                (
                    PathBuf::from(DEMO_DIR_DEFAULT),
                    "plaza demo's default".to_owned(),
                ),
            ],
        };
        Self::among(candidates)
    }

    /// Looks at these directories, each with why it is looked at.
    pub(crate) fn among(candidates: Vec<(PathBuf, String)>) -> Self {
        let places = candidates
            .into_iter()
            .map(|(data_dir, why)| {
                let status = status(&data_dir);
                Place {
                    data_dir,
                    why,
                    status,
                }
            })
            .collect();
        Self { places }
    }

    /// The first place with a running server: its data directory and address.
    pub(crate) fn running(&self) -> Option<(&Path, SocketAddr)> {
        self.places.iter().find_map(|place| match place.status {
            Status::Running(addr) => Some((place.data_dir.as_path(), addr)),
            _ => None,
        })
    }

    /// The first data directory that exists and no process holds.
    pub(crate) fn stopped(&self) -> Option<&Path> {
        self.places
            .iter()
            .find(|place| place.status == Status::Stopped)
            .map(|place| place.data_dir.as_path())
    }

    /// The admin token of the first place that has one, running servers first.
    pub(crate) fn admin_token(&self) -> anyhow::Result<Option<String>> {
        let running = self.running().map(|(data_dir, _)| data_dir);
        for data_dir in running
            .into_iter()
            .chain(self.places.iter().map(|place| place.data_dir.as_path()))
        {
            if let Some(token) = read_admin_token(data_dir)? {
                return Ok(Some(token));
            }
        }
        Ok(None)
    }

    /// "`headline`; looked in:" and one line per place, then what to do.
    pub(crate) fn not_found(&self, headline: &str) -> anyhow::Error {
        let mut text = format!("{headline}; looked in:");
        for place in &self.places {
            let shown =
                std::path::absolute(&place.data_dir).unwrap_or_else(|_| place.data_dir.clone());
            let held = match place.status {
                Status::Missing => "no such directory".to_owned(),
                Status::Stopped => "no Plaza is running there".to_owned(),
                Status::Starting => {
                    "a Plaza is starting there (no plaza.addr yet); try again in a moment"
                        .to_owned()
                }
                Status::Running(addr) => format!("a Plaza is running there at {addr}"),
            };
            text.push_str(&format!("\n  {} ({}): {held}", shown.display(), place.why));
        }
        text.push_str(
            "\nstart one here (plaza serve, or plaza demo), or say where it is: \
             --data-dir DIR (or PLAZA_DATA_DIR), or --server URL with --token",
        );
        anyhow::anyhow!(text)
    }
}

fn status(data_dir: &Path) -> Status {
    if !data_dir.is_dir() {
        Status::Missing
    } else if !is_locked(data_dir) {
        Status::Stopped
    } else {
        read_addr(data_dir).map_or(Status::Starting, Status::Running)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;
    use crate::datadir::DataDir;

    #[test]
    fn a_survey_finds_the_running_server_and_names_every_place_it_looked() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("missing");
        let stopped = root.path().join("stopped");
        let running = root.path().join("running");
        std::fs::create_dir(&stopped).unwrap();
        let held = DataDir::open(&running).unwrap();
        let places = |dirs: &[&PathBuf]| {
            Survey::among(
                dirs.iter()
                    .map(|dir| ((*dir).clone(), "a test".to_owned()))
                    .collect(),
            )
        };

        let survey = places(&[&missing, &stopped, &running]);
        assert_eq!(survey.running(), None, "no address written yet");
        let text = survey.not_found("no running Plaza found").to_string();
        assert!(
            text.contains("missing (a test): no such directory"),
            "{text}"
        );
        assert!(
            text.contains("stopped (a test): no Plaza is running"),
            "{text}"
        );
        assert!(
            text.contains("running (a test): a Plaza is starting"),
            "{text}"
        );
        assert_eq!(survey.stopped(), Some(stopped.as_path()));

        let addr = SocketAddr::from(([127, 0, 0, 1], 4321));
        held.write_addr(addr).unwrap();
        let survey = places(&[&missing, &stopped, &running]);
        assert_eq!(survey.running(), Some((running.as_path(), addr)));
        assert_eq!(survey.admin_token().unwrap(), None);
        let token = held.admin_token().unwrap();
        assert_eq!(survey.admin_token().unwrap(), Some(token));

        let survey = places(&[&missing]);
        assert_eq!((survey.running(), survey.stopped()), (None, None));
        assert!(!missing.exists(), "looking creates nothing");
    }
}
