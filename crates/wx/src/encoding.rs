//! Small shared encoders: base64, hex, PEM and the LF-terminated signing messages.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Encoder: standard alphabet, always padded (what every SDK emits).
const B64_ENCODE: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decoder: standard alphabet, padding optional (be liberal in what we accept; the
/// cryptographic check that follows is what guards correctness).
const B64_DECODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard padded base64.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    B64_ENCODE.encode(bytes)
}

/// Standard-alphabet base64 with optional padding; `None` when garbled.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64_DECODE.decode(text.as_bytes()).ok()
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn hex_with(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0x0f)]));
    }
    out
}

/// Lowercase hex, two digits per byte.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    hex_with(bytes, HEX_LOWER)
}

/// Uppercase hex, two digits per byte.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    hex_with(bytes, HEX_UPPER)
}

/// PEM with LF line endings and 64-column base64 lines.
pub(crate) fn pem_encode(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// `part1 + "\n" + part2 + "\n" + … + partN + "\n"`: every line LF-terminated, no CR.
pub(crate) fn lf_message(parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len() + 1).sum();
    let mut out = Vec::with_capacity(len);
    for part in parts {
        out.extend_from_slice(part);
        out.push(b'\n');
    }
    out
}

/// True for a canonical non-negative decimal: digits only, no sign, no leading zero
/// (except `"0"` itself), and it fits in an `i64`. Returns the value.
pub(crate) fn parse_canonical_i64(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    text.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_both_cases() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(hex_upper(&[0x00, 0xab, 0x7f]), "00AB7F");
        assert_eq!(hex_upper(&[]), "");
    }

    #[test]
    fn base64_padding_is_optional_on_decode_only() {
        assert_eq!(b64_encode(b"ab"), "YWI=");
        assert_eq!(b64_decode("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(b64_decode("YWI").as_deref(), Some(&b"ab"[..]));
        assert_eq!(b64_decode("Y,I="), None);
        assert_eq!(b64_decode("YW-_"), None);
    }

    #[test]
    fn lf_message_terminates_every_line() {
        assert_eq!(lf_message(&[b"a", b"", b"c"]), b"a\n\nc\n");
        assert_eq!(lf_message(&[]), b"");
    }

    #[test]
    fn canonical_i64() {
        assert_eq!(parse_canonical_i64("0"), Some(0));
        assert_eq!(parse_canonical_i64("1554208460"), Some(1_554_208_460));
        assert_eq!(parse_canonical_i64("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "9223372036854775808",
            "１",
        ] {
            assert_eq!(parse_canonical_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pem_uses_lf() {
        let pem = pem_encode("PUBLIC KEY", &[1, 2, 3]);
        assert_eq!(
            pem,
            "-----BEGIN PUBLIC KEY-----\nAQID\n-----END PUBLIC KEY-----\n"
        );
    }
}
