//! Access tokens of the server API (`gettoken`): one per corp and secret, the same token
//! again while it has more than five minutes left (then a new one, the old one working
//! until its own end), and the check every call makes.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::Expect;

use crate::model::{AccessToken, Scope, TokenSlot};
use crate::store::{kind, load, sha256_hex, write};
use crate::{CONFLICT_RETRIES_MAX, HEX, WeCom, WeComError, random_text};

/// A token lives two hours, as WeCom's do.
pub const TOKEN_TTL_MS: i64 = 7_200_000;
/// A token is handed out again only while it has more than this left, so a client that
/// refreshes a minute before the end (wechatpy) gets a fresh one.
pub const TOKEN_REISSUE_MS: i64 = 300_000;

/// A token as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token's text.
    pub access_token: String,
    /// Seconds it has left.
    pub expires_in: i64,
}

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The corp.
    pub corpid: String,
    /// The secret it came from.
    pub scope: Scope,
}

impl WeCom {
    /// `gettoken`: the token of this corp and secret.
    ///
    /// # Errors
    ///
    /// Those of [`WeCom::authenticate`]; store failures.
    pub async fn token(&self, corpid: &str, secret: &str) -> Result<IssuedToken, WeComError> {
        let scope = self.authenticate(corpid, secret).await?;
        let slot_key = format!("{corpid}/{}", scope.key());
        for _ in 0..CONFLICT_RETRIES_MAX {
            let now = self.now();
            let (slot, expect) =
                match load::<TokenSlot>(&*self.records, kind::TOKEN_SLOT, &slot_key).await? {
                    Some((slot, version)) => (slot, Expect::Version(version)),
                    None => (TokenSlot::default(), Expect::Absent),
                };
            if let (Some(nonce), Some(ends)) = (&slot.nonce, slot.expires_at) {
                let left_ms = ends.unix_ms() - now.unix_ms();
                if left_ms > TOKEN_REISSUE_MS {
                    return Ok(IssuedToken {
                        access_token: self.token_text(corpid, scope, nonce),
                        expires_in: left_ms / 1_000,
                    });
                }
            }
            let nonce = random_text(HEX, 32);
            let text = self.token_text(corpid, scope, &nonce);
            let expires_at = Timestamp::from_unix_ms(now.unix_ms() + TOKEN_TTL_MS);
            let token = AccessToken {
                corpid: corpid.to_owned(),
                scope,
                expires_at,
            };
            let slot = TokenSlot {
                nonce: Some(nonce),
                expires_at: Some(expires_at),
            };
            let writes = vec![
                write(
                    kind::TOKEN,
                    &sha256_hex(&text),
                    Expect::Absent,
                    &token,
                    vec![],
                )?,
                write(kind::TOKEN_SLOT, &slot_key, expect, &slot, vec![])?,
            ];
            if self.try_commit(writes).await? {
                return Ok(IssuedToken {
                    access_token: text,
                    expires_in: TOKEN_TTL_MS / 1_000,
                });
            }
        }
        Err(Self::busy("access token"))
    }

    fn token_text(&self, corpid: &str, scope: Scope, nonce: &str) -> String {
        let message = format!("{corpid}|{}|{nonce}", scope.key());
        let tag = aws_lc_rs::hmac::sign(&self.token_key, message.as_bytes());
        tag.as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// What a token grants, checked in WeCom's order: present, known, not ended.
    ///
    /// # Errors
    ///
    /// [`WeComError::TokenMissing`], [`WeComError::TokenInvalid`],
    /// [`WeComError::TokenExpired`].
    pub async fn check_token(&self, access_token: &str) -> Result<TokenGrant, WeComError> {
        if access_token.is_empty() {
            return Err(WeComError::TokenMissing);
        }
        let Some((token, _)) =
            load::<AccessToken>(&*self.records, kind::TOKEN, &sha256_hex(access_token)).await?
        else {
            return Err(WeComError::TokenInvalid);
        };
        if self.now() >= token.expires_at {
            return Err(WeComError::TokenExpired);
        }
        Ok(TokenGrant {
            corpid: token.corpid,
            scope: token.scope,
        })
    }
}
