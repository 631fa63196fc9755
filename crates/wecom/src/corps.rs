//! Corps and their self-built apps: creation with new secrets, listing, secret resets,
//! and which corp and scope a secret opens.

use plaza_kernel::record::Expect;
use plaza_ledger::WriteSet;

use crate::model::{Corp, CorpApp, Department, ROOT_DEPARTMENT, Scope, SecretGrant};
use crate::store::{
    app_key, app_write, corp_write, department_write, grant_write, index, kind, load, sha256_hex,
    with_prefix, write,
};
use crate::{ALNUM, CONFLICT_RETRIES_MAX, HEX, WeCom, WeComError, random_text};

/// The first app's agentid, as WeCom numbers self-built apps.
pub const FIRST_AGENTID: u32 = 1_000_002;
/// Corps listed at most at once.
pub const CORPS_LISTED_MAX: usize = 500;
/// Apps a corp may have.
pub const APPS_MAX: usize = 50;

/// What an operator gives to create a corp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCorp {
    /// 1–40 characters.
    pub name: String,
    /// The first app's name (default 客户联系).
    pub app_name: Option<String>,
}

/// A new corp with its secrets, shown only now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpCreated {
    /// The corp.
    pub corp: Corp,
    /// The contacts (通讯录) secret.
    pub contacts_secret: String,
    /// Its first self-built app (visible to the whole corp).
    pub app: CorpApp,
    /// The app's secret.
    pub app_secret: String,
}

/// A new secret: 43 characters, as WeCom's are.
fn new_secret() -> String {
    random_text(ALNUM, 43)
}

pub(crate) fn check_name(field: &str, value: &str, max: usize) -> Result<(), WeComError> {
    let chars = value.chars().count();
    if (1..=max).contains(&chars) && !value.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(WeComError::invalid(
            field,
            format!("must have 1 to {max} characters and no control characters"),
        ))
    }
}

/// The outbox topic of a corp's public profile (Search reads it).
pub const TOPIC_CORP: &str = "wecom.corp";

/// The outbox event of a corp as it now is: its public name; never its people.
#[must_use]
pub fn corp_event(corp: &Corp) -> plaza_kernel::queue::NewEvent {
    plaza_kernel::queue::NewEvent {
        topic: TOPIC_CORP.to_owned(),
        key: corp.corpid.clone(),
        payload: serde_json::json!({ "corpid": corp.corpid, "name": corp.name }).to_string(),
    }
}

impl WeCom {
    /// Creates a corp: its root department (named like the corp), its contacts secret
    /// and a first self-built app visible to the whole corp, in one unit of work.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad name; store failures.
    pub async fn create_corp(&self, new: NewCorp) -> Result<CorpCreated, WeComError> {
        check_name("name", &new.name, 40)?;
        let app_name = new.app_name.unwrap_or_else(|| "客户联系".to_owned());
        check_name("app_name", &app_name, 32)?;
        let now = self.now();
        let corpid = format!("ww{}", random_text(HEX, 16));
        let contacts_secret = new_secret();
        let app_secret = new_secret();
        let corp = Corp {
            corpid: corpid.clone(),
            name: new.name.clone(),
            contacts_secret_sha256: sha256_hex(&contacts_secret),
            next_department_id: ROOT_DEPARTMENT + 1,
            next_agentid: FIRST_AGENTID + 1,
            created_at: now,
            callback: None,
        };
        let root = Department {
            corpid: corpid.clone(),
            id: ROOT_DEPARTMENT,
            name: new.name,
            name_en: String::new(),
            parentid: 0,
            order: 100_000_000,
            deleted: false,
        };
        let app = CorpApp {
            corpid: corpid.clone(),
            agentid: FIRST_AGENTID,
            name: app_name,
            secret_sha256: sha256_hex(&app_secret),
            visible_departments: vec![ROOT_DEPARTMENT],
            visible_users: Vec::new(),
            created_at: now,
        };
        let writes = vec![
            corp_write(&corp, Expect::Absent)?,
            department_write(&root, Expect::Absent)?,
            app_write(&app, Expect::Absent)?,
            grant_write(&contacts_secret, &corpid, Scope::Contacts)?,
            grant_write(&app_secret, &corpid, Scope::Agent(FIRST_AGENTID))?,
        ];
        let published = WriteSet {
            records: writes,
            events: vec![corp_event(&corp)],
            ..WriteSet::default()
        };
        if !self.try_commit_set(published).await? {
            return Err(Self::busy("corp"));
        }
        Ok(CorpCreated {
            corp,
            contacts_secret,
            app,
            app_secret,
        })
    }

    /// A corp by corpid.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn corp(&self, corpid: &str) -> Result<Option<Corp>, WeComError> {
        Ok(load::<Corp>(&*self.records, kind::CORP, corpid)
            .await?
            .map(|(corp, _)| corp))
    }

    /// A corp that must exist.
    pub(crate) async fn corp_versioned(&self, corpid: &str) -> Result<(Corp, u64), WeComError> {
        load::<Corp>(&*self.records, kind::CORP, corpid)
            .await?
            .ok_or_else(|| WeComError::CorpNotFound {
                corpid: corpid.to_owned(),
            })
    }

    /// Corps, oldest first.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn corps(&self) -> Result<Vec<Corp>, WeComError> {
        with_prefix(
            &*self.records,
            kind::CORP,
            index::CREATED,
            "",
            CORPS_LISTED_MAX,
        )
        .await
    }

    /// Creates another self-built app visible to the given departments (the whole corp
    /// when empty).
    ///
    /// # Errors
    ///
    /// [`WeComError::CorpNotFound`], [`WeComError::DepartmentNotFound`],
    /// [`WeComError::Invalid`].
    pub async fn create_app(
        &self,
        corpid: &str,
        name: &str,
        visible_departments: Vec<u32>,
    ) -> Result<(CorpApp, String), WeComError> {
        check_name("name", name, 32)?;
        let visible = if visible_departments.is_empty() {
            vec![ROOT_DEPARTMENT]
        } else {
            visible_departments
        };
        for id in &visible {
            self.department(corpid, *id).await?;
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut corp, version) = self.corp_versioned(corpid).await?;
            if self.apps(corpid).await?.len() >= APPS_MAX {
                return Err(WeComError::invalid(
                    "agentid",
                    format!("a corp has at most {APPS_MAX} apps"),
                ));
            }
            let secret = new_secret();
            let app = CorpApp {
                corpid: corpid.to_owned(),
                agentid: corp.next_agentid,
                name: name.to_owned(),
                secret_sha256: sha256_hex(&secret),
                visible_departments: visible.clone(),
                visible_users: Vec::new(),
                created_at: self.now(),
            };
            corp.next_agentid += 1;
            let writes = vec![
                corp_write(&corp, Expect::Version(version))?,
                app_write(&app, Expect::Absent)?,
                grant_write(&secret, corpid, Scope::Agent(app.agentid))?,
            ];
            if self.try_commit(writes).await? {
                return Ok((app, secret));
            }
        }
        Err(Self::busy("app"))
    }

    /// A corp's apps, by agentid.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn apps(&self, corpid: &str) -> Result<Vec<CorpApp>, WeComError> {
        with_prefix(
            &*self.records,
            kind::APP,
            index::CORP,
            &format!("{corpid}/"),
            APPS_MAX,
        )
        .await
    }

    /// One app of a corp.
    ///
    /// # Errors
    ///
    /// [`WeComError::AgentNotFound`]; store failures.
    pub async fn app(&self, corpid: &str, agentid: i64) -> Result<CorpApp, WeComError> {
        let missing = || WeComError::AgentNotFound { agentid };
        let id = u32::try_from(agentid).map_err(|_| missing())?;
        load::<CorpApp>(&*self.records, kind::APP, &app_key(corpid, id))
            .await?
            .map(|(app, _)| app)
            .ok_or_else(missing)
    }

    /// A new secret for the contacts scope or an app: the old one opens nothing from
    /// now on (tokens it issued work until they end, as WeCom's do).
    ///
    /// # Errors
    ///
    /// [`WeComError::CorpNotFound`], [`WeComError::AgentNotFound`]; store failures.
    pub async fn reset_secret(&self, corpid: &str, scope: Scope) -> Result<String, WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let secret = new_secret();
            let digest = sha256_hex(&secret);
            let mut writes = vec![grant_write(&secret, corpid, scope)?];
            let old = match scope {
                Scope::Contacts => {
                    let (mut corp, version) = self.corp_versioned(corpid).await?;
                    let old = std::mem::replace(&mut corp.contacts_secret_sha256, digest);
                    writes.push(corp_write(&corp, Expect::Version(version))?);
                    old
                }
                Scope::Agent(agentid) => {
                    let key = app_key(corpid, agentid);
                    let (mut app, version) = load::<CorpApp>(&*self.records, kind::APP, &key)
                        .await?
                        .ok_or(WeComError::AgentNotFound {
                            agentid: i64::from(agentid),
                        })?;
                    let old = std::mem::replace(&mut app.secret_sha256, digest);
                    writes.push(app_write(&app, Expect::Version(version))?);
                    old
                }
            };
            if let Some((mut grant, version)) =
                load::<SecretGrant>(&*self.records, kind::SECRET, &old).await?
            {
                grant.revoked = true;
                writes.push(write(
                    kind::SECRET,
                    &old,
                    Expect::Version(version),
                    &grant,
                    vec![],
                )?);
            }
            if self.try_commit(writes).await? {
                return Ok(secret);
            }
        }
        Err(Self::busy("secret"))
    }

    /// The scope `secret` opens in `corpid`, checked in WeCom's order: both present, the
    /// corp known, the secret one of its current ones.
    ///
    /// # Errors
    ///
    /// [`WeComError::Missing`], [`WeComError::CorpNotFound`], [`WeComError::SecretWrong`].
    pub async fn authenticate(&self, corpid: &str, secret: &str) -> Result<Scope, WeComError> {
        if corpid.is_empty() {
            return Err(WeComError::Missing { name: "corpid" });
        }
        if secret.is_empty() {
            return Err(WeComError::Missing { name: "corpsecret" });
        }
        self.corp_versioned(corpid).await?;
        match load::<SecretGrant>(&*self.records, kind::SECRET, &sha256_hex(secret)).await? {
            Some((grant, _)) if grant.corpid == corpid && !grant.revoked => Ok(grant.scope),
            _ => Err(WeComError::SecretWrong),
        }
    }
}
