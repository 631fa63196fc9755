//! A minimal DER reader: just enough TLV walking to pull the serial, validity and public key
//! out of an X.509 certificate.
//!
//! Only low-tag-number, definite-length encodings are read (all that X.509 uses). Every
//! length is checked against the remaining input, so malformed input is an error, never a
//! panic.

/// `INTEGER`.
pub(crate) const TAG_INTEGER: u8 = 0x02;
/// `UTCTime`.
pub(crate) const TAG_UTC_TIME: u8 = 0x17;
/// `GeneralizedTime`.
pub(crate) const TAG_GENERALIZED_TIME: u8 = 0x18;
/// `SEQUENCE` (constructed).
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
/// `[0]` constructed, context-specific (the certificate version wrapper).
pub(crate) const TAG_CONTEXT_0: u8 = 0xA0;

/// Why DER could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DerError {
    /// The input ends inside a tag, length or value.
    #[error("truncated DER")]
    Truncated,
    /// A multi-byte (high-tag-number) tag, which X.509 does not use.
    #[error("unsupported high-tag-number form")]
    HighTagNumber,
    /// The BER indefinite length form, forbidden in DER.
    #[error("indefinite length is not DER")]
    IndefiniteLength,
    /// A length that needs more than four length octets.
    #[error("length too large")]
    LengthTooLarge,
    /// A different element than the structure requires.
    #[error("expected tag 0x{expected:02X}, found 0x{found:02X}")]
    UnexpectedTag {
        /// The tag required here.
        expected: u8,
        /// The tag present.
        found: u8,
    },
    /// Bytes after the end of the outermost element.
    #[error("trailing bytes after DER element")]
    TrailingData,
}

/// One decoded element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet.
    pub(crate) tag: u8,
    /// The value octets.
    pub(crate) contents: &'a [u8],
    /// The whole element: tag, length and value.
    pub(crate) raw: &'a [u8],
}

/// Reads consecutive elements from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// True when every element has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads the next element.
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let input = self.rest;
        let (&tag, after_tag) = input.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::HighTagNumber);
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(DerError::Truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(DerError::IndefiniteLength);
        } else {
            let count = usize::from(first & 0x7f);
            if count > 4 {
                return Err(DerError::LengthTooLarge);
            }
            let (octets, rest) = after_len
                .split_at_checked(count)
                .ok_or(DerError::Truncated)?;
            after_len = rest;
            octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (contents, rest) = after_len.split_at_checked(len).ok_or(DerError::Truncated)?;
        let header_len = input.len() - after_len.len();
        let raw = input.get(..header_len + len).ok_or(DerError::Truncated)?;
        self.rest = rest;
        Ok(Tlv { tag, contents, raw })
    }

    /// Reads the next element and requires its tag to be `expected`.
    pub(crate) fn read_expect(&mut self, expected: u8) -> Result<Tlv<'a>, DerError> {
        let tlv = self.read()?;
        if tlv.tag == expected {
            Ok(tlv)
        } else {
            Err(DerError::UnexpectedTag {
                expected,
                found: tlv.tag,
            })
        }
    }

    /// Requires that nothing is left.
    pub(crate) fn finish(&self) -> Result<(), DerError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData)
        }
    }
}

/// Reads exactly one element spanning all of `data`.
pub(crate) fn read_single(data: &[u8], expected: u8) -> Result<Tlv<'_>, DerError> {
    let mut reader = Reader::new(data);
    let tlv = reader.read_expect(expected)?;
    reader.finish()?;
    Ok(tlv)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
pub(crate) mod tests {
    use super::*;

    /// Test helper: the `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`.
    pub(crate) fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
        let info = read_single(pkcs8, TAG_SEQUENCE).unwrap();
        let mut r = Reader::new(info.contents);
        r.read_expect(TAG_INTEGER).unwrap();
        r.read_expect(TAG_SEQUENCE).unwrap();
        r.read_expect(0x04).unwrap().contents.to_vec()
    }

    #[test]
    fn short_and_long_lengths() {
        let data = [0x02, 0x01, 0x05, 0x04, 0x81, 0x02, 0xAA, 0xBB];
        let mut r = Reader::new(&data);
        assert_eq!(r.peek_tag(), Some(0x02));
        let a = r.read().unwrap();
        assert_eq!((a.tag, a.contents, a.raw), (0x02, &[5u8][..], &data[..3]));
        let b = r.read().unwrap();
        assert_eq!(
            (b.tag, b.contents, b.raw),
            (0x04, &[0xAA, 0xBB][..], &data[3..])
        );
        assert!(r.is_empty());
        assert_eq!(r.read(), Err(DerError::Truncated));
    }

    #[test]
    fn malformed_input_is_an_error() {
        for (bytes, err) in [
            (&[][..], DerError::Truncated),
            (&[0x30][..], DerError::Truncated),
            (&[0x30, 0x02, 0x00][..], DerError::Truncated),
            (&[0x30, 0x80, 0x00, 0x00][..], DerError::IndefiniteLength),
            (&[0x1f, 0x01, 0x00][..], DerError::HighTagNumber),
            (&[0x30, 0x85, 1, 1, 1, 1, 1][..], DerError::LengthTooLarge),
            (&[0x30, 0x82, 0x01][..], DerError::Truncated),
            (
                &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
                DerError::Truncated,
            ),
        ] {
            assert_eq!(Reader::new(bytes).read(), Err(err), "{bytes:02x?}");
        }
        assert_eq!(
            read_single(&[0x02, 0x00], TAG_SEQUENCE),
            Err(DerError::UnexpectedTag {
                expected: 0x30,
                found: 0x02
            })
        );
        assert_eq!(
            read_single(&[0x30, 0x00, 0x00], TAG_SEQUENCE),
            Err(DerError::TrailingData)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            while let Ok(tlv) = r.read() {
                let _ = Reader::new(tlv.contents).read();
            }
        }
    }
}
