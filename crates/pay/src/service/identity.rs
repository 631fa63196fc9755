//! Who people are: apps, users with their payment password, sessions, and openids.
//!
//! This is the part of the core the coming `identity` crate takes over, kept together and
//! apart from the rest so it can move whole. What it touches: the record store (the
//! `pay.app`, `pay.user`, `pay.session` and `pay.openid` kinds, committed through the
//! ledger's unit of work like every record), the clock, the platform secret (openids),
//! [`crate::password`] and [`crate::ids`], the entities [`App`], [`User`] and [`Session`],
//! and the session limits in `plaza_kernel::limits`. One thing is Pay's and must stay
//! behind when it moves: [`PayService::create_user`] opens the user's wallet account (a
//! hook or an event of the identity crate would do that then). Pay uses from here:
//! [`PayService::openid`], [`openid_write`], [`payer_record`], the password check and
//! lock at payment ([`PayService::check_payment_password`]), and the user lookups.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::{Expect, RecordWrite};
use plaza_ledger::LedgerError;

use std::sync::Arc;

use plaza_identity::Identity;

use super::{CONFLICT_RETRIES_MAX, PayService, check_text, records_only};
use crate::accounts;
use crate::error::PayError;
use crate::ids;
use crate::model::{App, PASSWORD_FREE_LIMIT_MINOR_DEFAULT, Payer, User};
use crate::password;
use crate::store::{self, kind, load};

/// Wrong payment passwords in a row before paying is locked.
pub const PASSWORD_ATTEMPTS_MAX: u32 = 5;
/// How long paying stays locked after too many wrong passwords: three hours.
pub const PASSWORD_LOCK_MS: i64 = 3 * 3_600_000;

impl PayService {
    // ---- apps --------------------------------------------------------------------

    /// Identity (apps, sessions, openids), which Pay shares with every system.
    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// Registers an app under `appid` (or a new one).
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for a malformed appid.
    pub async fn create_app(&self, name: &str, appid: Option<&str>) -> Result<App, PayError> {
        Ok(self.identity.create_app(name, appid).await?)
    }

    /// One app.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn app(&self, appid: &str) -> Result<Option<App>, PayError> {
        Ok(self.identity.app(appid).await?)
    }

    // ---- users -------------------------------------------------------------------

    /// Creates a payer: a person in identity, what Pay keeps about them and their wallet,
    /// with a 6-digit payment password. Person and payer are written in one unit of
    /// work.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for a bad name or password.
    pub async fn create_user(&self, name: &str, password: &str) -> Result<User, PayError> {
        check_text("name", name, 1, 64)?;
        check_password_shape(password)?;
        let salt = ids::random_hex(32);
        let password_hash = password::hash_off_runtime(password, &salt).await?;
        let now = self.now();
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (person, person_write) = self.identity.new_user(name)?;
            let payer = Payer {
                password_hash: password_hash.clone(),
                password_salt: salt.clone(),
                password_rounds: password::PASSWORD_ROUNDS,
                failed_password_count: 0,
                locked_until: None,
                created_at: now,
                password_free_limit_minor: PASSWORD_FREE_LIMIT_MINOR_DEFAULT,
            };
            let user = User::joined(person.user_id, person.name, payer);
            // The wallet is opened before the payer exists, so a payer always has one.
            self.open(&accounts::wallet(&user.user_id)?).await?;
            let writes = vec![person_write, payer_record(&user, PAYER_NEW)?];
            if self.try_commit_records(writes).await? {
                return Ok(user);
            }
        }
        Err(PayError::Busy {
            what: "user".to_owned(),
        })
    }

    /// One payer: a person with what Pay keeps about them; `None` for no such person, or
    /// a person Pay knows nothing about.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, PayError> {
        Ok(self.payer_of(user_id).await?.map(|(user, _)| user))
    }

    /// One payer with the version of its payer record ([`PAYER_NEW`] while its fields
    /// are still only in an older data directory's user record).
    pub(crate) async fn user_versioned(&self, user_id: &str) -> Result<(User, u64), PayError> {
        self.payer_of(user_id)
            .await?
            .ok_or_else(|| PayError::UserNotFound {
                user_id: user_id.to_owned(),
            })
    }

    async fn payer_of(&self, user_id: &str) -> Result<Option<(User, u64)>, PayError> {
        let Some(person) = self.identity.user(user_id).await? else {
            return Ok(None);
        };
        if let Some((payer, version)) = load::<Payer>(&*self.records, kind::PAYER, user_id).await? {
            return Ok(Some((
                User::joined(person.user_id, person.name, payer),
                version,
            )));
        }
        // Older data directories kept the payer's fields in the person's own record;
        // they move to the payer record at its first write.
        let Some(record) = self.records.record(kind::USER, user_id).await? else {
            return Ok(None);
        };
        Ok(plaza_kernel::record::decode_json::<Payer>(&record)
            .ok()
            .map(|payer| (User::joined(person.user_id, person.name, payer), PAYER_NEW)))
    }

    /// Payers, oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn users(&self, rows_max: usize) -> Result<Vec<User>, PayError> {
        let mut users = Vec::new();
        for person in self.identity.users(rows_max).await? {
            if let Some((user, _)) = self.payer_of(&person.user_id).await? {
                users.push(user);
            }
        }
        Ok(users)
    }

    /// Checks the payment password of `user` (read at `version`) at `now`: refused while
    /// locked; a wrong one is counted, and the lock set after too many. `verified_hash`
    /// remembers a hash the password was already checked against, so a retry after a
    /// conflict does not pay for the same check twice. `Ok(false)` when a wrong password
    /// could not be counted because the user changed meanwhile (read again).
    pub(crate) async fn check_payment_password(
        &self,
        (user, version): (&User, u64),
        password: &str,
        verified_hash: &mut Option<String>,
        now: Timestamp,
    ) -> Result<bool, PayError> {
        if let Some(until) = user.locked_until
            && now < until
        {
            return Err(PayError::PasswordLocked { until });
        }
        if verified_hash.as_deref() == Some(user.password_hash.as_str()) {
            return Ok(true);
        }
        let right = password::verify_off_runtime(
            password,
            &user.password_salt,
            user.password_rounds(),
            &user.password_hash,
        )
        .await?;
        if !right {
            return match self.wrong_password(user.clone(), version, now).await {
                Ok(answer) => Err(answer),
                Err(PayError::Busy { .. }) => Ok(false),
                Err(error) => Err(error),
            };
        }
        *verified_hash = Some(user.password_hash.clone());
        Ok(true)
    }

    /// Counts a wrong password; answers the error to give the payer, or `Busy` when the
    /// user changed meanwhile.
    async fn wrong_password(
        &self,
        mut user: User,
        version: u64,
        now: Timestamp,
    ) -> Result<PayError, PayError> {
        user.failed_password_count += 1;
        let answer = if user.failed_password_count >= PASSWORD_ATTEMPTS_MAX {
            let until = now.plus_ms(PASSWORD_LOCK_MS);
            user.failed_password_count = 0;
            user.locked_until = Some(until);
            PayError::PasswordLocked { until }
        } else {
            PayError::WrongPassword {
                attempts_left: PASSWORD_ATTEMPTS_MAX - user.failed_password_count,
            }
        };
        let write = payer_record(&user, version)?;
        match self.commit_write(records_only(vec![write])).await {
            Ok(()) => Ok(answer),
            Err(LedgerError::RecordConflict { .. }) => Err(PayError::Busy {
                what: "user".to_owned(),
            }),
            Err(error) => Err(error.into()),
        }
    }

    /// What to write of `user` (read at `version`) once its right payment `password`
    /// was given, in the payment's unit of work: failed tries and a lock forgotten, and a
    /// hash made with fewer rounds than today's made again now that the password is known.
    /// Nothing when nothing changes.
    pub(crate) async fn user_after_right_password(
        &self,
        user: &User,
        version: u64,
        password: &str,
    ) -> Result<Vec<RecordWrite>, PayError> {
        let mut after = user.clone();
        let rehash = user.password_rounds() < password::PASSWORD_ROUNDS;
        if rehash {
            after.password_hash = password::hash_off_runtime(password, &user.password_salt).await?;
            after.password_rounds = password::PASSWORD_ROUNDS;
        }
        if user.failed_password_count == 0 && user.locked_until.is_none() && !rehash {
            return Ok(Vec::new());
        }
        after.failed_password_count = 0;
        after.locked_until = None;
        Ok(vec![payer_record(&after, version)?])
    }

    // ---- openids -----------------------------------------------------------------

    /// The user's openid under `appid`.
    pub fn openid(&self, appid: &str, user_id: &str) -> String {
        self.identity.openid(appid, user_id)
    }

    /// The user an app's openid names, remembering it for later lookups (profit sharing
    /// names personal receivers by openid).
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn openid_remembered(&self, appid: &str, user_id: &str) -> Result<String, PayError> {
        let openid = self.openid(appid, user_id);
        self.try_commit_records(vec![openid_write(appid, &openid, user_id)?])
            .await?;
        Ok(openid)
    }

    /// The user an openid under an app names, if Plaza has seen it.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn user_of_openid(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Option<String>, PayError> {
        let owner: Option<(serde_json::Value, u64)> =
            load(&*self.records, kind::OPENID, &format!("{appid}|{openid}")).await?;
        Ok(owner.and_then(|(owner, _)| owner["user_id"].as_str().map(str::to_owned)))
    }

    // ---- sessions ----------------------------------------------------------------

    /// Signs a user in: a new bearer token (an identity session, valid for every system).
    ///
    /// # Errors
    ///
    /// [`PayError::UserNotFound`].
    pub async fn create_session(&self, user_id: &str) -> Result<String, PayError> {
        Ok(self.identity.create_session(user_id).await?)
    }

    /// The payer a bearer token belongs to (see `Identity::session_user` for when a
    /// session ends).
    ///
    /// # Errors
    ///
    /// [`PayError::SessionUnknown`].
    pub async fn session_user(&self, token: &str) -> Result<User, PayError> {
        let user = self.identity.session_user(token).await?;
        self.user(&user.user_id)
            .await?
            .ok_or(PayError::SessionUnknown)
    }

    /// Signs a session out: its token never works again. Signing out an unknown or
    /// ended session succeeds and changes nothing.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn revoke_session(&self, token: &str) -> Result<(), PayError> {
        Ok(self.identity.revoke_session(token).await?)
    }
}

/// The version a payer has before its payer record exists.
pub(crate) const PAYER_NEW: u64 = 0;

/// The write of what Pay keeps about `user`, over the payer record's `version`
/// ([`PAYER_NEW`]: none yet).
pub(crate) fn payer_record(user: &User, version: u64) -> Result<RecordWrite, PayError> {
    let expect = if version == PAYER_NEW {
        Expect::Absent
    } else {
        Expect::Version(version)
    };
    store::write(kind::PAYER, &user.user_id, expect, &user.payer(), vec![])
}

/// Remembers which user an openid under an app is (profit sharing names personal
/// receivers by openid).
pub(crate) fn openid_write(
    appid: &str,
    openid: &str,
    user_id: &str,
) -> Result<RecordWrite, PayError> {
    store::write(
        kind::OPENID,
        &format!("{appid}|{openid}"),
        Expect::Any,
        &serde_json::json!({ "user_id": user_id }),
        vec![],
    )
}

fn check_password_shape(password: &str) -> Result<(), PayError> {
    if password.len() == 6 && password.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PayError::invalid(
            "password",
            "the payment password is exactly 6 digits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_six_digits() {
        assert!(check_password_shape("12345").is_err());
        assert!(check_password_shape("12345a").is_err());
        assert!(check_password_shape("123456").is_ok());
    }
}
