//! The bot kit against the mock platform over loopback HTTP: what goes on the wire, and
//! what is refused before any I/O.

mod common;
use common::*;

use lark_oapi_bot::content::{Card, Image, Post, PostBody, PostElement, Text};
use lark_oapi_bot::{Receiver, reply, send, send_to};
use lark_oapi_core::Error;
use lark_oapi_mock::{MockPlatform, RecordedRequest};
use serde_json::{Value, json};

/// The one message request the mock recorded.
fn sent(mock: &MockPlatform) -> RecordedRequest {
    let mut found: Vec<RecordedRequest> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/open-apis/im/"))
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    found.remove(0)
}

fn content_of(body: &Value) -> Value {
    serde_json::from_str(body["content"].as_str().expect("content is a string"))
        .expect("content is JSON")
}

#[tokio::test]
async fn a_text_with_quotes_newlines_and_mentions_reaches_the_chat_intact() {
    let (mock, client) = setup().await;
    let text = Text::new("say \"hi\"\n\\ then ")
        .mention("ou_7d8a6e6df7621556ce0d21922b676706ccs", "Ann <admin>")
        .push(" and ")
        .mention_all();
    let resp = send(&client, "oc_84983ff6516d731e5b5f68d4ea2e1da5", &text)
        .await
        .expect("sent");
    assert!(
        resp.data().message_id.starts_with("om_"),
        "{:?}",
        resp.data()
    );
    let r = sent(&mock);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/open-apis/im/v1/messages");
    assert_eq!(r.query_values("receive_id_type"), ["chat_id"]);
    let body = r.json().expect("JSON body");
    assert_eq!(body["receive_id"], "oc_84983ff6516d731e5b5f68d4ea2e1da5");
    assert_eq!(body["msg_type"], "text");
    assert_eq!(
        content_of(&body),
        json!({"text": "say \"hi\"\n\\ then <at user_id=\"ou_7d8a6e6df7621556ce0d21922b676706ccs\">Ann admin</at> and <at user_id=\"all\"></at>"})
    );
}

#[tokio::test]
async fn the_receiver_kind_is_inferred_or_given() {
    let (mock, client) = setup().await;
    send(&client, "ann@example.com", &Text::new("x"))
        .await
        .expect("sent");
    assert_eq!(sent(&mock).query_values("receive_id_type"), ["email"]);
    mock.clear_requests();
    send_to(
        &client,
        &Receiver::UserId("5d9bd".into()),
        &Image("img_v2_1".into()),
        Some("req-1"),
    )
    .await
    .expect("sent");
    let r = sent(&mock);
    assert_eq!(r.query_values("receive_id_type"), ["user_id"]);
    let body = r.json().expect("JSON body");
    assert_eq!(body["uuid"], "req-1");
    assert_eq!(body["msg_type"], "image");
    assert_eq!(content_of(&body), json!({"image_key": "img_v2_1"}));
}

#[tokio::test]
async fn a_reply_goes_to_the_message_and_can_open_a_thread() {
    let (mock, client) = setup().await;
    let post = Post::new().locale(
        "en_us",
        PostBody::new("Result").row([PostElement::markdown("**ok**")]),
    );
    let resp = reply(&client, "om_dc13264520392913993dd051dba21dcf", &post, true)
        .await
        .expect("replied");
    assert_eq!(
        resp.data().parent_id.as_deref(),
        Some("om_dc13264520392913993dd051dba21dcf")
    );
    let r = sent(&mock);
    assert_eq!(
        r.path,
        "/open-apis/im/v1/messages/om_dc13264520392913993dd051dba21dcf/reply"
    );
    let body = r.json().expect("JSON body");
    assert_eq!(body["reply_in_thread"], true);
    assert!(body.get("receive_id").is_none(), "{body}");
    assert_eq!(
        content_of(&body),
        json!({"en_us": {"title": "Result", "content": [[{"tag": "md", "text": "**ok**"}]]}})
    );
}

#[tokio::test]
async fn a_card_template_goes_out_as_the_platform_reads_it() {
    let (mock, client) = setup().await;
    let mut variables = serde_json::Map::new();
    variables.insert("name".into(), json!("Ann"));
    let card = Card::Template {
        template_id: "AAqk1234".into(),
        version_name: Some("1.0.2".into()),
        variables,
    };
    send(&client, "oc_1", &card).await.expect("sent");
    let body = sent(&mock).json().expect("JSON body");
    assert_eq!(body["msg_type"], "interactive");
    assert_eq!(
        content_of(&body),
        json!({"type": "template", "data": {"template_id": "AAqk1234", "template_version_name": "1.0.2", "template_variable": {"name": "Ann"}}})
    );
}

#[tokio::test]
async fn bad_content_is_refused_before_any_io() {
    let (mock, client) = setup().await;
    mock.clear_requests();
    let too_long = Text::new("x".repeat(150 * 1024));
    let err = send(&client, "oc_1", &too_long).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("over the platform's limit of 153600 bytes")),
        "{err}"
    );
    let image_with_text = Post::new().locale(
        "zh_cn",
        PostBody::new("").row([PostElement::text("see"), PostElement::image("img_1")]),
    );
    let err = send(&client, "oc_1", &image_with_text).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("alone in its row")),
        "{err}"
    );
    let err = send(&client, "oc_1", &Text::new("  ")).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("`text` is empty")),
        "{err}"
    );
    let err = send(&client, "", &Text::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("receive_id")),
        "{err}"
    );
    let err = reply(&client, "", &Text::new("x"), false)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidRequest(_)), "{err}");
    assert!(mock.requests().is_empty(), "{:#?}", mock.requests());
}

#[tokio::test]
async fn a_built_card_json_2_0_goes_out_whole() {
    use lark_oapi_bot::card::{Button, CardBuilder, Element, Header, Template};
    let (mock, client) = setup().await;
    let card = CardBuilder::new()
        .header(Header::new("Approve?").template(Template::Orange))
        .element(Element::markdown("Deploy **v1.2** to prod"))
        .element(
            Button::new("Approve")
                .primary()
                .callback(json!({"ok": true}))
                .into(),
        )
        .build()
        .expect("valid card");
    send(&client, "oc_1", &card).await.expect("sent");
    let body = sent(&mock).json().expect("JSON body");
    assert_eq!(body["msg_type"], "interactive");
    let content = content_of(&body);
    assert_eq!(content["schema"], "2.0");
    assert_eq!(content["header"]["template"], "orange");
    assert_eq!(
        content["body"]["elements"][1]["behaviors"],
        json!([{"type": "callback", "value": {"ok": true}}])
    );
}
