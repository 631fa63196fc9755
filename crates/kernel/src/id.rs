//! Typed identifiers.
//!
//! Every entity has its own id type, so an account id can never be passed where a
//! transfer id is expected. Caller-chosen ids (account codes, transfer ids) are
//! validated once, at construction: 1 to [`crate::limits::ID_BYTES_MAX`] bytes of ASCII
//! letters, digits and `_ - . : @`.

use std::fmt;

use crate::limits::ID_BYTES_MAX;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The empty string.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which id.
        kind: &'static str,
    },
    /// Too long.
    #[error("{kind} is {len_bytes} bytes; at most {max_bytes} are allowed")]
    TooLong {
        /// Which id.
        kind: &'static str,
        /// Its length.
        len_bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// A character outside the allowed set.
    #[error("{kind} may hold only ASCII letters, digits and _ - . : @ (found {found:?})")]
    BadCharacter {
        /// Which id.
        kind: &'static str,
        /// The first offending character.
        found: char,
    },
}

fn validate(kind: &'static str, text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if text.len() > ID_BYTES_MAX {
        return Err(IdError::TooLong {
            kind,
            len_bytes: text.len(),
            max_bytes: ID_BYTES_MAX,
        });
    }
    if let Some(found) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@')))
    {
        return Err(IdError::BadCharacter { kind, found });
    }
    Ok(())
}

macro_rules! code_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `text` as this kind of id.
            ///
            /// # Errors
            ///
            /// [`IdError`] when `text` is empty, too long, or has a character outside
            /// the allowed set.
            pub fn parse(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                validate($kind, &text)?;
                Ok(Self(text))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_id!(
    /// A ledger account, named by its owner, e.g. `user:42:wallet` or `bank:CNY`.
    AccountId,
    "account id"
);
code_id!(
    /// A ledger transfer, chosen by the caller: the idempotency key of the transfer.
    TransferId,
    "transfer id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet() {
        assert!(AccountId::parse("user:42:wallet").is_ok());
        assert!(TransferId::parse("pay-2026.11.26_0001@mch").is_ok());
    }

    #[test]
    fn ids_reject_empty_long_and_odd_text() {
        assert_eq!(
            AccountId::parse(""),
            Err(IdError::Empty { kind: "account id" })
        );
        assert!(matches!(
            TransferId::parse("x".repeat(ID_BYTES_MAX + 1)),
            Err(IdError::TooLong { .. })
        ));
        assert_eq!(
            TransferId::parse("a b"),
            Err(IdError::BadCharacter {
                kind: "transfer id",
                found: ' '
            })
        );
    }
}
