//! The platform's signing identity and `GET /v3/certificates`.
//!
//! One RSA-2048 key answers for both modes of §1.5: as a self-signed certificate (whose
//! serial goes in `Wechatpay-Serial`) and as a bare public key named `PUB_KEY_ID_…`.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use plaza_pay::model::SignMode;
use plaza_wx::cert::ParsedCertificate;
use plaza_wx::response::{SignedHeaders, sign_response};
use plaza_wx::rsa::{PrivateKey, RsaError};
use serde::Serialize;

use super::{Caller, V3Error, json_response};
use crate::PayState;

/// The platform's key, certificate and public key id.
pub struct Platform {
    key: PrivateKey,
    certificate_pem: String,
    certificate: ParsedCertificate,
    public_key_id: String,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("serial", &self.certificate.serial_hex)
            .field("public_key_id", &self.public_key_id)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// An identity from its parts; the certificate must be for `key`.
    ///
    /// # Errors
    ///
    /// A message when the certificate is unreadable or for another key.
    pub fn new(
        key: PrivateKey,
        certificate_pem: String,
        public_key_id: String,
    ) -> Result<Self, String> {
        let certificate = plaza_wx::cert::parse_certificate_pem(&certificate_pem)
            .map_err(|error| format!("platform certificate unreadable: {error}"))?;
        if certificate.public_key != *key.public_key() {
            return Err("the platform certificate is not for the platform key".to_owned());
        }
        if !public_key_id.starts_with("PUB_KEY_ID_") {
            return Err(format!("{public_key_id:?} does not start with PUB_KEY_ID_"));
        }
        Ok(Self {
            key,
            certificate_pem,
            certificate,
            public_key_id,
        })
    }

    /// Decrypts a sensitive request field (RSA-OAEP with the platform's public key, as
    /// SDKs encrypt `name` and the like, spec §1.6).
    ///
    /// # Errors
    ///
    /// A message when it is not ciphertext for this key, or not UTF-8.
    pub fn decrypt_field(&self, ciphertext_b64: &str) -> Result<String, String> {
        let plain = self
            .key
            .decrypt_oaep_sha1(ciphertext_b64)
            .map_err(|error| error.to_string())?;
        String::from_utf8(plain).map_err(|_| "the decrypted field is not UTF-8".to_owned())
    }

    /// The certificate's canonical upper-case hex serial.
    pub fn serial(&self) -> &str {
        &self.certificate.serial_hex
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// `PUB_KEY_ID_…`.
    pub fn public_key_id(&self) -> &str {
        &self.public_key_id
    }

    /// The public key, SPKI PEM.
    pub fn public_key_pem(&self) -> String {
        self.key.public_key().to_spki_pem()
    }

    /// The name a response signed in `mode` carries in `Wechatpay-Serial`.
    pub fn serial_for(&self, mode: SignMode) -> &str {
        match mode {
            SignMode::Certificate => self.serial(),
            SignMode::PublicKey => &self.public_key_id,
        }
    }

    /// Signs a response or notification body.
    ///
    /// # Errors
    ///
    /// When the signing primitive fails.
    pub fn sign(&self, mode: SignMode, now_s: i64, body: &[u8]) -> Result<SignedHeaders, RsaError> {
        let nonce = plaza_pay::ids::random_hex(32);
        sign_response(&self.key, self.serial_for(mode), now_s, &nonce, body)
    }

    /// The certificate's validity, Unix seconds.
    pub fn validity_s(&self) -> (i64, i64) {
        (
            self.certificate.not_before_unix_s,
            self.certificate.not_after_unix_s,
        )
    }
}

#[derive(Serialize)]
struct EncryptedCertificate {
    algorithm: &'static str,
    nonce: String,
    associated_data: &'static str,
    ciphertext: String,
}

#[derive(Serialize)]
struct CertificateEntry {
    serial_no: String,
    effective_time: String,
    expire_time: String,
    encrypt_certificate: EncryptedCertificate,
}

#[derive(Serialize)]
struct Certificates {
    data: Vec<CertificateEntry>,
}

fn rfc3339_s(unix_s: i64) -> String {
    plaza_pay::time::rfc3339(plaza_kernel::clock::Timestamp::from_unix_ms(unix_s * 1_000))
}

/// `GET /v3/certificates`: the platform certificate, encrypted with the caller's APIv3
/// key. Always signed with the certificate, which is what this list is for.
pub(crate) async fn certificates(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let surface = &state.pay;
    let platform = &surface.platform;
    let nonce = plaza_pay::ids::random_alnum(12);
    let ciphertext = plaza_wx::aead::encrypt_resource(
        &caller.merchant.apiv3_key,
        &nonce,
        "certificate",
        platform.certificate_pem().as_bytes(),
    )
    .map_err(|error| V3Error::system(&format!("encrypting the certificate failed: {error}")))?;
    let (not_before, not_after) = platform.validity_s();
    let body = Certificates {
        data: vec![CertificateEntry {
            serial_no: platform.serial().to_owned(),
            effective_time: rfc3339_s(not_before),
            expire_time: rfc3339_s(not_after),
            encrypt_certificate: EncryptedCertificate {
                algorithm: plaza_wx::aead::ALGORITHM,
                nonce,
                associated_data: "certificate",
                ciphertext,
            },
        }],
    };
    let body = serde_json::to_string(&body).map_err(|error| V3Error::system(&error.to_string()))?;
    Ok(super::signed_with(
        json_response(StatusCode::OK, body),
        SignMode::Certificate,
    ))
}
