//! Identifiers of people and apps in the shapes WeChat uses: `appid` (`wx` + 16 hex),
//! `openid` and `unionid` (28 URL-safe characters starting `o`), plus Plaza's own user
//! ids and session tokens.

use aws_lc_rs::hmac;
use rand::Rng;

const HEX: &[u8; 16] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A new appid: `wx` + 16 hex digits.
pub fn new_appid() -> String {
    format!("wx{}", random_from(HEX, 16))
}

/// A new internal user id.
pub fn new_user_id() -> String {
    format!("u{}", random_from(HEX, 16))
}

/// A new developer account id: `d` + 16 hex digits.
pub fn new_developer_id() -> String {
    format!("d{}", random_from(HEX, 16))
}

/// A new session token: `pzu_` + 40 letters and digits.
pub fn new_session_token() -> String {
    format!("pzu_{}", random_from(ALNUM, 40))
}

/// `o` + 27 URL-safe characters from an HMAC of `purpose`, `scope` and the user under
/// the platform secret: stable for a scope, unlinkable across scopes without the secret.
fn scoped_id(secret: &[u8], purpose: &str, scope: &str, user_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, format!("{purpose}\n{scope}\n{user_id}").as_bytes());
    let alphabet_len = URL_SAFE.len();
    let mut id = String::with_capacity(28);
    id.push('o');
    for byte in tag.as_ref().iter().take(27) {
        id.push(char::from(URL_SAFE[usize::from(*byte) % alphabet_len]));
    }
    id
}

/// A user's openid under an app: stable per app, different across apps.
pub fn openid(secret: &[u8], appid: &str, user_id: &str) -> String {
    scoped_id(secret, "openid", appid, user_id)
}

/// A user's unionid under a developer account: the same for every app of the account.
pub fn unionid(secret: &[u8], developer_id: &str, user_id: &str) -> String {
    scoped_id(secret, "unionid", developer_id, user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openids_are_stable_per_app_and_differ_across_apps_and_from_unionids() {
        let secret = b"secret";
        let first = openid(secret, "wx0000000000000001", "u1");
        assert_eq!(first, openid(secret, "wx0000000000000001", "u1"));
        assert_eq!(first.len(), 28);
        assert!(first.starts_with('o'));
        assert_ne!(first, openid(secret, "wx0000000000000002", "u1"));
        assert_ne!(first, openid(secret, "wx0000000000000001", "u2"));
        assert_ne!(first, openid(b"other", "wx0000000000000001", "u1"));
        // The derivation Pay used before identity was its own crate: existing openids
        // must not change.
        assert_eq!(openid(secret, "wx1", "u1"), "oS9ZHMcLF2EefCvf5SgRr_7WJ8el");
        let union = unionid(secret, "wx0000000000000001", "u1");
        assert_eq!(union.len(), 28);
        assert_ne!(union, first, "an openid and a unionid never coincide");
    }

    #[test]
    fn ids_have_their_shapes() {
        let appid = new_appid();
        assert!(appid.starts_with("wx") && appid.len() == 18);
        assert!(new_user_id().starts_with('u'));
        assert_eq!(new_session_token().len(), 44);
    }
}
