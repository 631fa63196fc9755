//! Money: integer minor units (fen for CNY) and a currency code. Never floats.

use std::fmt;

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency must be three upper-case ASCII letters, like CNY (got {got:?})")]
pub struct CurrencyError {
    /// The refused text.
    pub got: String,
}

/// An ISO 4217-style currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Chinese yuan, whose minor unit is the fen.
    pub const CNY: Currency = Currency(*b"CNY");

    /// Validates a currency code.
    ///
    /// # Errors
    ///
    /// [`CurrencyError`] unless `text` is exactly three upper-case ASCII letters.
    pub fn parse(text: &str) -> Result<Self, CurrencyError> {
        match text.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|byte| byte.is_ascii_uppercase()) => {
                Ok(Self([*a, *b, *c]))
            }
            _ => Err(CurrencyError {
                got: text.to_owned(),
            }),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // The bytes were checked to be ASCII upper-case letters on construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert_eq!(Currency::parse("CNY"), Ok(Currency::CNY));
        assert_eq!(Currency::CNY.as_str(), "CNY");
        assert!(Currency::parse("cny").is_err());
        assert!(Currency::parse("CNYX").is_err());
        assert!(Currency::parse("C1Y").is_err());
    }
}
