//! A bot that answers like an AI agent: every message it gets is parsed (text, post,
//! images, mentions, …), and answered with a streaming card whose text is written in
//! chunks as it is "generated"; the card's button, when clicked, updates the card.
//!
//! With `LARK_APP_ID` and `LARK_APP_SECRET` (a self-built app with long-connection mode,
//! the `im:message` and `cardkit:card:write` scopes, and card callbacks over the long
//! connection) it runs until Ctrl-C. Without them it runs against the embedded mock
//! platform: it pushes a message, checks that the answer streamed into a closed card, clicks
//! the button, and exits.
//!
//! ```text
//! cargo run -p lark-oapi --example streaming_bot --features bot-kit,long-connection
//! ```

#[allow(dead_code)]
#[path = "support/echo.rs"]
mod echo;

use std::time::Duration;

use lark_oapi::bot_kit::card::action::{CardAction, Toast, update_card};
use lark_oapi::bot_kit::card::{Button, CardBuilder, Element, Header, Template};
use lark_oapi::bot_kit::received::ReceivedMessage;
use lark_oapi::bot_kit::streaming::StreamingCard;
use lark_oapi::dispatcher::EventDispatcher;
use lark_oapi::long_connection::LongConnection;
use lark_oapi::prelude::*;
use serde::{Deserialize, Serialize};

/// What the card's button carries back to the bot.
#[derive(Serialize, Deserialize)]
struct Clicked {
    action: String,
    question: String,
}

/// Stands in for a model: the answer to `question`, one piece at a time.
fn generate(question: &str) -> Vec<String> {
    let answer = format!(
        "You asked: **{question}**\n\nHere is a thought-out answer, written as it is generated. \
         Each piece reaches the card as soon as the card may take another update; pieces that \
         arrive in between are sent together, so the card never gets more updates than the \
         platform allows.\n\n- first point\n- second point\n- third point\n\nDone."
    );
    answer
        .split_inclusive(' ')
        .map(str::to_owned)
        .collect::<Vec<_>>()
}

async fn answer(client: Client, message: ReceivedMessage) -> lark_oapi::Result<()> {
    let question = message.plain_text();
    let button = Button::new("Summarise").primary().callback_with(&Clicked {
        action: "summarise".into(),
        question: question.clone(),
    });
    let card = StreamingCard::builder()
        .header(Header::new("Answer").template(Template::Indigo))
        .placeholder("Thinking…")
        .after(button)
        .reply(&client, &message.message_id)
        .await?;
    for piece in generate(&question) {
        card.push(&piece)?;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let summary = card.finish().await?;
    println!(
        "answered {} in {} card(s), {} updates",
        message.message_id,
        summary.cards.len(),
        summary.operations
    );
    Ok(())
}

fn dispatcher(client: &Client) -> EventDispatcher {
    let client = client.clone();
    EventDispatcher::builder()
        .ordered_by_chat(16)
        .on_im_message_receive_v1(move |event| {
            let client = client.clone();
            async move {
                let message = ReceivedMessage::from(&event.payload);
                // Answer in the background: the event is acknowledged at once, and the
                // platform does not deliver it again while the answer streams.
                tokio::spawn(async move {
                    if let Err(e) = answer(client, message).await {
                        eprintln!("answer failed: {e}");
                    }
                });
                Ok(())
            }
        })
        .on_card_action_trigger(|event| async move {
            let action = CardAction::new(&event.payload);
            let Ok(clicked) = action.value::<Clicked>() else {
                return Ok(Toast::warning("unknown button").into());
            };
            let card = CardBuilder::new()
                .header(Header::new("Summary").template(Template::Green))
                .element(Element::markdown(format!(
                    "**{}** of “{}”: three points, one conclusion.",
                    clicked.action, clicked.question
                )))
                .to_value()?;
            Ok(update_card(card, Some(Toast::success("summarised"))))
        })
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = echo::setup().await?;
    let client = Client::new(setup.config.clone());
    let connection = LongConnection::builder(&client, dispatcher(&client))
        .build()
        .start()
        .await?;

    let Some(mock) = &setup.mock else {
        println!("streaming bot connected (Ctrl-C stops)");
        tokio::signal::ctrl_c().await?;
        connection.shutdown().await?;
        return Ok(());
    };

    // A user asks; the bot answers with a streaming card.
    mock.ws_push_event(echo::text_message(0, "why is the sky blue?", ""));
    let mut closed = None;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        closed = mock
            .card_ids()
            .into_iter()
            .filter_map(|id| mock.card(&id))
            .find(|c| !c.streaming);
        if closed.is_some() {
            break;
        }
    }
    let card = closed.ok_or("the answer card was not finished")?;
    let text = card.element_text("stream_md").unwrap_or_default();
    println!(
        "the card shows {} characters after {} updates (at most 10 a second)",
        text.chars().count(),
        card.ops.len()
    );
    if !text.ends_with("Done.") || !card.refused.is_empty() {
        return Err(format!("unexpected card: {text:?}, refused {:?}", card.refused).into());
    }

    // The user clicks "Summarise": the callback's answer replaces the card.
    let value = serde_json::json!({"action": "summarise", "question": "why is the sky blue?"});
    let click = serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": "click-1", "event_type": "card.action.trigger", "create_time": "1700000000000",
                   "token": "", "app_id": lark_oapi_mock::APP_ID, "tenant_key": "demo-tenant"},
        "event": {"operator": {"open_id": "ou_demo"}, "token": "c-1",
                  "action": {"tag": "button", "value": value},
                  "context": {"open_message_id": card.message_id, "open_chat_id": "oc_demo"}}
    });
    let frame = mock.ws_push_card_frame(click);
    mock.ws_wait_until(Duration::from_secs(5), |m| {
        m.ws_acks().iter().any(|a| a.message_id == frame)
    })
    .await;
    let ack = mock
        .ws_acks()
        .into_iter()
        .find(|a| a.message_id == frame)
        .ok_or("the click was not answered")?;
    let answer: serde_json::Value = serde_json::from_slice(&ack.data.unwrap_or_default())?;
    println!("the click answered: toast {}", answer["toast"]["content"]);
    if answer["card"]["data"]["header"]["title"]["content"] != "Summary" {
        return Err(format!("unexpected answer to the click: {answer}").into());
    }
    connection.shutdown().await?;
    Ok(())
}
