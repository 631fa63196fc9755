//! Code versions and their life cycle, as on WeChat: every upload is a development
//! version; one may be the trial version (testers only); one at a time is submitted for
//! review; an operator approves or rejects it with a reason; the developer releases an
//! approved version and can roll back to the release before it, once. Users run the
//! released version. Files live in the object store by content address, so versions
//! share what did not change.

use std::collections::BTreeMap;

use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordWrite};

use crate::model::{Audit, AuditStatus, CodeState, CodeVersion, PackageFile};
use crate::packages::{content_type, read_package};
use crate::store::{index, kind, load, time_value, write};
use crate::{CONFLICT_RETRIES_MAX, MiniAppError, MiniApps};

/// An app's versions listed at most.
pub const VERSIONS_LISTED_MAX: usize = 200;

fn state_error(errcode: i64, problem: impl Into<String>) -> MiniAppError {
    MiniAppError::VersionState {
        errcode,
        problem: problem.into(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn version_key(appid: &str, version: u32) -> String {
    format!("{appid}/{version:08}")
}

impl MiniApps {
    /// The app's code life cycle (empty before the first upload).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn code_state(&self, appid: &str) -> Result<CodeState, MiniAppError> {
        Ok(self.code_state_versioned(appid).await?.0)
    }

    async fn code_state_versioned(&self, appid: &str) -> Result<(CodeState, Expect), MiniAppError> {
        Ok(
            match load::<CodeState>(&*self.records, kind::CODE_STATE, appid).await? {
                Some((state, version)) => (state, Expect::Version(version)),
                None => (CodeState::default(), Expect::Absent),
            },
        )
    }

    fn code_state_write(
        appid: &str,
        state: &CodeState,
        expect: Expect,
    ) -> Result<RecordWrite, MiniAppError> {
        let index = match &state.audit {
            Some(audit) if audit.status == AuditStatus::Auditing => vec![IndexEntry::new(
                index::AUDITING,
                format!("{}/{appid}", time_value(audit.submitted_at.unix_ms())),
            )],
            _ => Vec::new(),
        };
        write(kind::CODE_STATE, appid, expect, state, index)
    }

    /// Reads and checks a package, stores its files and records it as the app's next
    /// development version.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Package`] naming what is wrong with it (nothing is recorded),
    /// [`MiniAppError::Invalid`] for the version text or note,
    /// [`MiniAppError::AppNotFound`].
    pub async fn upload_version(
        &self,
        appid: &str,
        bytes: &[u8],
        user_version: &str,
        user_desc: &str,
    ) -> Result<CodeVersion, MiniAppError> {
        self.existing_app(appid).await?;
        if !(1..=64).contains(&user_version.chars().count())
            || user_version.chars().any(char::is_control)
        {
            return Err(MiniAppError::invalid("user_version", "1 to 64 characters"));
        }
        if user_desc.chars().count() > 200 {
            return Err(MiniAppError::invalid("user_desc", "at most 200 characters"));
        }
        let package = read_package(bytes).map_err(MiniAppError::Package)?;
        let mut files = BTreeMap::new();
        for (path, content) in package.files {
            let sha256 = sha256_hex(&content);
            let size = content.len() as u64;
            self.objects
                .put(sha256.clone(), content)
                .await
                .map_err(|error| MiniAppError::Objects {
                    reason: error.to_string(),
                })?;
            files.insert(
                path,
                PackageFile {
                    sha256,
                    bytes: size,
                },
            );
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut state, expect) = self.code_state_versioned(appid).await?;
            state.next_version = state.next_version.max(1);
            let version = CodeVersion {
                appid: appid.to_owned(),
                version: state.next_version,
                user_version: user_version.to_owned(),
                user_desc: user_desc.to_owned(),
                uploaded_at: self.now(),
                size_bytes: package.size_bytes as u64,
                config: package.config.clone(),
                files: files.clone(),
            };
            state.next_version += 1;
            let key = version_key(appid, version.version);
            let writes = vec![
                write(
                    kind::VERSION,
                    &key,
                    Expect::Absent,
                    &version,
                    vec![IndexEntry::new(index::VERSIONS, key.clone())],
                )?,
                Self::code_state_write(appid, &state, expect)?,
            ];
            if self.try_commit(writes).await? {
                return Ok(version);
            }
        }
        Err(MiniAppError::Busy {
            what: "code versions".to_owned(),
        })
    }

    /// One version of the app.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionNotFound`].
    pub async fn version(&self, appid: &str, version: u32) -> Result<CodeVersion, MiniAppError> {
        load::<CodeVersion>(&*self.records, kind::VERSION, &version_key(appid, version))
            .await?
            .map(|(version, _)| version)
            .ok_or(MiniAppError::VersionNotFound { version })
    }

    /// The app's versions, newest first.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn versions(&self, appid: &str) -> Result<Vec<CodeVersion>, MiniAppError> {
        crate::store::range(
            &*self.records,
            kind::VERSION,
            index::VERSIONS,
            (format!("{appid}/"), format!("{appid}/~")),
            VERSIONS_LISTED_MAX,
            true,
        )
        .await
    }

    /// Changes the life cycle by `change` (which sees the state and may refuse),
    /// checked against the version read.
    async fn change_code_state(
        &self,
        appid: &str,
        change: impl Fn(&mut CodeState) -> Result<(), MiniAppError>,
    ) -> Result<CodeState, MiniAppError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut state, expect) = self.code_state_versioned(appid).await?;
            change(&mut state)?;
            if self
                .try_commit(vec![Self::code_state_write(appid, &state, expect)?])
                .await?
            {
                return Ok(state);
            }
        }
        Err(MiniAppError::Busy {
            what: "code versions".to_owned(),
        })
    }

    /// Makes `version` the trial version.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionNotFound`].
    pub async fn set_trial(&self, appid: &str, version: u32) -> Result<CodeState, MiniAppError> {
        self.version(appid, version).await?;
        self.change_code_state(appid, |state| {
            state.trial = Some(version);
            Ok(())
        })
        .await
    }

    /// Submits `version` for review.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionNotFound`]; [`MiniAppError::VersionState`] (`85009`)
    /// while another review is in progress, or for the released version.
    pub async fn submit_audit(&self, appid: &str, version: u32) -> Result<CodeState, MiniAppError> {
        self.version(appid, version).await?;
        let now = self.now();
        self.change_code_state(appid, |state| {
            if let Some(audit) = &state.audit
                && audit.status == AuditStatus::Auditing
            {
                return Err(state_error(
                    85009,
                    format!(
                        "version {} is under review already; wait for the decision",
                        audit.version
                    ),
                ));
            }
            if state.release == Some(version) {
                return Err(state_error(
                    85009,
                    format!("version {version} is the release already"),
                ));
            }
            state.audit = Some(Audit {
                version,
                status: AuditStatus::Auditing,
                reason: None,
                submitted_at: now,
                decided_at: None,
            });
            Ok(())
        })
        .await
    }

    /// An operator's decision on the review in progress; a rejection needs a reason.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionState`] (`85019`) when nothing is under review;
    /// [`MiniAppError::Invalid`] for a rejection without a reason.
    pub async fn decide_audit(
        &self,
        appid: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<CodeState, MiniAppError> {
        let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
        if !approve && reason.is_none_or(|reason| reason.chars().count() > 500) {
            return Err(MiniAppError::invalid(
                "reason",
                "a rejection says why, in 1 to 500 characters",
            ));
        }
        let now = self.now();
        self.change_code_state(appid, |state| {
            let audit = state
                .audit
                .as_mut()
                .filter(|audit| audit.status == AuditStatus::Auditing)
                .ok_or_else(|| {
                    state_error(85019, "no version of this mini program is under review")
                })?;
            audit.status = if approve {
                AuditStatus::Approved
            } else {
                AuditStatus::Rejected
            };
            audit.reason = reason.map(str::to_owned);
            audit.decided_at = Some(now);
            Ok(())
        })
        .await
    }

    /// Releases the approved version: users run it from now on, and the release before
    /// it is kept for one rollback.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionState`] (`85020`) without an approved version.
    pub async fn release(&self, appid: &str) -> Result<CodeState, MiniAppError> {
        let now = self.now();
        self.change_code_state(appid, |state| {
            let approved = state
                .audit
                .as_ref()
                .filter(|audit| audit.status == AuditStatus::Approved)
                .map(|audit| audit.version)
                .ok_or_else(|| {
                    state_error(
                        85020,
                        "no approved version to release: submit one for review first",
                    )
                })?;
            state.previous_release = state.release;
            state.release = Some(approved);
            state.released_at = Some(now);
            state.audit = None;
            Ok(())
        })
        .await
    }

    /// Goes back to the release before the current one (once).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionState`] (`87011`) when there is none.
    pub async fn rollback(&self, appid: &str) -> Result<CodeState, MiniAppError> {
        let now = self.now();
        self.change_code_state(appid, |state| {
            let previous = state
                .previous_release
                .ok_or_else(|| state_error(87011, "there is no earlier release to roll back to"))?;
            state.release = Some(previous);
            state.previous_release = None;
            state.released_at = Some(now);
            Ok(())
        })
        .await
    }

    /// Apps with a version under review, oldest submission first.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn reviews_pending(&self) -> Result<Vec<(String, Audit)>, MiniAppError> {
        let found = self
            .records
            .range(IndexRange {
                kind: kind::CODE_STATE.to_owned(),
                name: index::AUDITING.to_owned(),
                from: String::new(),
                to: "~".to_owned(),
                after: None,
                rows_max: 500,
                newest_first: false,
            })
            .await?;
        let mut pending = Vec::new();
        for found in &found {
            let state: CodeState = plaza_kernel::record::decode_json(&found.record)?;
            if let Some(audit) = state
                .audit
                .filter(|audit| audit.status == AuditStatus::Auditing)
            {
                pending.push((found.record.key.clone(), audit));
            }
        }
        Ok(pending)
    }

    /// A file of a version, with the type it is served as.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionNotFound`]; [`MiniAppError::Objects`] when the object
    /// store fails or lost the file.
    pub async fn package_file(
        &self,
        version: &CodeVersion,
        path: &str,
    ) -> Result<Option<(Vec<u8>, &'static str)>, MiniAppError> {
        let Some(file) = version.files.get(path) else {
            return Ok(None);
        };
        let Some(content_type) = content_type(path) else {
            return Ok(None);
        };
        let bytes = self
            .objects
            .get(file.sha256.clone())
            .await
            .map_err(|error| MiniAppError::Objects {
                reason: error.to_string(),
            })?
            .ok_or_else(|| MiniAppError::Objects {
                reason: format!("the object store lost {} of {}", file.sha256, version.appid),
            })?;
        Ok(Some((bytes, content_type)))
    }
}
