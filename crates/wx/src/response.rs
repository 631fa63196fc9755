//! Server → client signatures on responses and callbacks (spec §1.3).
//!
//! Every response, including errors and `204`, carries the `Wechatpay-*` headers below;
//! the signature is RSASSA-PKCS1-v1_5 SHA-256 over `TIMESTAMP\nNONCE\nBODY\n`
//! ([`response_message`]).

use crate::auth::SCHEME;
use crate::encoding::{b64_decode, lf_message};
use crate::rsa::{PrivateKey, PublicKey, RsaError};

/// Header carrying the Unix-seconds timestamp.
pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
/// Header carrying the nonce.
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
/// Header carrying the base64 signature.
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
/// Header carrying the platform certificate serial or `PUB_KEY_ID_…`.
pub const HEADER_SERIAL: &str = "Wechatpay-Serial";
/// Header carrying [`SCHEME`]; the Python SDK refuses responses without it.
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// The signed response message: `TIMESTAMP\nNONCE\nBODY\n` (an empty body still ends
/// with `\n\n`).
pub fn response_message(timestamp: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    lf_message(&[timestamp.as_bytes(), nonce.as_bytes(), body])
}

/// The five signature headers of one response or callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Wechatpay-Timestamp`: Unix seconds.
    pub timestamp: i64,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`: standard base64.
    pub signature: String,
    /// `Wechatpay-Serial`: canonical certificate serial or public key id.
    pub serial: String,
    /// `Wechatpay-Signature-Type`: always [`SCHEME`].
    pub signature_type: &'static str,
}

impl SignedHeaders {
    /// `(name, value)` pairs ready to be inserted into a response.
    pub fn to_pairs(&self) -> [(&'static str, String); 5] {
        [
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
            (HEADER_SERIAL, self.serial.clone()),
            (HEADER_SIGNATURE_TYPE, self.signature_type.to_owned()),
        ]
    }

    /// Checks the signature type and the signature over `body` with `public_key`.
    pub fn verify(&self, public_key: &PublicKey, body: &[u8]) -> bool {
        self.signature_type == SCHEME
            && verify_response(
                public_key,
                &self.timestamp.to_string(),
                &self.nonce,
                &self.signature,
                body,
            )
    }
}

/// Signs a response or callback body with the platform key identified by `serial`.
pub fn sign_response(
    key: &PrivateKey,
    serial: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Result<SignedHeaders, RsaError> {
    let signature = key.sign_sha256_base64(&response_message(timestamp, nonce, body))?;
    Ok(SignedHeaders {
        timestamp,
        nonce: nonce.to_owned(),
        signature,
        serial: serial.to_owned(),
        signature_type: SCHEME,
    })
}

/// Verifies a response the way an SDK does, from the raw header strings: the signature
/// over `timestamp\nnonce\nbody\n` using `timestamp` exactly as received. Freshness and
/// the serial are the caller's business.
pub fn verify_response(
    public_key: &PublicKey,
    timestamp: &str,
    nonce: &str,
    signature_b64: &str,
    body: &[u8],
) -> bool {
    let Some(signature) = b64_decode(signature_b64) else {
        return false;
    };
    let message = lf_message(&[timestamp.as_bytes(), nonce.as_bytes(), body]);
    public_key.verify_sha256(&message, &signature)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::rsa::tests::key;

    #[test]
    fn message_layout() {
        assert_eq!(
            response_message(1_554_208_460, "abc", b""),
            b"1554208460\nabc\n\n"
        );
        assert_eq!(response_message(1, "n", b"{\"a\":1}"), b"1\nn\n{\"a\":1}\n");
    }

    #[test]
    fn headers_and_verification() {
        let body = br#"{"code":"ORDER_NOT_EXIST","message":"x"}"#;
        let headers = sign_response(key(), "5157F09E", 1_700_000_000, "ab12", body).unwrap();
        assert_eq!(headers.signature_type, "WECHATPAY2-SHA256-RSA2048");
        let pairs = headers.to_pairs();
        let names: Vec<_> = pairs.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "Wechatpay-Timestamp",
                "Wechatpay-Nonce",
                "Wechatpay-Signature",
                "Wechatpay-Serial",
                "Wechatpay-Signature-Type"
            ]
        );
        assert_eq!(pairs[0].1, "1700000000");
        assert_eq!(pairs[3].1, "5157F09E");
        let pk = key().public_key();
        assert!(headers.verify(pk, body));
        assert!(!headers.verify(pk, b"{}"));
        assert!(verify_response(
            pk,
            "1700000000",
            "ab12",
            &headers.signature,
            body
        ));
        assert!(!verify_response(
            pk,
            "1700000001",
            "ab12",
            &headers.signature,
            body
        ));
        assert!(!verify_response(
            pk,
            "01700000000",
            "ab12",
            &headers.signature,
            body
        ));
        assert!(!verify_response(
            pk,
            "1700000000",
            "ab13",
            &headers.signature,
            body
        ));
        assert!(!verify_response(pk, "1700000000", "ab12", "garbage", body));
        let wrong_type = SignedHeaders {
            signature_type: "HMAC-SHA256",
            ..headers
        };
        assert!(!wrong_type.verify(pk, body));
    }

    #[test]
    fn empty_body_signs() {
        let headers = sign_response(key(), "S", 1, "n", b"").unwrap();
        assert!(verify_response(
            key().public_key(),
            "1",
            "n",
            &headers.signature,
            b""
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn round_trip_and_tamper(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            timestamp in 0i64..4_000_000_000,
            nonce in "[0-9a-f]{32}",
        ) {
            let headers = sign_response(key(), "S", timestamp, &nonce, &body).unwrap();
            prop_assert!(headers.verify(key().public_key(), &body));
            let mut tampered = body;
            tampered.insert(0, b' ');
            prop_assert!(!headers.verify(key().public_key(), &tampered));
        }
    }
}
