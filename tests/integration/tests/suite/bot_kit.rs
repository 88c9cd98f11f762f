//! The bot kit end to end: an event over the long connection is read with
//! `received::ReceivedMessage` and answered with `bot_kit::reply`, against the mock.

use std::time::Duration;

use crate::common::*;
use lark_oapi::bot_kit::content::Text;
use lark_oapi::bot_kit::received::ReceivedMessage;
use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi::prelude::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_bot_reads_a_mention_and_replies_to_the_message() {
    let (mock, client) = setup().await;
    fast(&mock);
    let replier = client.clone();
    let dispatcher = EventDispatcher::builder()
        .on_im_message_receive_v1(move |event| {
            let client = replier.clone();
            async move {
                let message = ReceivedMessage::from(&event.payload);
                let answer = Text::new(format!("you said: {}", message.plain_text()));
                lark_oapi::bot_kit::reply(&client, &message.message_id, &answer, false).await?;
                Ok(())
            }
        })
        .build();
    let conn = connect(&client, dispatcher).await;
    let id = mock.ws_push_event(json!({
        "schema": "2.0",
        "header": {"event_id": "ev-bot-1", "event_type": "im.message.receive_v1", "create_time": "1700000000000",
                   "token": "", "app_id": lark_oapi_mock::APP_ID, "tenant_key": "tk"},
        "event": {"sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
                  "message": {"message_id": "om_in_1", "chat_id": "oc_1", "chat_type": "group", "message_type": "text",
                              "content": json!({"text": "@_user_1 deploy \"main\""}).to_string(),
                              "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "Deploy Bot"}]}}
    }));
    assert!(
        mock.ws_wait_until(Duration::from_secs(5), |m| m.ws_delivered().contains(&id))
            .await,
        "event acknowledged"
    );
    let replies = mock.requests_to("/open-apis/im/v1/messages/om_in_1/reply");
    assert_eq!(replies.len(), 1, "{:#?}", mock.requests());
    let body = replies[0].json().expect("JSON body");
    assert_eq!(body["msg_type"], "text");
    let content: Value = serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        content,
        json!({"text": "you said: @Deploy Bot deploy \"main\""})
    );
    conn.shutdown().await.unwrap();
}

mod round_trip {
    use super::*;
    use lark_oapi::bot_kit::card::{CardBuilder, Element, Header};
    use lark_oapi::bot_kit::content::{
        Audio, Card, File, Image, Media, MessageContent, Post, PostBody, PostElement, ShareChat,
        ShareUser, Sticker, Style,
    };
    use lark_oapi::bot_kit::received::{Received, expand_forward, fetch};
    use tokio::sync::mpsc;

    /// What a sent message should read back as.
    enum Expect {
        Exactly(Received),
        PostRows(String, Vec<Vec<PostElement>>),
        Card(Value),
    }

    fn check(got: &Received, expect: &Expect, what: &str) {
        match expect {
            Expect::Exactly(want) => assert_eq!(got, want, "{what}"),
            Expect::PostRows(title, rows) => {
                let Received::Post(post) = got else {
                    panic!("{what}: {got:?}")
                };
                assert_eq!(&post.title, title, "{what}");
                assert_eq!(&post.rows, rows, "{what}");
            }
            Expect::Card(card) => assert_eq!(got, &Received::Card(card.clone()), "{what}"),
        }
    }

    /// Every content type is sent, read back with `message.get`, and pushed back as the
    /// `im.message.receive_v1` a bot would get: both read the same, and as what was sent.
    #[tokio::test]
    async fn every_content_type_reads_back_as_sent_through_get_and_events() {
        let (mock, client) = setup().await;
        fast(&mock);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let dispatcher = EventDispatcher::builder()
            .on_im_message_receive_v1(move |event| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(ReceivedMessage::from(&event.payload));
                    Ok(())
                }
            })
            .build();
        let conn = connect(&client, dispatcher).await;

        let rows = vec![
            vec![
                PostElement::text("bold ").style(Style::Bold),
                PostElement::link("docs", "https://open.feishu.cn"),
                PostElement::mention("ou_bob"),
            ],
            vec![PostElement::image("img_v3_1")],
            vec![PostElement::media(
                "file_v3_video",
                Some("img_cover".into()),
            )],
            vec![PostElement::code_block("RUST", "fn main() {}")],
            vec![PostElement::markdown("**md** text")],
            vec![PostElement::emotion("SMILE")],
        ];
        let mut body = PostBody::new("Weekly");
        for row in &rows {
            body = body.row(row.clone());
        }
        let card = CardBuilder::new()
            .header(Header::new("Build"))
            .element(Element::markdown("**ok**"))
            .to_value()
            .unwrap();
        let entity: Value = client
            .send::<Value>(
                &lark_oapi::RequestSpec::new(
                    lark_oapi::Method::POST,
                    "/open-apis/cardkit/v1/cards",
                )
                .json(&json!({"type": "card_json", "data": card.to_string()})),
            )
            .await
            .unwrap()
            .into_data();
        let card_id = entity["card_id"].as_str().unwrap().to_owned();
        let template = Card::Template {
            template_id: "AAqk1x".into(),
            version_name: Some("1.0.2".into()),
            variables: serde_json::from_value(json!({"name": "Ada"})).unwrap(),
        };

        let text = |t: &str| Received::Text { text: t.into() };
        let cases: Vec<(Box<dyn MessageContent + Send + Sync>, Expect, &str)> = vec![
            (
                Box::new(
                    Text::new("hello ")
                        .mention("ou_bob", "Bob")
                        .push(" \"quoted\"\n"),
                ),
                Expect::Exactly(text("hello @_user_1 \"quoted\"\n")),
                "hello @Bob \"quoted\"\n",
            ),
            (
                Box::new(Text::new("all: ").mention_all()),
                Expect::Exactly(text("all: @_all")),
                "all: @all",
            ),
            (
                Box::new(Post::new().locale("en_us", body)),
                Expect::PostRows("Weekly".into(), rows),
                "",
            ),
            (
                Box::new(Image("img_v3_2".into())),
                Expect::Exactly(Received::Image {
                    image_key: "img_v3_2".into(),
                }),
                "[image]",
            ),
            (
                Box::new(File("file_v3_doc".into())),
                Expect::Exactly(Received::File {
                    file_key: "file_v3_doc".into(),
                    file_name: String::new(),
                }),
                "[file: ]",
            ),
            (
                Box::new(Audio("file_v3_audio".into())),
                Expect::Exactly(Received::Audio {
                    file_key: "file_v3_audio".into(),
                    duration_ms: None,
                }),
                "[audio]",
            ),
            (
                Box::new(Media {
                    file_key: "file_v3_mp4".into(),
                    image_key: Some("img_c".into()),
                }),
                Expect::Exactly(Received::Media {
                    file_key: "file_v3_mp4".into(),
                    file_name: String::new(),
                    duration_ms: None,
                    image_key: Some("img_c".into()),
                }),
                "[video: ]",
            ),
            (
                Box::new(Sticker("file_v3_sticker".into())),
                Expect::Exactly(Received::Sticker {
                    file_key: "file_v3_sticker".into(),
                }),
                "[sticker]",
            ),
            (
                Box::new(ShareChat("oc_shared".into())),
                Expect::Exactly(Received::ShareChat {
                    chat_id: "oc_shared".into(),
                }),
                "[chat: oc_shared]",
            ),
            (
                Box::new(ShareUser("ou_shared".into())),
                Expect::Exactly(Received::ShareUser {
                    user_id: "ou_shared".into(),
                }),
                "[user: ou_shared]",
            ),
            (
                Box::new(Card::Json(card.clone())),
                Expect::Card(card.clone()),
                "[card]",
            ),
            (
                Box::new(template.clone()),
                Expect::Card(template.content_value().unwrap()),
                "[card]",
            ),
            (
                Box::new(Card::Entity {
                    card_id: card_id.clone(),
                }),
                Expect::Card(json!({"type": "card", "data": {"card_id": card_id}})),
                "[card]",
            ),
        ];

        for (content, expect, plain) in &cases {
            let what = content.msg_type();
            let sent = lark_oapi::bot_kit::send(&client, "oc_round_trip", content.as_ref())
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .into_data();
            let via_get = fetch(&client, &sent.message_id).await.unwrap();
            check(&via_get.content, expect, what);
            assert_eq!(via_get.msg_type, what);
            assert_eq!(via_get.chat_id, "oc_round_trip");

            let event = mock.receive_event(&sent.message_id, "ou_sender").unwrap();
            mock.ws_push_event(event);
            let via_event = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("event handled")
                .unwrap();
            assert_eq!(via_event.message_id, sent.message_id);
            assert_eq!(
                via_event.content, via_get.content,
                "{what}: event and get agree"
            );
            assert_eq!(via_event.plain_text(), via_get.plain_text(), "{what}");
            assert_eq!(via_event.sender_open_id.as_deref(), Some("ou_sender"));
            if !plain.is_empty() {
                assert_eq!(via_get.plain_text(), *plain, "{what}");
            }
            let event_ids: Vec<_> = via_event
                .mentions
                .iter()
                .map(|m| (&m.key, &m.open_id))
                .collect();
            let get_ids: Vec<_> = via_get
                .mentions
                .iter()
                .map(|m| (&m.key, &m.open_id))
                .collect();
            assert_eq!(event_ids, get_ids, "{what}: the same mentions");
        }
        conn.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn a_merge_forward_expands_into_its_messages() {
        let (mock, client) = setup().await;
        let mut ids = Vec::new();
        for t in ["first", "second"] {
            let sent = lark_oapi::bot_kit::send(&client, "oc_src", &Text::new(t))
                .await
                .unwrap();
            ids.push(sent.into_data().message_id);
        }
        let inner = mock.forward_messages("oc_mid", &[&ids[1]]).unwrap();
        let outer = mock.forward_messages("oc_dst", &[&ids[0], &inner]).unwrap();
        let top = fetch(&client, &outer).await.unwrap();
        assert_eq!(top.content, Received::MergeForward);
        let tree = expand_forward(&client, &outer).await.unwrap();
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0].message.plain_text(), "first");
        assert_eq!(tree[1].message.content, Received::MergeForward);
        assert_eq!(tree[1].children.len(), 1);
        assert_eq!(tree[1].children[0].message.plain_text(), "second");
        let err = expand_forward(&client, " ").await.unwrap_err();
        assert!(err.to_string().contains("message_id"), "{err}");
    }
}

/// The mock checks content the way the platform does, so that the tests above mean something.
#[tokio::test]
async fn the_mock_refuses_malformed_content_and_recalled_targets() {
    let (mock, client) = setup().await;
    let create = |msg_type: &str, content: &str| {
        lark_oapi::RequestSpec::new(lark_oapi::Method::POST, "/open-apis/im/v1/messages")
            .query("receive_id_type", "chat_id")
            .json(&json!({"receive_id": "oc_1", "msg_type": msg_type, "content": content}))
    };
    for (msg_type, content) in [
        ("image", r#"{"text":"x"}"#),
        ("text", r#"{"txt":"x"}"#),
        ("post", r#"{"title":"t","content":[[]]}"#),
        (
            "interactive",
            r#"{"type":"card","data":{"card_id":"nope"}}"#,
        ),
        ("interactive", r#"{"schema":"2.0"}"#),
        ("location", r#"{"name":"x"}"#),
    ] {
        let err = client
            .send::<Value>(&create(msg_type, content))
            .await
            .unwrap_err();
        assert!(
            matches!(err.code(), Some(230001 | 230099)),
            "{msg_type} {content}: {err}"
        );
    }
    let sent: Value = client
        .send::<Value>(&create("text", r#"{"text":"x"}"#))
        .await
        .unwrap()
        .into_data();
    let id = sent["message_id"].as_str().unwrap();
    assert!(mock.recall_message(id));
    let err = lark_oapi::bot_kit::reply(&client, id, &Text::new("late"), false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(230011));
}

/// Sends to one chat are paced at the platform's 5 per second per chat, measured at the
/// mock; another chat is not held up; past the pacer's bound a send fails typed, unsent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_one_chat_are_paced_and_past_the_bound_fail_typed() {
    use lark_oapi::pacing::Pacer;
    let (mock, client) =
        setup_with(|b| b.pacer(Pacer::new().max_wait(Duration::from_secs(1)))).await;
    let send = |chat: &'static str, i: usize| {
        let client = client.clone();
        async move { lark_oapi::bot_kit::send(&client, chat, &Text::new(format!("#{i}"))).await }
    };
    // Seven at once to one chat: slots 0, 210, ..., 840 ms fit the 1 s bound; the sixth
    // (1,050 ms) and seventh do not. One to another chat goes at once.
    let started = std::time::Instant::now();
    let (burst, other) = tokio::join!(
        futures_util::future::join_all((0..7).map(|i| send("oc_paced", i))),
        send("oc_elsewhere", 99)
    );
    other.unwrap();
    let refused: Vec<_> = burst
        .iter()
        .filter_map(|r| match r {
            Err(lark_oapi::Error::Paced(e)) => Some(e.key.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(burst.iter().filter(|r| r.is_ok()).count(), 5);
    assert_eq!(refused, ["im:chat_id:oc_paced", "im:chat_id:oc_paced"]);
    let mut at: Vec<_> = mock
        .requests_to("/open-apis/im/v1/messages")
        .into_iter()
        .filter(|r| {
            r.query_values("receive_id_type") == ["chat_id"]
                && String::from_utf8_lossy(&r.body).contains("oc_paced")
        })
        .map(|r| r.received_at)
        .collect();
    at.sort();
    assert_eq!(at.len(), 5, "refused sends sent nothing");
    for pair in at.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(190), "sends {gap:?} apart");
    }
    assert!(started.elapsed() >= Duration::from_millis(800));
}
