//! Received content: shapes, mentions, and what is kept raw.

use super::*;
use serde_json::json;

#[test]
fn mentions_resolve_by_placeholder_longest_first() {
    let mentions = [
        Mention::new("@_user_1", "Ann"),
        Mention::new("@_user_10", "Bob"),
    ];
    let text = Received::parse(
        "text",
        r#"{"text":"@_user_10 and @_user_1, @_all: mail me@x.cn"}"#,
    );
    assert_eq!(
        text.plain_text(&mentions),
        "@Bob and @Ann, @all: mail me@x.cn"
    );
}

#[test]
fn messages_read_from_events_and_from_api_items() {
    let event = json!({
        "sender": {"sender_id": {"open_id": "ou_s"}, "sender_type": "user"},
        "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "group", "message_type": "text",
                    "content": "{\"text\":\"@_user_1 status?\"}",
                    "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "Bot"}]}
    });
    let m = ReceivedMessage::from_event(&event);
    assert_eq!(
        (
            m.message_id.as_str(),
            m.chat_id.as_str(),
            m.chat_type.as_deref()
        ),
        ("om_1", "oc_1", Some("group"))
    );
    assert_eq!(m.sender_open_id.as_deref(), Some("ou_s"));
    assert_eq!(m.plain_text(), "@Bot status?");
    assert!(m.mentions_open_id("ou_bot") && !m.mentions_open_id("ou_s"));
    let item = json!({
        "message_id": "om_2", "chat_id": "oc_1", "msg_type": "text",
        "body": {"content": "{\"text\":\"hi @_user_1\"}"},
        "sender": {"id": "ou_s", "id_type": "open_id", "sender_type": "user"},
        "mentions": [{"key": "@_user_1", "id": "ou_bot", "id_type": "open_id", "name": "Bot"}]
    });
    let m = ReceivedMessage::from_item(&item);
    assert_eq!(m.plain_text(), "hi @Bot");
    assert_eq!(m.sender_open_id.as_deref(), Some("ou_s"));
    assert!(m.mentions_open_id("ou_bot"));
    // Nothing there: an empty message of an unknown type, no panic.
    let empty = ReceivedMessage::from_event(&json!({}));
    assert!(matches!(empty.content, Received::Unknown { .. }));
}

#[test]
fn mentions_are_read_from_the_event() {
    let event = json!([
        {"key": "@_user_1", "id": {"open_id": "ou_1", "union_id": "on_1", "user_id": "u1"}, "name": "Ann", "tenant_key": "t"},
        {"name": "no key"}
    ]);
    let mentions = Mention::from_event(&event);
    assert_eq!(mentions.len(), 1);
    assert_eq!(mentions[0].open_id.as_deref(), Some("ou_1"));
    assert_eq!(mentions[0].user_id.as_deref(), Some("u1"));
    assert_eq!(mentions[0].name, "Ann");
    assert!(Mention::from_event(&json!(null)).is_empty());
}

#[test]
fn a_post_reads_the_same_flat_or_per_locale() {
    let rows = json!([[{"tag": "text", "text": "hi ", "style": ["bold"]}, {"tag": "at", "user_id": "ou_1"}],
                      [{"tag": "img", "image_key": "img_a"}],
                      [{"tag": "md", "text": "see ![x](img_b)"}, {"tag": "sparkle", "size": 3}]]);
    let flat = Received::parse("post", &json!({"title": "T", "content": rows}).to_string());
    let wrapped = Received::parse(
        "post",
        &json!({"en_us": {"title": "E", "content": [[{"tag": "text", "text": "en"}]]}, "zh_cn": {"title": "T", "content": rows}}).to_string(),
    );
    let (Received::Post(flat), Received::Post(wrapped)) = (flat, wrapped) else {
        panic!("posts");
    };
    assert_eq!(flat.locale, None);
    assert_eq!(wrapped.locale.as_deref(), Some("zh_cn"));
    assert_eq!(flat.rows, wrapped.rows);
    assert_eq!(flat.title, "T");
    assert_eq!(flat.image_keys(), ["img_a", "img_b"]);
    assert!(
        matches!(&flat.rows[2][1], PostElement::Other { tag, raw } if tag == "sparkle" && raw["size"] == 3)
    );
    let mentions = [Mention::new("@_user_1", "Ann").open_id("ou_1")];
    assert_eq!(
        Received::Post(flat).plain_text(&mentions),
        "T\nhi @Ann\n[image]\nsee ![x](img_b)"
    );
    // Any locale when none of the known ones is there.
    let other = Received::parse(
        "post",
        r#"{"fr_fr":{"title":"F","content":[[{"tag":"hr"}]]}}"#,
    );
    assert!(
        matches!(other, Received::Post(p) if p.locale.as_deref() == Some("fr_fr") && p.rows == [[PostElement::Divider]])
    );
}

#[test]
fn every_modelled_type_parses_and_the_rest_is_kept_raw() {
    assert_eq!(
        Received::parse("image", r#"{"image_key":"img_1"}"#),
        Received::Image {
            image_key: "img_1".into()
        }
    );
    assert_eq!(
        Received::parse("file", r#"{"file_key":"f","file_name":"a.pdf"}"#),
        Received::File {
            file_key: "f".into(),
            file_name: "a.pdf".into()
        }
    );
    assert_eq!(
        Received::parse("audio", r#"{"file_key":"f","duration":3000}"#),
        Received::Audio {
            file_key: "f".into(),
            duration_ms: Some(3000)
        }
    );
    assert_eq!(
        Received::parse(
            "media",
            r#"{"file_key":"f","file_name":"v.mp4","duration":"1200","image_key":"img_c"}"#
        ),
        Received::Media {
            file_key: "f".into(),
            file_name: "v.mp4".into(),
            duration_ms: Some(1200),
            image_key: Some("img_c".into())
        }
    );
    assert_eq!(
        Received::parse("sticker", r#"{"file_key":"s"}"#),
        Received::Sticker {
            file_key: "s".into()
        }
    );
    assert_eq!(
        Received::parse("share_chat", r#"{"chat_id":"oc_1"}"#),
        Received::ShareChat {
            chat_id: "oc_1".into()
        }
    );
    assert_eq!(
        Received::parse("share_user", r#"{"user_id":"ou_1"}"#),
        Received::ShareUser {
            user_id: "ou_1".into()
        }
    );
    assert_eq!(
        Received::parse(
            "merge_forward",
            r#"{"content":"Merged and Forwarded Message"}"#
        ),
        Received::MergeForward
    );
    assert_eq!(
        Received::parse(
            "location",
            r#"{"name":"Office","latitude":"39.9","longitude":"116.4"}"#
        ),
        Received::Location {
            name: "Office".into(),
            latitude: "39.9".into(),
            longitude: "116.4".into()
        }
    );
    assert!(
        matches!(Received::parse("interactive", r#"{"elements":[]}"#), Received::Card(v) if v["elements"] == json!([]))
    );
    let system = Received::parse(
        "system",
        r#"{"template":"{from_user} invited {to_chatters} to this chat.","from_user":["Ann"],"to_chatters":["Bob","Cy"]}"#,
    );
    assert_eq!(
        system,
        Received::System {
            text: "Ann invited Bob, Cy to this chat.".into()
        }
    );
    for (msg_type, content, reason) in [
        (
            "poll_v9",
            r#"{"topic":"lunch?","text":"vote: lunch?"}"#,
            "does not model",
        ),
        ("vote", r#"{"options":["a"]}"#, "missing or empty"),
        ("image", r#"{"image_key":""}"#, "missing or empty"),
        ("text", "not json", "not JSON"),
        ("text", "[1]", "not a JSON object"),
    ] {
        let got = Received::parse(msg_type, content);
        let Received::Unknown {
            msg_type: t,
            content: c,
            reason: r,
        } = &got
        else {
            panic!("{msg_type} {content}: {got:?}");
        };
        assert_eq!((t.as_str(), c.as_str()), (msg_type, content));
        assert!(r.contains(reason), "{r}");
    }
    assert_eq!(
        Received::parse("poll_v9", r#"{"text":"vote: lunch?"}"#).plain_text(&[]),
        "vote: lunch?"
    );
}

/// The received shapes of facts §2 for todo, vote, calendar, video chat and red packets.
#[test]
fn task_vote_calendar_meeting_and_red_packet_fixtures() {
    let todo = Received::parse(
        "todo",
        r#"{"task_id":"t-1","summary":{"title":"Ship","content":[[{"tag":"text","text":"release v2"}]]},"due_time":"1700000000000"}"#,
    );
    let Received::Todo {
        summary,
        due_time_ms,
        task_id,
    } = &todo
    else {
        panic!("{todo:?}");
    };
    assert_eq!(summary.title, "Ship");
    assert_eq!(*due_time_ms, Some(1_700_000_000_000));
    assert_eq!(task_id.as_deref(), Some("t-1"));
    assert_eq!(todo.plain_text(&[]), "[todo] Ship\nrelease v2");
    assert_eq!(
        Received::parse("vote", r#"{"topic":"lunch?","options":["noodles","rice"]}"#),
        Received::Vote {
            topic: "lunch?".into(),
            options: vec!["noodles".into(), "rice".into()]
        }
    );
    for kind in ["calendar", "share_calendar_event", "general_calendar"] {
        let got = Received::parse(
            kind,
            r#"{"summary":"Standup","start_time":"1700000000000","end_time":1700000900000}"#,
        );
        assert_eq!(
            got,
            Received::Calendar {
                kind: kind.into(),
                summary: "Standup".into(),
                start_time_ms: Some(1_700_000_000_000),
                end_time_ms: Some(1_700_000_900_000),
            }
        );
        assert_eq!(got.plain_text(&[]), "[event] Standup");
    }
    assert_eq!(
        Received::parse(
            "video_chat",
            r#"{"topic":"Sync","start_time":"1700000000000"}"#
        ),
        Received::VideoChat {
            topic: "Sync".into(),
            start_time_ms: Some(1_700_000_000_000)
        }
    );
    assert_eq!(
        Received::parse("hongbao", r#"{"text":"Happy new year"}"#).plain_text(&[]),
        "[red packet] Happy new year"
    );
}

/// The received post elements of facts §2, folders and videos, and the locale order.
#[test]
fn received_post_elements_folders_videos_and_locale_order() {
    let post = Received::parse(
        "post",
        r#"{"title":"T","content":[
            [{"tag":"text","text":"run ","style":["codeInline","bold"]},{"tag":"at","user_id":"@_user_1","user_name":"Ann"}],
            [{"tag":"img","image_key":"img_a"}],
            [{"tag":"media","file_key":"file_v","image_key":"img_cover"}],
            [{"tag":"code_block","language":"GO","text":"package main"}],
            [{"tag":"hr"}],
            [{"tag":"emotion","emoji_type":"SMILE"}],
            [{"tag":"md","text":"see ![chart](img_b)"}],
            [{"tag":"sparkle","x":1}]
        ]}"#,
    );
    let Received::Post(p) = &post else {
        panic!("{post:?}")
    };
    assert_eq!(p.locale, None, "flat");
    assert_eq!(
        p.rows[0][0],
        PostElement::Text {
            text: "run ".into(),
            un_escape: false,
            styles: vec![Style::CodeInline, Style::Bold],
        }
    );
    assert_eq!(
        p.rows[1][0],
        PostElement::Image {
            image_key: "img_a".into()
        }
    );
    assert_eq!(
        p.rows[2][0],
        PostElement::Media {
            file_key: "file_v".into(),
            image_key: Some("img_cover".into())
        }
    );
    assert_eq!(
        p.rows[3][0],
        PostElement::CodeBlock {
            language: "GO".into(),
            text: "package main".into()
        }
    );
    assert_eq!(p.rows[4][0], PostElement::Divider);
    assert_eq!(
        p.rows[5][0],
        PostElement::Emotion {
            emoji_type: "SMILE".into()
        }
    );
    assert_eq!(p.image_keys(), ["img_a", "img_b"]);
    assert!(
        matches!(&p.rows[7][0], PostElement::Other { tag, raw } if tag == "sparkle" && raw["x"] == 1)
    );
    let mention = [Mention::new("@_user_1", "Ann")];
    assert!(
        post.plain_text(&mention).starts_with("T\nrun @Ann"),
        "{}",
        post.plain_text(&mention)
    );

    // zh_cn, then en_us, then ja_jp, then any key with a body.
    let pick = |c: &str| match Received::parse("post", c) {
        Received::Post(p) => p.locale.unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    let body = r#"{"title":"x","content":[[{"tag":"text","text":"y"}]]}"#;
    assert_eq!(
        pick(&format!(r#"{{"ja_jp":{body},"en_us":{body}}}"#)),
        "en_us"
    );
    assert_eq!(
        pick(&format!(r#"{{"ja_jp":{body},"de_de":{body}}}"#)),
        "ja_jp"
    );
    assert_eq!(pick(&format!(r#"{{"de_de":{body}}}"#)), "de_de");

    assert_eq!(
        Received::parse("folder", r#"{"file_key":"fo_1","file_name":"Specs"}"#),
        Received::File {
            file_key: "fo_1".into(),
            file_name: "Specs".into()
        }
    );
    assert!(matches!(
        Received::parse(
            "video",
            r#"{"file_key":"v","file_name":"a.mp4","duration":5}"#
        ),
        Received::Media {
            duration_ms: Some(5),
            ..
        }
    ));
}
