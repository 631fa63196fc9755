//! The WeChat Pay APIv3 wire formats as pure functions.
//!
//! * [`auth`]: the merchant → server `Authorization` header (parse, sign, verify).
//! * [`response`]: the server → client `Wechatpay-*` response/callback signature headers.
//! * [`aead`]: `AEAD_AES_256_GCM` resources (callbacks, platform certificate download).
//! * [`rsa`]: RSA-2048 keys: PKCS#1 v1.5 SHA-256 signatures and RSA-OAEP (SHA-1) fields.
//! * [`cert`]: self-signed X.509 certificates and reading a certificate's serial, validity
//!   and public key.
//! * [`digest`]: SHA-1 / SHA-256 hex digests (bill files, media uploads).
//! * [`msgcrypt`]: WeCom's callback crypto (WXBizMsgCrypt): AES-256-CBC, SHA-1 signatures.
//! * [`random`]: nonces, APIv3 keys and certificate serials from a caller-supplied RNG.
//!
//! Nothing here performs I/O or reads the clock: timestamps and randomness are parameters.
//! The byte layouts follow `shared/specs/wechatpay-v3.md` §1.2–§1.7.

#![warn(missing_docs)]

pub mod aead;
pub mod auth;
pub mod cert;
pub mod digest;
pub mod msgcrypt;
pub mod random;
pub mod response;
pub mod rsa;
pub mod v2;

mod der;
mod encoding;
