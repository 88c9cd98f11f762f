//! Bot-kit benchmark: CPU per call of building and encoding a representative card, and of
//! parsing each received content type (goal: under 5 µs each), on one core.
//!
//! `cargo bench -p lark-oapi-integration-tests --bench bot_kit [-- --iterations N]`
//!
//! CPU time is the thread's user + system time around a loop of N calls (the thread CPU
//! clock ticks in milliseconds, so N is large); every result goes through `black_box`.

#[path = "support/cpu.rs"]
mod cpu;

use std::hint::black_box;

use lark_oapi::bot_kit::Outgoing;
use lark_oapi::bot_kit::card::{Button, CardBuilder, Element, Header, Template};
use lark_oapi::bot_kit::received::{Received, ReceivedMessage};
use lark_oapi::im::v1::events::P2ImMessageReceiveV1Data;
use serde_json::json;

const GOAL_US: f64 = 5.0;

/// A card as a bot sends it after a task: header, summary text, a two-column status row,
/// details in a collapsible panel, and two buttons (one calls back with a value).
fn card() -> CardBuilder {
    CardBuilder::new()
        .header(
            Header::new("Deploy finished")
                .subtitle("api-gateway · production")
                .template(Template::Green)
                .tag("v2.14.1", "green"),
        )
        .summary("Deploy finished in 3 min 12 s")
        .element(Element::markdown(
            "**api-gateway** was deployed to <font color='green'>production</font> by <at id=ou_84aad35d084aa403a838cf73ee18467></at>.",
        ))
        .element(Element::Columns(vec![
            (1, vec![Element::markdown("**Duration**\n3 min 12 s")]),
            (1, vec![Element::markdown("**Instances**\n12 / 12 healthy")]),
        ]))
        .element(Element::Collapsible {
            title: "Changes".into(),
            expanded: false,
            elements: vec![Element::markdown(
                "- retry budget per client\n- HTTP/2 by default\n- faster token refresh",
            )],
        })
        .element(Element::Divider)
        .element(Element::Columns(vec![
            (
                1,
                vec![Button::new("Roll back").danger().callback(json!({"action": "rollback", "deploy": 8812})).into()],
            ),
            (1, vec![Button::new("Logs").open_url("https://ci.example.com/deploys/8812").into()]),
        ]))
}

fn contents() -> Vec<(&'static str, String)> {
    let post = json!({"zh_cn": {"title": "Weekly report", "content": [
        [{"tag": "text", "text": "Revenue ", "style": ["bold"]}, {"tag": "a", "text": "dashboard", "href": "https://example.com"}, {"tag": "at", "user_id": "@_user_1"}],
        [{"tag": "img", "image_key": "img_v3_0278_a4b5"}],
        [{"tag": "md", "text": "**up 12%** since last week ![chart](img_v3_0278_c6d7)"}],
        [{"tag": "code_block", "language": "RUST", "text": "fn main() {}"}]
    ]}});
    vec![
        ("text", json!({"text": "@_user_1 could you review the quarterly report draft before Friday? Section 3 changed."}).to_string()),
        ("post", post.to_string()),
        ("image", json!({"image_key": "img_v3_0278_a4b5c6d7-e8f9"}).to_string()),
        ("file", json!({"file_key": "file_v3_00a1_b2c3", "file_name": "report-q3.pdf"}).to_string()),
        ("audio", json!({"file_key": "file_v3_00a1_audio", "duration": 2300}).to_string()),
        ("media", json!({"file_key": "file_v3_00a1_mp4", "file_name": "demo.mp4", "duration": 64000, "image_key": "img_v3_cover"}).to_string()),
        ("sticker", json!({"file_key": "file_v3_sticker"}).to_string()),
        ("interactive", json!({"title": "Deploy finished", "elements": [[{"tag": "text", "text": "api-gateway deployed"}]]}).to_string()),
        ("share_chat", json!({"chat_id": "oc_5ce6d572455d361153b7xx51da133945"}).to_string()),
        ("share_user", json!({"user_id": "ou_84aad35d084aa403a838cf73ee18467"}).to_string()),
        ("merge_forward", json!({"content": "Merged and Forwarded Message"}).to_string()),
        ("location", json!({"name": "Zhongguancun", "latitude": "39.98", "longitude": "116.31"}).to_string()),
        ("todo", json!({"task_id": "t-1", "summary": {"title": "Ship v2", "content": [[{"tag": "text", "text": "release notes"}]]}, "due_time": "1700000000000"}).to_string()),
        ("vote", json!({"topic": "Team lunch?", "options": ["noodles", "dumplings", "salad"]}).to_string()),
        ("calendar", json!({"summary": "Weekly sync", "start_time": "1700000000000", "end_time": "1700003600000"}).to_string()),
        ("system", json!({"template": "{from_user} invited {to_chatters} to this chat.", "from_user": ["Ann"], "to_chatters": ["Bob", "Cy"]}).to_string()),
        ("unknown", json!({"text": "a type from the future"}).to_string()),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--iterations")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);

    let builder = card();
    let sample = Outgoing::new(&builder.build().unwrap()).unwrap();
    println!(
        "card: {} bytes of content JSON; {n} iterations per figure",
        sample.content().len()
    );
    let mut worst: f64 = 0.0;
    let us = cpu::cpu_us_per_call(n, |_| {
        black_box(Outgoing::new(black_box(&builder)).unwrap());
    });
    worst = worst.max(us);
    println!("check + encode the card (sent as is)       {us:6.2} µs CPU");
    let us = cpu::cpu_us_per_call(n, |_| {
        let card = black_box(card());
        black_box(Outgoing::new(&card).unwrap());
    });
    worst = worst.max(us);
    println!("build the builder, check + encode          {us:6.2} µs CPU");
    let us = cpu::cpu_us_per_call(n, |_| {
        let card = black_box(&builder).build().unwrap();
        black_box(Outgoing::new(&card).unwrap());
    });
    println!("(via a serde_json::Value: build() then send  {us:6.2} µs CPU, not the goal's path)");

    println!("parse a received content (µs CPU):");
    for (msg_type, content) in contents() {
        let parsed = Received::parse(msg_type, &content);
        if msg_type != "unknown" {
            assert!(
                !matches!(parsed, Received::Unknown { .. }),
                "{msg_type}: {parsed:?}"
            );
        }
        let us = cpu::cpu_us_per_call(n, |_| {
            black_box(Received::parse(black_box(msg_type), black_box(&content)));
        });
        worst = worst.max(us);
        let value_us = cpu::cpu_us_per_call(n, |_| {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(&content)).unwrap());
        });
        println!(
            "  {msg_type:<14} {:>5} bytes        {us:6.2}   (the JSON into a serde_json::Value alone: {value_us:.2})",
            content.len()
        );
    }

    let payload: P2ImMessageReceiveV1Data = lark_oapi::from_value(json!({
        "sender": {"sender_id": {"open_id": "ou_84aad35d084aa403a838cf73ee18467"}, "sender_type": "user"},
        "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "group", "message_type": "text",
                    "create_time": "1609073151345",
                    "content": contents()[0].1,
                    "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "Tom"}]}
    }))
    .unwrap();
    let us = cpu::cpu_us_per_call(n, |_| {
        let message = ReceivedMessage::from(black_box(&payload));
        black_box(message.plain_text());
    });
    worst = worst.max(us);
    println!("typed event → ReceivedMessage + plain text  {us:6.2} µs CPU");
    println!(
        "worst figure {worst:.2} µs (goal < {GOAL_US} µs): {}",
        if worst < GOAL_US { "met" } else { "NOT met" }
    );
}
