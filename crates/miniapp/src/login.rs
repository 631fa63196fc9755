//! Logins: the code `wx.login` gives a mini program (sealed around the app, the user and
//! the time, so minting writes nothing), its exchange by the back end
//! (`/sns/jscode2session`: once, within five minutes, with the app's secret), the
//! session that exchange leaves (`session_key`), and `checksession`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::Expect;

use crate::model::{LoginSession, SpentCode};
use crate::store::{kind, load, write};
use crate::{MiniAppError, MiniApps};

/// A login code works this long after `wx.login` made it.
pub const CODE_TTL_MS: i64 = 300_000;
/// How far a code's issue time may lie ahead of the clock reading it: the sandbox clock
/// can read a few seconds behind after a restart (it keeps the latest move, not the
/// latest reading), and a code minted just before must still work.
pub const CLOCK_SKEW_MS: i64 = 60_000;

/// Whether something issued at `issued_ms` is still within `ttl_ms` at `now_ms`,
/// allowing [`CLOCK_SKEW_MS`] of a clock reading behind.
pub(crate) fn fresh(issued_ms: i64, now_ms: i64, ttl_ms: i64) -> bool {
    (-CLOCK_SKEW_MS..ttl_ms).contains(&(now_ms - issued_ms))
}

/// What binds a code's ciphertext to its purpose.
const CODE_AAD: &[u8] = b"plaza miniapp login code v1";

/// The keys derived from the system's secret.
pub(crate) struct Secrets {
    token: hmac::Key,
    code: LessSafeKey,
}

impl Secrets {
    /// Two independent keys from one secret.
    pub(crate) fn derive(secret: &[u8]) -> Self {
        let derive = |purpose: &str| {
            let mut context = digest::Context::new(&digest::SHA256);
            context.update(purpose.as_bytes());
            context.update(b"\n");
            context.update(secret);
            context.finish()
        };
        let code_key = derive("login codes");
        let code = UnboundKey::new(&AES_256_GCM, code_key.as_ref())
            // A SHA-256 digest is 32 bytes, exactly AES-256's key length.
            .map(LessSafeKey::new)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is AES-256's length"));
        Self {
            token: hmac::Key::new(hmac::HMAC_SHA512, derive("access tokens").as_ref()),
            code,
        }
    }

    /// The text of the token made from `nonce`: 86 URL-safe characters.
    pub(crate) fn token_text(&self, appid: &str, stable: bool, nonce: &str) -> String {
        let kind = if stable { "stable" } else { "token" };
        let tag = hmac::sign(
            &self.token,
            format!("mp\n{appid}\n{kind}\n{nonce}").as_bytes(),
        );
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    pub(crate) fn seal_code(&self, code: &Code) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = code.to_bytes();
        // Sealing fails only for inputs beyond AES-GCM's 64 GiB limit; a code is < 100 B.
        if self
            .code
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(CODE_AAD),
                &mut sealed,
            )
            .is_err()
        {
            unreachable!("a login code is far below AES-GCM's length limit");
        }
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The code inside `text` and its id, if this system sealed it.
    pub(crate) fn open_code(&self, text: &str) -> Option<(Code, String)> {
        if text.len() > 256 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        if bytes.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .code
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(CODE_AAD),
                &mut sealed,
            )
            .ok()?;
        let code = Code::from_bytes(plain)?;
        Some((code, URL_SAFE_NO_PAD.encode(nonce)))
    }
}

/// What a code is for: a login (`wx.login`) or a phone number (`getPhoneNumber`); a
/// code of one kind never works as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `jscode2session`.
    Login,
    /// `getuserphonenumber`.
    Phone,
    /// An ad served in a slot (its impression and click).
    Ad,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Phone => "phone",
            Purpose::Ad => "ad",
        }
    }
}

/// What a code carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Code {
    pub(crate) purpose: Purpose,
    pub(crate) issued_ms: i64,
    pub(crate) appid: String,
    pub(crate) user_id: String,
    /// What else the code names (an ad's slot and campaign), or nothing.
    pub(crate) extra: String,
}

impl Code {
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.issued_ms.to_be_bytes().to_vec();
        bytes.extend_from_slice(
            format!(
                "{}\n{}\n{}\n{}",
                self.purpose.as_str(),
                self.appid,
                self.user_id,
                self.extra
            )
            .as_bytes(),
        );
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (time, rest) = bytes.split_at_checked(8)?;
        let issued_ms = i64::from_be_bytes(time.try_into().ok()?);
        let mut fields = std::str::from_utf8(rest).ok()?.splitn(4, '\n');
        let purpose = match fields.next()? {
            "login" => Purpose::Login,
            "phone" => Purpose::Phone,
            "ad" => Purpose::Ad,
            _ => return None,
        };
        Some(Self {
            purpose,
            issued_ms,
            appid: fields.next()?.to_owned(),
            user_id: fields.next()?.to_owned(),
            extra: fields.next()?.to_owned(),
        })
    }
}

/// What `jscode2session` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSession {
    /// The user's openid in this app.
    pub openid: String,
    /// Base64 of 16 random bytes.
    pub session_key: String,
    /// The user's unionid under the app's developer account.
    pub unionid: String,
}

impl MiniApps {
    /// `wx.login` for `user_id` in `appid`: a code the app's back end exchanges once,
    /// within [`CODE_TTL_MS`]. Nothing is written.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::AppNotFound`].
    pub async fn login_code(&self, appid: &str, user_id: &str) -> Result<String, MiniAppError> {
        self.existing_app(appid).await?;
        Ok(self.secrets.seal_code(&Code {
            purpose: Purpose::Login,
            issued_ms: self.now().unix_ms(),
            appid: appid.to_owned(),
            user_id: user_id.to_owned(),
            extra: String::new(),
        }))
    }

    /// `/sns/jscode2session`: checks the app's credentials and the code, then spends the
    /// code and writes the user's new session in one unit of work, so a second exchange
    /// — even after a restart — is `40163`.
    ///
    /// # Errors
    ///
    /// The errors of [`MiniApps::authenticate`]; [`MiniAppError::GrantType`];
    /// [`MiniAppError::Missing`] without a code; [`MiniAppError::CodeInvalid`] for a
    /// code that is not one, is another app's or is over five minutes old;
    /// [`MiniAppError::CodeUsed`].
    pub async fn code_to_session(
        &self,
        appid: &str,
        secret: &str,
        js_code: &str,
        grant_type: &str,
    ) -> Result<CodeSession, MiniAppError> {
        // A wrong secret here is `40125` (as WeChat answers it), never `40001`, which
        // SDKs take for a stale access token and retry after fetching a new one.
        let app = self
            .authenticate(appid, secret)
            .await
            .map_err(|error| match error {
                MiniAppError::SecretWrong => MiniAppError::SecretMalformed,
                other => other,
            })?;
        if grant_type != "authorization_code" {
            return Err(MiniAppError::GrantType {
                expected: "authorization_code",
            });
        }
        if js_code.is_empty() {
            return Err(MiniAppError::Missing { name: "code" });
        }
        let (code, code_id) = self
            .secrets
            .open_code(js_code)
            .ok_or(MiniAppError::CodeInvalid)?;
        let now = self.now();
        if code.purpose != Purpose::Login
            || code.appid != app.appid
            || !fresh(code.issued_ms, now.unix_ms(), CODE_TTL_MS)
        {
            return Err(MiniAppError::CodeInvalid);
        }
        let openid = self.identity.openid(&app.appid, &code.user_id);
        let session_key = STANDARD.encode(rand::random::<[u8; 16]>());
        let session = LoginSession {
            user_id: code.user_id.clone(),
            session_key: session_key.clone(),
            created_at: now,
        };
        let spent = SpentCode {
            appid: app.appid.clone(),
            spent_at: now,
        };
        let writes = vec![
            write(kind::SPENT_CODE, &code_id, Expect::Absent, &spent, vec![])?,
            write(
                kind::SESSION,
                &format!("{}/{openid}", app.appid),
                Expect::Any,
                &session,
                vec![],
            )?,
        ];
        if !self.try_commit(writes).await? {
            return Err(MiniAppError::CodeUsed);
        }
        Ok(CodeSession {
            openid,
            session_key,
            unionid: self.identity.unionid(&app.developer_id, &code.user_id),
        })
    }

    /// The user's current login session in `appid`, by openid.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn session(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Option<LoginSession>, MiniAppError> {
        Ok(
            load::<LoginSession>(&*self.records, kind::SESSION, &format!("{appid}/{openid}"))
                .await?
                .map(|(session, _)| session),
        )
    }

    /// `/wxa/checksession`: whether `signature` is the hex HMAC-SHA256 of the empty
    /// string under the user's current `session_key` (`sig_method=hmac_sha256`).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::SignatureInvalid`] for no session, another method or a wrong
    /// signature.
    pub async fn check_session(
        &self,
        appid: &str,
        openid: &str,
        signature: &str,
        sig_method: &str,
    ) -> Result<(), MiniAppError> {
        if sig_method != "hmac_sha256" {
            return Err(MiniAppError::SignatureInvalid);
        }
        let session = self
            .session(appid, openid)
            .await?
            .ok_or(MiniAppError::SignatureInvalid)?;
        if session_signature(&session.session_key) == signature.to_ascii_lowercase() {
            Ok(())
        } else {
            Err(MiniAppError::SignatureInvalid)
        }
    }

    /// The instant a code minted now stops working, for tests and pages.
    pub fn code_deadline(&self) -> Timestamp {
        Timestamp::from_unix_ms(self.now().unix_ms() + CODE_TTL_MS)
    }
}

/// The `checksession` signature of a session: hex HMAC-SHA256 of the empty string under
/// the `session_key` as given to the back end.
pub fn session_signature(session_key: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, session_key.as_bytes());
    hmac::sign(&key, b"")
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_code_opens_only_under_its_own_secret_and_unaltered() {
        let secrets = Secrets::derive(b"one secret, 32 bytes or more....");
        let code = Code {
            purpose: Purpose::Login,
            issued_ms: 1_700_000_000_000,
            appid: "wx0123456789abcdef".to_owned(),
            user_id: "u0123456789abcdef".to_owned(),
            extra: String::new(),
        };
        let text = secrets.seal_code(&code);
        let (opened, id) = secrets.open_code(&text).unwrap();
        assert_eq!(opened, code);
        assert_eq!(id.len(), 16);
        assert_ne!(secrets.seal_code(&code), text, "each code is new");
        let other = Secrets::derive(b"another secret, 32 bytes or more");
        assert!(other.open_code(&text).is_none());
        let mut altered = text.into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            secrets
                .open_code(&String::from_utf8(altered).unwrap())
                .is_none()
        );
        assert!(secrets.open_code("").is_none());
        assert!(secrets.open_code("not a code").is_none());
    }

    proptest::proptest! {
        #[test]
        fn codes_round_trip(issued_ms in proptest::prelude::any::<i64>(), user in "[a-z0-9]{1,40}") {
            let secrets = Secrets::derive(b"property secret.................");
            let code = Code { purpose: Purpose::Phone, issued_ms, appid: "wx0000000000000001".to_owned(), user_id: user, extra: "slot/campaign".to_owned() };
            let (opened, _) = secrets.open_code(&secrets.seal_code(&code)).unwrap();
            proptest::prop_assert_eq!(opened, code);
        }
    }

    #[test]
    fn tokens_differ_by_app_kind_and_nonce() {
        let secrets = Secrets::derive(b"tokens secret...................");
        let a = secrets.token_text("wx1", false, "n1");
        assert_eq!(a.len(), 86);
        assert_eq!(a, secrets.token_text("wx1", false, "n1"));
        assert_ne!(a, secrets.token_text("wx1", true, "n1"));
        assert_ne!(a, secrets.token_text("wx2", false, "n1"));
        assert_ne!(a, secrets.token_text("wx1", false, "n2"));
    }

    #[test]
    fn the_session_signature_is_the_hmac_of_nothing() {
        // Python: hmac.new(b"key", b"", hashlib.sha256).hexdigest()
        assert_eq!(
            session_signature("key"),
            "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"
        );
    }
}
