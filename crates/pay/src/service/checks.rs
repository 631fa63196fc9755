//! Field checks the operations share: text lengths and alphabets, merchant numbers,
//! notify URLs, fee rates.

use crate::error::PayError;
use crate::outbound;

/// Text of `min_chars` to `max_chars` characters in the 1–3-byte UTF-8 WeChat Pay takes.
pub(crate) fn check_text(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), PayError> {
    check_chars(field, value, min_chars, max_chars)?;
    // WeChat Pay takes 1–3-byte UTF-8 only in its fields; Plaza's own text (notes)
    // is checked with `check_chars` and takes any Unicode.
    if value.chars().any(|c| u32::from(c) > 0xFFFF) {
        return Err(PayError::invalid(
            field,
            "4-byte UTF-8 characters (such as emoji) are not supported",
        ));
    }
    Ok(())
}

/// Any text of `min_chars` to `max_chars` characters, 4-byte UTF-8 (emoji) included.
pub(crate) fn check_chars(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), PayError> {
    let chars = value.chars().count();
    if chars < min_chars || chars > max_chars {
        return Err(PayError::invalid(
            field,
            format!("must be {min_chars}–{max_chars} characters, got {chars}"),
        ));
    }
    Ok(())
}

/// A merchant's number for something (an order, a refund, a request): letters, digits
/// and `_ - | *`.
pub(super) fn check_merchant_no(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), PayError> {
    check_text(field, value, min_chars, max_chars)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'))
    {
        return Err(PayError::invalid(
            field,
            "only letters, digits and _ - | * are allowed",
        ));
    }
    Ok(())
}

/// Checks a notify URL's form: absolute http(s), a host, no query string, no
/// credentials. Whether Plaza may call its host is [`OutboundPolicy::check_url`]'s.
///
/// [`OutboundPolicy::check_url`]: crate::outbound::OutboundPolicy::check_url
///
/// # Errors
///
/// [`PayError::Invalid`] naming `field`.
pub fn check_notify_url(field: &str, url: &str) -> Result<(), PayError> {
    outbound::url_host(field, url).map(|_| ())
}

/// Checks a fee rate in basis points.
pub(crate) fn check_fee_rate(fee_rate_bps: u32) -> Result<(), PayError> {
    if fee_rate_bps > 10_000 {
        return Err(PayError::invalid("fee_rate_bps", "at most 10000 (100%)"));
    }
    Ok(())
}

/// Checks a certificate serial: 8–64 hex digits.
pub(super) fn check_serial(field: &str, serial: &str) -> Result<(), PayError> {
    if (8..=64).contains(&serial.len()) && serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(PayError::invalid(
            field,
            "a certificate serial is 8–64 hex digits",
        ))
    }
}
