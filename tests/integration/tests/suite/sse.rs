//! Server-sent events over loopback against the mock's scripted `text/event-stream`
//! answers: parsing as the bytes drip in, the deadlines, the size limit, a cut stream,
//! `Last-Event-ID`, and answers that are not event streams.

use std::time::{Duration, Instant};

use lark_oapi::sse::{SseErrorKind, SseEvent, SseOptions, SseStream};
use lark_oapi::{Error, Method};
use lark_oapi_mock::{Fault, MockPlatform, SseStep};

use crate::common::setup;

const PATH: &str = "/open-apis/aily/v1/agents/agent_1/chats";

fn send(text: &str) -> SseStep {
    SseStep::Send(text.to_owned())
}

fn wait(ms: u64) -> SseStep {
    SseStep::Wait(Duration::from_millis(ms))
}

fn script(mock: &MockPlatform, steps: Vec<SseStep>) {
    mock.push_fault(PATH, Fault::EventStream { steps });
}

async fn open(client: &lark_oapi::Client, options: SseOptions) -> lark_oapi::Result<SseStream> {
    client
        .request(Method::POST, PATH)
        .json(&serde_json::json!({ "content": "hi", "stream": true }))
        .sse_with(options)
        .await
}

/// Everything until the end or the first error.
async fn drain(stream: &mut SseStream) -> (Vec<SseEvent>, Option<Error>) {
    let mut events = Vec::new();
    while let Some(next) = stream.next_event().await {
        match next {
            Ok(event) => events.push(event),
            Err(e) => {
                assert!(
                    stream.next_event().await.is_none(),
                    "the stream ends after an error"
                );
                return (events, Some(e));
            }
        }
    }
    (events, None)
}

fn sse_kind(e: &Error) -> &SseErrorKind {
    match e {
        Error::Sse(e) => &e.kind,
        other => panic!("expected an SSE error, got {other:?}"),
    }
}

#[tokio::test]
async fn events_are_parsed_as_they_drip_in_split_anywhere() {
    let (mock, client) = setup().await;
    script(
        &mock,
        vec![
            send("\u{FEFF}: the stream opens\n\n"),
            send("event: delta\nid: 1\nda"),
            wait(30),
            send("ta: {\"text\":\"Hel\"}\n"),
            send("\n"),
            send("event: delta\r\nid: 2\r\ndata: {\"text\":\"lo\"}\r\n\r"),
            wait(30),
            send("\n: keep-alive\n\n"),
            send("retry: 2500\ndata: line one\ndata: line two\n\n"),
            send("event: done\ndata: [DONE]\n\n"),
        ],
    );
    let mut stream = open(&client, SseOptions::new()).await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.log_id().is_some());
    let (events, error) = drain(&mut stream).await;
    assert!(error.is_none(), "{error:?}");
    let seen: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.data.as_str(), e.id.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("delta", "{\"text\":\"Hel\"}", Some("1")),
            ("delta", "{\"text\":\"lo\"}", Some("2")),
            ("message", "line one\nline two", Some("2")),
            ("done", "[DONE]", Some("2")),
        ]
    );
    #[derive(serde::Deserialize)]
    struct Delta {
        text: String,
    }
    let text: String = events[..2]
        .iter()
        .map(|e| e.json::<Delta>().unwrap().text)
        .collect();
    assert_eq!(text, "Hello");
    assert!(
        events[3].json::<Delta>().is_err(),
        "not JSON: a typed decode error"
    );
    assert_eq!(stream.last_event_id(), Some("2"));
    assert_eq!(stream.retry(), Some(Duration::from_millis(2500)));

    // The request: the tenant token, the event-stream Accept, sent once.
    let sent = mock.requests_to(PATH);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("accept"), Some("text/event-stream"));
    assert!(
        sent[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer t-"))
    );
    assert_eq!(sent[0].header("last-event-id"), None);
}

#[tokio::test]
async fn last_event_id_is_sent_to_resume() {
    let (mock, client) = setup().await;
    script(&mock, vec![send("id: 8\ndata: next\n\n")]);
    let mut stream = open(&client, SseOptions::new().last_event_id("7"))
        .await
        .unwrap();
    let (events, error) = drain(&mut stream).await;
    assert!(error.is_none());
    assert_eq!(events[0].id.as_deref(), Some("8"));
    assert_eq!(mock.requests_to(PATH)[0].header("last-event-id"), Some("7"));
}

#[tokio::test]
async fn a_stream_cut_mid_event_is_an_error_after_the_whole_events() {
    let (mock, client) = setup().await;
    // The connection breaks inside the second event.
    script(
        &mock,
        vec![send("data: one\n\n"), send("data: tw"), SseStep::Cut],
    );
    let mut stream = open(&client, SseOptions::new()).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "one");
    let error = error.expect("a cut stream is an error");
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.is_retryable());

    // Resuming after a cut inside event 2 starts after event 1, not after 2.
    script(
        &mock,
        vec![
            send("id: 1\ndata: one\n\n"),
            send("id: 2\ndata: tw"),
            SseStep::Cut,
        ],
    );
    let mut stream = open(&client, SseOptions::new()).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    assert_eq!((events.len(), error.is_some()), (1, true));
    assert_eq!(stream.last_event_id(), Some("1"));

    // The body ends cleanly but inside an event: not a silent end either.
    script(&mock, vec![send("data: one\n\n"), send("data: two\n")]);
    let mut stream = open(&client, SseOptions::new()).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    assert_eq!(events.len(), 1);
    let error = error.expect("ended mid-event");
    assert_eq!(sse_kind(&error), &SseErrorKind::EndedMidEvent);
    assert!(error.log_id().is_some(), "{error}");
    assert_eq!(error.http_status(), Some(200));

    // Ending after a whole event (and a trailing comment) is a normal end.
    script(&mock, vec![send("data: one\n\n: bye")]);
    let mut stream = open(&client, SseOptions::new()).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    assert_eq!((events.len(), error.is_none()), (1, true));
}

#[tokio::test]
async fn an_event_over_the_size_limit_fails_without_buffering_it() {
    let (mock, client) = setup().await;
    let big = "x".repeat(4096);
    script(
        &mock,
        vec![
            send("data: small\n\n"),
            send(&format!("data: {big}")),
            send(&format!("{big}\n\n")),
        ],
    );
    let mut stream = open(&client, SseOptions::new().max_event_bytes(6000))
        .await
        .unwrap();
    let (events, error) = drain(&mut stream).await;
    assert_eq!(events.len(), 1);
    let error = error.expect("too large");
    assert_eq!(
        sse_kind(&error),
        &SseErrorKind::EventTooLarge { limit: 6000 }
    );
    assert!(error.to_string().contains("max_event_bytes"), "{error}");
}

#[tokio::test]
async fn a_silent_stream_times_out_but_a_slow_drip_does_not() {
    let (mock, client) = setup().await;
    // Every gap is shorter than the idle timeout, the whole is longer.
    let mut steps = Vec::new();
    for i in 0..6 {
        steps.push(wait(60));
        steps.push(send(&format!("data: {i}\n\n")));
    }
    script(&mock, steps);
    let options = SseOptions::new().idle_timeout(Duration::from_millis(250));
    let mut stream = open(&client, options.clone()).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events.len(), 6);

    // Then silence.
    script(
        &mock,
        vec![send("data: first\n\n"), wait(5_000), send("data: late\n\n")],
    );
    let started = Instant::now();
    let mut stream = open(&client, options).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    let error = error.expect("idle");
    assert_eq!(events.len(), 1);
    assert_eq!(
        sse_kind(&error),
        &SseErrorKind::IdleTimeout(Duration::from_millis(250))
    );
    assert!(error.is_timeout());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_total_timeout_bounds_a_stream_that_never_stops() {
    let (mock, client) = setup().await;
    let mut steps = Vec::new();
    for i in 0..100 {
        steps.push(wait(20));
        steps.push(send(&format!("data: {i}\n\n")));
    }
    script(&mock, steps);
    // The token first, so that the 300 ms are the stream's alone.
    client.tenant_access_token(None).await.unwrap();
    let started = Instant::now();
    let options = SseOptions::new().total_timeout(Duration::from_millis(300));
    let mut stream = open(&client, options).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    let error = error.expect("total timeout");
    assert_eq!(
        sse_kind(&error),
        &SseErrorKind::TotalTimeout(Duration::from_millis(300))
    );
    assert!(error.is_timeout());
    assert!(!events.is_empty() && events.len() < 100, "{}", events.len());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn answers_that_are_not_event_streams_are_errors_with_code_msg_and_log_id() {
    let (mock, client) = setup().await;
    // The platform's error envelope.
    mock.push_fault(
        PATH,
        Fault::Api {
            http_status: 400,
            code: 2190001,
            msg: "agent not found".into(),
            error: None,
        },
    );
    let error = open(&client, SseOptions::new()).await.unwrap_err();
    let api = error.api_error().expect("an API error");
    assert_eq!(
        (api.code, api.msg.as_str(), api.http_status),
        (2190001, "agent not found", 400)
    );
    assert!(api.log_id.is_some());
    assert_eq!(mock.requests_to(PATH).len(), 1, "never retried");

    // A success that is JSON, not a stream.
    let error = open(&client, SseOptions::new()).await.unwrap_err();
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
    assert!(error.log_id().is_some());

    // A success of another media type.
    mock.push_fault(
        PATH,
        Fault::File {
            name: "a.bin".into(),
            body: b"data: x\n\n".to_vec(),
        },
    );
    let error = open(&client, SseOptions::new()).await.unwrap_err();
    assert_eq!(
        sse_kind(&error),
        &SseErrorKind::NotEventStream {
            content_type: Some("application/octet-stream".into())
        }
    );
    assert!(error.log_id().is_some());

    // A server error is not retried either (a streamed call is never replayed).
    mock.clear_requests();
    mock.push_fault(PATH, Fault::ServerError(503));
    let error = open(&client, SseOptions::new()).await.unwrap_err();
    assert_eq!(error.code(), Some(1503));
    assert_eq!(mock.requests_to(PATH).len(), 1);
}

#[tokio::test]
async fn an_invalid_token_is_replaced_once_before_the_stream_starts() {
    let (mock, client) = setup().await;
    mock.push_fault(PATH, Fault::InvalidToken);
    script(&mock, vec![send("data: ok\n\n")]);
    let mut stream = open(&client, SseOptions::new()).await.unwrap();
    let (events, error) = drain(&mut stream).await;
    assert!(error.is_none());
    assert_eq!(events[0].data, "ok");
    assert_eq!(mock.requests_to(PATH).len(), 2);
}

#[tokio::test]
async fn bad_options_are_refused_before_any_request() {
    let (mock, client) = setup().await;
    for (options, needle) in [
        (SseOptions::new().last_event_id("a\nb"), "CR, LF or NUL"),
        (SseOptions::new().last_event_id("x".repeat(9000)), "8192"),
        (
            SseOptions::new().idle_timeout(Duration::ZERO),
            "idle_timeout",
        ),
        (
            SseOptions::new().open_timeout(Duration::ZERO),
            "open_timeout",
        ),
        (
            SseOptions::new().total_timeout(Duration::ZERO),
            "total_timeout",
        ),
        (SseOptions::new().max_event_bytes(0), "max_event_bytes"),
    ] {
        let error = open(&client, options).await.unwrap_err();
        assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
        assert!(error.to_string().contains(needle), "{error}");
    }
    assert!(mock.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn the_generated_aily_chat_streams_through_sse() {
    use lark_oapi::aily::v1::models::{AgentUserMessage, CreateAgentAgentChatRequestBody};
    let (mock, client) = setup().await;
    script(
        &mock,
        vec![send("event: delta\ndata: {\"text\":\"hi\"}\n\n")],
    );
    let mut stream = client
        .aily()
        .v1()
        .agent_agent_chat()
        .create("agent_1")
        .body(CreateAgentAgentChatRequestBody {
            user_message: AgentUserMessage::default(),
            stream: Some(true),
            ..Default::default()
        })
        .sse(SseOptions::new())
        .await
        .unwrap();
    let (events, error) = drain(&mut stream).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events[0].event, "delta");
    let sent = &mock.requests_to(PATH)[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    assert_eq!(sent.json().unwrap()["stream"], true);

    // The required body is checked before I/O, as for `.send()`.
    mock.clear_requests();
    let err = client
        .aily()
        .v1()
        .agent_agent_chat()
        .create("agent_1")
        .sse(SseOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert!(mock.requests().is_empty());
}
