//! An echo bot over the long connection (WebSocket): no public URL needed.
//!
//! With `LARK_APP_ID` and `LARK_APP_SECRET` (a self-built app with long-connection mode
//! enabled) it runs until Ctrl-C. Without them it connects to the embedded mock platform,
//! which pushes three messages (one split into fragments), and exits.
//!
//! ```text
//! cargo run -p lark-oapi --example echo_bot_long_connection --features long-connection
//! ```

#[path = "support/echo.rs"]
mod echo;

use std::time::Duration;

use lark_oapi::Client;
use lark_oapi::long_connection::LongConnection;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut setup = echo::setup().await?;
    // The long connection is authenticated by itself: payloads are neither signed nor
    // encrypted.
    setup.encrypt_key = None;
    setup.verification_token = None;
    let client = Client::new(setup.config.clone());
    let dispatcher = echo::echo_dispatcher(&client, &setup);
    let connection = LongConnection::builder(&client, dispatcher)
        .build()
        .start()
        .await?;

    let Some(mock) = &setup.mock else {
        println!("echo bot connected (Ctrl-C stops)");
        tokio::signal::ctrl_c().await?;
        connection.shutdown().await?;
        return Ok(());
    };

    mock.ws_push_event(echo::text_message(0, "hello", ""));
    mock.ws_set_fragments(3);
    mock.ws_push_event(echo::text_message(
        1,
        "a message split into three frames",
        "",
    ));
    mock.ws_set_fragments(1);
    mock.ws_push_event(echo::text_message(2, "bye", ""));
    let delivered = mock
        .ws_wait_until(Duration::from_secs(10), |m| m.ws_pending() == 0)
        .await;
    connection.shutdown().await?;
    let replies = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/reply"))
        .count();
    println!(
        "{} events acknowledged, {replies} replies reached the platform",
        mock.ws_delivered().len()
    );
    if !delivered || replies != 3 {
        return Err(
            format!("expected 3 acknowledged events and 3 replies, got {replies} replies").into(),
        );
    }
    Ok(())
}
