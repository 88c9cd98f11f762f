//! The content types' wire shapes and checks.

use super::*;
use serde_json::Map;

fn value(c: &impl MessageContent) -> Value {
    let out = Outgoing::new(c).expect("valid content");
    assert_eq!(out.msg_type(), c.msg_type());
    serde_json::from_str(out.content()).expect("content is JSON")
}

#[test]
fn every_keyed_type_has_its_documented_shape() {
    assert_eq!(value(&Image("img_1".into())), json!({"image_key": "img_1"}));
    assert_eq!(value(&File("file_1".into())), json!({"file_key": "file_1"}));
    assert_eq!(
        value(&Audio("file_2".into())),
        json!({"file_key": "file_2"})
    );
    assert_eq!(
        value(&Sticker("file_3".into())),
        json!({"file_key": "file_3"})
    );
    assert_eq!(value(&ShareChat("oc_1".into())), json!({"chat_id": "oc_1"}));
    assert_eq!(value(&ShareUser("ou_1".into())), json!({"user_id": "ou_1"}));
    let kinds = [
        Image(String::new()).msg_type(),
        File(String::new()).msg_type(),
        Audio(String::new()).msg_type(),
        Sticker(String::new()).msg_type(),
        ShareChat(String::new()).msg_type(),
        ShareUser(String::new()).msg_type(),
    ];
    assert_eq!(
        kinds,
        [
            "image",
            "file",
            "audio",
            "sticker",
            "share_chat",
            "share_user"
        ]
    );
    assert_eq!(
        Outgoing::new(&Image(" ".into())),
        Err(ContentError::Empty { what: "image_key" })
    );
}

#[test]
fn media_sends_its_cover_only_when_given() {
    let plain = Media {
        file_key: "file_v".into(),
        image_key: None,
    };
    assert_eq!(value(&plain), json!({"file_key": "file_v"}));
    let covered = Media {
        file_key: "file_v".into(),
        image_key: Some("img_c".into()),
    };
    assert_eq!(
        value(&covered),
        json!({"file_key": "file_v", "image_key": "img_c"})
    );
    assert_eq!(covered.msg_type(), "media");
}

#[test]
fn cards_by_json_template_or_entity() {
    let card = json!({"schema": "2.0", "body": {"elements": []}});
    assert_eq!(value(&Card::Json(card.clone())), card);
    assert_eq!(
        value(&Card::Entity {
            card_id: "7355".into()
        }),
        json!({"type": "card", "data": {"card_id": "7355"}})
    );
    let latest = Card::Template {
        template_id: "AAq".into(),
        version_name: None,
        variables: Map::new(),
    };
    assert_eq!(
        value(&latest),
        json!({"type": "template", "data": {"template_id": "AAq", "template_variable": {}}})
    );
    assert!(matches!(
        Outgoing::new(&Card::Json(json!("not a card"))),
        Err(ContentError::Invalid { what: "card", .. })
    ));
}

#[test]
fn the_basic_card_means_what_the_node_sdk_sends() {
    assert_eq!(
        value(&Card::basic("Title", "**body**")),
        json!({
            "config": {"wide_screen_mode": true},
            "elements": [{"tag": "markdown", "content": "**body**"}],
            "header": {"template": "blue", "title": {"content": "Title", "tag": "plain_text"}}
        })
    );
}

#[test]
fn post_elements_serialise_as_documented() {
    let body = PostBody::new("T")
        .row([
            PostElement::text("a")
                .style(Style::Bold)
                .style(Style::Bold)
                .style(Style::LineThrough),
            PostElement::text("&nbsp;").unescaped(),
            PostElement::link("docs", "https://open.feishu.cn"),
            PostElement::mention("ou_1").style(Style::Italic),
            PostElement::mention_all(),
            PostElement::emotion("SMILE"),
        ])
        .row([PostElement::media("file_v", Some("img_c".into()))])
        .row([PostElement::Divider])
        .row([PostElement::code_block("RUST", "fn main() {}")]);
    let v = value(&Post::new().locale("zh_cn", body));
    assert_eq!(
        v,
        json!({"zh_cn": {"title": "T", "content": [
            [
                {"tag": "text", "text": "a", "style": ["bold", "lineThrough"]},
                {"tag": "text", "text": "&nbsp;", "un_escape": true},
                {"tag": "a", "text": "docs", "href": "https://open.feishu.cn"},
                {"tag": "at", "user_id": "ou_1", "style": ["italic"]},
                {"tag": "at", "user_id": "all"},
                {"tag": "emotion", "emoji_type": "SMILE"}
            ],
            [{"tag": "media", "file_key": "file_v", "image_key": "img_c"}],
            [{"tag": "hr"}],
            [{"tag": "code_block", "language": "RUST", "text": "fn main() {}"}]
        ]}})
    );
    assert_eq!(
        value(&Post::markdown("# hi")),
        json!({"zh_cn": {"title": "", "content": [[{"tag": "md", "text": "# hi"}]]}})
    );
}

#[test]
fn a_locale_given_twice_keeps_the_last_body() {
    let post = Post::new()
        .locale("en_us", PostBody::new("old").row([PostElement::text("1")]))
        .locale("en_us", PostBody::new("new").row([PostElement::text("2")]));
    assert_eq!(value(&post)["en_us"]["title"], "new");
}

#[test]
fn posts_without_content_are_refused() {
    assert_eq!(
        Outgoing::new(&Post::new()),
        Err(ContentError::Empty {
            what: "post locale"
        })
    );
    assert_eq!(
        Outgoing::new(&Post::new().locale("zh_cn", PostBody::new("t").row([]))),
        Err(ContentError::Empty {
            what: "post content"
        })
    );
}

#[test]
fn an_id_cannot_break_out_of_its_tag() {
    let err =
        Outgoing::new(&Text::new("x").mention("ou_1\"><at user_id=\"all", "Eve")).unwrap_err();
    assert!(
        matches!(
            err,
            ContentError::Invalid {
                what: "mention open_id",
                ..
            }
        ),
        "{err}"
    );
    let err = Outgoing::new(
        &Post::new().locale("zh_cn", PostBody::new("").row([PostElement::mention("")])),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContentError::Empty {
            what: "mention user_id"
        }
    );
}

#[test]
fn limits_are_kib_of_the_serialised_content() {
    // `{"text":""}` is 11 bytes: the largest text that fits leaves room for them.
    let fits = Text::new("x".repeat(TEXT_LIMIT - 11));
    assert!(Outgoing::new(&fits).is_ok());
    let over = Text::new("x".repeat(TEXT_LIMIT - 10));
    assert_eq!(
        Outgoing::new(&over),
        Err(ContentError::TooLarge {
            msg_type: "text",
            bytes: TEXT_LIMIT + 1,
            limit: 153_600
        })
    );
    let big_card = Card::Json(json!({"schema": "2.0", "pad": "y".repeat(RICH_LIMIT)}));
    assert!(matches!(
        Outgoing::new(&big_card),
        Err(ContentError::TooLarge {
            msg_type: "interactive",
            limit: 30_720,
            ..
        })
    ));
    // Images have no documented body limit of their own.
    assert!(Outgoing::new(&Image("i".repeat(RICH_LIMIT * 2))).is_ok());
}

#[test]
fn errors_say_what_to_do() {
    let e = ContentError::TooLarge {
        msg_type: "post",
        bytes: 40_000,
        limit: RICH_LIMIT,
    };
    assert_eq!(
        e.to_string(),
        "message content: a post message of 40000 bytes is over the platform's limit of 30720 bytes; split it into several messages"
    );
    let core: lark_oapi_core::Error = ContentError::Empty { what: "text" }.into();
    assert!(
        matches!(core, lark_oapi_core::Error::InvalidRequest(m) if m.contains("`text` is empty"))
    );
}
