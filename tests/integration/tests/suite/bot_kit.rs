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
