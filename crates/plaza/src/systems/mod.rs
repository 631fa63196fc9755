//! The systems this binary runs, each behind one trait: what it needs at start, the jobs
//! it runs, its routes (hosts, wire APIs, pages), its navigation entries, its ports into
//! the page shell (sign-in, the user app) and its error codes. Adding a system is one
//! line in [`build`].

mod channels;
mod miniapp;
mod pay;
mod search;
mod wecom;

use std::path::Path;
use std::sync::Arc;

use plaza_http::web::{SignIn, UserApp};
use plaza_http::{ErrorCode, HttpState, NavEntry, SystemRoutes};
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Clock;
use plaza_store::Store;

use crate::config::Config;
use crate::datadir::DataDir;
use crate::scheduler::JobHandler;

/// The data-directory file of the secret identity derives openids and unionids from
/// (named for Pay, which had it first; every system's openids must agree).
pub(crate) const IDENTITY_SECRET_FILE: &str = "pay.secret";

/// The data-directory file of the secret that keys WeCom's access tokens and derives
/// external_userids.
pub(crate) const WECOM_SECRET_FILE: &str = "wecom.secret";

/// The data-directory folder of the object store every system keeps blobs in (packages,
/// chat images, media), by content address.
pub(crate) const OBJECTS_DIR: &str = "objects";

/// What every system is built from: the configuration, the data directory, the store
/// and the clocks.
pub(crate) struct Foundation<'a> {
    /// The validated configuration.
    pub(crate) config: &'a Config,
    /// The data directory (secrets, keys).
    pub(crate) data_dir: &'a DataDir,
    /// The store, as every port.
    pub(crate) store: Arc<Store>,
    /// The domain clock (the sandbox clock in sandbox mode).
    pub(crate) clock: Arc<dyn Clock>,
    /// Real time.
    pub(crate) wall_clock: Arc<dyn Clock>,
}

/// One system (Pay, Mini Programs, WeCom and Channels today; Search next).
pub(crate) trait System: Send + Sync {
    /// Its name, for logs.
    fn name(&self) -> &'static str;
    /// The jobs it runs, by kind.
    fn jobs(&self) -> Vec<(&'static str, Arc<dyn JobHandler>)>;
    /// Work before the server listens and before missed jobs are caught up (upgrades of
    /// stored data, caches, the sandbox file).
    fn start<'a>(&'a self, data_dir: &'a Path) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Its entries in the pages' navigation: the user app's Discover and Me tabs, each
    /// role's console, the site's header ([`plaza_http::NavPlace`]).
    fn nav(&self) -> &'static [NavEntry];
    /// How it signs people in and out (its roles, their demo accounts, its session
    /// cookies), if it signs anyone in.
    fn sign_in(&self) -> Option<Arc<dyn SignIn>> {
        None
    }
    /// What it puts into the user app (conversations in Chats, cards on Me), if
    /// anything.
    fn user_app(&self) -> Option<Arc<dyn UserApp>> {
        None
    }
    /// Its `/api/v1` error codes beyond the shared ones.
    fn error_codes(&self) -> &'static [ErrorCode];
    /// Its routes, given what every surface shares.
    fn routes(&self, http: &HttpState) -> SystemRoutes;
}

/// Every system this binary runs, in registration order.
pub(crate) fn build(foundation: &Foundation<'_>) -> anyhow::Result<Vec<Box<dyn System>>> {
    let pay = pay::Pay::build(foundation)?;
    let miniapp = miniapp::MiniProgram::build(foundation, pay.service())?;
    // One realtime fan-out for every system (in-process; a broker later behind the same
    // trait).
    let fanout: plaza_fanout::SharedFanOut = Arc::new(plaza_fanout::InProcess::new());
    let wecom = wecom::WeComSystem::build(foundation, &pay.service(), fanout.clone())?;
    let channels = channels::ChannelsSystem::build(foundation, &pay.service(), fanout)?;
    let search = search::SearchSystem::build(
        foundation,
        &pay.service(),
        &miniapp.miniapps(),
        &wecom.wecom(),
        &channels.channels(),
    )?;
    Ok(vec![
        Box::new(pay),
        Box::new(miniapp),
        Box::new(wecom),
        Box::new(channels),
        Box::new(search),
    ])
}

/// Refuses to start with two systems (or a system and the shared list) claiming the
/// same `/api/v1` error code: a code names one meaning.
pub(crate) fn check_error_codes(systems: &[Box<dyn System>]) -> anyhow::Result<()> {
    let mut seen = std::collections::HashSet::new();
    let shared = plaza_http::ERROR_CODES.iter();
    let own = systems
        .iter()
        .flat_map(|system| system.error_codes().iter());
    for code in shared.chain(own) {
        anyhow::ensure!(
            seen.insert(code.name),
            "the error code {} is declared twice",
            code.name
        );
    }
    Ok(())
}
