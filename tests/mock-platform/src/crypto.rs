//! The platform's event crypto, implemented independently of the SDK so that
//! tests can check one against the other.
//!
//! * Encryption (§5.2 of the protocol notes): `key = SHA-256(encrypt_key)`,
//!   AES-256-CBC with PKCS#7 padding, output `base64(IV ‖ ciphertext)` with the
//!   standard padded alphabet.
//! * Event signature (§5.3): lowercase hex SHA-256 of
//!   `timestamp ‖ nonce ‖ encrypt_key ‖ raw body`.
//! * Legacy card signature (§6.1): lowercase hex SHA-1 of
//!   `timestamp ‖ nonce ‖ verification_token ‖ raw body`.
//!
//! ```
//! use lark_oapi_mock::crypto;
//!
//! let sealed = crypto::encrypt("my-key", br#"{"a":1}"#);
//! assert_eq!(crypto::decrypt("my-key", &sealed).unwrap(), br#"{"a":1}"#);
//! // A fixed IV keeps the wrong-key check deterministic: with a random one, about
//! // one wrong key in 256 still meets valid PKCS#7 padding by chance.
//! let fixed = crypto::encrypt_with_iv("my-key", [7; 16], br#"{"a":1}"#);
//! assert!(crypto::decrypt("other-key", &fixed).is_none());
//! ```

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Encrypts `plaintext` with a random IV; returns `base64(IV ‖ ciphertext)`.
///
/// The IV comes from a non-cryptographic generator: this is a test fixture.
pub fn encrypt(encrypt_key: &str, plaintext: &[u8]) -> String {
    let mut iv = [0u8; 16];
    fastrand::fill(&mut iv);
    encrypt_with_iv(encrypt_key, iv, plaintext)
}

/// Encrypts `plaintext` with the given IV; returns `base64(IV ‖ ciphertext)`.
pub fn encrypt_with_iv(encrypt_key: &str, iv: [u8; 16], plaintext: &[u8]) -> String {
    let key: [u8; 32] = Sha256::digest(encrypt_key.as_bytes()).into();
    let ciphertext = cbc::Encryptor::<Aes256>::new(&key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut raw = Vec::with_capacity(16 + ciphertext.len());
    raw.extend_from_slice(&iv);
    raw.extend_from_slice(&ciphertext);
    STANDARD.encode(raw)
}

/// Decrypts `base64(IV ‖ ciphertext)`; `None` if the base64, the length or the
/// PKCS#7 padding is invalid (a wrong key almost always shows as bad padding).
pub fn decrypt(encrypt_key: &str, encrypted: &str) -> Option<Vec<u8>> {
    let raw = STANDARD.decode(encrypted.trim()).ok()?;
    if raw.len() < 32 || raw.len() % 16 != 0 {
        return None;
    }
    let (iv, ciphertext) = raw.split_at(16);
    let iv: [u8; 16] = iv.try_into().ok()?;
    let key: [u8; 32] = Sha256::digest(encrypt_key.as_bytes()).into();
    cbc::Decryptor::<Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .ok()
}

/// The event signature: lowercase hex SHA-256 of
/// `timestamp ‖ nonce ‖ encrypt_key ‖ body`.
pub fn event_signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(timestamp.as_bytes());
    h.update(nonce.as_bytes());
    h.update(encrypt_key.as_bytes());
    h.update(body);
    hex_lower(&h.finalize())
}

/// The legacy card-callback signature: lowercase hex SHA-1 of
/// `timestamp ‖ nonce ‖ verification_token ‖ body`.
pub fn card_signature(
    timestamp: &str,
    nonce: &str,
    verification_token: &str,
    body: &[u8],
) -> String {
    let mut h = Sha1::new();
    h.update(timestamp.as_bytes());
    h.update(nonce.as_bytes());
    h.update(verification_token.as_bytes());
    h.update(body);
    hex_lower(&h.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_encryption() {
        let sealed = encrypt_with_iv("test-key", [0u8; 16], br#"{"a":1}"#);
        let raw = STANDARD.decode(&sealed).unwrap();
        // IV block + one padded block (7 bytes of plaintext, 9 bytes of padding).
        assert_eq!(raw.len(), 32);
        assert_eq!(&raw[..16], &[0u8; 16]);
        assert_eq!(decrypt("test-key", &sealed).unwrap(), br#"{"a":1}"#);
        // Deterministic for a fixed IV.
        assert_eq!(
            sealed,
            encrypt_with_iv("test-key", [0u8; 16], br#"{"a":1}"#)
        );
        assert!(decrypt("test-key2", &sealed).is_none());
        // Random IVs differ but decrypt the same.
        let a = encrypt("test-key", b"{}");
        let b = encrypt("test-key", b"{}");
        assert_ne!(a, b);
        assert_eq!(decrypt("test-key", &a).unwrap(), b"{}");
        // An exact multiple of the block size gets a whole block of padding.
        let sixteen = encrypt("k", &[b'x'; 16]);
        assert_eq!(STANDARD.decode(&sixteen).unwrap().len(), 48);
        assert_eq!(decrypt("k", &sixteen).unwrap(), vec![b'x'; 16]);
    }

    #[test]
    fn decrypt_rejects_garbage() {
        assert!(decrypt("k", "").is_none());
        assert!(decrypt("k", "not base64!").is_none());
        assert!(decrypt("k", &STANDARD.encode([0u8; 16])).is_none());
        assert!(decrypt("k", &STANDARD.encode([0u8; 40])).is_none());
    }

    #[test]
    fn known_answer_signatures() {
        // python3 -c "import hashlib;print(hashlib.sha256(b'1700000000nk{}').hexdigest())"
        assert_eq!(
            event_signature("1700000000", "n", "k", b"{}"),
            "48353a7a50042419257060653224fc8a6691ae4891b35267b49215645eb2a855"
        );
        // SHA-1("abc"), FIPS 180-1 test vector.
        assert_eq!(
            card_signature("a", "b", "c", b""),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
