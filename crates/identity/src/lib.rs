//! Who people and apps are, for every system: users, their sessions, apps (appid), the
//! developer accounts that scope unionids, and the openids and unionids apps know people
//! by — plain Rust, no HTTP.
//!
//! The one design decision: identity is a base every system may use (Pay's payers,
//! Mini Programs' `jscode2session`, WeCom's employees and customers, Channels' creators
//! and viewers all are users), and it knows none of them. A system keeps what is its own
//! about a person in its own records keyed by the user id (Pay: the wallet and the
//! payment password), so identity never grows a field for one system.
//!
//! Openids and unionids are derived, not stored: an HMAC of the scope and the user under
//! the platform secret, stable for an app (or developer account) and unlinkable across
//! them. Sessions are stored by the SHA-256 of their token, so the database alone signs
//! no one in.
#![deny(missing_docs)]

pub mod error;
pub mod ids;
pub mod model;
pub mod records;

use std::sync::Arc;

use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordStore, RecordWrite};
use plaza_ledger::{LedgerError, LedgerStore, WriteSet};

pub use error::IdentityError;
pub use model::{App, Developer, Session, User};

use records::{index, kind, load};

/// How often a write that lost a race is tried again before answering `Busy`.
const CONFLICT_RETRIES_MAX: usize = 16;

/// Entries a cache keeps before it starts again empty.
const CACHE_ENTRIES_MAX: usize = 100_000;

/// Users, apps and sessions over the record store.
///
/// Sessions and users are cached as last read or written, with their record versions:
/// this process is the only writer (the data directory's lock) and every session write
/// passes through here, so one `Identity` shared by every system keeps the cache exact
/// (a version never replaces a newer one). Whether a session is still live is decided
/// on every use from the clock, never cached.
pub struct Identity {
    records: Arc<dyn RecordStore>,
    ledger: Arc<dyn LedgerStore>,
    clock: Arc<dyn Clock>,
    secret: Vec<u8>,
    sessions: std::sync::RwLock<std::collections::HashMap<String, (u64, Session)>>,
    users: std::sync::RwLock<std::collections::HashMap<String, User>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

impl Identity {
    /// Identity over the given stores; `secret` derives openids and unionids.
    pub fn new(
        records: Arc<dyn RecordStore>,
        ledger: Arc<dyn LedgerStore>,
        clock: Arc<dyn Clock>,
        secret: Vec<u8>,
    ) -> Self {
        Self {
            records,
            ledger,
            clock,
            secret,
            sessions: std::sync::RwLock::default(),
            users: std::sync::RwLock::default(),
        }
    }

    /// Keeps `session` as of `version` unless a newer version is known.
    fn remember_session(&self, key: &str, version: u64, session: &Session) {
        if let Ok(mut cache) = self.sessions.write() {
            if cache.len() >= CACHE_ENTRIES_MAX {
                cache.clear();
            }
            let newer = cache.get(key).is_none_or(|(known, _)| *known < version);
            if newer {
                cache.insert(key.to_owned(), (version, session.clone()));
            }
        }
    }

    /// The session stored under `key`, from the cache or the store.
    async fn load_session(&self, key: &str) -> Result<Option<(Session, u64)>, IdentityError> {
        if let Ok(cache) = self.sessions.read()
            && let Some((version, session)) = cache.get(key)
        {
            return Ok(Some((session.clone(), *version)));
        }
        let loaded = load::<Session>(&*self.records, kind::SESSION, key).await?;
        if let Some((session, version)) = &loaded {
            self.remember_session(key, *version, session);
        }
        Ok(loaded)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Commits records; `Ok(false)` when one it relied on changed meanwhile.
    async fn try_commit(&self, records: Vec<RecordWrite>) -> Result<bool, IdentityError> {
        let write = WriteSet {
            records,
            ..WriteSet::default()
        };
        match self.ledger.commit(write).await {
            Ok(_) => Ok(true),
            Err(LedgerError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    // ---- openids ---------------------------------------------------------------

    /// The user's openid under `appid`.
    pub fn openid(&self, appid: &str, user_id: &str) -> String {
        ids::openid(&self.secret, appid, user_id)
    }

    /// The user's unionid under developer account `developer_id`.
    pub fn unionid(&self, developer_id: &str, user_id: &str) -> String {
        ids::unionid(&self.secret, developer_id, user_id)
    }

    // ---- apps ------------------------------------------------------------------

    /// Registers an app under `appid` (or a new one); registering an existing appid
    /// returns it as it is.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Invalid`] for a bad name or appid.
    pub async fn create_app(&self, name: &str, appid: Option<&str>) -> Result<App, IdentityError> {
        check_text("name", name, 1, 64)?;
        if let Some(appid) = appid {
            check_appid("appid", appid)?;
            if let Some(app) = self.app(appid).await? {
                return Ok(app);
            }
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let app = App {
                appid: appid.map_or_else(ids::new_appid, str::to_owned),
                name: name.to_owned(),
                created_at: self.now(),
                developer_id: None,
            };
            let write = records::write(kind::APP, &app.appid, Expect::Absent, &app, vec![])?;
            if self.try_commit(vec![write]).await? {
                return Ok(app);
            }
            if appid.is_some() {
                return self.app(&app.appid).await?.ok_or(IdentityError::Busy {
                    what: "app".to_owned(),
                });
            }
        }
        Err(IdentityError::Busy {
            what: "app".to_owned(),
        })
    }

    /// A new app bound to `developer_id` (when given) and the write that registers it,
    /// for a system that registers an app together with what is its own about it (Mini
    /// Programs: the AppSecret, the settings) in one unit of work. The write expects no
    /// app under the appid: on a conflict, the appid is taken (when given) or ask again.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Invalid`] for a bad name or appid.
    pub fn new_app(
        &self,
        name: &str,
        appid: Option<&str>,
        developer_id: Option<&str>,
    ) -> Result<(App, RecordWrite), IdentityError> {
        check_text("name", name, 1, 64)?;
        if let Some(appid) = appid {
            check_appid("appid", appid)?;
        }
        let app = App {
            appid: appid.map_or_else(ids::new_appid, str::to_owned),
            name: name.to_owned(),
            created_at: self.now(),
            developer_id: developer_id.map(str::to_owned),
        };
        let write = records::write(kind::APP, &app.appid, Expect::Absent, &app, vec![])?;
        Ok((app, write))
    }

    /// One app.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Unavailable`] when the store fails.
    pub async fn app(&self, appid: &str) -> Result<Option<App>, IdentityError> {
        Ok(load::<App>(&*self.records, kind::APP, appid)
            .await?
            .map(|(app, _)| app))
    }

    // ---- users -----------------------------------------------------------------

    /// Creates a user.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Invalid`] for a bad name.
    pub async fn create_user(&self, name: &str) -> Result<User, IdentityError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (user, write) = self.new_user(name)?;
            if self.try_commit(vec![write]).await? {
                return Ok(user);
            }
        }
        Err(IdentityError::Busy {
            what: "user".to_owned(),
        })
    }

    /// A new user and the write that creates it, for a system that creates a person
    /// together with what is its own about them in one unit of work (Pay: the payer's
    /// password and wallet). The write expects no record under the new id; on a
    /// conflict, ask again.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Invalid`] for a bad name.
    pub fn new_user(&self, name: &str) -> Result<(User, RecordWrite), IdentityError> {
        check_text("name", name, 1, 64)?;
        let now = self.now();
        let user = User {
            user_id: ids::new_user_id(),
            name: name.to_owned(),
            created_at: now,
        };
        let write = records::write(
            kind::USER,
            &user.user_id,
            Expect::Absent,
            &user,
            vec![IndexEntry::new(
                index::CREATED,
                records::time_value(now.unix_ms()),
            )],
        )?;
        Ok((user, write))
    }

    /// One user.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Unavailable`] when the store fails.
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, IdentityError> {
        if let Ok(cache) = self.users.read()
            && let Some(user) = cache.get(user_id)
        {
            return Ok(Some(user.clone()));
        }
        let loaded = load::<User>(&*self.records, kind::USER, user_id)
            .await?
            .map(|(user, _)| user);
        if let (Some(user), Ok(mut cache)) = (&loaded, self.users.write()) {
            if cache.len() >= CACHE_ENTRIES_MAX {
                cache.clear();
            }
            cache.insert(user.user_id.clone(), user.clone());
        }
        Ok(loaded)
    }

    /// Users, oldest first, at most `rows_max`.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Unavailable`] when the store fails.
    pub async fn users(&self, rows_max: usize) -> Result<Vec<User>, IdentityError> {
        let found = self
            .records
            .range(IndexRange {
                kind: kind::USER.to_owned(),
                name: index::CREATED.to_owned(),
                from: String::new(),
                to: "~".to_owned(),
                after: None,
                rows_max,
                newest_first: false,
            })
            .await?;
        found
            .iter()
            .map(|found| Ok(plaza_kernel::record::decode_json(&found.record)?))
            .collect()
    }

    // ---- developer accounts ----------------------------------------------------

    /// Makes `user_id` a developer: its developer account, made on the first call and
    /// the same on every later one.
    ///
    /// # Errors
    ///
    /// [`IdentityError::UserNotFound`].
    pub async fn become_developer(&self, user_id: &str) -> Result<Developer, IdentityError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            if let Some(developer) = self.developer_of(user_id).await? {
                return Ok(developer);
            }
            if self.user(user_id).await?.is_none() {
                return Err(IdentityError::UserNotFound {
                    user_id: user_id.to_owned(),
                });
            }
            let developer = Developer {
                developer_id: ids::new_developer_id(),
                owner_user_id: user_id.to_owned(),
                created_at: self.now(),
            };
            let writes = vec![
                records::write(
                    kind::DEVELOPER,
                    &developer.developer_id,
                    Expect::Absent,
                    &developer,
                    vec![],
                )?,
                records::write(
                    kind::DEVELOPER_OF,
                    user_id,
                    Expect::Absent,
                    &developer.developer_id,
                    vec![],
                )?,
            ];
            if self.try_commit(writes).await? {
                return Ok(developer);
            }
        }
        Err(IdentityError::Busy {
            what: "developer account".to_owned(),
        })
    }

    /// One developer account.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Unavailable`] when the store fails.
    pub async fn developer(&self, developer_id: &str) -> Result<Option<Developer>, IdentityError> {
        Ok(
            load::<Developer>(&*self.records, kind::DEVELOPER, developer_id)
                .await?
                .map(|(developer, _)| developer),
        )
    }

    /// The developer account `user_id` owns, if any.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Unavailable`] when the store fails.
    pub async fn developer_of(&self, user_id: &str) -> Result<Option<Developer>, IdentityError> {
        match load::<String>(&*self.records, kind::DEVELOPER_OF, user_id).await? {
            Some((developer_id, _)) => self.developer(&developer_id).await,
            None => Ok(None),
        }
    }

    // ---- phone numbers ---------------------------------------------------------

    /// Sets the user's phone number: mainland digits (`13800138000`) or `+` country
    /// code and digits; stored without spaces or dashes.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Invalid`] for a malformed number, [`IdentityError::UserNotFound`].
    pub async fn set_phone(&self, user_id: &str, phone: &str) -> Result<String, IdentityError> {
        let phone: String = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = phone.strip_prefix('+').unwrap_or(&phone);
        if !(6..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::Invalid {
                field: "phone".to_owned(),
                problem: "6 to 15 digits, optionally after + and a country code".to_owned(),
            });
        }
        if self.user(user_id).await?.is_none() {
            return Err(IdentityError::UserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        let write = records::write(kind::PHONE, user_id, Expect::Any, &phone, vec![])?;
        if self.try_commit(vec![write]).await? {
            Ok(phone)
        } else {
            Err(IdentityError::Busy {
                what: "phone number".to_owned(),
            })
        }
    }

    /// The user's phone number, if they gave one.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Unavailable`] when the store fails.
    pub async fn phone(&self, user_id: &str) -> Result<Option<String>, IdentityError> {
        Ok(load::<String>(&*self.records, kind::PHONE, user_id)
            .await?
            .map(|(phone, _)| phone))
    }

    // ---- sessions --------------------------------------------------------------

    /// Signs a user in: a new bearer token.
    ///
    /// # Errors
    ///
    /// [`IdentityError::UserNotFound`].
    pub async fn create_session(&self, user_id: &str) -> Result<String, IdentityError> {
        if self.user(user_id).await?.is_none() {
            return Err(IdentityError::UserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        let token = ids::new_session_token();
        let session = Session {
            user_id: user_id.to_owned(),
            created_at: self.now(),
            last_seen_at: None,
            revoked_at: None,
        };
        let key = records::token_key(&token);
        let write = records::write(kind::SESSION, &key, Expect::Absent, &session, vec![])?;
        if self.try_commit(vec![write]).await? {
            Ok(token)
        } else {
            // 240 random bits collided: the store is not what it seems.
            Err(IdentityError::Busy {
                what: "session".to_owned(),
            })
        }
    }

    /// The user a bearer token belongs to.
    ///
    /// A session ends when it is signed out ([`Identity::revoke_session`]), when it was
    /// not used for `SESSION_IDLE_MS`, and `SESSION_AGE_MAX_MS` after it began
    /// (`plaza_kernel::limits`), all on the domain clock, so moving the sandbox clock
    /// ends sessions as waiting would. A use writes the session's last use again when it
    /// is older than `SESSION_TOUCH_MS`.
    ///
    /// # Errors
    ///
    /// [`IdentityError::SessionUnknown`].
    pub async fn session_user(&self, token: &str) -> Result<User, IdentityError> {
        let key = records::token_key(token);
        let Some((mut session, version)) = self.load_session(&key).await? else {
            return Err(IdentityError::SessionUnknown);
        };
        let now = self.now();
        if !session.live_at(now) {
            return Err(IdentityError::SessionUnknown);
        }
        if session.needs_touch_at(now) {
            session.last_seen_at = Some(now);
            // A concurrent request touched it (or signed it out) first: either is fine
            // for this request, which was valid when it was read.
            let _touched = self.rewrite_session(&key, version, &session).await?;
        }
        self.user(&session.user_id)
            .await?
            .ok_or(IdentityError::SessionUnknown)
    }

    /// Signs a session out: its token never works again. Signing out an unknown or
    /// ended session succeeds and changes nothing.
    ///
    /// # Errors
    ///
    /// [`IdentityError::Unavailable`] when the store fails.
    pub async fn revoke_session(&self, token: &str) -> Result<(), IdentityError> {
        let key = records::token_key(token);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut session, version)) =
                load::<Session>(&*self.records, kind::SESSION, &key).await?
            else {
                return Ok(());
            };
            if session.revoked_at.is_some() {
                return Ok(());
            }
            session.revoked_at = Some(self.now());
            if self.rewrite_session(&key, version, &session).await? {
                return Ok(());
            }
        }
        Err(IdentityError::Busy {
            what: "session".to_owned(),
        })
    }

    async fn rewrite_session(
        &self,
        key: &str,
        version: u64,
        session: &Session,
    ) -> Result<bool, IdentityError> {
        let write = records::write(
            kind::SESSION,
            key,
            Expect::Version(version),
            session,
            vec![],
        )?;
        let written = self.try_commit(vec![write]).await?;
        if written {
            self.remember_session(key, version + 1, session);
        }
        Ok(written)
    }
}

/// `value` has between `min_chars` and `max_chars` characters.
fn check_text(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), IdentityError> {
    let chars = value.chars().count();
    if (min_chars..=max_chars).contains(&chars) {
        Ok(())
    } else {
        Err(IdentityError::Invalid {
            field: field.to_owned(),
            problem: format!("must have {min_chars} to {max_chars} characters"),
        })
    }
}

/// `appid` is `wx` + 16 hex digits.
pub fn check_appid(field: &str, appid: &str) -> Result<(), IdentityError> {
    if appid.len() == 18
        && appid.starts_with("wx")
        && appid[2..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        Ok(())
    } else {
        Err(IdentityError::Invalid {
            field: field.to_owned(),
            problem: "an appid is wx followed by 16 hex digits".to_owned(),
        })
    }
}
