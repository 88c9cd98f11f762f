//! Streaming card replies against the mock platform's CardKit over loopback HTTP: the
//! mock enforces the platform's rules (sequence, per-card frequency, streaming mode,
//! element text limit) and keeps every accepted operation, which these tests read back.

mod common;
use common::*;

use std::time::{Duration, Instant};

use lark_oapi_bot::content::Text;
use lark_oapi_bot::streaming::{StreamClosed, StreamingCard};
use lark_oapi_core::{Client, Method, RequestSpec};
use lark_oapi_mock::{CardState, MockPlatform, OPS_PER_SEC};
use serde_json::{Value, json};

/// A message from a user to reply to.
async fn question(client: &Client) -> String {
    lark_oapi_bot::send(client, "oc_streaming", &Text::new("why is the sky blue?"))
        .await
        .expect("sent")
        .into_data()
        .message_id
}

/// A streaming card replying to a question on a fresh mock.
struct Started {
    mock: MockPlatform,
    /// The question's message id.
    asked: String,
    stream: StreamingCard,
    /// The first card's id.
    card_id: String,
}

async fn started(builder: lark_oapi_bot::streaming::StreamingCardBuilder) -> Started {
    let (mock, client) = setup().await;
    let asked = question(&client).await;
    let stream = builder
        .reply(&client, &asked)
        .await
        .expect("card created and sent");
    let card_id = stream.cards()[0].card_id.clone();
    Started {
        mock,
        asked,
        stream,
        card_id,
    }
}

fn card(mock: &MockPlatform, card_id: &str) -> CardState {
    mock.card(card_id).expect("the card exists")
}

/// The most operations the mock accepted on one card within any one second.
fn busiest_second(state: &CardState) -> usize {
    let at: Vec<Instant> = state.ops.iter().map(|o| o.at).collect();
    (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|t| t.duration_since(at[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn assert_sequences_increase(state: &CardState) {
    let seqs: Vec<i64> = state.ops.iter().map(|o| o.sequence).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs.first().is_some_and(|s| *s >= 1));
    let uuids: std::collections::BTreeSet<_> = state.ops.iter().map(|o| o.uuid.clone()).collect();
    assert_eq!(uuids.len(), state.ops.len(), "one uuid per operation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_chunks_in_three_seconds_stay_under_the_card_limit() {
    let Started {
        mock,
        stream,
        asked,
        ..
    } = started(StreamingCard::builder()).await;
    let mut expected = String::new();
    let started = Instant::now();
    for i in 0..2000u32 {
        let chunk = if i % 40 == 39 {
            format!("{i}\n")
        } else {
            format!("{i} ")
        };
        expected.push_str(&chunk);
        stream.push(&chunk).expect("stream open");
        // 2,000 chunks spread over ~3 s.
        let due = started + Duration::from_micros(1500 * u64::from(i + 1));
        tokio::time::sleep_until(due.into()).await;
    }
    let summary = stream.finish().await.expect("finished");

    assert_eq!(summary.cards.len(), 1);
    let state = card(&mock, &summary.cards[0].card_id);
    assert_eq!(
        state.element_text("stream_md").as_deref(),
        Some(expected.as_str())
    );
    assert!(!state.streaming, "streaming mode closed");
    assert_eq!(
        state.summary.as_deref(),
        Some(expected.chars().take(50).collect::<String>().as_str())
    );
    assert!(
        busiest_second(&state) <= OPS_PER_SEC,
        "{}",
        busiest_second(&state)
    );
    assert_sequences_increase(&state);
    assert!(
        state.refused.is_empty(),
        "{} operations refused",
        state.refused.len()
    );
    // Coalesced: far fewer operations than chunks, but the text did stream.
    assert!(
        state.ops.len() >= 10 && state.ops.len() < 60,
        "{}",
        state.ops.len()
    );
    assert_eq!(summary.operations, state.ops.len() as u64);
    assert_eq!(state.ops.last().unwrap().kind, "settings");
    // The card was the reply.
    let sent = mock
        .message(&summary.cards[0].message_id)
        .expect("reply stored");
    assert_eq!(sent["parent_id"], asked.as_str());
    assert_eq!(sent["msg_type"], "interactive");
}

#[tokio::test]
async fn past_the_element_limit_the_text_rolls_over_to_new_cards() {
    let Started {
        mock,
        stream,
        asked,
        ..
    } = started(
        StreamingCard::builder()
            .rollover_chars(1000)
            .max_ops_per_sec(10),
    )
    .await;
    let line = "0123456789 abcdefghij 0123456789 abcdefghij 字字字字字字字\n"; // 56 chars
    let mut expected = String::new();
    for _ in 0..45 {
        expected.push_str(line);
        stream.push(line).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let summary = stream.finish().await.unwrap();
    // 2,520 characters in cards of at most 1,000, cut at line ends.
    assert_eq!(summary.cards.len(), 3, "{:?}", summary.cards);
    let mut joined = String::new();
    for c in &summary.cards {
        let state = card(&mock, &c.card_id);
        let text = state.element_text("stream_md").unwrap();
        assert!(text.chars().count() <= 1000);
        joined.push_str(&text);
        assert!(!state.streaming, "every card closed");
        assert_sequences_increase(&state);
        let msg = mock.message(&c.message_id).unwrap();
        assert_eq!(
            msg["parent_id"],
            asked.as_str(),
            "each card replies to the question"
        );
    }
    assert_eq!(joined, expected);
    let first = card(&mock, &summary.cards[0].card_id)
        .element_text("stream_md")
        .unwrap();
    assert!(first.ends_with('\n'), "cut at a line end");
    assert_eq!(summary.chars, expected.chars().count());
}

#[tokio::test]
async fn a_frequency_limit_skips_a_frame_and_the_stream_goes_on() {
    let Started {
        mock,
        stream,
        card_id,
        ..
    } = started(StreamingCard::builder()).await;
    let path = format!("/open-apis/cardkit/v1/cards/{card_id}/elements/stream_md/content");
    for _ in 0..2 {
        mock.push_fault(&path, frequency_limit());
    }
    stream.push("first ").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.push("second ").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.push("third").unwrap();
    let summary = stream
        .finish()
        .await
        .expect("the limit does not end the stream");
    assert_eq!(summary.skipped_frames, 2);
    let state = card(&mock, &card_id);
    assert_eq!(
        state.element_text("stream_md").as_deref(),
        Some("first second third")
    );
    assert!(!state.streaming);
    assert_sequences_increase(&state);
    // The skipped frames used sequences too: the accepted ones are not contiguous.
    let contents = mock.requests_to(&path).len();
    assert_eq!(
        contents,
        state.ops.iter().filter(|o| o.kind == "content").count() + 2
    );
}

#[tokio::test]
async fn a_dropped_stream_still_closes_its_card() {
    let Started {
        mock,
        stream,
        card_id,
        ..
    } = started(StreamingCard::builder()).await;
    stream.push("partial answer").unwrap();
    drop(stream); // e.g. the request handler was cancelled
    let deadline = Instant::now() + Duration::from_secs(5);
    while card(&mock, &card_id).streaming {
        assert!(Instant::now() < deadline, "the card was not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state = card(&mock, &card_id);
    assert_eq!(
        state.element_text("stream_md").as_deref(),
        Some("partial answer\n\n— (Generation interrupted)")
    );
    assert_eq!(
        state.summary.as_deref(),
        Some("partial answer\n\n— (Generation interrupted)"),
        "the summary is the text's first 50 characters"
    );
}

#[tokio::test]
async fn a_recalled_reply_stops_all_work_on_it() {
    let Started { mock, stream, .. } = started(StreamingCard::builder()).await;
    let first = stream.cards()[0].clone();
    stream.push("one").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mock.recall_message(&first.message_id));
    stream.push(" two").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match stream.push(" more") {
            Err(StreamClosed { .. }) => break,
            Ok(()) => {
                assert!(Instant::now() < deadline, "the stream did not stop");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let err = stream.finish().await.unwrap_err();
    assert_eq!(err.code(), Some(230011), "{err}");
    let state = card(&mock, &first.card_id);
    assert_eq!(state.element_text("stream_md").as_deref(), Some("one"));
    assert_eq!(
        state.refused,
        [230011],
        "one refused operation, then nothing more"
    );
}

#[tokio::test]
async fn streaming_mode_closed_by_the_platform_is_opened_again() {
    let Started {
        mock,
        stream,
        card_id,
        ..
    } = started(StreamingCard::builder()).await;
    stream.push("before ").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mock.close_card_streaming(&card_id));
    stream.push("after").unwrap();
    stream.finish().await.unwrap();
    let state = card(&mock, &card_id);
    assert_eq!(
        state.element_text("stream_md").as_deref(),
        Some("before after")
    );
    assert_eq!(state.refused, [300309]);
    let kinds: Vec<&str> = state.ops.iter().map(|o| o.kind).collect();
    assert_eq!(kinds, ["content", "settings", "content", "settings"]);
    assert!(!state.streaming);
}

#[tokio::test]
async fn an_empty_stream_shows_the_empty_text() {
    let Started { mock, stream, .. } = started(StreamingCard::builder()).await;
    let summary = stream.finish().await.unwrap();
    let state = card(&mock, &summary.cards[0].card_id);
    assert_eq!(
        state.element_text("stream_md").as_deref(),
        Some("(no content)")
    );
    assert!(!state.streaming);
    assert!(!summary.interrupted);
}

#[tokio::test]
async fn bad_settings_are_refused_before_any_request() {
    let (mock, client) = setup().await;
    let err = StreamingCard::builder()
        .max_ops_per_sec(20)
        .reply(&client, "om_1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_ops_per_sec"), "{err}");
    let err = StreamingCard::builder()
        .reply(&client, " ")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("message_id"), "{err}");
    assert!(mock.requests().is_empty());
}

/// The mock's rules, which the tests above rely on.
#[tokio::test]
async fn the_mock_enforces_the_cardkit_rules() {
    let (mock, client) = setup().await;
    let card = json!({"schema": "2.0", "config": {"streaming_mode": true},
        "body": {"elements": [{"tag": "markdown", "element_id": "md", "content": "x"}]}});
    let created: Value = client
        .send::<Value>(
            &RequestSpec::new(Method::POST, "/open-apis/cardkit/v1/cards")
                .json(&json!({"type": "card_json", "data": card.to_string()})),
        )
        .await
        .unwrap()
        .into_data();
    let id = created["card_id"].as_str().unwrap().to_owned();
    let put = |seq: i64, text: String| {
        RequestSpec::new(
            Method::PUT,
            "/open-apis/cardkit/v1/cards/:card_id/elements/md/content",
        )
        .path_param("card_id", &id)
        .json(&json!({"content": text, "sequence": seq}))
    };
    client.send::<Value>(&put(5, "a".into())).await.unwrap();
    let err = client.send::<Value>(&put(5, "b".into())).await.unwrap_err();
    assert_eq!(err.code(), Some(300317), "sequence must increase");
    let err = client
        .send::<Value>(&put(6, "字".repeat(30_001)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(230099));
    assert!(err.to_string().contains("11310"), "{err}");
    let mut limited = false;
    for seq in 7..20 {
        if let Err(e) = client.send::<Value>(&put(seq, "c".into())).await {
            assert_eq!(e.code(), Some(230020));
            limited = true;
            break;
        }
    }
    assert!(limited, "more than 10 operations in a second are refused");
    // A v1 card cannot become an entity.
    let err = client
        .send::<Value>(
            &RequestSpec::new(Method::POST, "/open-apis/cardkit/v1/cards")
                .json(&json!({"type": "card_json", "data": "{\"elements\":[]}"})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(200610));
    assert_eq!(
        mock.card(&id).unwrap().element_text("md").as_deref(),
        Some("c")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_rate_holds_and_not_only_the_platform_limit() {
    let Started { mock, stream, .. } = started(StreamingCard::builder().max_ops_per_sec(4)).await;
    let started = Instant::now();
    for i in 0..600u32 {
        stream.push(&format!("{i} ")).unwrap();
        let due = started + Duration::from_millis(5 * u64::from(i + 1));
        tokio::time::sleep_until(due.into()).await;
    }
    let summary = stream.finish().await.unwrap();
    let state = card(&mock, &summary.cards[0].card_id);
    // 250 ms apart when they leave; one more may fall in a second at the platform when
    // the network's jitter shortens a gap by a microsecond.
    assert!(busiest_second(&state) <= 5, "{}", busiest_second(&state));
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        (state.ops.len() as f64) <= 4.0 * seconds + 2.0,
        "{} ops in {seconds:.1} s",
        state.ops.len()
    );
}

#[tokio::test]
async fn a_skipped_frame_is_sent_again_without_waiting_for_more_text() {
    let Started {
        mock,
        stream,
        card_id,
        ..
    } = started(StreamingCard::builder()).await;
    let path = format!("/open-apis/cardkit/v1/cards/{card_id}/elements/stream_md/content");
    mock.push_fault(&path, frequency_limit());
    stream
        .push("the last words before a long tool call")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        card(&mock, &card_id).element_text("stream_md").as_deref(),
        Some("the last words before a long tool call"),
        "shown while the producer is silent"
    );
    let summary = stream.finish().await.unwrap();
    assert_eq!(summary.skipped_frames, 1);
}

#[tokio::test]
async fn set_text_replaces_and_abort_adds_the_note() {
    let Started {
        mock,
        stream,
        card_id,
        ..
    } = started(StreamingCard::builder()).await;
    stream.set_text("The answer is 4").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.set_text("The answer is 42, says the model").unwrap();
    let summary = stream.abort().await.unwrap();
    assert!(summary.interrupted);
    let state = card(&mock, &card_id);
    assert_eq!(
        state.element_text("stream_md").as_deref(),
        Some("The answer is 42, says the model\n\n— (Generation interrupted)")
    );
    assert!(!state.streaming);
}

#[tokio::test]
async fn after_a_rollover_earlier_cards_keep_their_text() {
    let Started { mock, stream, .. } = started(StreamingCard::builder().rollover_chars(100)).await;
    let head = format!("{}\n", "a".repeat(89)); // 90 characters
    let tail = "b".repeat(40);
    stream.set_text(&format!("{head}{tail}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while stream.cards().len() < 2 {
        assert!(Instant::now() < deadline, "no rollover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A text that extends what the first card shows goes on after it…
    stream.set_text(&format!("{head}{tail} and more")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = stream.cards()[1].card_id.clone();
    assert_eq!(
        card(&mock, &second).element_text("stream_md").as_deref(),
        Some(format!("{tail} and more").as_str())
    );
    // …any other is shown whole on the current card.
    stream.set_text("a different answer").unwrap();
    let summary = stream.finish().await.unwrap();
    assert_eq!(summary.cards.len(), 2);
    let first = card(&mock, &summary.cards[0].card_id);
    assert_eq!(
        first.element_text("stream_md").as_deref(),
        Some(head.as_str())
    );
    assert_eq!(
        card(&mock, &second).element_text("stream_md").as_deref(),
        Some("a different answer")
    );
}

#[tokio::test]
async fn an_abort_near_the_limit_puts_the_note_within_it() {
    let Started { mock, stream, .. } = started(StreamingCard::builder().rollover_chars(100)).await;
    let text = "c".repeat(95);
    stream.push(&text).unwrap();
    let summary = stream.abort().await.expect("the note fits");
    let mut joined = String::new();
    for c in &summary.cards {
        let shown = card(&mock, &c.card_id).element_text("stream_md").unwrap();
        assert!(shown.chars().count() <= 100, "{}", shown.chars().count());
        assert!(card(&mock, &c.card_id).refused.is_empty());
        joined.push_str(&shown);
    }
    assert_eq!(joined, format!("{text}\n\n— (Generation interrupted)"));
}

#[tokio::test]
async fn a_recalled_question_gets_the_answer_as_a_new_message() {
    let (mock, client) = setup().await;
    let asked = question(&client).await;
    assert!(mock.recall_message(&asked));
    let err = StreamingCard::builder()
        .reply(&client, &asked)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(230011), "{err}");
    let chat = lark_oapi_bot::Receiver::Chat("oc_streaming".into());
    let stream = StreamingCard::builder()
        .reply_or_send(&client, &asked, &chat)
        .await
        .expect("sent to the chat instead");
    stream.push("still answered").unwrap();
    let summary = stream.finish().await.unwrap();
    let sent = mock.message(&summary.cards[0].message_id).unwrap();
    assert_eq!(sent["parent_id"], "", "a new message, not a reply");
    assert_eq!(sent["chat_id"], "oc_streaming");
    assert_eq!(
        card(&mock, &summary.cards[0].card_id)
            .element_text("stream_md")
            .as_deref(),
        Some("still answered")
    );
}

#[tokio::test]
async fn a_deleted_reply_stops_all_work_on_it() {
    let Started {
        mock,
        stream,
        card_id,
        ..
    } = started(StreamingCard::builder()).await;
    stream.push("one").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let message_id = stream.cards()[0].message_id.clone();
    assert!(mock.delete_message(&message_id));
    stream.push(" two").unwrap();
    let err = stream.finish().await.unwrap_err();
    assert_eq!(err.code(), Some(231003), "{err}");
    assert_eq!(
        card(&mock, &card_id).refused,
        [231003],
        "nothing after the refusal"
    );
}
