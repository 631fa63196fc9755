//! Once-only steps that bring data stored by an earlier Plaza up to how this one stores
//! it, run at start; each is recorded when done, so it runs once per data directory.

use std::collections::{BTreeMap, BTreeSet};

use plaza_kernel::record::{Expect, IndexRange};
use serde_json::json;

use crate::groups::seats_of;
use crate::model::{AppChat, GroupChat};
use crate::store::{SeatOf, index, kind, load, seat_writes, write};
use crate::{WeCom, WeComError};

/// Records read per page while upgrading.
const PAGE_ROWS: usize = 200;

impl WeCom {
    /// Runs the steps not done yet in this data directory.
    ///
    /// # Errors
    ///
    /// Store failures (the step is tried again at the next start).
    pub async fn upgrade_stored(&self) -> Result<(), WeComError> {
        self.seat_everyone().await
    }

    /// Conversations stored before seats existed found their members through index
    /// entries on the conversation's own record (so a large one could not be stored):
    /// give each member of every live customer group and appchat their seat.
    async fn seat_everyone(&self) -> Result<(), WeComError> {
        const STEP: &str = "seats";
        if load::<serde_json::Value>(&*self.records, kind::UPGRADE, STEP)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let mut seated = 0_usize;
        for group in self
            .every::<GroupChat>(kind::GROUP_CHAT, index::CORP)
            .await?
        {
            let writes = seat_writes(
                kind::GROUP_SEAT,
                &group.corpid,
                &group.chat_id,
                &BTreeMap::new(),
                &seats_of(Some(&group)),
            )?;
            seated += writes.len();
            self.try_commit(writes).await?;
        }
        // Appchats were found only through their members' entries.
        let mut seen = BTreeSet::new();
        for chat in self
            .every::<AppChat>(kind::APPCHAT, index::CHAT_MEMBER)
            .await?
        {
            if !seen.insert((chat.corpid.clone(), chat.chatid.clone())) {
                continue;
            }
            let holders = chat
                .userlist
                .iter()
                .map(|userid| (userid.to_ascii_lowercase(), SeatOf::default()))
                .collect();
            let writes = seat_writes(
                kind::APPCHAT_SEAT,
                &chat.corpid,
                &chat.chatid,
                &BTreeMap::new(),
                &holders,
            )?;
            seated += writes.len();
            self.try_commit(writes).await?;
        }
        let done = json!({ "seats_written": seated, "at": self.now().unix_ms() });
        self.try_commit(vec![write(
            kind::UPGRADE,
            STEP,
            Expect::Any,
            &done,
            Vec::new(),
        )?])
        .await?;
        Ok(())
    }

    /// Every record of `kind` found under index `name` (once per entry), decoded.
    async fn every<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        name: &str,
    ) -> Result<Vec<T>, WeComError> {
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .records
                .range(IndexRange {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    from: String::new(),
                    to: "\u{10FFFF}".to_owned(),
                    after: after.take(),
                    rows_max: PAGE_ROWS,
                    newest_first: false,
                })
                .await?;
            for row in &page {
                found.push(plaza_kernel::record::decode_json(&row.record)?);
            }
            match page.last() {
                Some(last) if page.len() == PAGE_ROWS => {
                    after = Some((last.value.clone(), last.record.key.clone()));
                }
                _ => return Ok(found),
            }
        }
    }
}
