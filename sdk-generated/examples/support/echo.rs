//! What both echo bots share: the configuration (the real platform from the environment,
//! else the embedded mock), and the echo handler itself.

use lark_oapi::dispatcher::{EventDispatcher, EventDispatcherBuilder};
use lark_oapi::im::v1::models::ReplyMessageRequestBody;
use lark_oapi::prelude::*;

/// The app's settings: from `LARK_APP_ID`, `LARK_APP_SECRET`, `LARK_DOMAIN`,
/// `LARK_ENCRYPT_KEY`, `LARK_VERIFICATION_TOKEN`; or the embedded mock platform.
pub(crate) struct Setup {
    pub(crate) config: Config,
    pub(crate) encrypt_key: Option<String>,
    pub(crate) verification_token: Option<String>,
    /// Present when no credentials are set: the bot talks to this mock.
    pub(crate) mock: Option<lark_oapi_mock::MockPlatform>,
}

pub(crate) async fn setup() -> Result<Setup, Box<dyn std::error::Error>> {
    let level = match std::env::var("RUST_LOG").unwrap_or_default().as_str() {
        "debug" => tracing::Level::DEBUG,
        "info" => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    tracing_subscriber::fmt().with_max_level(level).init();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (env("LARK_APP_ID"), env("LARK_APP_SECRET")) {
        (Some(app_id), Some(secret)) => {
            let domain = Domain::parse(&env("LARK_DOMAIN").unwrap_or_else(|| "feishu".into()));
            Ok(Setup {
                config: Config::builder(app_id, secret).domain(domain).build()?,
                encrypt_key: env("LARK_ENCRYPT_KEY"),
                verification_token: env("LARK_VERIFICATION_TOKEN"),
                mock: None,
            })
        }
        _ => {
            let mock = lark_oapi_mock::MockPlatform::start().await?;
            println!(
                "LARK_APP_ID/LARK_APP_SECRET not set: using the embedded mock platform at {}",
                mock.base_url()
            );
            Ok(Setup {
                config: Config::builder(lark_oapi_mock::APP_ID, lark_oapi_mock::APP_SECRET)
                    .domain(Domain::custom(mock.base_url()))
                    .build()?,
                encrypt_key: Some("mock-encrypt-key".into()),
                verification_token: Some("mock-verification-token".into()),
                mock: Some(mock),
            })
        }
    }
}

/// A dispatcher that answers every text message with the same text.
pub(crate) fn echo_dispatcher(client: &Client, setup: &Setup) -> EventDispatcher {
    let mut builder: EventDispatcherBuilder = EventDispatcher::builder();
    if let Some(key) = &setup.encrypt_key {
        builder = builder.encrypt_key(key);
    }
    if let Some(token) = &setup.verification_token {
        builder = builder.verification_token(token);
    }
    let client = client.clone();
    builder
        .on_im_message_receive_v1(move |event| {
            let client = client.clone();
            async move {
                let message = event.payload.message;
                if message.message_type != "text" {
                    return Ok(());
                }
                let text: serde_json::Value = serde_json::from_str(&message.content)?;
                let text = text["text"].as_str().unwrap_or_default();
                println!("received {:?} in {}", text, message.chat_id);
                let reply = client
                    .im()
                    .v1()
                    .message()
                    .reply(&message.message_id)
                    .body(ReplyMessageRequestBody {
                        msg_type: "text".into(),
                        content: serde_json::json!({ "text": format!("echo: {text}") }).to_string(),
                        ..Default::default()
                    })
                    .send()
                    .await?;
                println!("replied (log id {:?})", reply.log_id());
                Ok(())
            }
        })
        .build()
}

/// A text message event as the platform sends it (for the mock run).
pub(crate) fn text_message(n: usize, text: &str, token: &str) -> serde_json::Value {
    serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": format!("echo-demo-{n}"), "event_type": "im.message.receive_v1",
                   "create_time": "1700000000000", "token": token,
                   "app_id": lark_oapi_mock::APP_ID, "tenant_key": "demo-tenant"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_demo"}, "sender_type": "user"},
            "message": {"message_id": format!("om_demo_{n}"), "chat_id": "oc_demo", "chat_type": "p2p",
                        "message_type": "text", "content": serde_json::json!({"text": text}).to_string()}
        }
    })
}
