//! The one-pass reader against the `Value` path and against `serde_json`'s grammar.

use serde_json::{Value, json};

use super::{DecodeFields, FromJson, Input, JsonError, Reader, decode_struct, read_struct};

// Models written exactly as the generator writes them.
#[derive(Debug, Default, PartialEq)]
struct Sender {
    id: String,
    kind: i32,
    flags: Vec<bool>,
}

#[derive(Debug, Default, PartialEq)]
struct Message {
    message_id: String,
    sender: Sender,
    mentions: Vec<String>,
    thread: Option<String>,
    count: Option<i64>,
    size: u64,
    score: f64,
    extra: Option<Value>,
    labels: std::collections::BTreeMap<String, i64>,
    boxed: Option<Box<Sender>>,
}

impl FromJson for Sender {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        decode_struct(value)
    }
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        read_struct(r)
    }
}

impl DecodeFields for Sender {
    const NAME: &'static str = "Sender";
    fn decode_field(&mut self, key: &str, v: Input<'_, '_>) -> Result<(), JsonError> {
        match key {
            "id" => v.put(&mut self.id),
            "kind" => v.put(&mut self.kind),
            "flags" => v.put(&mut self.flags),
            _ => v.skip(),
        }
    }
}

impl FromJson for Message {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        decode_struct(value)
    }
    fn from_reader(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        read_struct(r)
    }
}

impl DecodeFields for Message {
    const NAME: &'static str = "Message";
    fn decode_field(&mut self, key: &str, v: Input<'_, '_>) -> Result<(), JsonError> {
        match key {
            "message_id" => v.put(&mut self.message_id),
            "sender" => v.put(&mut self.sender),
            "mentions" => v.put(&mut self.mentions),
            "thread" => v.put(&mut self.thread),
            "count" => v.put(&mut self.count),
            "size" => v.put(&mut self.size),
            "score" => v.put(&mut self.score),
            "extra" => v.put(&mut self.extra),
            "labels" => v.put(&mut self.labels),
            "boxed" => v.put(&mut self.boxed),
            _ => v.skip(),
        }
    }
}

/// Decodes `text` both ways and insists on the same answer (and on the same error path,
/// with `same_path`: for a text with one error, as the two paths meet the keys in different
/// orders).
fn decode_both(text: &str, same_path: bool) -> Result<Message, JsonError> {
    let by_reader = Reader::decode::<Message>(text);
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        assert!(by_reader.is_err(), "{text}: not JSON, yet decoded");
        return by_reader;
    };
    let by_value = Message::from_json(value);
    match (&by_value, &by_reader) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
        (Err(a), Err(b)) if same_path => assert_eq!(a.path(), b.path(), "{text}: {a} vs {b}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{text}: the paths disagree: {by_value:?} vs {by_reader:?}"),
    }
    by_reader
}

fn both(text: &str) -> Result<Message, JsonError> {
    decode_both(text, true)
}

#[test]
fn the_reader_decodes_what_the_value_path_decodes_leniency_included() {
    let m = both(
        r#"{"message_id":"om_1","sender":{"id":"ou_1","kind":"3","flags":[true,"false",null]},
            "mentions":["a","b\u00e9\ud83d\ude00\n\"q\""],"thread":null,"count":"  42 ","size":"7",
            "score":"1.5","extra":{"deep":[1,{"x":null}]},"labels":{"a.b":1,"c":"2"},
            "boxed":{"id":5,"kind":2.0},"unknown":{"nested":[[],{}],"n":-0.5e-3}}"#,
    )
    .unwrap();
    assert_eq!(m.sender.kind, 3);
    assert_eq!(m.sender.flags, vec![true, false, false]);
    assert_eq!(m.mentions[1], "b\u{e9}\u{1f600}\n\"q\"");
    assert_eq!((m.count, m.size, m.score), (Some(42), 7, 1.5));
    assert_eq!(m.extra, Some(json!({"deep":[1,{"x":null}]})));
    assert_eq!(m.labels["a.b"], 1);
    assert_eq!(m.boxed.as_ref().unwrap().id, "5");
    // Blank numbers are absent; numbers and booleans kept as text read alike.
    let m = both(r#"{"count":" ","kind":"","size":"","message_id":1e3,"thread":true}"#).unwrap();
    assert_eq!(m.count, None);
    assert_eq!(m.message_id, "1000.0");
    assert_eq!(m.thread.as_deref(), Some("true"));
    let m = both(r#"{"message_id":-12,"score":3}"#).unwrap();
    assert_eq!((m.message_id.as_str(), m.score), ("-12", 3.0));
    // Duplicate keys: the last wins on both paths.
    assert_eq!(both(r#"{"size":1,"size":2}"#).unwrap().size, 2);
}

#[test]
fn the_reader_refuses_the_shapes_the_value_path_refuses_with_the_same_path() {
    for (text, path) in [
        (r#"{"sender":{"kind":"x"}}"#, "sender.kind"),
        (r#"{"sender":{"kind":3000000000}}"#, "sender.kind"),
        (r#"{"sender":{"flags":[true,1]}}"#, "sender.flags[1]"),
        (r#"{"labels":{"a.b":"x"}}"#, r#"labels["a.b"]"#),
        (r#"{"size":-1}"#, "size"),
        (r#"{"count":1.5}"#, "count"),
        (r#"{"message_id":{}}"#, "message_id"),
        (r#"{"mentions":"a"}"#, "mentions"),
        (r#"{"sender":[]}"#, "sender"),
        (r#"{"boxed":{"kind":{}}}"#, "boxed.kind"),
        ("[]", ""),
    ] {
        let e = both(text).unwrap_err();
        assert_eq!(e.path(), path, "{text}: {e}");
    }
    let e = Reader::decode::<Message>(r#"{"sender":{"kind":"x"}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "at `sender.kind`: expected a 32-bit integer, found a string"
    );
    let e = Reader::decode::<Message>("[1]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected an object (Message), found an array"
    );
}

#[test]
fn syntax_errors_are_refused_where_serde_json_refuses_them_with_the_offset() {
    let deep = "[".repeat(200) + &"]".repeat(200);
    for bad in [
        r#"{"a":1,}"#,
        "[1,]",
        "{,}",
        "[,1]",
        r#"{"a" 1}"#,
        r#"{"a":1 "b":2}"#,
        "[1 2]",
        r#"{"a":1}}"#,
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "\"\u{1}\"",
        r#""\u12""#,
        r#""\ud800""#,
        r#""\udc00x""#,
        r#""\x""#,
        r#""abc"#,
        "tru",
        "nul",
        "{",
        "",
        "1 2",
        deep.as_str(),
    ] {
        assert!(
            serde_json::from_str::<Value>(bad).is_err(),
            "serde_json: {bad}"
        );
        let mut r = Reader::new(bad);
        let e = r.skip().and_then(|()| r.finish());
        assert!(e.is_err(), "the reader accepted {bad:?}");
        assert!(
            Reader::decode::<Message>(bad).is_err(),
            "decoded {bad:?} as a Message"
        );
    }
    let e = Reader::decode::<Message>(r#"{"message_id":"a",}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid JSON at byte 18: expected a key after `,`"
    );
    for good in [
        " { } ",
        "[ ]",
        "-0",
        "1E+2",
        "0.5e-3",
        r#""\u00e9\ud83d\ude00\/""#,
        "[[[]],{\"a\":[{}]}]",
        "\t\n\r null",
    ] {
        let mut r = Reader::new(good);
        r.skip().and_then(|()| r.finish()).unwrap();
        assert_eq!(
            Reader::decode::<Value>(good).unwrap(),
            serde_json::from_str::<Value>(good).unwrap()
        );
    }
}

/// A small deterministic generator (xorshift), so the randomised checks replay exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    let pick = if depth > 4 {
        rng.below(4)
    } else {
        rng.below(6)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => match rng.below(3) {
            0 => json!(rng.next() as i64 >> rng.below(60)),
            1 => json!((rng.next() >> 11) as f64 / 1e6 - 4e6),
            _ => json!(rng.below(100)),
        },
        3 => {
            let alphabet = [
                "a",
                "é",
                "\"",
                "\\",
                "\n",
                "\u{1f600}",
                "\u{1}",
                "/",
                " ",
                "z",
            ];
            let n = rng.below(6);
            Value::String(
                (0..n)
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect(),
            )
        }
        4 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "message_id",
                "sender",
                "id",
                "kind",
                "flags",
                "mentions",
                "count",
                "x",
                "",
            ];
            Value::Object(
                (0..rng.below(5))
                    .map(|_| {
                        let k = keys[rng.below(keys.len() as u64) as usize].to_owned();
                        (k, random_value(rng, depth + 1))
                    })
                    .collect(),
            )
        }
    }
}

/// Compact or pretty, with `\u` escapes for some characters, so the reader sees every
/// way the same value can be written.
fn write(value: &Value, rng: &mut Rng) -> String {
    let text = if rng.below(2) == 0 {
        serde_json::to_string(value).unwrap()
    } else {
        serde_json::to_string_pretty(value).unwrap()
    };
    if rng.below(3) == 0 {
        text.replace('é', "\\u00e9")
            .replace('\u{1f600}', "\\ud83d\\ude00")
    } else {
        text
    }
}

#[test]
fn random_documents_read_the_same_on_both_paths_and_mutations_are_refused_alike() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let value = random_value(&mut rng, 0);
        let text = write(&value, &mut rng);
        // (Compared with serde_json's reading, not `value`: without its `float_roundtrip`
        // feature a float may come back one unit in the last place off.)
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(Reader::decode::<Value>(&text).unwrap(), parsed, "{text}");
        let mut r = Reader::new(&text);
        r.skip().and_then(|()| r.finish()).unwrap();
        // Passing over by brackets finds the same end as checking every byte.
        let wrapped = format!("[{text} , 1]");
        let (mut a, mut b) = (Reader::new(&wrapped), Reader::new(&wrapped));
        a.begin_array().unwrap();
        b.begin_array().unwrap();
        assert!(a.next_element().unwrap() && b.next_element().unwrap());
        assert_eq!(a.pass_over().unwrap(), b.raw_span().unwrap(), "{text}");
        assert!(
            a.next_element().unwrap(),
            "{text}: the next element follows"
        );
        let _ = decode_both(&text, false);
        // One byte changed, dropped or doubled: accepted by the reader exactly when
        // serde_json accepts it.
        let mut bytes = text.into_bytes();
        let at = rng.below(bytes.len() as u64) as usize;
        match rng.below(3) {
            0 => bytes[at] = b"{}[],:\"\\0-e. ntu"[rng.below(16) as usize],
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, bytes[at]),
        }
        let Ok(mutated) = String::from_utf8(bytes) else {
            continue;
        };
        let mut r = Reader::new(&mutated);
        let ours = r.skip().and_then(|()| r.finish()).is_ok();
        let theirs = serde_json::from_str::<Value>(&mutated).is_ok();
        assert_eq!(ours, theirs, "{mutated:?}");
        let _ = decode_both(&mutated, false);
    }
}

#[test]
fn bytes_that_are_not_utf8_are_refused_before_reading() {
    let e = Reader::from_slice(b"{\"a\":\"\xff\"}").unwrap_err();
    assert_eq!(e.to_string(), "the JSON text is not UTF-8 (at byte 6)");
}

#[test]
fn passing_over_finds_the_end_by_brackets_and_strings_without_checking_inside() {
    let text = r#"{"a":01,"s":"}\"]","n":[{}]} ,"#;
    let mut r = Reader::new(text);
    let span = r.pass_over().unwrap();
    assert_eq!(&text[span], r#"{"a":01,"s":"}\"]","n":[{}]}"#);
    assert!(
        Reader::new(r#"{"a":"x}"#).pass_over().is_err(),
        "unterminated string"
    );
    assert!(Reader::new(r#"{"a":[1}"#).pass_over().is_err(), "unclosed");
    // A scalar is checked as usual.
    assert!(Reader::new("01").pass_over().is_err());
}
