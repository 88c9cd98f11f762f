//! Custom-bot webhooks against the mock platform's webhook endpoint over loopback HTTP,
//! which checks the signature, the timestamp window, keywords and the bot's rate limits.

use std::time::{Duration, Instant};

use lark_oapi_bot::content::{Card, Text};
use lark_oapi_bot::webhook::{PER_SECOND, Webhook, codes};
use lark_oapi_mock::{MockPlatform, WEBHOOK_PATH, WebhookConfig};

async fn hook(config: WebhookConfig) -> (MockPlatform, String) {
    let mock = MockPlatform::start().await.expect("mock platform starts");
    mock.add_webhook("tok-1", config);
    let url = format!("{}{WEBHOOK_PATH}tok-1", mock.base_url());
    (mock, url)
}

#[tokio::test]
async fn a_signed_message_is_accepted_without_app_credentials() {
    let (mock, url) = hook(WebhookConfig::signed("s3cr3t")).await;
    let webhook = Webhook::new(&url).unwrap().secret("s3cr3t");
    webhook
        .send(&Text::new("deploy \"v2\" finished"))
        .await
        .unwrap();
    webhook
        .send(&Card::basic("Deploy", "**done**"))
        .await
        .unwrap();
    let got = mock.webhook_messages("tok-1");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["content"]["text"], "deploy \"v2\" finished");
    assert_eq!(got[1]["card"]["elements"][0]["content"], "**done**");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "no token request: {requests:#?}");
    assert!(requests.iter().all(|r| r.header("authorization").is_none()));
}

#[tokio::test]
async fn a_wrong_secret_is_the_typed_19021_error() {
    let (mock, url) = hook(WebhookConfig::signed("s3cr3t")).await;
    let err = Webhook::new(&url)
        .unwrap()
        .secret("wrong")
        .send(&Text::new("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(codes::SIGN_MISMATCH), "{err}");
    assert!(err.to_string().contains("sign match fail"), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("tok-1"),
        "the token stays out: {err:?}"
    );
    // Without any secret the bot refuses too.
    let err = Webhook::new(&url)
        .unwrap()
        .send(&Text::new("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(19021));
    assert!(mock.webhook_messages("tok-1").is_empty());
}

#[tokio::test]
async fn keywords_and_tokens_are_checked_by_the_bot() {
    let (mock, url) = hook(WebhookConfig::open().keyword("[alert]")).await;
    let webhook = Webhook::new(&url).unwrap();
    let err = webhook.send(&Text::new("no keyword")).await.unwrap_err();
    assert_eq!(err.code(), Some(codes::KEYWORD_MISSING));
    webhook.send(&Text::new("[alert] disk full")).await.unwrap();
    assert_eq!(mock.webhook_messages("tok-1").len(), 1);
    let unknown = Webhook::new(&url.replace("tok-1", "nope")).unwrap();
    assert_eq!(
        unknown.send(&Text::new("hi")).await.unwrap_err().code(),
        Some(19001)
    );
}

#[tokio::test]
async fn sends_are_paced_under_five_per_second() {
    let (mock, url) = hook(WebhookConfig::open()).await;
    let webhook = Webhook::new(&url).unwrap();
    let started = Instant::now();
    for i in 0..12 {
        webhook
            .send(&Text::new(format!("n{i}")))
            .await
            .expect("no frequency limit");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let at: Vec<Instant> = mock.requests().iter().map(|r| r.received_at).collect();
    for (i, t) in at.iter().enumerate() {
        let in_second = at[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        assert!(in_second <= PER_SECOND, "{in_second} sends within a second");
    }
    assert_eq!(mock.webhook_messages("tok-1").len(), 12);
    // Past max_wait a send fails at once instead of waiting.
    mock.add_webhook("tok-2", WebhookConfig::open());
    let quick = Webhook::new(&url.replace("tok-1", "tok-2"))
        .unwrap()
        .max_wait(Duration::from_millis(10));
    for _ in 0..PER_SECOND {
        quick.send(&Text::new("x")).await.unwrap();
    }
    let err = quick.send(&Text::new("x")).await.unwrap_err();
    assert!(err.to_string().contains("max_wait"), "{err}");
}

#[test]
fn bad_urls_fail_before_any_request() {
    let err = Webhook::new("http://127.0.0.1:1/open-apis/im/v1/messages").unwrap_err();
    assert!(err.to_string().contains("/open-apis/bot/v2/hook/"), "{err}");
}
