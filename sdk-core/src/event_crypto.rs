//! Event decryption (AES-256-CBC) and request signatures, over the exact bytes received.
//!
//! - Decryption: key = SHA-256(Encrypt Key); the payload is base64(IV ‖ ciphertext);
//!   PKCS#7 padding is checked strictly (a wrong key or a tampered body is an error, never
//!   a best-effort slice of the plaintext).
//! - Event signature: lowercase hex SHA-256 of timestamp ‖ nonce ‖ Encrypt Key ‖ raw body.
//! - Legacy card-callback signature: lowercase hex SHA-1 of timestamp ‖ nonce ‖
//!   Verification Token ‖ raw body.
//!
//! Comparisons run in constant time.

use std::fmt;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest, Sha256};

type Decryptor = cbc::Decryptor<aes::Aes256>;
type Encryptor = cbc::Encryptor<aes::Aes256>;

/// Why an encrypted payload could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The payload is not standard base64.
    Base64,
    /// The payload is shorter than an IV and one block.
    TooShort(usize),
    /// The ciphertext is not a whole number of 16-byte blocks.
    NotBlockAligned(usize),
    /// The PKCS#7 padding is wrong: a wrong Encrypt Key, or a tampered body.
    BadPadding,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Base64 => f.write_str("the encrypted payload is not valid base64"),
            CryptoError::TooShort(n) => write!(
                f,
                "the encrypted payload is {n} bytes, shorter than an IV and one block (32)"
            ),
            CryptoError::NotBlockAligned(n) => write!(
                f,
                "the ciphertext is {n} bytes, not a multiple of the 16-byte AES block"
            ),
            CryptoError::BadPadding => f.write_str(
                "decryption produced invalid padding: check the Encrypt Key configured for this app",
            ),
        }
    }
}

impl std::error::Error for CryptoError {}

fn aes_key(encrypt_key: &str) -> [u8; 32] {
    Sha256::digest(encrypt_key.as_bytes()).into()
}

/// Decrypts the `encrypt` field of an event body.
///
/// ```
/// use lark_oapi_core::event_crypto::{decrypt, encrypt};
/// let sealed = encrypt("my-encrypt-key", br#"{"challenge":"x"}"#, [7; 16]);
/// assert_eq!(decrypt("my-encrypt-key", &sealed).unwrap(), br#"{"challenge":"x"}"#);
/// assert!(decrypt("another-key", &sealed).is_err());
/// ```
pub fn decrypt(encrypt_key: &str, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
    AesKey::new(encrypt_key).decrypt(encrypted)
}

/// The AES-256 key derived from an Encrypt Key (SHA-256 of it), derived once and reused
/// for every event. Its `Debug` output is redacted.
#[derive(Clone)]
pub struct AesKey([u8; 32]);

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

impl AesKey {
    /// Derives the key from the app's Encrypt Key.
    pub fn new(encrypt_key: &str) -> Self {
        Self(aes_key(encrypt_key))
    }

    /// Decrypts base64(IV ‖ ciphertext), checking the PKCS#7 padding strictly.
    pub fn decrypt(&self, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
        self.decrypt_bytes(encrypted.trim().as_bytes())
    }

    /// [`AesKey::decrypt`] of base64 text given as bytes (the dispatcher's borrowed slice of
    /// the body: the base64 decoder checks each byte, so no UTF-8 pass is needed first).
    pub(crate) fn decrypt_bytes(&self, encrypted: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(encrypted.trim_ascii())
            .map_err(|_| CryptoError::Base64)?;
        if raw.len() < 32 {
            return Err(CryptoError::TooShort(raw.len()));
        }
        if (raw.len() - 16) % 16 != 0 {
            return Err(CryptoError::NotBlockAligned(raw.len() - 16));
        }
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&raw[..16]);
        let len = Decryptor::new(&self.0.into(), &iv.into())
            .decrypt_padded_mut::<Pkcs7>(&mut raw[16..])
            .map_err(|_| CryptoError::BadPadding)?
            .len();
        // Move the plaintext to the front, in place: no second allocation.
        raw.copy_within(16..16 + len, 0);
        raw.truncate(len);
        Ok(raw)
    }
}

/// Encrypts `plaintext` as the platform does (for tests and the mock platform):
/// base64(IV ‖ AES-256-CBC(PKCS#7(plaintext))).
///
/// ```
/// use lark_oapi_core::event_crypto::{AesKey, encrypt};
/// let sealed = encrypt("my-encrypt-key", b"{}", [0; 16]);
/// // 16 bytes of IV and one block of ciphertext, in base64.
/// assert_eq!(sealed.len(), 44);
/// assert_eq!(AesKey::new("my-encrypt-key").decrypt(&sealed).unwrap(), b"{}");
/// ```
pub fn encrypt(encrypt_key: &str, plaintext: &[u8], iv: [u8; 16]) -> String {
    let key = aes_key(encrypt_key);
    let mut buf = vec![0u8; plaintext.len() + 16];
    buf[..plaintext.len()].copy_from_slice(plaintext);
    let len = Encryptor::new(&key.into(), &iv.into())
        .encrypt_padded_mut::<Pkcs7>(&mut buf, plaintext.len())
        .map(<[u8]>::len)
        .unwrap_or(0);
    let mut out = Vec::with_capacity(16 + len);
    out.extend_from_slice(&iv);
    out.extend_from_slice(&buf[..len]);
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The `X-Lark-Signature` of an event request: hex SHA-256 over
/// timestamp ‖ nonce ‖ Encrypt Key ‖ the raw body bytes.
///
/// ```
/// use lark_oapi_core::event_crypto::event_signature;
/// let sig = event_signature("1700000000", "nonce", "my-encrypt-key", br#"{"encrypt":"..."}"#);
/// assert_eq!(sig.len(), 64);
/// assert!(sig.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
/// ```
pub fn event_signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(timestamp.as_bytes());
    h.update(nonce.as_bytes());
    h.update(encrypt_key.as_bytes());
    h.update(body);
    hex(&h.finalize())
}

/// The `X-Lark-Signature` of a legacy card callback: hex SHA-1 over
/// timestamp ‖ nonce ‖ Verification Token ‖ the raw body bytes.
///
/// ```
/// use lark_oapi_core::event_crypto::{card_signature, verify_card_signature};
/// let body = br#"{"action":{"value":{"k":"v"}}}"#;
/// let sig = card_signature("1700000000", "nonce", "v-token", body);
/// assert_eq!(sig.len(), 40);
/// assert!(verify_card_signature("1700000000", "nonce", "v-token", body, &sig));
/// ```
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
    hex(&h.finalize())
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// ```
/// use lark_oapi_core::event_crypto::constant_time_eq;
/// assert!(constant_time_eq(b"token", b"token"));
/// assert!(!constant_time_eq(b"token", b"tokem"));
/// assert!(!constant_time_eq(b"token", b"token2"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the `X-Lark-Signature` header (hex, any case) equals `expected`, in constant time.
fn signature_matches(expected: &str, signature: &str) -> bool {
    constant_time_eq(
        expected.as_bytes(),
        signature.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// Whether `signature` (the header, any case) is the event signature of `body`.
///
/// ```
/// use lark_oapi_core::event_crypto::{event_signature, verify_event_signature};
/// let body = br#"{"encrypt":"..."}"#;
/// let sig = event_signature("1700000000", "nonce", "key", body);
/// assert!(verify_event_signature("1700000000", "nonce", "key", body, &sig.to_uppercase()));
/// // One byte more in the body (e.g. re-serialised JSON) and it no longer verifies.
/// assert!(!verify_event_signature("1700000000", "nonce", "key", br#"{"encrypt": "..."}"#, &sig));
/// ```
pub fn verify_event_signature(
    timestamp: &str,
    nonce: &str,
    encrypt_key: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    signature_matches(
        &event_signature(timestamp, nonce, encrypt_key, body),
        signature,
    )
}

/// Whether `signature` is the legacy card-callback signature of `body`.
pub fn verify_card_signature(
    timestamp: &str,
    nonce: &str,
    verification_token: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    signature_matches(
        &card_signature(timestamp, nonce, verification_token, body),
        signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with Python's `cryptography` and `hashlib`.
    const KEY: &str = "test-encrypt-key-飞书";
    const SEALED: &str = "AAECAwQFBgcICQoLDA0OD1RrtJDCguZ3wxZ9ZPCyFmLd9CYX5UqkLZw2FH4Cio4bMT5bxDUEfaqfM0vmxNH89Z7FhwRDXbS3yto20lD/GC80k46LcmKuQ/K+HQ7p3IthbFDlbWLrkcuGKrYtxfN4Ec3T1iiLwTT2PeV99LIu5HE=";
    const PLAIN: &str = r#"{"schema":"2.0","header":{"event_id":"ev_1","event_type":"im.message.receive_v1"},"event":{"text":"你好"}}"#;

    #[test]
    fn decrypts_a_known_vector() {
        assert_eq!(decrypt(KEY, SEALED).unwrap(), PLAIN.as_bytes());
    }

    #[test]
    fn encrypts_the_known_vector_byte_for_byte() {
        let iv: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(encrypt(KEY, PLAIN.as_bytes(), iv), SEALED);
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert_eq!(decrypt(KEY, "not base64!"), Err(CryptoError::Base64));
        assert_eq!(decrypt(KEY, "AAAA"), Err(CryptoError::TooShort(3)));
        // A truncated ciphertext (one byte short of a block).
        let raw = base64::engine::general_purpose::STANDARD
            .decode(SEALED)
            .unwrap();
        let cut = base64::engine::general_purpose::STANDARD.encode(&raw[..raw.len() - 1]);
        assert!(matches!(
            decrypt(KEY, &cut),
            Err(CryptoError::NotBlockAligned(_))
        ));
        // The wrong key: the padding check catches it.
        assert_eq!(decrypt("wrong-key", SEALED), Err(CryptoError::BadPadding));
        // A flipped bit in the last block breaks the padding.
        let mut tampered = raw.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        let tampered = base64::engine::general_purpose::STANDARD.encode(tampered);
        assert_eq!(decrypt(KEY, &tampered), Err(CryptoError::BadPadding));
        assert!(CryptoError::BadPadding.to_string().contains("Encrypt Key"));
    }

    #[test]
    fn event_signatures_cover_the_exact_bytes() {
        let body = format!(r#"{{"encrypt":"{SEALED}"}}"#);
        let sig = "1e9f69d4252e87e968a615c51719c659b4d6e1f799459a7065d924c63b114fc7";
        assert_eq!(
            event_signature("1700000000", "nonce-123", KEY, body.as_bytes()),
            sig
        );
        assert!(verify_event_signature(
            "1700000000",
            "nonce-123",
            KEY,
            body.as_bytes(),
            sig
        ));
        assert!(verify_event_signature(
            "1700000000",
            "nonce-123",
            KEY,
            body.as_bytes(),
            &sig.to_uppercase()
        ));
        // Re-serialised JSON (a space) is a different body: the signature must not match.
        let spaced = format!(r#"{{"encrypt": "{SEALED}"}}"#);
        assert!(!verify_event_signature(
            "1700000000",
            "nonce-123",
            KEY,
            spaced.as_bytes(),
            sig
        ));
        assert!(!verify_event_signature(
            "1700000001",
            "nonce-123",
            KEY,
            body.as_bytes(),
            sig
        ));
        assert!(!verify_event_signature(
            "1700000000",
            "nonce-123",
            KEY,
            body.as_bytes(),
            &sig[1..]
        ));
    }

    #[test]
    fn card_signatures_use_sha1_and_the_verification_token() {
        let body = br#"{"open_id":"ou_1","action":{"value":{"k":"v"},"tag":"button"}}"#;
        let sig = "ecad71d1bbbad913a24f03768b93a7d2aa87ae73";
        assert_eq!(
            card_signature("1700000000", "nonce-123", "verification-token-x", body),
            sig
        );
        assert!(verify_card_signature(
            "1700000000",
            "nonce-123",
            "verification-token-x",
            body,
            sig
        ));
        assert!(!verify_card_signature(
            "1700000000",
            "nonce-123",
            "other-token",
            body,
            sig
        ));
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn round_trips_many_payloads() {
        // Every length around the block boundaries, with a simple LCG for content.
        let mut seed = 0x2545_f491_u32;
        for len in 0..100 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let iv = [len as u8; 16];
            let sealed = encrypt("k", &data, iv);
            assert_eq!(decrypt("k", &sealed).unwrap(), data, "length {len}");
        }
    }
}
