//! The properties the fuzz targets check, one function per target. Each takes arbitrary
//! bytes and panics only if the SDK misbehaves: a panic inside the SDK, a wrong answer
//! (e.g. HTTP 200 for a request that is not authentic), or a round trip that loses data.
//!
//! `fuzz/fuzz_targets/*.rs` call these under libFuzzer (nightly, `cargo fuzz run <target>`);
//! `tests/corpus.rs` replays the committed corpus through them on stable, in CI.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use lark_oapi_core::dispatcher::EventDispatcher;
use lark_oapi_core::event_crypto::{
    AesKey, card_signature, encrypt, event_signature, verify_card_signature, verify_event_signature,
};
use lark_oapi_core::long_connection::frame::{Frame, Reassembly};

/// The Encrypt Key and Verification Token of the fuzzed dispatcher.
pub const KEY: &str = "fuzz-encrypt-key";
/// See [`KEY`].
pub const TOKEN: &str = "fuzz-verification-token";

/// Splits input into `n` parts at the first `n - 1` 0xFF bytes (missing parts are empty).
fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0xFF).collect();
    out.resize(n, &[]);
    out
}

/// Decryption: never panics; what decrypts re-encrypts to the same bytes; and what we
/// encrypt always decrypts back.
pub fn decrypt(data: &[u8]) {
    let [key, sealed] = parts(data, 2)[..] else {
        return;
    };
    let key = String::from_utf8_lossy(key);
    let sealed = String::from_utf8_lossy(sealed);
    let aes = AesKey::new(&key);
    if let Ok(plain) = aes.decrypt(&sealed) {
        // The IV is the first 16 decoded bytes; encrypting again with it gives the input.
        let raw = base64_decode(sealed.trim()).expect("decrypt accepted it as base64");
        let iv: [u8; 16] = raw[..16].try_into().expect("at least an IV");
        assert_eq!(
            encrypt(&key, &plain, iv),
            base64_encode(&raw),
            "re-encryption differs"
        );
    }
    let iv: [u8; 16] = std::array::from_fn(|i| data.get(i).copied().unwrap_or(0));
    let sealed = encrypt(&key, data, iv);
    assert_eq!(
        aes.decrypt(&sealed).as_deref(),
        Ok(data),
        "round trip lost data"
    );
}

/// Signatures: a computed signature verifies (trimmed, any case); any other string does not.
pub fn signature(data: &[u8]) {
    let [ts, nonce, key, body, sig] = parts(data, 5)[..] else {
        return;
    };
    let (ts, nonce, key, sig) = (
        String::from_utf8_lossy(ts),
        String::from_utf8_lossy(nonce),
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(sig),
    );
    // The header is compared trimmed and in any case (hex digits).
    let same = |good: &str| sig.trim().eq_ignore_ascii_case(good);
    let good = event_signature(&ts, &nonce, &key, body);
    assert!(verify_event_signature(&ts, &nonce, &key, body, &good));
    assert!(verify_event_signature(
        &ts,
        &nonce,
        &key,
        body,
        &good.to_uppercase()
    ));
    assert_eq!(
        verify_event_signature(&ts, &nonce, &key, body, &sig),
        same(&good)
    );
    let good = card_signature(&ts, &nonce, &key, body);
    assert!(verify_card_signature(&ts, &nonce, &key, body, &good));
    assert_eq!(
        verify_card_signature(&ts, &nonce, &key, body, &sig),
        same(&good)
    );
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time() // the dispatcher's handler timeout
            .build()
            .expect("runtime")
    })
}

fn dispatchers() -> &'static (EventDispatcher, EventDispatcher) {
    static D: OnceLock<(EventDispatcher, EventDispatcher)> = OnceLock::new();
    D.get_or_init(|| {
        let typed = |b: lark_oapi_core::dispatcher::EventDispatcherBuilder| {
            b.max_body_bytes(64 * 1024)
                .dedup_ttl(Duration::from_millis(1))
                .on_raw("im.message.receive_v1", |event| async move {
                    // A handler that reads the payload the way user code does.
                    let _ = event.payload.get("message").and_then(|m| m.get("content"));
                    Ok(None)
                })
                .build()
        };
        (
            typed(
                EventDispatcher::builder()
                    .encrypt_key(KEY)
                    .verification_token(TOKEN),
            ),
            typed(EventDispatcher::builder()),
        )
    })
}

/// Envelope parsing, verification and routing: never panics, answers only with the
/// documented statuses, and with an Encrypt Key configured never answers 200 to a body
/// that is not signed (the fuzzer cannot forge SHA-256) unless it is a challenge that
/// carries the Verification Token.
pub fn envelope(data: &[u8]) {
    let [head, body] = parts(data, 2)[..] else {
        return;
    };
    let head = String::from_utf8_lossy(head);
    let headers: Vec<(String, String)> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let (secured, open) = dispatchers();
    for (which, dispatcher) in [("secured", secured), ("open", open)] {
        let reply = runtime().block_on(dispatcher.handle("POST", &headers, body));
        assert!(
            matches!(reply.status, 200 | 400 | 401 | 405 | 413 | 500),
            "{which}: unexpected status {}",
            reply.status
        );
        assert!(
            serde_json::from_slice::<serde_json::Value>(&reply.body).is_ok(),
            "{which}: the answer is JSON"
        );
        if which == "secured" && reply.status == 200 {
            // Signatures cannot be forged and ciphertext cannot be guessed: the only 200 for
            // an unsigned body is the answer to a challenge with the right token.
            let sealed = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("encrypt").and_then(|e| e.as_str().map(str::to_owned)));
            let text = match sealed {
                Some(sealed) => AesKey::new(KEY)
                    .decrypt(&sealed)
                    .map(|p| String::from_utf8_lossy(&p).into_owned())
                    .unwrap_or_default(),
                None => String::from_utf8_lossy(body).into_owned(),
            };
            let answer = String::from_utf8_lossy(&reply.body);
            assert!(
                text.contains("url_verification")
                    && text.contains(TOKEN)
                    && answer.contains("challenge"),
                "200 for a body that is neither signed nor a challenge: {text:?}"
            );
        }
    }
}

/// The frame decoder and reassembly: never panics; a decoded frame re-encodes to a frame
/// that decodes equal; reassembled messages respect the size limit.
pub fn frame(data: &[u8]) {
    if let Ok(f) = Frame::from_bytes(data) {
        let again = Frame::from_bytes(&f.to_bytes()).expect("our own encoding decodes");
        assert_eq!(again, f, "re-encoding changed the frame");
        let _ = f.ack(200, Some(data), 1);
    }
    // Frames back to back, split at 0xFF bytes, through one reassembly.
    const LIMIT: usize = 4096;
    let mut reassembly = Reassembly::new(Duration::from_secs(5), LIMIT);
    for chunk in data.split(|b| *b == 0xFF) {
        if let Ok(f) = Frame::from_bytes(chunk)
            && let Ok(Some(whole)) = reassembly.push(&f)
        {
            let whole: Bytes = whole;
            assert!(
                whole.len() <= LIMIT,
                "a message over the limit was assembled"
            );
        }
    }
    reassembly.expire();
}

/// The one-pass JSON reader that typed payloads are decoded with: never panics; accepts a
/// text exactly when `serde_json` does (short of nesting near the depth limit, where the two
/// count differently); reads it as the same value; decodes standard types as the `Value`
/// path does.
pub fn json_reader(data: &[u8]) {
    use lark_oapi_core::__private::json::{FromJson, Reader};
    use serde_json::Value;
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(
            Reader::from_slice(data).is_err(),
            "bytes that are not UTF-8 were read"
        );
        return;
    };
    let theirs = serde_json::from_str::<Value>(text);
    let mut r = Reader::new(text);
    let ours = r.skip().and_then(|()| r.finish());
    let deep = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count() > 100;
    if !deep {
        assert_eq!(
            ours.is_ok(),
            theirs.is_ok(),
            "accepted by one reader only: {ours:?}"
        );
    }
    if let Ok(value) = theirs {
        if let Ok(read) = Reader::decode::<Value>(text) {
            assert_eq!(read, value, "read as a different value");
        }
        type Nested = Vec<Option<std::collections::BTreeMap<String, Vec<i64>>>>;
        fn same<T: FromJson + PartialEq + std::fmt::Debug>(text: &str, value: &Value) {
            let by_value = T::from_json(value.clone());
            let by_reader = Reader::decode::<T>(text);
            assert_eq!(
                by_value.is_ok(),
                by_reader.is_ok(),
                "{by_value:?} vs {by_reader:?}"
            );
            if let (Ok(a), Ok(b)) = (by_value, by_reader) {
                assert_eq!(a, b, "decoded differently");
            }
        }
        same::<String>(text, &value);
        same::<i64>(text, &value);
        same::<bool>(text, &value);
        same::<Vec<String>>(text, &value);
        same::<Nested>(text, &value);
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
