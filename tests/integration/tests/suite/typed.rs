//! The generated, typed API on real endpoints: messages, template cards, lists as streams,
//! uploads, downloads, enums, required parameters and the default version.

use std::collections::BTreeMap;

use crate::common::*;
use futures_util::TryStreamExt as _;
use lark_oapi::contact::v3::models::UserIdType;
use lark_oapi::im::v1::models::{
    CreateByCardMessageReqBody, CreateImageRequestBody, CreateMessageRequestBody, ImageType,
    ReceiveIdType,
};
use lark_oapi::{Error, FilePart};
use lark_oapi_mock::{download_byte, fnv1a64};

#[tokio::test]
async fn send_a_text_message() {
    let (mock, client) = setup().await;
    let sent = client
        .im()
        .v1()
        .message()
        .create()
        .receive_id_type(ReceiveIdType::ChatId)
        .body(CreateMessageRequestBody {
            receive_id: "oc_1".into(),
            msg_type: "text".into(),
            content: r#"{"text":"hello"}"#.into(),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert!(sent.message_id.as_deref().unwrap().starts_with("om_mock_"));
    assert_eq!(sent.msg_type.as_deref(), Some("text"));
    assert_eq!(
        sent.chat_id.as_deref(),
        Some("oc_1"),
        "the chat it was sent to"
    );
    assert!(sent.log_id().is_some());
    let req = &mock.requests_to("/open-apis/im/v1/messages")[0];
    assert_eq!(req.query_values("receive_id_type"), ["chat_id"]);
    assert_eq!(
        req.json().unwrap(),
        serde_json::json!({"receive_id": "oc_1", "msg_type": "text", "content": "{\"text\":\"hello\"}"}),
        "optional fields left None are not sent"
    );
}

#[tokio::test]
async fn the_default_version_is_reachable_without_naming_it() {
    let (mock, client) = setup().await;
    client
        .im()
        .message()
        .create()
        .receive_id_type("open_id")
        .body(CreateMessageRequestBody {
            receive_id: "ou_1".into(),
            msg_type: "text".into(),
            content: r#"{"text":"hi"}"#.into(),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        mock.requests_to("/open-apis/im/v1/messages")[0].query_values("receive_id_type"),
        ["open_id"]
    );
}

#[tokio::test]
async fn send_a_template_card() {
    let (mock, client) = setup().await;
    let vars = BTreeMap::from([
        ("name".to_owned(), serde_json::json!("Ada")),
        ("count".to_owned(), serde_json::json!(3)),
    ]);
    let sent = client
        .im()
        .v1()
        .message()
        .create_by_card()
        .receive_id_type(ReceiveIdType::ChatId)
        .body(CreateByCardMessageReqBody {
            receive_id: "oc_1".into(),
            template_id: "AAqk1xyz".into(),
            template_variable: Some(vars),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert!(sent.message_id.is_some());
    let body = mock.requests_to("/open-apis/im/v1/messages")[0]
        .json()
        .unwrap();
    assert_eq!(body["msg_type"], "interactive");
    assert_eq!(body["receive_id"], "oc_1");
    assert!(
        body.get("template_id").is_none(),
        "the template travels inside content"
    );
    let content: serde_json::Value =
        serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        content,
        serde_json::json!({"type": "template", "data": {"template_id": "AAqk1xyz", "template_variable": {"count": 3, "name": "Ada"}}})
    );
}

#[tokio::test]
async fn required_parameters_are_checked_before_any_io() {
    let (mock, client) = setup().await;
    let err = client
        .im()
        .v1()
        .message()
        .create()
        .body(CreateMessageRequestBody::default())
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("receive_id_type")),
        "{err}"
    );
    let err = client
        .im()
        .v1()
        .message()
        .create()
        .receive_id_type(ReceiveIdType::ChatId)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("needs a body")),
        "{err}"
    );
    let err = client.im().v1().message().get("").send().await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("message_id")),
        "{err}"
    );
    // A required body field left unset is named, instead of going out as "".
    let call = || {
        client
            .im()
            .v1()
            .message()
            .create()
            .receive_id_type(ReceiveIdType::ChatId)
    };
    let err = call()
        .body(CreateMessageRequestBody {
            msg_type: "text".into(),
            content: r#"{"text":"hi"}"#.into(),
            ..Default::default()
        })
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("`receive_id`")),
        "{err}"
    );
    // The body given last is the one checked (and sent).
    let full = CreateMessageRequestBody {
        receive_id: "oc_1".into(),
        msg_type: "text".into(),
        content: r#"{"text":"hi"}"#.into(),
        ..Default::default()
    };
    let err = call()
        .body(full.clone())
        .body(CreateMessageRequestBody::default())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidRequest(_)), "{err}");
    assert!(mock.requests().is_empty());
    call()
        .body(CreateMessageRequestBody::default())
        .body(full)
        .send()
        .await
        .expect("the second body replaces the first, verdict included");
    mock.clear_requests();
    // A required enum is an `Option`: none means not set, also in a multipart body.
    let err = client
        .im()
        .v1()
        .image()
        .create()
        .body(CreateImageRequestBody {
            image_type: None,
            image: Some(FilePart::bytes(b"png".to_vec())),
        })
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("`image_type`")),
        "{err}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn list_users_as_a_stream() {
    let (mock, client) = setup().await;
    let users: Vec<_> = client
        .contact()
        .v3()
        .user()
        .list()
        .user_id_type(UserIdType::OpenId)
        .department_id("0")
        .page_size(20)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 45);
    assert_eq!(users[3].open_id.as_deref(), Some("ou_3"));
    assert_eq!(users[44].name.as_deref(), Some("User 44"));
    let calls = mock.requests_to("/open-apis/contact/v3/users");
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| c.query_values("user_id_type") == ["open_id"]
                && c.query_values("page_size") == ["20"])
    );
    assert_eq!(calls[2].query_values("page_token").len(), 1);

    let pages: Vec<_> = client
        .contact()
        .v3()
        .user()
        .list()
        .page_size(40)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [40, 5]
    );
}

#[tokio::test]
async fn upload_an_image_from_a_file() {
    let (mock, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.jpg");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let resp = client
        .im()
        .v1()
        .image()
        .create()
        .body(CreateImageRequestBody {
            image_type: Some(ImageType::Message),
            image: Some(FilePart::path(&path)),
        })
        .send()
        .await
        .unwrap();
    assert!(resp.image_key.as_deref().unwrap().starts_with("img_mock_"));
    let parts = mock.requests_to("/open-apis/im/v1/images")[0]
        .multipart
        .clone()
        .unwrap();
    let image = parts.iter().find(|p| p.name == "image").unwrap();
    assert_eq!(image.file_name.as_deref(), Some("photo.jpg"));
    assert_eq!(image.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(
        (image.len, image.digest),
        (data.len() as u64, fnv1a64(&data))
    );
    assert_eq!(
        parts
            .iter()
            .find(|p| p.name == "image_type")
            .unwrap()
            .text
            .as_deref(),
        Some("message")
    );
}

#[tokio::test]
async fn download_an_image() {
    let (_mock, client) = setup().await;
    let file = client
        .im()
        .v1()
        .image()
        .get("bytes-70000")
        .send()
        .await
        .unwrap();
    assert_eq!(file.file_name(), Some("文件-bytes-70000.bin"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.bin");
    assert_eq!(file.save_to(&path).await.unwrap(), 70_000);
    let saved = std::fs::read(&path).unwrap();
    assert!(
        saved
            .iter()
            .enumerate()
            .all(|(i, b)| *b == download_byte(i as u64))
    );

    let err = client
        .im()
        .v1()
        .image()
        .get("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(234001));
}

#[test]
fn enums_keep_unknown_values() {
    assert_eq!(ReceiveIdType::from("chat_id"), ReceiveIdType::ChatId);
    assert_eq!(ReceiveIdType::ChatId.as_str(), "chat_id");
    let future = ReceiveIdType::from("new_kind_of_id");
    assert!(
        matches!(&future, ReceiveIdType::Unknown(v) if v.as_str() == "new_kind_of_id"),
        "{future:?}"
    );
    assert_eq!(future.as_str(), "new_kind_of_id");
    assert_eq!(String::from(future), "new_kind_of_id");
}

#[test]
fn generated_types_decode_leniently_and_tolerate_unknown_fields() {
    use lark_oapi::im::v1::models::Message;
    let m = lark_oapi::from_value::<Message>(serde_json::json!({
        "message_id": "om_1",
        "deleted": "true",
        "sender": {"id": "ou_1", "sender_type": "user", "brand_new_field": [1, 2]},
        "mentions": [{"key": "@_user_1", "id": 42}],
        "field_from_the_future": {"x": 1}
    }))
    .unwrap();
    assert_eq!(m.message_id.as_deref(), Some("om_1"));
    assert_eq!(m.deleted, Some(true));
    assert_eq!(m.sender.as_ref().unwrap().id, "ou_1");
    assert_eq!(
        m.mentions.as_ref().unwrap()[0].id,
        "42",
        "ids given as numbers stay strings"
    );
    let err = lark_oapi::from_value::<Message>(
        serde_json::json!({"mentions": [{}, {"key": {"nested": true}}]}),
    )
    .unwrap_err();
    assert_eq!(err.path(), "mentions[1].key");
}

#[test]
fn every_event_has_a_type_name_and_a_payload_type() {
    let all = lark_oapi::event_types();
    assert_eq!(all.len(), 230, "the dataset's 230 events");
    let unique: std::collections::BTreeSet<_> = all.iter().map(|(t, _)| *t).collect();
    assert_eq!(unique.len(), 230);
    assert!(all.contains(&("im.message.receive_v1", "2.0")));
    assert!(all.contains(&("card.action.trigger", "2.0")));
    assert!(
        all.iter().filter(|(_, s)| *s == "1.0").count() >= 24,
        "legacy v1 events are there"
    );
}

#[test]
fn an_im_message_receive_payload_decodes() {
    use lark_oapi::im::v1::events::{IM_MESSAGE_RECEIVE_V1, P2ImMessageReceiveV1Data};
    assert_eq!(IM_MESSAGE_RECEIVE_V1, "im.message.receive_v1");
    let ev = lark_oapi::from_value::<P2ImMessageReceiveV1Data>(serde_json::json!({
        "sender": {"sender_id": {"open_id": "ou_1", "user_id": "u1"}, "sender_type": "user", "tenant_key": "tk"},
        "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "group", "message_type": "text",
                    "content": "{\"text\":\"hi\"}", "create_time": "1608725989000",
                    "mentions": [{"key": "@_user_1", "name": "Bot", "id": {"open_id": "ou_bot"}}]}
    }))
    .unwrap();
    assert_eq!(ev.message.message_id, "om_1");
    assert_eq!(
        ev.message.create_time, "1608725989000",
        "int64 travels as a string"
    );
    assert_eq!(ev.message.mentions.as_ref().unwrap()[0].key, "@_user_1");
    assert_eq!(
        ev.sender.sender_id.unwrap().open_id.as_deref(),
        Some("ou_1")
    );
}

#[tokio::test]
async fn per_call_options_apply_to_generated_builders() {
    use lark_oapi::CallOptions as _;
    let (mock, client) = setup().await;
    client
        .im()
        .v1()
        .chat()
        .list()
        .user_access_token("u-alice")
        .header("X-Request-Tag", "sync-1")
        .send()
        .await
        .unwrap();
    let req = &mock.requests_to("/open-apis/im/v1/chats")[0];
    assert_eq!(bearer(req).as_deref(), Some("u-alice"));
    assert_eq!(req.header("x-request-tag"), Some("sync-1"));
    let err = client
        .im()
        .v1()
        .chat()
        .list()
        .timeout(std::time::Duration::from_millis(50))
        .options(lark_oapi::RequestOptions::new().header("bad header", "x"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("bad header")),
        "options() replaces: {err}"
    );
}

#[tokio::test]
async fn auth_v3_answers_decode_from_beside_code_and_msg() {
    use lark_oapi::auth::v3::models::InternalTenantAccessTokenRequestBody;
    let (_mock, client) = setup().await;
    // `{"code":0,"msg":"ok","tenant_access_token":"t-...","expire":7200}`: no `data`.
    let resp = client
        .auth()
        .v3()
        .tenant_access_token()
        .internal()
        .body(InternalTenantAccessTokenRequestBody {
            app_id: lark_oapi_mock::APP_ID.into(),
            app_secret: lark_oapi_mock::APP_SECRET.into(),
        })
        .send()
        .await
        .unwrap();
    assert!(
        resp.tenant_access_token
            .as_deref()
            .is_some_and(|t| t.starts_with("t-")),
        "{resp:?}"
    );
    assert_eq!(resp.expire, Some(7200));
}

#[tokio::test]
async fn an_upload_without_its_required_file_fails_before_sending() {
    use lark_oapi::im::v1::models::{CreateImageRequestBody, ImageType};
    let (mock, client) = setup().await;
    let err = client
        .im()
        .v1()
        .image()
        .create()
        .body(CreateImageRequestBody {
            image_type: Some(ImageType::Message),
            image: None,
        })
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(err.to_string().contains("`image`"), "{err}");
    assert!(mock.requests_to("/open-apis/im/v1/images").is_empty());
}
