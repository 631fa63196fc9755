//! Money as people type and read it on the command line: yuan with at most two
//! decimals, held as i64 fen. Parsed digit by digit, never through floats.

/// Why an amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum YuanError {
    #[error("expected an amount in yuan, like 100 or 100.00")]
    NotAnAmount,
    #[error("an amount cannot be negative")]
    Negative,
    #[error("at most two decimals: a fen (0.01) is the smallest amount")]
    TooPrecise,
    #[error("too large: at most 92233720368547758.07 yuan")]
    TooLarge,
}

/// Fen from yuan as typed: `100`, `100.5`, `100.50`, `¥100.50`.
///
/// # Errors
///
/// [`YuanError`] for anything else: a sign, more than two decimals, other characters,
/// or more than `i64::MAX` fen.
pub(crate) fn parse_fen(text: &str) -> Result<i64, YuanError> {
    let text = text.trim();
    let text = text
        .strip_prefix('¥')
        .or_else(|| text.strip_prefix('￥'))
        .unwrap_or(text);
    if text.starts_with('-') {
        return Err(YuanError::Negative);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return Err(YuanError::NotAnAmount),
        None => (text, ""),
    };
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(YuanError::NotAnAmount);
    }
    if fraction.len() > 2 {
        return Err(YuanError::TooPrecise);
    }
    // Only digits are left, so parsing fails on overflow alone.
    let whole: i64 = whole.parse().map_err(|_| YuanError::TooLarge)?;
    let fraction_fen: i64 = format!("{fraction:0<2}")
        .parse()
        .map_err(|_| YuanError::NotAnAmount)?;
    whole
        .checked_mul(100)
        .and_then(|fen| fen.checked_add(fraction_fen))
        .ok_or(YuanError::TooLarge)
}

/// `¥12.34` from 1234 fen (`-¥0.05` from -5).
pub(crate) fn format_fen(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn yuan_as_people_write_it() {
        for (text, fen) in [
            ("100", 10_000),
            ("100.00", 10_000),
            ("100.5", 10_050),
            ("0.01", 1),
            ("¥12.34", 1_234),
            ("￥0", 0),
            (" 7 ", 700),
            ("0007.10", 710),
            ("92233720368547758.07", i64::MAX),
        ] {
            assert_eq!(parse_fen(text), Ok(fen), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        for (text, error) in [
            ("-1", YuanError::Negative),
            ("-0.01", YuanError::Negative),
            ("1.005", YuanError::TooPrecise),
            ("1.000", YuanError::TooPrecise),
            ("92233720368547758.08", YuanError::TooLarge),
            ("100000000000000000000", YuanError::TooLarge),
            ("", YuanError::NotAnAmount),
            ("1.", YuanError::NotAnAmount),
            (".5", YuanError::NotAnAmount),
            ("1,000", YuanError::NotAnAmount),
            ("1e3", YuanError::NotAnAmount),
            ("+1", YuanError::NotAnAmount),
            ("1.2.3", YuanError::NotAnAmount),
            ("1.-5", YuanError::NotAnAmount),
        ] {
            assert_eq!(parse_fen(text), Err(error), "{text}");
        }
    }

    #[test]
    fn fen_read_as_yuan() {
        assert_eq!(format_fen(1_234), "¥12.34");
        assert_eq!(format_fen(5), "¥0.05");
        assert_eq!(format_fen(-5), "-¥0.05");
        assert_eq!(format_fen(i64::MIN), "-¥92233720368547758.08");
    }

    proptest! {
        #[test]
        fn what_is_printed_parses_back(fen in 0..=i64::MAX) {
            let printed = format_fen(fen);
            prop_assert_eq!(parse_fen(&printed), Ok(fen));
        }
    }
}
