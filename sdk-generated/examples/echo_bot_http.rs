//! An echo bot over HTTP callbacks (axum): answers every text message with the same text.
//!
//! With `LARK_APP_ID` and `LARK_APP_SECRET` (and the subscription's `LARK_ENCRYPT_KEY` and
//! `LARK_VERIFICATION_TOKEN`) it listens on `LARK_LISTEN` (default `0.0.0.0:3000`) at
//! `/webhook/event` until Ctrl-C. Without them it serves on loopback, has the embedded mock
//! platform push three signed, encrypted messages to it, and exits.
//!
//! ```text
//! cargo run -p lark-oapi --example echo_bot_http --features axum
//! ```

#[path = "support/echo.rs"]
mod echo;

use std::future::IntoFuture as _;

use lark_oapi::Client;
use lark_oapi::dispatcher::axum_adapter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = echo::setup().await?;
    let client = Client::new(setup.config.clone());
    let app = axum_adapter::router("/webhook/event", echo::echo_dispatcher(&client, &setup));

    let Some(mock) = &setup.mock else {
        let addr = std::env::var("LARK_LISTEN").unwrap_or_else(|_| "0.0.0.0:3000".into());
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("echo bot listening on http://{addr}/webhook/event (Ctrl-C stops)");
        // Not bare `axum::serve`: this one times out clients that send their headers slowly.
        axum_adapter::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        return Ok(());
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhook/event", listener.local_addr()?);
    let server = tokio::spawn(axum_adapter::serve(listener, app).into_future());
    let options = lark_oapi_mock::CallbackOptions {
        encrypt_key: setup.encrypt_key.clone(),
        sign: true,
        ..Default::default()
    };
    let token = setup.verification_token.clone().unwrap_or_default();
    for (n, text) in ["hello", "how are you?", "bye"].into_iter().enumerate() {
        let delivery = mock
            .send_callback(&url, &echo::text_message(n, text, &token), &options)
            .await;
        println!("the platform pushed {text:?}: HTTP {:?}", delivery.statuses);
    }
    let replies = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/reply"))
        .count();
    println!("{replies} replies reached the platform");
    server.abort();
    if replies != 3 {
        return Err(format!("expected 3 replies, got {replies}").into());
    }
    Ok(())
}
