//! Random identifiers drawn from a caller-supplied RNG (pass `&mut rand::rng()` in
//! production, a seeded RNG in tests). Certificate serials are in
//! [`crate::cert::random_serial`].

use rand::Rng;
use rand::distr::Alphanumeric;

use crate::encoding::hex_lower;

fn alphanumeric<R: Rng + ?Sized>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect()
}

/// A fresh APIv3 key: 32 characters from `[A-Za-z0-9]` (the merchant-platform format).
pub fn apiv3_key<R: Rng + ?Sized>(rng: &mut R) -> String {
    alphanumeric(rng, crate::aead::KEY_LEN)
}

/// A fresh `AEAD_AES_256_GCM` nonce: 12 characters from `[A-Za-z0-9]`.
pub fn aead_nonce<R: Rng + ?Sized>(rng: &mut R) -> String {
    alphanumeric(rng, crate::aead::NONCE_LEN)
}

/// A fresh signature nonce: 32 lowercase hex characters (the official response format;
/// also fine for `nonce_str` in requests).
pub fn signature_nonce<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    hex_lower(&bytes)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn shapes() {
        let mut rng = StdRng::seed_from_u64(42);
        for _ in 0..200 {
            let key = apiv3_key(&mut rng);
            assert_eq!(key.len(), 32);
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
            let nonce = aead_nonce(&mut rng);
            assert_eq!(nonce.len(), 12);
            assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
            let sig = signature_nonce(&mut rng);
            assert_eq!(sig.len(), 32);
            assert!(sig.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        }
        assert_ne!(apiv3_key(&mut rng), apiv3_key(&mut rng));
    }

    #[test]
    fn generated_values_are_usable() {
        let mut rng = rand::rng();
        let key = apiv3_key(&mut rng);
        let nonce = aead_nonce(&mut rng);
        let ct = crate::aead::encrypt_resource(&key, &nonce, "x", b"hi").unwrap();
        assert_eq!(
            crate::aead::decrypt_resource(&key, &nonce, "x", &ct).unwrap(),
            b"hi"
        );
    }
}
