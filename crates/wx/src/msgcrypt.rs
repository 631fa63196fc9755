//! WeCom's callback crypto (WXBizMsgCrypt, spec §4.11), which the official-account and
//! mini-program message push use too: AES-256-CBC under the `EncodingAESKey`, the IV the
//! key's first 16 bytes, the plaintext `16 random bytes ‖ u32 BE length ‖ message ‖
//! receive id` padded PKCS#7-style to a 32-byte multiple, and a SHA-1 signature over the
//! sorted `token`, `timestamp`, `nonce` and ciphertext.

use aws_lc_rs::cipher::{
    AES_256, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};

use base64::Engine as _;

use crate::digest::sha1_hex;
use crate::encoding::{b64_decode, b64_encode};

/// Reads an `EncodingAESKey`: no padding, trailing bits ignored.
const AES_KEY_ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The block the plaintext is padded to (WeCom pads to 32, not AES's 16).
const PAD_BLOCK: usize = 32;

/// What can be wrong with a callback's crypto.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgCryptError {
    /// The `EncodingAESKey` is not 43 base64 characters of a 32-byte key.
    #[error("the EncodingAESKey must be 43 characters of base64 (a 32-byte key)")]
    AesKey,
    /// The signature does not match.
    #[error("the msg_signature does not match")]
    Signature,
    /// The ciphertext is not base64 of whole AES blocks, or its padding or length is wrong.
    #[error("the ciphertext cannot be decrypted")]
    Cipher,
    /// The plaintext ends with another receive id (corpid) than expected.
    #[error("the message is for another receiver: {0}")]
    ReceiveId(String),
    /// The document is not `<xml>` with an `Encrypt` element.
    #[error("not an <xml> document with <Encrypt>: {0}")]
    Envelope(String),
}

/// `sha1(concat(sorted([token, timestamp, nonce, encrypted])))` in lower-case hex.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypted: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypted];
    parts.sort_unstable();
    sha1_hex(parts.concat().as_bytes())
}

/// One receiver's callback crypto: the token, the AES key and the receive id (a corpid
/// for a self-built app).
#[derive(Clone)]
pub struct MsgCrypt {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

impl std::fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("receive_id", &self.receive_id)
            .finish_non_exhaustive()
    }
}

/// An encrypted event as it is POSTed: the XML body and the query's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEvent {
    /// `<xml><ToUserName>…</ToUserName><AgentID>…</AgentID><Encrypt>…</Encrypt></xml>`.
    pub body: String,
    /// The query's `msg_signature`.
    pub msg_signature: String,
    /// The query's `timestamp`.
    pub timestamp: String,
    /// The query's `nonce`.
    pub nonce: String,
}

impl MsgCrypt {
    /// The crypto of `token` and the 43-character `encoding_aes_key`, for `receive_id`.
    ///
    /// # Errors
    ///
    /// [`MsgCryptError::AesKey`] when the key is not 43 characters of base64 of 32 bytes.
    pub fn new(
        token: &str,
        encoding_aes_key: &str,
        receive_id: &str,
    ) -> Result<Self, MsgCryptError> {
        if encoding_aes_key.len() != 43 {
            return Err(MsgCryptError::AesKey);
        }
        // 43 characters carry 258 bits: the last two are ignored, as every SDK does.
        let bytes = AES_KEY_ENGINE
            .decode(encoding_aes_key)
            .map_err(|_| MsgCryptError::AesKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| MsgCryptError::AesKey)?;
        Ok(Self {
            token: token.to_owned(),
            key,
            receive_id: receive_id.to_owned(),
        })
    }

    /// A new `EncodingAESKey`: 32 random bytes as 43 base64 characters.
    pub fn new_aes_key<R: rand::Rng + ?Sized>(rng: &mut R) -> String {
        let mut key = [0u8; 32];
        rng.fill(&mut key);
        b64_encode(&key).trim_end_matches('=').to_owned()
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// `message` encrypted with the given 16 random bytes, as base64.
    ///
    /// # Errors
    ///
    /// [`MsgCryptError::Cipher`] if the message is longer than 4 GiB or AES fails.
    pub fn encrypt(&self, message: &[u8], random: [u8; 16]) -> Result<String, MsgCryptError> {
        let length = u32::try_from(message.len()).map_err(|_| MsgCryptError::Cipher)?;
        let mut plain = Vec::with_capacity(20 + message.len() + self.receive_id.len() + PAD_BLOCK);
        plain.extend_from_slice(&random);
        plain.extend_from_slice(&length.to_be_bytes());
        plain.extend_from_slice(message);
        plain.extend_from_slice(self.receive_id.as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        // `pad` is 1..=32, so it fits a byte.
        let pad_byte = u8::try_from(pad).map_err(|_| MsgCryptError::Cipher)?;
        plain.resize(plain.len() + pad, pad_byte);
        let key = UnboundCipherKey::new(&AES_256, &self.key).map_err(|_| MsgCryptError::Cipher)?;
        let key = EncryptingKey::cbc(key).map_err(|_| MsgCryptError::Cipher)?;
        key.less_safe_encrypt(&mut plain, EncryptionContext::Iv128(self.iv().into()))
            .map_err(|_| MsgCryptError::Cipher)?;
        Ok(b64_encode(&plain))
    }

    /// The message inside base64 `encrypted`, checked to be for this receive id.
    ///
    /// # Errors
    ///
    /// [`MsgCryptError::Cipher`], [`MsgCryptError::ReceiveId`].
    pub fn decrypt(&self, encrypted: &str) -> Result<Vec<u8>, MsgCryptError> {
        let mut data = b64_decode(encrypted).ok_or(MsgCryptError::Cipher)?;
        if data.is_empty() || data.len() % 16 != 0 {
            return Err(MsgCryptError::Cipher);
        }
        let key = UnboundCipherKey::new(&AES_256, &self.key).map_err(|_| MsgCryptError::Cipher)?;
        let key = DecryptingKey::cbc(key).map_err(|_| MsgCryptError::Cipher)?;
        let plain = key
            .decrypt(&mut data, DecryptionContext::Iv128(self.iv().into()))
            .map_err(|_| MsgCryptError::Cipher)?;
        let pad = usize::from(*plain.last().ok_or(MsgCryptError::Cipher)?);
        if !(1..=PAD_BLOCK).contains(&pad) || pad > plain.len() {
            return Err(MsgCryptError::Cipher);
        }
        let content = &plain[..plain.len() - pad];
        let length_bytes: [u8; 4] = content
            .get(16..20)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(MsgCryptError::Cipher)?;
        let length =
            usize::try_from(u32::from_be_bytes(length_bytes)).map_err(|_| MsgCryptError::Cipher)?;
        let message = content.get(20..20 + length).ok_or(MsgCryptError::Cipher)?;
        let receive_id = &content[20 + length..];
        if receive_id != self.receive_id.as_bytes() {
            return Err(MsgCryptError::ReceiveId(
                String::from_utf8_lossy(receive_id).into_owned(),
            ));
        }
        Ok(message.to_vec())
    }

    /// The signature of `encrypted` at `timestamp` with `nonce` under this token.
    pub fn sign(&self, timestamp: &str, nonce: &str, encrypted: &str) -> String {
        signature(&self.token, timestamp, nonce, encrypted)
    }

    /// Checks `msg_signature` over `encrypted`, then decrypts it (URL verification's
    /// `echostr`, an event's `Encrypt`).
    ///
    /// # Errors
    ///
    /// [`MsgCryptError::Signature`], then those of [`MsgCrypt::decrypt`].
    pub fn open(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypted: &str,
    ) -> Result<Vec<u8>, MsgCryptError> {
        let expected = self.sign(timestamp, nonce, encrypted);
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.as_bytes(),
            msg_signature.to_ascii_lowercase().as_bytes(),
        )
        .is_err()
        {
            return Err(MsgCryptError::Signature);
        }
        self.decrypt(encrypted)
    }

    /// An event's XML encrypted, enveloped and signed, ready to POST.
    ///
    /// # Errors
    ///
    /// Those of [`MsgCrypt::encrypt`].
    pub fn seal_event(
        &self,
        agent_id: &str,
        event_xml: &str,
        timestamp: i64,
        nonce: &str,
        random: [u8; 16],
    ) -> Result<SealedEvent, MsgCryptError> {
        let encrypted = self.encrypt(event_xml.as_bytes(), random)?;
        let timestamp = timestamp.to_string();
        let msg_signature = self.sign(&timestamp, nonce, &encrypted);
        let body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><AgentID><![CDATA[{agent_id}]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>",
            self.receive_id
        );
        Ok(SealedEvent {
            body,
            msg_signature,
            timestamp,
            nonce: nonce.to_owned(),
        })
    }

    /// Reads an encrypted reply or event body (`<xml>…<Encrypt>…</Encrypt>…</xml>`) and
    /// opens it with the query's signature parts.
    ///
    /// # Errors
    ///
    /// [`MsgCryptError::Envelope`], then those of [`MsgCrypt::open`].
    pub fn open_envelope(
        &self,
        body: &[u8],
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<Vec<u8>, MsgCryptError> {
        let params = crate::v2::parse_xml(body)
            .map_err(|error| MsgCryptError::Envelope(error.to_string()))?;
        let encrypted = params
            .get("Encrypt")
            .ok_or_else(|| MsgCryptError::Envelope("no <Encrypt>".to_owned()))?;
        self.open(msg_signature, timestamp, nonce, encrypted)
    }
}

/// Text escaped for an XML `CDATA` section (a `]]>` inside is split across two sections).
pub fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    const CORP: &str = "wx5823bf96d3bd56c7";

    #[test]
    fn signature_sorts_the_four_parts() {
        // Computed independently with Python's hashlib over the sorted, joined parts.
        assert_eq!(
            signature(
                "QDG6eK",
                "1409659813",
                "1372623149",
                "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS"
            ),
            "2ecc5745cc405397f9c1ed24f09bdcc0a6c132ed"
        );
    }

    #[test]
    fn encryption_matches_an_independent_implementation() {
        // Computed with Python's `cryptography` (AES-256-CBC, IV = key[..16]) over the
        // same layout and random bytes.
        let crypt = MsgCrypt::new("QDG6eK", AES_KEY, CORP).unwrap();
        let message = "<xml><Content><![CDATA[你好]]></Content></xml>";
        assert_eq!(
            crypt.encrypt(message.as_bytes(), [7; 16]).unwrap(),
            "q0ysNi5GBe4lFFBIAtQxbBUKuY+KH2+0IxTZo7grIsOHO+JyKRKNmyMYhhyQkQowRWlQ8du7zLDfarPUFrIIkmKjUXdrU9UKwhYp6fwP6qVhptOvA7CGzFjr+Zhhq+R2"
        );
    }

    #[test]
    fn encrypt_then_open_round_trips_and_checks_the_receiver() {
        let crypt = MsgCrypt::new("QDG6eK", AES_KEY, CORP).unwrap();
        let message = "<xml><Content><![CDATA[你好]]></Content></xml>";
        let encrypted = crypt.encrypt(message.as_bytes(), [7; 16]).unwrap();
        let signature = crypt.sign("1409659813", "1372623149", &encrypted);
        let opened = crypt
            .open(&signature, "1409659813", "1372623149", &encrypted)
            .unwrap();
        assert_eq!(opened, message.as_bytes());
        assert_eq!(
            crypt.open(
                "0".repeat(40).as_str(),
                "1409659813",
                "1372623149",
                &encrypted
            ),
            Err(MsgCryptError::Signature)
        );
        let other = MsgCrypt::new("QDG6eK", AES_KEY, "ww0000000000000000").unwrap();
        assert_eq!(
            other.decrypt(&encrypted),
            Err(MsgCryptError::ReceiveId(CORP.to_owned()))
        );
    }

    #[test]
    fn a_bad_aes_key_is_refused() {
        assert_eq!(
            MsgCrypt::new("t", "short", CORP).err(),
            Some(MsgCryptError::AesKey)
        );
        assert_eq!(
            MsgCrypt::new("t", &"!".repeat(43), CORP).err(),
            Some(MsgCryptError::AesKey)
        );
    }

    #[test]
    fn cdata_splits_a_closing_marker() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
    }
}
