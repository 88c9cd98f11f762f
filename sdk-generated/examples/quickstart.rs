//! Sends a text message and prints its id and the platform's log id.
//!
//! With `LARK_APP_ID` and `LARK_APP_SECRET` set, it talks to the real platform:
//! `LARK_DOMAIN` picks `feishu` (default), `lark` or any base URL, and the recipient is
//! `LARK_RECEIVE_ID` of type `LARK_RECEIVE_ID_TYPE` (`open_id`, `user_id`, `union_id`,
//! `email` or `chat_id`; default `chat_id`). Without them it starts the embedded mock
//! platform on loopback and talks to that.
//!
//! ```text
//! cargo run -p lark-oapi --example quickstart
//! RUST_LOG=debug cargo run -p lark-oapi --example quickstart   # with the SDK's logs
//! ```

use lark_oapi::im::v1::models::CreateMessageRequestBody;
use lark_oapi::{Client, Config, Domain};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let level = match std::env::var("RUST_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "info" => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    tracing_subscriber::fmt().with_max_level(level).init();

    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut _mock = None; // keeps the embedded platform alive until the end
    let (config, receive_id, receive_id_type) = match (env("LARK_APP_ID"), env("LARK_APP_SECRET")) {
        (Some(app_id), Some(secret)) => {
            let domain = Domain::parse(&env("LARK_DOMAIN").unwrap_or_else(|| "feishu".into()));
            let receive_id = env("LARK_RECEIVE_ID")
                .ok_or("set LARK_RECEIVE_ID to the chat or user that should get the message")?;
            let receive_id_type = env("LARK_RECEIVE_ID_TYPE").unwrap_or_else(|| "chat_id".into());
            println!("talking to {} as {app_id}", domain.base_url());
            (
                Config::builder(app_id, secret).domain(domain).build()?,
                receive_id,
                receive_id_type,
            )
        }
        _ => {
            let mock = lark_oapi_mock::MockPlatform::start().await?;
            println!(
                "LARK_APP_ID/LARK_APP_SECRET not set: using the embedded mock platform at {}",
                mock.base_url()
            );
            let config = Config::builder(lark_oapi_mock::APP_ID, lark_oapi_mock::APP_SECRET)
                .domain(Domain::custom(mock.base_url()))
                .build()?;
            _mock = Some(mock);
            (config, "oc_mock_chat".to_owned(), "chat_id".to_owned())
        }
    };

    let client = Client::new(config);
    let content = serde_json::json!({ "text": "Hello from lark-oapi for Rust" }).to_string();
    let sent = client
        .im()
        .v1()
        .message()
        .create()
        .receive_id_type(receive_id_type.as_str())
        .body(CreateMessageRequestBody {
            receive_id,
            msg_type: "text".into(),
            content,
            ..Default::default()
        })
        .send()
        .await?;

    println!("message_id: {}", sent.message_id.as_deref().unwrap_or("-"));
    if let Some(chat_id) = &sent.chat_id {
        println!("chat_id:    {chat_id}");
    }
    println!("log_id:     {}", sent.log_id().unwrap_or("-"));
    Ok(())
}
