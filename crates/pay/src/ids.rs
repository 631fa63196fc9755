//! Identifiers in the shapes WeChat uses, so that SDK-side validation passes: `mchid`
//! (10 digits), `appid` (`wx` + 16 hex), `transaction_id` (28 digits), `refund_id`
//! (29 digits), `prepay_id` (`wx` + time + hex), `openid` (derived by `plaza_identity`),
//! plus Plaza's own user ids, tokens and notification ids.

use std::sync::atomic::{AtomicU64, Ordering};

use plaza_kernel::clock::Timestamp;
use rand::Rng;

use crate::time::{Day, compact};

const HEX: &[u8; 16] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// `len` random lower-case hex digits.
pub fn random_hex(len: usize) -> String {
    random_from(HEX, len)
}

/// Lower-case hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes of hex text, or `None` if it is not hex.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// `len` random ASCII letters and digits (APIv3 keys, nonces, tokens).
pub fn random_alnum(len: usize) -> String {
    random_from(ALNUM, len)
}

pub(crate) fn random_digits(len: usize) -> String {
    random_from(b"0123456789", len)
}

/// A new merchant id: 10 digits starting `16`, as recent merchant ids do.
pub fn new_mchid() -> String {
    format!("16{}", random_digits(8))
}

/// A new prepay id: `wx` + the time + 20 hex digits (valid two hours).
pub fn new_prepay_id(now: Timestamp) -> String {
    format!("wx{}{}", compact(now), random_hex(20))
}

/// A new Native code token, the `pr` of `weixin://wxpay/bizpayurl?pr=…`: the time in
/// base 62 (so tokens made close in time sit close in the index) and six random
/// characters.
pub fn new_code_token(now: Timestamp) -> String {
    let mut time = String::new();
    let mut rest = u64::try_from(now.unix_ms()).unwrap_or(0);
    for _ in 0..7 {
        time.insert(0, char::from(BASE62[(rest % 62) as usize]));
        rest /= 62;
    }
    format!("{time}{}", random_alnum(6))
}

/// Digits then letters, in byte order, so base-62 numbers sort as text.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A counter that keeps ids made in the same millisecond apart.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn time_sequence(now: Timestamp) -> String {
    // Milliseconds into the day (8 digits) and a 5-digit per-process sequence: unique
    // unless one process makes 100,000 ids in one millisecond.
    let into_day_ms = now.unix_ms() - Day::of(now).start().unix_ms();
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 100_000;
    format!("{into_day_ms:08}{sequence:05}")
}

/// A new transaction id: `4200000` + the day + 13 digits = 28 digits.
pub fn new_transaction_id(now: Timestamp) -> String {
    format!("4200000{}{}", Day::of(now).compact(), time_sequence(now))
}

/// A new refund id: `50000` + 3 random digits + the day + 13 digits = 29 digits.
pub fn new_refund_id(now: Timestamp) -> String {
    format!(
        "50000{}{}{}",
        random_digits(3),
        Day::of(now).compact(),
        time_sequence(now)
    )
}

/// A new notification id, the envelope's `id`.
pub fn new_notification_id() -> String {
    format!("EV-{}", random_hex(24))
}

/// A new profit-sharing order id, return id or detail id: `30000` + 3 random digits +
/// the day + 13 digits = 29 digits.
pub fn new_sharing_id(now: Timestamp) -> String {
    format!(
        "30000{}{}{}",
        random_digits(3),
        Day::of(now).compact(),
        time_sequence(now)
    )
}

/// A new coupon stock id: 10 digits, starting with 1.
pub fn new_stock_id() -> String {
    format!("1{}", random_digits(9))
}

/// A new coupon id: 12 digits, starting with 2.
pub fn new_coupon_id() -> String {
    format!("2{}", random_digits(11))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_wechat_shapes() {
        let now = Timestamp::from_unix_ms(1_795_658_400_123);
        let transaction_id = new_transaction_id(now);
        assert_eq!(transaction_id.len(), 28);
        assert!(transaction_id.starts_with("420000020261126"));
        assert!(transaction_id.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(transaction_id, new_transaction_id(now));
        let refund_id = new_refund_id(now);
        assert_eq!(refund_id.len(), 29);
        assert!(refund_id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(new_mchid().len(), 10);
        assert!(new_prepay_id(now).starts_with("wx20261126"));
        let (early, late) = (new_code_token(now), new_code_token(now.plus_ms(1)));
        assert_eq!(early.len(), 13);
        assert!(early[..7] < late[..7], "{early} {late}");
    }
}
