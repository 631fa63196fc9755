//! What the container does for a running mini program, on the server's side: which
//! version a user runs, `wx.setStorage` and friends (per app and user, 10 MB), visits
//! (a visit is a user opening the app; pages and time counted too) for analytics,
//! `wx.checkSession`, phone-number codes, the user-data material of §3.4 (signed and
//! encrypted with the session key), the domain allow-list of `wx.request`, and
//! `wx.requestPayment`'s check through Pay.

use aws_lc_rs::cipher::{AES_128, PaddedBlockEncryptingKey, UnboundCipherKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use plaza_kernel::record::{Expect, IndexEntry};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::login::{Code, Purpose};
use crate::model::{CodeVersion, MiniApp};
use crate::ports::{PaymentRefusal, PaymentRequest, PaymentSummary};
use crate::store::{kind, load, write};
use crate::{CONFLICT_RETRIES_MAX, MiniAppError, MiniApps, china_day};

/// What one user may keep in one app's storage (WeChat: 10 MB).
pub const STORAGE_BYTES_MAX: u64 = 10 * 1024 * 1024;
/// One value at most (WeChat: 1 MB).
pub const STORAGE_VALUE_BYTES_MAX: usize = 1024 * 1024;
/// One key at most.
pub const STORAGE_KEY_BYTES_MAX: usize = 128;

/// Which version a user asks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The release: everyone.
    Release,
    /// The trial version: testers and the developer.
    Trial,
    /// A development version: the developer only.
    Develop(u32),
}

/// A stored value.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    /// The value as the mini program gave it (JSON text), or none once removed.
    value: Option<String>,
}

/// A user's storage use in one app.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Usage {
    bytes: u64,
}

/// Visits of one app on one China day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayVisits {
    /// Opens of the app.
    pub session_cnt: u64,
    /// Pages viewed.
    pub visit_pv: u64,
    /// Distinct users who opened it.
    pub visit_uv: u64,
    /// Of those, users opening it for the first time.
    pub visit_uv_new: u64,
    /// Time spent, milliseconds, as the container reported it on leaving.
    pub stay_ms: u64,
    /// Users who ever opened the app, as of this day.
    pub visit_total: u64,
}

/// What a visit report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitEvent {
    /// The user opened the app.
    Open,
    /// The user saw another page.
    Page,
    /// The user left after this long.
    Leave {
        /// Milliseconds.
        stay_ms: u64,
    },
}

impl MiniApps {
    /// The version `user_id` runs of `appid` in `flavor`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::VersionState`] when there is none yet (`released` not yet, no
    /// trial), [`MiniAppError::NotYourApp`] when the user may not run it.
    pub async fn runnable(
        &self,
        appid: &str,
        user_id: &str,
        flavor: Flavor,
    ) -> Result<(MiniApp, CodeVersion), MiniAppError> {
        let app = self.existing_app(appid).await?;
        let state = self.code_state(appid).await?;
        let developer = self
            .identity
            .developer_of(user_id)
            .await?
            .is_some_and(|developer| developer.developer_id == app.developer_id);
        let number = match flavor {
            Flavor::Release => state.release.ok_or_else(|| MiniAppError::VersionState {
                errcode: 85019,
                problem: format!("{} has no released version yet", app.name),
            })?,
            Flavor::Trial => {
                if !developer && !app.testers.iter().any(|tester| tester == user_id) {
                    return Err(MiniAppError::NotYourApp {
                        appid: appid.to_owned(),
                    });
                }
                state.trial.ok_or_else(|| MiniAppError::VersionState {
                    errcode: 85019,
                    problem: format!("{} has no trial version", app.name),
                })?
            }
            Flavor::Develop(number) => {
                if !developer {
                    return Err(MiniAppError::NotYourApp {
                        appid: appid.to_owned(),
                    });
                }
                number
            }
        };
        let version = self.version(appid, number).await?;
        Ok((app, version))
    }

    /// Mini programs with a released version, oldest first (of the first `rows_max`
    /// apps).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn released_apps(&self, rows_max: usize) -> Result<Vec<MiniApp>, MiniAppError> {
        let mut released = Vec::new();
        for app in self.apps(rows_max).await? {
            if self.code_state(&app.appid).await?.release.is_some() {
                released.push(app);
            }
        }
        Ok(released)
    }

    /// Whether `page` is a page of the app's released version (WeChat's `check_path`
    /// for codes that open it), or of its trial version for `trial`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::AppNotFound`]; the store's.
    pub async fn has_page(
        &self,
        appid: &str,
        page: &str,
        trial: bool,
    ) -> Result<bool, MiniAppError> {
        self.existing_app(appid).await?;
        let state = self.code_state(appid).await?;
        let number = if trial { state.trial } else { state.release };
        let Some(number) = number else {
            return Ok(false);
        };
        Ok(self
            .version(appid, number)
            .await?
            .config
            .pages
            .iter()
            .any(|known| known == page))
    }

    /// `wx.setStorage`: `value` is the JSON text of the value.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for a bad key, a value over 1 MB, or a total over
    /// 10 MB for this user in this app (nothing changes).
    pub async fn set_storage(
        &self,
        appid: &str,
        user_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), MiniAppError> {
        if key.is_empty() || key.len() > STORAGE_KEY_BYTES_MAX {
            return Err(MiniAppError::invalid(
                "key",
                format!("1 to {STORAGE_KEY_BYTES_MAX} bytes"),
            ));
        }
        if value.is_some_and(|value| value.len() > STORAGE_VALUE_BYTES_MAX) {
            return Err(MiniAppError::invalid(
                "data",
                "exceed storage item max length 1MB",
            ));
        }
        let record_key = format!("{appid}/{user_id}/{key}");
        let usage_key = format!("{appid}/{user_id}");
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (old, old_expect) =
                match load::<Stored>(&*self.records, kind::STORAGE, &record_key).await? {
                    Some((stored, version)) => (stored.value, Expect::Version(version)),
                    None => (None, Expect::Absent),
                };
            let (usage, usage_expect) =
                match load::<Usage>(&*self.records, kind::STORAGE_USAGE, &usage_key).await? {
                    Some((usage, version)) => (usage, Expect::Version(version)),
                    None => (Usage::default(), Expect::Absent),
                };
            let entry_bytes =
                |value: Option<&str>| value.map_or(0, |value| (key.len() + value.len()) as u64);
            let bytes =
                usage.bytes.saturating_sub(entry_bytes(old.as_deref())) + entry_bytes(value);
            if bytes > STORAGE_BYTES_MAX {
                return Err(MiniAppError::invalid(
                    "data",
                    "exceed storage max size 10MB",
                ));
            }
            let writes = vec![
                write(
                    kind::STORAGE,
                    &record_key,
                    old_expect,
                    &Stored {
                        value: value.map(str::to_owned),
                    },
                    vec![],
                )?,
                write(
                    kind::STORAGE_USAGE,
                    &usage_key,
                    usage_expect,
                    &Usage { bytes },
                    vec![],
                )?,
            ];
            if self.try_commit(writes).await? {
                return Ok(());
            }
        }
        Err(MiniAppError::Busy {
            what: "storage".to_owned(),
        })
    }

    /// `wx.getStorage`: the JSON text stored under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn storage(
        &self,
        appid: &str,
        user_id: &str,
        key: &str,
    ) -> Result<Option<String>, MiniAppError> {
        Ok(load::<Stored>(
            &*self.records,
            kind::STORAGE,
            &format!("{appid}/{user_id}/{key}"),
        )
        .await?
        .and_then(|(stored, _)| stored.value))
    }

    /// Records a visit event of `user_id` in `appid`, counted on today's China day.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::AppNotFound`].
    pub async fn record_visit(
        &self,
        appid: &str,
        user_id: &str,
        event: VisitEvent,
    ) -> Result<(), MiniAppError> {
        self.existing_app(appid).await?;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let day = china_day(self.now());
            let stats_key = format!("{appid}/{day:06}");
            let (mut stats, stats_expect) =
                match load::<DayVisits>(&*self.records, kind::VISITS, &stats_key).await? {
                    Some((stats, version)) => (stats, Expect::Version(version)),
                    None => (DayVisits::default(), Expect::Absent),
                };
            let (mut total, total_expect) =
                match load::<u64>(&*self.records, kind::VISITORS, appid).await? {
                    Some((total, version)) => (total, Expect::Version(version)),
                    None => (0, Expect::Absent),
                };
            let mut writes = Vec::new();
            match event {
                VisitEvent::Open => {
                    writes = self
                        .count_open(appid, user_id, day, &mut stats, &mut total, total_expect)
                        .await?;
                }
                VisitEvent::Page => stats.visit_pv += 1,
                VisitEvent::Leave { stay_ms } => stats.stay_ms += stay_ms.min(86_400_000),
            }
            stats.visit_total = total;
            writes.push(write(
                kind::VISITS,
                &stats_key,
                stats_expect,
                &stats,
                vec![IndexEntry::new(
                    crate::store::index::VISIT_DAYS,
                    stats_key.clone(),
                )],
            )?);
            if self.try_commit(writes).await? {
                return Ok(());
            }
        }
        Err(MiniAppError::Busy {
            what: "visit counts".to_owned(),
        })
    }

    /// An open: one more session and page view, and the user counted once a day and,
    /// the first time ever, as new. The writes that record who was seen.
    async fn count_open(
        &self,
        appid: &str,
        user_id: &str,
        day: i64,
        stats: &mut DayVisits,
        total: &mut u64,
        total_expect: Expect,
    ) -> Result<Vec<plaza_kernel::record::RecordWrite>, MiniAppError> {
        let mut writes = Vec::new();
        stats.session_cnt += 1;
        stats.visit_pv += 1;
        let today_key = format!("{appid}/{day:06}/{user_id}");
        if load::<bool>(&*self.records, kind::VISITOR_DAY, &today_key)
            .await?
            .is_some()
        {
            return Ok(writes);
        }
        stats.visit_uv += 1;
        writes.push(write(
            kind::VISITOR_DAY,
            &today_key,
            Expect::Absent,
            &true,
            vec![],
        )?);
        let ever_key = format!("{appid}/{user_id}");
        if load::<bool>(&*self.records, kind::VISITOR_DAY, &ever_key)
            .await?
            .is_none()
        {
            stats.visit_uv_new += 1;
            *total += 1;
            writes.push(write(
                kind::VISITOR_DAY,
                &ever_key,
                Expect::Absent,
                &true,
                vec![IndexEntry::new(crate::store::index::VISITOR, user_id)],
            )?);
            writes.push(write(kind::VISITORS, appid, total_expect, &*total, vec![])?);
        }
        Ok(writes)
    }

    /// The visits of `appid` on China day `day` (days since 1970-01-01); a day without
    /// visits counts zero, with the users seen until then as its total.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn day_visits(&self, appid: &str, day: i64) -> Result<DayVisits, MiniAppError> {
        let key = format!("{appid}/{day:06}");
        if let Some((stats, _)) = load::<DayVisits>(&*self.records, kind::VISITS, &key).await? {
            return Ok(stats);
        }
        let earlier = self
            .records
            .range(plaza_kernel::record::IndexRange {
                kind: kind::VISITS.to_owned(),
                name: crate::store::index::VISIT_DAYS.to_owned(),
                from: format!("{appid}/"),
                to: key,
                after: None,
                rows_max: 1,
                newest_first: true,
            })
            .await?;
        let visit_total = match earlier.first() {
            Some(found) => {
                plaza_kernel::record::decode_json::<DayVisits>(&found.record)?.visit_total
            }
            None => 0,
        };
        Ok(DayVisits {
            visit_total,
            ..DayVisits::default()
        })
    }

    /// The appids of mini programs `user_id` ever opened (at most `rows_max`), for
    /// Search's sense of the searcher.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn apps_used_by(
        &self,
        user_id: &str,
        rows_max: usize,
    ) -> Result<Vec<String>, MiniAppError> {
        let found = self
            .records
            .find(
                kind::VISITOR_DAY,
                crate::store::index::VISITOR,
                user_id,
                rows_max,
            )
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|record| record.key.split('/').next().map(str::to_owned))
            .collect())
    }

    /// `wx.checkSession`: whether the user has a login session in the app.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn has_session(&self, appid: &str, user_id: &str) -> Result<bool, MiniAppError> {
        let openid = self.identity.openid(appid, user_id);
        Ok(self.session(appid, &openid).await?.is_some())
    }

    /// `getPhoneNumber`: a one-use, five-minute code for the user's phone number, which
    /// the back end exchanges through `getuserphonenumber`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] when the user gave no phone number.
    pub async fn phone_code(&self, appid: &str, user_id: &str) -> Result<String, MiniAppError> {
        self.existing_app(appid).await?;
        if self.identity.phone(user_id).await?.is_none() {
            return Err(MiniAppError::invalid(
                "phone",
                "the user has no phone number",
            ));
        }
        Ok(self.secrets.seal_code(&Code {
            purpose: Purpose::Phone,
            issued_ms: self.now().unix_ms(),
            appid: appid.to_owned(),
            user_id: user_id.to_owned(),
            extra: String::new(),
        }))
    }

    /// `/wxa/business/getuserphonenumber`: the phone number behind a code, once.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::CodeInvalid`] (`40029`) for a code that is not one of this app's
    /// phone codes or is over five minutes old; [`MiniAppError::CodeUsed`].
    pub async fn phone_number(&self, appid: &str, code: &str) -> Result<String, MiniAppError> {
        let (code, code_id) = self
            .secrets
            .open_code(code)
            .ok_or(MiniAppError::CodeInvalid)?;
        if code.purpose != Purpose::Phone
            || code.appid != appid
            || !crate::login::fresh(
                code.issued_ms,
                self.now().unix_ms(),
                crate::login::CODE_TTL_MS,
            )
        {
            return Err(MiniAppError::CodeInvalid);
        }
        let phone = self
            .identity
            .phone(&code.user_id)
            .await?
            .ok_or(MiniAppError::CodeInvalid)?;
        let spent = crate::model::SpentCode {
            appid: appid.to_owned(),
            spent_at: self.now(),
        };
        let write = write(kind::SPENT_CODE, &code_id, Expect::Absent, &spent, vec![])?;
        if self.try_commit(vec![write]).await? {
            Ok(phone)
        } else {
            Err(MiniAppError::CodeUsed)
        }
    }

    /// `wx.getUserProfile`'s material: `userInfo`, `rawData`, `signature` =
    /// hex SHA-1 of `rawData` + `session_key`, and `encryptedData`/`iv`: the profile
    /// with its watermark, AES-128-CBC under the session key (§3.4).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::SignatureInvalid`] when the user has no session in the app
    /// (log in first).
    pub async fn user_profile(
        &self,
        appid: &str,
        user_id: &str,
    ) -> Result<serde_json::Value, MiniAppError> {
        let openid = self.identity.openid(appid, user_id);
        let session = self
            .session(appid, &openid)
            .await?
            .ok_or(MiniAppError::SignatureInvalid)?;
        let app = self.existing_app(appid).await?;
        let user =
            self.identity
                .user(user_id)
                .await?
                .ok_or_else(|| MiniAppError::UserNotFound {
                    user_id: user_id.to_owned(),
                })?;
        let user_info = json!({
            "nickName": user.name, "gender": 0, "language": "zh_CN",
            "city": "", "province": "", "country": "", "avatarUrl": "",
        });
        let raw_data = user_info.to_string();
        let signature = sha1_hex(&format!("{raw_data}{}", session.session_key));
        let mut plain = user_info.clone();
        plain["openId"] = json!(openid);
        plain["unionId"] = json!(self.identity.unionid(&app.developer_id, user_id));
        plain["watermark"] = json!({"appid": appid, "timestamp": self.now().unix_ms() / 1_000});
        let key = STANDARD
            .decode(&session.session_key)
            .map_err(|_| MiniAppError::SignatureInvalid)?;
        let iv: [u8; 16] = rand::random();
        let encrypted = encrypt_cbc(&key, iv, plain.to_string().as_bytes())?;
        Ok(json!({
            "userInfo": user_info,
            "rawData": raw_data,
            "signature": signature,
            "encryptedData": STANDARD.encode(encrypted),
            "iv": STANDARD.encode(iv),
        }))
    }

    /// `wx.request`'s check: the URL's origin is on the app's allow-list.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] with WeChat's words when it is not.
    pub fn check_request_url(app: &MiniApp, url: &str) -> Result<(), MiniAppError> {
        let origin =
            request_origin(url).ok_or_else(|| MiniAppError::invalid("url", "invalid url"))?;
        if app.request_domains.contains(&origin) {
            Ok(())
        } else {
            Err(MiniAppError::invalid("url", "url not in domain list"))
        }
    }

    /// `wx.requestPayment`'s check, through Pay.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] (`requestPayment:fail …`) when the app has no bound
    /// merchant or Pay refuses the request.
    pub async fn check_payment(
        &self,
        mut request: PaymentRequest,
    ) -> Result<PaymentSummary, MiniAppError> {
        let app = self.existing_app(&request.appid).await?;
        let mchid = app.mchid.ok_or_else(|| {
            MiniAppError::invalid("package", "this mini program has no merchant for payments")
        })?;
        let payments = self
            .payments
            .as_ref()
            .ok_or_else(|| MiniAppError::invalid("package", "this Plaza runs no payments"))?;
        request.mchid = mchid;
        payments
            .check(request)
            .await
            .map_err(|refusal| match refusal {
                PaymentRefusal::Invalid(problem) => MiniAppError::invalid("package", problem),
                PaymentRefusal::Unavailable(reason) => MiniAppError::Unavailable { reason },
            })
    }
}

/// `scheme://host[:port]` of a URL, lower-cased, without a default port.
fn request_origin(url: &str) -> Option<String> {
    let lower = url.trim();
    let (scheme, rest) = lower.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host.to_owned(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

fn sha1_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        text.as_bytes(),
    )
    .as_ref()
    .iter()
    .map(|byte| format!("{byte:02x}"))
    .collect()
}

fn encrypt_cbc(key: &[u8], iv: [u8; 16], plain: &[u8]) -> Result<Vec<u8>, MiniAppError> {
    let failed = |_| MiniAppError::Unavailable {
        reason: "AES-128-CBC failed".to_owned(),
    };
    let key = UnboundCipherKey::new(&AES_128, key).map_err(failed)?;
    let key = PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(failed)?;
    let mut data = plain.to_vec();
    key.less_safe_encrypt(
        &mut data,
        aws_lc_rs::cipher::EncryptionContext::Iv128(iv.into()),
    )
    .map_err(failed)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::request_origin;

    #[test]
    fn request_origins_drop_paths_default_ports_and_userinfo() {
        assert_eq!(
            request_origin("https://API.example.com/a?b").as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            request_origin("https://api.example.com:443/").as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            request_origin("http://127.0.0.1:9000/x").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(request_origin("https://evil.com@api.example.com/"), None);
        assert_eq!(request_origin("ftp://x"), None);
        assert_eq!(request_origin("/relative"), None);
    }
}
