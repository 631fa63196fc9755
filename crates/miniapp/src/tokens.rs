//! Access tokens of the server API: `/cgi-bin/token` (a new token at every call, the
//! previous one working five more minutes) and `/cgi-bin/stable_token` (the same token
//! while it has more than five minutes left; `force_refresh` replaces it), each kind in
//! its own slot so one never ends the other's tokens, and the check every call makes.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::Expect;

use crate::model::{AccessToken, TokenSlot};
use crate::store::{kind, load, sha256_hex, write};
use crate::{CONFLICT_RETRIES_MAX, MiniAppError, MiniApps, china_day};

/// A token lives two hours, as WeChat's do.
pub const TOKEN_TTL_MS: i64 = 7_200_000;
/// A replaced token keeps working this long (and a stable token is replaced this long
/// before it ends).
pub const TOKEN_OVERLAP_MS: i64 = 300_000;
/// Forced refreshes of a stable token per app and day.
pub const FORCE_REFRESH_DAILY_MAX: u32 = 20;
/// Forced refreshes of a stable token are at least this far apart.
pub const FORCE_REFRESH_GAP_MS: i64 = 30_000;

/// A token as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token's text.
    pub access_token: String,
    /// Seconds it has left.
    pub expires_in: i64,
}

/// What a token call asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// `/cgi-bin/token`: always a new one.
    Plain,
    /// `/cgi-bin/stable_token`, forced or not.
    Stable { force_refresh: bool },
}

impl MiniApps {
    /// `/cgi-bin/token`: checks the credentials and issues a new token; the app's
    /// previous one ends five minutes from now (or sooner, if it was ending anyway).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::GrantType`], the errors of [`MiniApps::authenticate`],
    /// [`MiniAppError::Quota`] past the day's quota.
    pub async fn token(
        &self,
        grant_type: &str,
        appid: &str,
        secret: &str,
    ) -> Result<IssuedToken, MiniAppError> {
        check_grant_type(grant_type)?;
        self.authenticate(appid, secret).await?;
        self.issue(appid, Ask::Plain).await
    }

    /// `/cgi-bin/stable_token`: the current stable token while it has more than five
    /// minutes left, else a new one; `force_refresh` always makes a new one (at most
    /// [`FORCE_REFRESH_DAILY_MAX`] a day, [`FORCE_REFRESH_GAP_MS`] apart), the previous
    /// one working five more minutes.
    ///
    /// # Errors
    ///
    /// As [`MiniApps::token`].
    pub async fn stable_token(
        &self,
        grant_type: &str,
        appid: &str,
        secret: &str,
        force_refresh: bool,
    ) -> Result<IssuedToken, MiniAppError> {
        check_grant_type(grant_type)?;
        self.authenticate(appid, secret).await?;
        self.issue(appid, Ask::Stable { force_refresh }).await
    }

    async fn issue(&self, appid: &str, ask: Ask) -> Result<IssuedToken, MiniAppError> {
        let stable = matches!(ask, Ask::Stable { .. });
        let slot_key = format!("{appid}/{}", if stable { "stable" } else { "token" });
        for _ in 0..CONFLICT_RETRIES_MAX {
            let now = self.now();
            let loaded = load::<TokenSlot>(&*self.records, kind::TOKEN_SLOT, &slot_key).await?;
            let (mut slot, expect) = match loaded {
                Some((slot, version)) => (slot, Expect::Version(version)),
                None => (TokenSlot::default(), Expect::Absent),
            };
            if slot.day != china_day(now) {
                slot.day = china_day(now);
                slot.issued_on_day = 0;
                slot.forced_on_day = 0;
            }
            if let Some(kept) = self.keep_current(appid, &slot, ask, now) {
                return Ok(kept);
            }
            self.check_quota(&slot, ask, now)?;
            let nonce = new_nonce();
            let text = self.secrets.token_text(appid, stable, &nonce);
            let key = sha256_hex(&text);
            let expires_at = Timestamp::from_unix_ms(now.unix_ms() + TOKEN_TTL_MS);
            let token = AccessToken {
                appid: appid.to_owned(),
                stable,
                issued_at: now,
                expires_at,
            };
            let mut writes = vec![write(kind::TOKEN, &key, Expect::Absent, &token, vec![])?];
            if let Some(previous) = &slot.current
                && let Some((mut old, version)) =
                    load::<AccessToken>(&*self.records, kind::TOKEN, previous).await?
            {
                let overlap_end = now.unix_ms() + TOKEN_OVERLAP_MS;
                if old.expires_at.unix_ms() > overlap_end {
                    old.expires_at = Timestamp::from_unix_ms(overlap_end);
                    writes.push(write(
                        kind::TOKEN,
                        previous,
                        Expect::Version(version),
                        &old,
                        vec![],
                    )?);
                }
            }
            slot.current = Some(key);
            slot.current_nonce = Some(nonce);
            slot.current_expires_at = Some(expires_at);
            slot.issued_on_day += 1;
            if let Ask::Stable {
                force_refresh: true,
            } = ask
            {
                slot.forced_on_day += 1;
                slot.last_forced_at = Some(now);
            }
            writes.push(write(kind::TOKEN_SLOT, &slot_key, expect, &slot, vec![])?);
            if self.try_commit(writes).await? {
                return Ok(IssuedToken {
                    access_token: text,
                    expires_in: TOKEN_TTL_MS / 1_000,
                });
            }
        }
        Err(MiniAppError::Busy {
            what: "access token".to_owned(),
        })
    }

    /// A stable token asked without force, while the current one has more than the
    /// overlap left: that one again.
    fn keep_current(
        &self,
        appid: &str,
        slot: &TokenSlot,
        ask: Ask,
        now: Timestamp,
    ) -> Option<IssuedToken> {
        if ask
            != (Ask::Stable {
                force_refresh: false,
            })
        {
            return None;
        }
        let nonce = slot.current_nonce.as_deref()?;
        let left_ms = slot.current_expires_at?.unix_ms() - now.unix_ms();
        (left_ms > TOKEN_OVERLAP_MS).then(|| IssuedToken {
            access_token: self.secrets.token_text(appid, true, nonce),
            expires_in: left_ms / 1_000,
        })
    }

    fn check_quota(&self, slot: &TokenSlot, ask: Ask, now: Timestamp) -> Result<(), MiniAppError> {
        match ask {
            Ask::Plain if slot.issued_on_day >= self.limits.token_daily_max => {
                Err(MiniAppError::Quota {
                    what: format!(
                        "/cgi-bin/token issues {} tokens a day per app",
                        self.limits.token_daily_max
                    ),
                })
            }
            Ask::Stable {
                force_refresh: true,
            } => {
                if slot.forced_on_day >= FORCE_REFRESH_DAILY_MAX {
                    return Err(MiniAppError::Quota {
                        what: format!(
                            "force_refresh works {FORCE_REFRESH_DAILY_MAX} times a day per app"
                        ),
                    });
                }
                if slot
                    .last_forced_at
                    .is_some_and(|last| now.unix_ms() - last.unix_ms() < FORCE_REFRESH_GAP_MS)
                {
                    return Err(MiniAppError::Quota {
                        what: format!(
                            "force_refresh calls are at least {} s apart",
                            FORCE_REFRESH_GAP_MS / 1_000
                        ),
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The app a token acts for, checked in WeChat's order: present, known, not ended.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::TokenMissing`], [`MiniAppError::TokenInvalid`],
    /// [`MiniAppError::TokenExpired`].
    pub async fn check_token(&self, access_token: &str) -> Result<String, MiniAppError> {
        if access_token.is_empty() {
            return Err(MiniAppError::TokenMissing);
        }
        let key = sha256_hex(access_token);
        let Some((token, _)) = load::<AccessToken>(&*self.records, kind::TOKEN, &key).await? else {
            return Err(MiniAppError::TokenInvalid);
        };
        if self.now() >= token.expires_at {
            return Err(MiniAppError::TokenExpired);
        }
        Ok(token.appid)
    }
}

fn check_grant_type(grant_type: &str) -> Result<(), MiniAppError> {
    if grant_type == "client_credential" {
        Ok(())
    } else {
        Err(MiniAppError::GrantType {
            expected: "client_credential",
        })
    }
}

/// 16 random bytes in hex: what a token is made from.
fn new_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
