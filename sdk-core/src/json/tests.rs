use super::*;
use serde_json::json;

// Small models implementing the traits exactly as generated code does.
#[derive(Debug, Default, PartialEq)]
struct Sender {
    id: String,
    kind: i32,
}

#[derive(Debug, Default, PartialEq)]
struct Message {
    message_id: String,
    sender: Sender,
    mentions: Vec<String>,
    thread: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
struct List {
    items: Vec<Message>,
    has_more: bool,
}

impl FromJson for Sender {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        let mut o = object(value, "Sender")?;
        Ok(Self {
            id: field(&mut o, "id")?,
            kind: field(&mut o, "kind")?,
        })
    }
}

impl FromJson for Message {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        let mut o = object(value, "Message")?;
        Ok(Self {
            message_id: field(&mut o, "message_id")?,
            sender: field(&mut o, "sender")?,
            mentions: field(&mut o, "mentions")?,
            thread: field(&mut o, "thread")?,
        })
    }
}

impl FromJson for List {
    fn from_json(value: Value) -> Result<Self, JsonError> {
        let mut o = object(value, "List")?;
        Ok(Self {
            items: field(&mut o, "items")?,
            has_more: field(&mut o, "has_more")?,
        })
    }
}

impl ToJson for Sender {
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.field("id", &self.id);
        w.field("kind", &self.kind);
        w.end_object();
    }
}

impl ToJson for Message {
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.field("message_id", &self.message_id);
        w.field("sender", &self.sender);
        w.field("mentions", &self.mentions);
        w.field_opt("thread", &self.thread);
        w.end_object();
    }
}

impl ToJson for List {
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.field("items", &self.items);
        w.field("has_more", &self.has_more);
        w.end_object();
    }
}

fn text<T: ToJson + ?Sized>(value: &T) -> String {
    String::from_utf8(to_vec(value)).unwrap()
}

fn ok<T: FromJson>(value: Value) -> T {
    T::from_json(value).unwrap_or_else(|e| panic!("{e}"))
}

fn err<T: FromJson>(value: Value) -> String {
    T::from_json(value).err().expect("an error").to_string()
}

#[test]
fn nested_containers_are_written_exactly() {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field("a", &Vec::<i64>::new());
    w.field("b", &BTreeMap::<String, i64>::new());
    w.field("c", &vec![vec![1i64, 2], vec![], vec![3]]);
    w.field_opt::<bool>("skipped", &None);
    w.field("d", &Some(json!({"x": [1, {"y": null}]})));
    w.field("e", &[json!(1), json!("s"), json!({})][..]);
    w.field("f", &None::<i64>);
    let map: HashMap<String, i32> = [("z".into(), 1), ("m".into(), 2)].into();
    w.field("g", &map);
    w.field("h", &Box::new(-3i32));
    w.end_object();
    let out = String::from_utf8(w.into_bytes()).unwrap();
    let expected = r#"{"a":[],"b":{},"c":[[1,2],[],[3]],"d":{"x":[1,{"y":null}]},"#.to_owned()
        + r#""e":[1,"s",{}],"f":null,"g":{"m":2,"z":1},"h":-3}"#;
    assert_eq!(out, expected);
    let back: Value = serde_json::from_str(&out).unwrap();
    let want = json!({"a": [], "b": {}, "c": [[1, 2], [], [3]], "d": {"x": [1, {"y": null}]},
        "e": [1, "s", {}], "f": null, "g": {"m": 2, "z": 1}, "h": -3});
    assert_eq!(back, want);

    let mut w = JsonWriter::new();
    w.begin_array();
    w.raw_value(r#"{"pre":1}"#);
    w.null();
    w.string("s");
    w.begin_object();
    w.end_object();
    w.u64(u64::MAX);
    w.i64(i64::MIN);
    w.end_array();
    let expected = r#"[{"pre":1},null,"s",{},18446744073709551615,-9223372036854775808]"#;
    assert_eq!(w.into_bytes(), expected.as_bytes());
    assert_eq!(text(&&[Some(true), None][..]), "[true,null]");
    // Enough keys that a hash order which happens to be sorted is vanishingly unlikely.
    let many: HashMap<String, i64> = (0..20).map(|i| (format!("k{i:02}"), i)).collect();
    let fields: Vec<String> = (0..20).map(|i| format!(r#""k{i:02}":{i}"#)).collect();
    assert_eq!(text(&many), format!("{{{}}}", fields.join(",")));
}

#[test]
fn models_round_trip() {
    let mut m2 = Message {
        message_id: "m2".into(),
        mentions: vec!["a".into(), "b".into()],
        thread: Some("t".into()),
        ..Message::default()
    };
    m2.sender.id = "ou_2".into();
    m2.sender.kind = 1;
    let list = List {
        items: vec![Message::default(), m2],
        has_more: true,
    };
    let out = text(&list);
    let expected = r#"{"items":[{"message_id":"","sender":{"id":"","kind":0},"mentions":[]},"#
        .to_owned()
        + r#"{"message_id":"m2","sender":{"id":"ou_2","kind":1},"mentions":["a","b"],"thread":"t"}],"#
        + r#""has_more":true}"#;
    assert_eq!(out, expected);
    let back: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(back["items"][1]["sender"], json!({"id": "ou_2", "kind": 1}));
    assert_eq!(ok::<List>(back), list);
}

#[test]
fn strings_are_escaped() {
    assert_eq!(text("say \"hi\""), r#""say \"hi\"""#);
    assert_eq!(text(r"C:\dir"), r#""C:\\dir""#);
    assert_eq!(text("a\nb\r\t\u{8}\u{c}"), r#""a\nb\r\t\b\f""#);
    assert_eq!(text("\u{1}\u{1f}\u{0}"), r#""\u0001\u001f\u0000""#);
    assert_eq!(text("飞书 🚀 /\u{7f}"), "\"飞书 🚀 /\u{7f}\"");
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field("k\"\n", "v");
    w.end_object();
    assert_eq!(w.into_bytes(), br#"{"k\"\n":"v"}"#);
    let back: String = serde_json::from_str(&text("飞书\u{1}\"\\🎉")).unwrap();
    assert_eq!(back, "飞书\u{1}\"\\🎉");
}

#[test]
fn random_strings_match_serde_json() {
    let pool = "aZ0 \"\\/\n\r\t\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}\u{80}é飞书🚀\u{2028}\u{ffff}";
    let pool: Vec<char> = pool.chars().collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005);
        seed = seed.wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u32
    };
    for _ in 0..500 {
        let len = next() % 24;
        let s: String = (0..len)
            .map(|_| match next() % 4 {
                0 => char::from_u32(next() % 0x11_0000).unwrap_or('\u{fffd}'),
                _ => pool[next() as usize % pool.len()],
            })
            .collect();
        let want = serde_json::to_string(&s).unwrap();
        assert_eq!(text(s.as_str()), want, "{s:?}");
    }
}

#[test]
fn floats_are_shortest_round_trip_text() {
    assert_eq!(text(&0.1f64), "0.1");
    assert_eq!(text(&1e300f64), "1e300");
    assert_eq!(text(&-0.0f64), "-0.0");
    assert_eq!(text(&1.0f64), "1.0");
    let odd = vec![0.5f64, f64::NAN, f64::NEG_INFINITY];
    assert_eq!(text(&odd), "[0.5,null,null]");
    for v in [0.1, 1e300, -0.0, 1e-7, 123.456, f64::MAX, 5e-324] {
        let back: f64 = serde_json::from_str(&text(&v)).unwrap();
        assert_eq!(back.to_bits(), v.to_bits(), "{v}");
    }
}

/// Rows of `type: input => expected`, checking `ok::<type>(input) == expected`.
macro_rules! decodes {
    ($($t:ty: $v:expr => $want:expr;)*) => {$( assert_eq!(ok::<$t>($v), $want, "{}", $v); )*};
}

/// Rows of `type: input => error message`.
macro_rules! rejects {
    ($($t:ty: $v:expr => $want:expr;)*) => {$( assert_eq!(err::<$t>($v), $want); )*};
}

#[test]
fn lenient_scalars_are_accepted() {
    decodes! {
        i64: json!(-5) => -5;
        i64: json!(3.0) => 3;
        i64: json!("123") => 123;
        i32: json!("-12") => -12;
        i32: json!(i32::MAX) => i32::MAX;
        u64: json!(u64::MAX) => u64::MAX;
        u64: json!("42") => 42;
        u64: json!(7.0) => 7;
        f64: json!(2) => 2.0;
        f64: json!(1.5) => 1.5;
        f64: json!("-2.5e3") => -2500.0;
        bool: json!(true) => true;
        bool: json!("true") => true;
        bool: json!("false") => false;
        String: json!("s") => "s";
        String: json!(123) => "123";
        String: json!(-1.5) => "-1.5";
        String: json!(true) => "true";
        Box<i64>: json!("9") => Box::new(9);
        Value: json!({"any": [1]}) => json!({"any": [1]});
        i64: json!(" 42 ") => 42;
        i64: json!("12.0") => 12;
        i64: json!("1e3") => 1000;
        u64: json!("2e1") => 20;
        f64: json!(" 0.5") => 0.5;
        bool: json!(" true ") => true;
        Option<i64>: json!("") => None;
        Option<bool>: json!("  ") => None;
        Vec<i64>: json!(["", "3"]) => vec![0, 3];
    }
}

#[test]
fn floats_are_integers_only_when_exact() {
    // Beyond 2^53 a float is not an exact integer: refused, not rounded.
    for v in [
        json!(9_007_199_254_740_993.0_f64 * 2.0),
        json!(1.5),
        json!("12345678901234567.5"),
        json!(-1.0e19),
        json!("1e300"),
    ] {
        assert!(i64::from_json(v.clone()).is_err(), "{v}");
    }
    assert!(u64::from_json(json!(-3.0)).is_err());
    assert_eq!(
        i64::from_json(json!(9_007_199_254_740_992.0_f64)).unwrap(),
        1 << 53
    );
    // Integers written as integers keep every digit, whatever their size within i64.
    assert_eq!(
        i64::from_json(json!(9_007_199_254_740_993_i64)).unwrap(),
        9_007_199_254_740_993
    );
}

#[test]
fn blank_numbers_in_a_struct_field_are_absent() {
    let mut o = object(json!({"n": "", "m": " "}), "T").unwrap();
    let (mut n, mut m) = (7_i64, Some(1_i64));
    set(&mut o, "n", &mut n).unwrap();
    set(&mut o, "m", &mut m).unwrap();
    assert_eq!((n, m), (7, None), "left at its default, and None");
    // A blank string is still a string where a string is expected.
    let mut o = object(json!({"s": ""}), "T").unwrap();
    let mut s = String::from("x");
    set(&mut o, "s", &mut s).unwrap();
    assert_eq!(s, "");
}

#[test]
fn map_keys_in_error_paths_cannot_read_as_nesting() {
    let err = BTreeMap::<String, i64>::from_json(json!({"a.b": "x"})).unwrap_err();
    assert_eq!(err.path(), r#"["a.b"]"#);
    let err = BTreeMap::<String, i64>::from_json(json!({"": "x"})).unwrap_err();
    assert_eq!(err.path(), r#"[""]"#);
    let err = BTreeMap::<String, i64>::from_json(json!({"plain_key": "x"})).unwrap_err();
    assert_eq!(err.path(), "plain_key");
}

#[test]
fn bad_scalars_are_rejected() {
    rejects! {
        i64: json!("abc") => "expected an integer, found a string";
        i64: json!(1.5) => "expected an integer, found a number";
        i64: json!(1e20) => "expected an integer, found a number";
        i64: json!(true) => "expected an integer, found a boolean";
        i32: json!(3_000_000_000i64) => "expected a 32-bit integer, found a number";
        i32: json!("-3000000000") => "expected a 32-bit integer, found a string";
        u64: json!(-1) => "expected an unsigned integer, found a number";
        f64: json!("abc") => "expected a number, found a string";
        f64: json!("NaN") => "expected a number, found a string";
        f64: json!([1]) => "expected a number, found an array";
        bool: json!("yes") => "expected a boolean, found a string";
        bool: json!(1) => "expected a boolean, found a number";
        String: json!({"a": 1}) => "expected a string, found an object";
        String: json!([]) => "expected a string, found an array";
        String: json!(null) => "expected a string, found null";
    }
}

#[test]
fn errors_carry_the_path() {
    let bad = json!({"items": [
        {"message_id": "m0", "sender": {"id": "ou_0"}},
        {"message_id": "m1", "sender": {"id": {"open_id": "ou_1"}}},
    ]});
    let e = List::from_json(bad).unwrap_err();
    assert_eq!(e.path(), "items[1].sender.id");
    let want = "at `items[1].sender.id`: expected a string, found an object";
    assert_eq!(e.to_string(), want);
    rejects! {
        List: json!({"items": [{}, 5]}) => "at `items[1]`: expected an object (Message), found a number";
        List: json!({"items": [{"mentions": ["a", []]}]}) => "at `items[0].mentions[1]`: expected a string, found an array";
        List: json!({"items": {}}) => "at `items`: expected an array, found an object";
        List: json!(null) => "expected an object (List), found null";
        Vec<Vec<i32>>: json!([[1], [2, "x"]]) => "at `[1][1]`: expected a 32-bit integer, found a string";
        BTreeMap<String, Sender>: json!({"k": {"kind": {}}}) => "at `k.kind`: expected a 32-bit integer, found an object";
        HashMap<String, i64>: json!([]) => "expected an object, found an array";
    }
    let e = JsonError::new("a string", &Value::Null);
    assert_eq!(e.path(), "");
    let nested = e.clone().at_index(3).at("items").at("data");
    assert_eq!(nested.path(), "data.items[3]");
    assert_eq!(e.at("id").at_index(0).path(), "[0].id");
}

// What generated request models do: check their own required fields, then nested ones.
struct Header {
    title: String,
}
impl ToJson for Header {
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.field("title", &self.title);
        w.end_object();
    }
    fn missing_required(&self) -> Option<String> {
        if self.title.is_empty() {
            return Some("title".to_owned());
        }
        None
    }
}
struct Card {
    kind: Option<String>,
    header: Option<Header>,
    rows: Vec<Vec<Header>>,
}
impl ToJson for Card {
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.field_opt("kind", &self.kind);
        w.end_object();
    }
    fn missing_required(&self) -> Option<String> {
        if self.kind.is_none() {
            return Some("kind".to_owned());
        }
        if let Some(p) = nested("header", &self.header) {
            return Some(p);
        }
        nested("rows", &self.rows)
    }
}

#[test]
fn missing_required_fields_are_named_with_their_path() {
    let title = |t: &str| Header { title: t.into() };
    let card = |kind: Option<&str>, header, rows| Card {
        kind: kind.map(str::to_owned),
        header,
        rows,
    };
    assert_eq!(
        card(None, None, vec![]).missing_required().as_deref(),
        Some("kind")
    );
    assert_eq!(
        card(Some("a"), None, vec![]).missing_required(),
        None,
        "an unset optional model"
    );
    assert_eq!(
        card(Some("a"), Some(title("")), vec![])
            .missing_required()
            .as_deref(),
        Some("header.title")
    );
    let rows = vec![vec![title("ok")], vec![title("ok"), title("")]];
    assert_eq!(
        card(Some("a"), Some(title("t")), rows)
            .missing_required()
            .as_deref(),
        Some("rows[1][1].title")
    );
    assert_eq!(
        card(Some("a"), Some(title("t")), vec![vec![title("ok")]]).missing_required(),
        None
    );
}

#[test]
fn absent_and_null_fields_take_defaults() {
    assert_eq!(ok::<List>(json!({})), List::default());
    let nulls = json!({"message_id": null, "sender": null, "mentions": null, "thread": null});
    assert_eq!(ok::<Message>(nulls), Message::default());
    let m: Message = ok(json!({"thread": "t", "mentions": ["a", null, 2]}));
    assert_eq!(m.thread.as_deref(), Some("t"));
    assert_eq!(m.mentions, ["a", "", "2"]);
    assert_eq!(ok::<Vec<Option<i64>>>(json!([null, 1])), [None, Some(1)]);
    let map: BTreeMap<String, Vec<i64>> = ok(json!({"a": null, "b": [1]}));
    assert_eq!(map, [("a".into(), vec![]), ("b".into(), vec![1])].into());
    assert_eq!(
        (<Option<i64>>::absent(), Value::absent()),
        (None, Value::Null)
    );
    assert_eq!((i64::absent(), i32::absent(), u64::absent()), (0, 0, 0));
    assert_eq!((f64::absent(), bool::absent()), (0.0, false));
    assert!(String::absent().is_empty() && <Box<Sender>>::absent().id.is_empty());
    assert!(HashMap::<String, i64>::absent().is_empty());
    assert!(BTreeMap::<String, i64>::absent().is_empty());
}

#[test]
fn unknown_fields_are_ignored() {
    let v = json!({
        "items": [{"message_id": "m", "sender": {"id": 42, "kind": "2", "x": [1]}, "new": {}}],
        "has_more": "true",
        "page_token": "p",
    });
    let list: List = ok(v);
    assert!(list.has_more);
    assert_eq!(
        (list.items[0].sender.id.as_str(), list.items[0].sender.kind),
        ("42", 2)
    );
    let out: Value = serde_json::from_slice(&to_vec(&list)).unwrap();
    assert_eq!(out["items"][0]["sender"], json!({"id": "42", "kind": 2}));
    assert_eq!(
        (out.get("page_token"), out["items"][0].get("new")),
        (None, None)
    );
}
